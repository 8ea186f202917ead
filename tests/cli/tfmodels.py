#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes small GGUF and ONNX models for the tests (Python 3 standard library only).

  tfmodels.py gguf FILE [--small] [--change NAME,...] [--salt S] [--arch A]
      a GGUF v3 file of 8 tensors (F32, F16, BF16, Q4_K, Q8_0), 32-byte aligned
  tfmodels.py onnx DIR [--small] [--change NAME,...] [--salt S]
      DIR/model.onnx (4 initializers with raw_data, 4 in external data) and
      DIR/model.onnx.data

--small writes the same tensors on small shapes (a few KiB in all).
Tensor bytes are pseudo-random and depend only on the tensor's name, unless --change names
it (then on --salt too): two models share every other tensor byte for byte. Prints one line
per tensor: "NAME DTYPE OFFSET LENGTH [FILE]". The fuzz seeds (tests/fuzz/make_corpus.py)
use the same writers on smaller shapes.
"""
import argparse
import hashlib
import os
import random
import struct
import sys


SALT = "changed"


def data(name, n, change=None):
    salt = "/" + SALT if change and name in change else ""
    seed = hashlib.blake2b((name + salt).encode(), digest_size=8).digest()
    return random.Random(seed).randbytes(n)


# ---- GGUF ----
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q8_0": (8, 32, 34),
        "Q4_K": (12, 256, 144), "BF16": (30, 1, 2)}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(tensors, change=None, align=32, kv_extra=True, arch="llama"):
    """tensors: [(name, ggml type name, dims)]; returns (bytes, [(name, type, off, len)])."""
    kvs = [gstr("general.architecture") + struct.pack("<I", 8) + gstr(arch)]
    if kv_extra:
        toks = [gstr("tok%d" % i) for i in range(50)]
        kvs.append(gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, len(toks)) +
                   b"".join(toks))
        kvs.append(gstr("llama.context_length") + struct.pack("<II", 4, 4096))
    if align != 32:
        kvs.append(gstr("general.alignment") + struct.pack("<II", 4, align))
    infos, blobs, off, listing = [], [], 0, []
    for name, tname, dims in tensors:
        tid, block, size = GGML[tname]
        elems = 1
        for d in dims:
            elems *= d
        n = elems // block * size
        infos.append(gstr(name) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", tid, off))
        blobs.append((off, data(name, n, change)))
        listing.append((name, tname, off, n))
        off = (off + n + align - 1) // align * align
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(infos)
    head += b"\0" * (-len(head) % align)
    body = bytearray()
    for o, b in blobs:
        body += b"\0" * (o - len(body))
        body += b
    return head + bytes(body), [(n, t, len(head) + o, ln) for n, t, o, ln in listing]


GGUF_TENSORS = [("token_embd.weight", "F16", [256, 384]),
                ("blk.0.attn_q.weight", "Q4_K", [1024, 200]),
                ("blk.0.attn_k.weight", "Q8_0", [1024, 100]),
                ("blk.0.attn_norm.weight", "F32", [256]),
                ("blk.0.ffn_up.weight", "BF16", [512, 160]),
                ("blk.0.ffn_down.weight", "F16", [160, 512]),
                ("blk.1.attn_q.weight", "Q4_K", [1024, 200]),
                ("output.weight", "F32", [256, 300])]


# ---- protobuf / ONNX ----
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, wire, payload):
    if wire == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


ONNX_TYPES = {"FLOAT": (1, 4), "FLOAT16": (10, 2), "BFLOAT16": (16, 2), "INT64": (7, 8)}


def initializer(name, tname, dims, raw=None, ext=None):
    t = field(1, 2, b"".join(varint(d) for d in dims)) if dims else b""
    t += field(2, 0, ONNX_TYPES[tname][0]) + field(8, 2, name.encode())
    if raw is not None:
        t += field(9, 2, raw)
    if ext is not None:
        for k, v in ext:
            t += field(13, 2, field(1, 2, k.encode()) + field(2, 2, v.encode()))
        t += field(14, 0, 1)
    return field(5, 2, t)


def onnx(inner, external, change=None, location="model.onnx.data", align=4096):
    """inner/external: [(name, type, dims)]; returns (model bytes, side bytes, listing)."""
    graph = field(1, 2, field(1, 2, b"x") + field(2, 2, b"y") + field(4, 2, b"MatMul"))
    graph += field(2, 2, b"tfmodels")
    listing, side = [], bytearray()
    raws = []
    for name, tname, dims in inner:
        n = ONNX_TYPES[tname][1]
        for d in dims:
            n *= d
        raw = data(name, n, change)
        raws.append((name, tname, raw))
        graph += initializer(name, tname, dims, raw=raw)
    for name, tname, dims in external:
        n = ONNX_TYPES[tname][1]
        for d in dims:
            n *= d
        side += b"\0" * (-len(side) % align)
        off = len(side)
        side += data(name, n, change)
        graph += initializer(name, tname, dims,
                             ext=[("location", location), ("offset", str(off)), ("length", str(n))])
        listing.append((name, tname, off, n, location))
    graph += field(11, 2, field(1, 2, b"x"))
    model = field(1, 0, 8) + field(2, 2, b"tfmodels") + field(8, 2, field(2, 0, 17)) + field(7, 2, graph)
    for name, tname, raw in raws:
        listing.append((name, tname, model.index(raw), len(raw), "model.onnx"))
    return model, bytes(side), listing


ONNX_INNER = [("conv1.weight", "FLOAT", [64, 3, 7, 7]),
              ("conv1.bias", "FLOAT", [64]),
              ("fc.weight", "FLOAT16", [256, 256]),
              ("fc.bias", "BFLOAT16", [256])]
ONNX_EXTERNAL = [("layer1.weight", "FLOAT", [128, 256]),
                 ("layer2.weight", "FLOAT16", [256, 256]),
                 ("layer3.weight", "BFLOAT16", [300, 200]),
                 ("steps", "INT64", [3])]


# The same names on small shapes (tests/data/tformats-old-store.tar.gz keeps a store of them).
GGUF_SMALL = [(n, t, [256, 2] if t == "Q4_K" else [32, 3]) for n, t, _ in GGUF_TENSORS]
ONNX_INNER_SMALL = [(n, t, [40]) for n, t, _ in ONNX_INNER]
ONNX_EXTERNAL_SMALL = [(n, t, [50]) for n, t, _ in ONNX_EXTERNAL]


def main(argv):
    ap = argparse.ArgumentParser(description="GGUF and ONNX models for the tests")
    ap.add_argument("kind", choices=["gguf", "onnx"])
    ap.add_argument("out")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--change", default="", help="comma-separated tensor names")
    ap.add_argument("--salt", default="changed", help="what a changed tensor's bytes depend on")
    ap.add_argument("--arch", default="llama", help="GGUF general.architecture")
    a = ap.parse_args(argv[1:])
    global SALT
    SALT = a.salt
    change = set(a.change.split(",")) if a.change else None
    if a.kind == "gguf":
        blob, listing = gguf(GGUF_SMALL if a.small else GGUF_TENSORS, change, arch=a.arch)
        with open(a.out, "wb") as f:
            f.write(blob)
        for name, t, off, n in listing:
            print(name, t, off, n)
    else:
        os.makedirs(a.out, exist_ok=True)
        if a.small:
            model, side, listing = onnx(ONNX_INNER_SMALL, ONNX_EXTERNAL_SMALL, change, align=64)
        else:
            model, side, listing = onnx(ONNX_INNER, ONNX_EXTERNAL, change)
        with open(os.path.join(a.out, "model.onnx"), "wb") as f:
            f.write(model)
        with open(os.path.join(a.out, "model.onnx.data"), "wb") as f:
            f.write(side)
        for name, t, off, n, where in listing:
            print(name, t, off, n, where)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
