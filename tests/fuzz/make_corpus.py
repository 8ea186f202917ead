#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the fuzz targets: a few small valid inputs per parser, under
tests/fuzz/corpus/<target>/. The files are committed; rerun this after a format change.
Python 3 standard library only (the zstd record of the pack seeds is a fixed frame)."""
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def oid(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors: u64 header length, JSON header, tensor data ----
def safetensors(tensors, metadata=None, pad=0):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    h = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + data


def gen_safetensors():
    put("safetensors", "two_tensors", safetensors(
        [("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
         ("b", "BF16", [2], b"\x80\x3f\x00\x40")],
        metadata={"format": "pt", "note": "seed"}, pad=5))
    put("safetensors", "scalar_and_empty", safetensors(
        [("s", "I64", [], struct.pack("<q", 7)),
         ("e", "U8", [0], b""),
         ("z", "F16", [3, 1], b"\x00\x3c" * 3)]))
    put("safetensors", "no_tensors", safetensors([]))
    put("safetensors", "all_dtypes", safetensors(
        [(dt.lower(), dt, [1], b"\x01" * n) for dt, n in
         [("BOOL", 1), ("U8", 1), ("I8", 1), ("F8_E4M3", 1), ("F8_E5M2", 1), ("I16", 2), ("U16", 2), ("F16", 2),
          ("BF16", 2), ("I32", 4), ("U32", 4), ("F32", 4), ("F64", 8), ("I64", 8),
          ("U64", 8)]]))


# ---- canonical manifests (the encoder's exact bytes) ----
def jstr(s):
    out = '"'
    for c in s:
        if c in '"\\':
            out += "\\" + c
        elif ord(c) < 0x20:
            out += "\\u%04x" % ord(c)
        else:
            out += c
    return out + '"'


def manifest(uid, name, parents, author, time, message, meta, files):
    s = '{"format":1,"model":{"uid":%s,"name":%s},"parents":[%s],"author":%s,' % (
        jstr(uid), jstr(name), ",".join('"%s"' % p for p in parents), jstr(author))
    s += '"time":%d,"message":%s,"meta":{%s},"files":[' % (
        time, jstr(message), ",".join("%s:%s" % (jstr(k), jstr(v)) for k, v in sorted(meta.items())))
    s += ",".join('{"path":%s,"mode":%d,"size":%d,"id":"%s"}' % (jstr(p), m, sz, i)
                  for p, m, sz, i in sorted(files))
    return (s + "]}\n").encode()


def gen_manifest():
    uid = "0123456789abcdef0123456789abcdef"
    f1 = oid(b"file one").hex()
    f2 = oid(b"file two").hex()
    put("manifest", "first", manifest(uid, "resnet", [], "ci", 1700000000, "first version", {},
                                      [("model.safetensors", 0o644, 1234, f1)]))
    put("manifest", "merge", manifest(
        uid, "resnet", [oid(b"p1").hex(), oid(b"p2").hex()], "Ann \"a\" <a@x>", 1700000500,
        "merge\n\ttab \\ and \x01", {"dataset": "imagenet", "lr": "0.1"},
        [("bin/run.sh", 0o755, 10, f2), ("weights/a.safetensors", 0o644, 0, f1)]))
    put("manifest", "empty", manifest(uid, "m", [], "", 0, "", {}, []))


# ---- chunk lists: "MVMSFMAP" u32 1 u32 0 u64 size u64 count, then (id, u64 len) ----
def filemap(chunks):
    h = b"MVMSFMAP" + struct.pack("<IIQQ", 1, 0, sum(len(c) for c in chunks), len(chunks))
    return h + b"".join(oid(c) + struct.pack("<Q", len(c)) for c in chunks)


def gen_filemap():
    put("filemap", "one_chunk", filemap([b"a" * 100]))
    put("filemap", "three_chunks", filemap([b"x" * 65536, b"y" * 4096, b"z"]))
    put("filemap", "empty_file", filemap([]))


# ---- packs: header, records, index, trailer (src/lib/pack.h); one flags byte first ----
ZSTD_RAW = b"tensor bytes! " * 20
ZSTD_FRAME = bytes.fromhex("28b52ffd601800ad00007074656e736f722062797465732120010007a14e25")


def pack(records):
    body = b"MVMSPACK" + struct.pack("<II", 1, 0)
    index = b""
    for codec, raw, stored in records:
        cid = oid(raw)
        index += cid + struct.pack("<QIIB", len(body), len(raw), len(stored), codec)
        body += struct.pack("<BII", codec, len(raw), len(stored)) + cid + stored
    trailer = struct.pack("<QII", len(body), len(index) // 49, 0) + oid(index) + b"MVMSPEND"
    return body + index + trailer


def gen_pack():
    raw1 = b"hello, chunk\n"
    p1 = pack([(0, raw1, raw1)])
    p2 = pack([(0, b"\x00" * 64, b"\x00" * 64), (1, ZSTD_RAW, ZSTD_FRAME), (0, b"z", b"z")])
    put("pack", "raw_one", b"\x00" + p1)
    put("pack", "raw_zstd_fixhash", b"\x01" + p2)
    put("pack", "expect_id", b"\x03" + p1)
    raw, stored = planes_record()
    put("pack", "planes_fixhash", b"\x01" + pack([(2, raw, stored)]))


# ---- codec records: u8 codec | u24 raw length | stored bytes; or 0x80|dtype, raw bytes ----
def plane_table(planes):
    """planes: (method, stored bytes) per plane -> table and plane bytes (docs/formats.md)."""
    table = bytes([len(planes)])
    for method, data in planes:
        table += struct.pack("<BI", method, len(data))
    return table + b"".join(d for _, d in planes)


def planes_record():
    """Codec 2, two planes: byte 0 of each element is ZSTD_RAW (a zstd plane), byte 1 'm'
    (raw), plus one tail byte."""
    raw = b"".join(bytes([a, 0x6d]) for a in ZSTD_RAW) + b"!"
    return raw, plane_table([(1, ZSTD_FRAME), (0, b"m" * len(ZSTD_RAW))]) + b"!"


def weights(count, seed):
    """count pseudo-normal floats, std 0.02 (Irwin-Hall of 4 uniforms, as mkmodel)."""
    x = seed
    out = []
    for _ in range(count):
        s = 0
        for _ in range(4):
            x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
            s += x >> 48
        out.append((s - 131070) * 0.02 / 37837.2)
    return out


def gen_codec():
    def rec(codec, raw_len, stored):
        return bytes([codec]) + struct.pack("<I", raw_len)[:3] + stored
    put("codec", "raw", rec(0, 5, b"hello"))
    put("codec", "zstd", rec(1, len(ZSTD_RAW), ZSTD_FRAME))
    raw, stored = planes_record()
    put("codec", "planes_zstd", rec(2, len(raw), stored))
    put("codec", "bf16_raw_planes", rec(3, 9, plane_table([(0, b"\x7c" * 4), (0, b"abcd")]) + b"t"))
    put("codec", "f32_raw_planes",
        rec(4, 14, plane_table([(0, b"\x78" * 3), (0, b"abc"), (0, b"def"), (0, b"ghi")]) + b"tt"))
    f = weights(512, 1)
    f32 = b"".join(struct.pack("<f", v) for v in f)
    bf16 = b"".join(f32[i + 2:i + 4] for i in range(0, len(f32), 4))
    put("codec", "encode_bf16", b"\x81" + bf16)
    put("codec", "encode_f32", b"\x83" + f32)
    put("codec", "encode_unknown_bf16", b"\x80" + bf16 + b"x")
    put("codec", "encode_json", b"\x80" + json.dumps({"w%d" % i: i * 7 for i in range(60)}).encode())


# ---- tars (ustar, GNU long names, pax), trimmed to the two end blocks ----
def tar(fmt, entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, mode, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    b = buf.getvalue()
    end = len(b)
    while end >= 512 and b[end - 512:end] == bytes(512):
        end -= 512
    return b[:end] + bytes(1024)


def gen_tar():
    put("tar", "ustar", tar(tarfile.USTAR_FORMAT, [
        ("model", 0o755, None), ("model/config.json", 0o644, b'{"a":1}\n'),
        ("model/run.sh", 0o755, b"#!/bin/sh\necho hi\n")]))
    put("tar", "gnu_longname", tar(tarfile.GNU_FORMAT, [
        ("d/" + "n" * 120 + ".bin", 0o644, b"long name\n")]))
    put("tar", "pax", tar(tarfile.PAX_FORMAT, [
        ("p/" + "\u00e9" * 60 + "/weights.safetensors", 0o644, b"x" * 700)]))
    put("tar", "empty", bytes(1024))


# ---- GGUF and ONNX: tests/cli/tfmodels.py's writers, on small shapes ----
def gen_tformats():
    sys.path.insert(0, os.path.join(HERE, "..", "cli"))
    import tfmodels as tf
    small = [("a", "F32", [4, 2]), ("b.q", "Q4_K", [256, 1]), ("c", "BF16", [3]),
             ("d", "Q8_0", [32, 2]), ("e", "F16", [0])]
    put("gguf", "five_tensors", tf.gguf(small, kv_extra=False)[0])
    put("gguf", "align64_tokens", tf.gguf(small[:2], align=64)[0])
    put("gguf", "no_tensors", tf.gguf([], kv_extra=False)[0])
    model, _, _ = tf.onnx([("w", "FLOAT", [2, 3]), ("h", "FLOAT16", [4]), ("s", "INT64", [])],
                          [("x", "BFLOAT16", [8]), ("y", "FLOAT", [2])], align=16)
    put("onnx", "inner_and_external", model)
    model, _, _ = tf.onnx([("only", "FLOAT", [1])], [])
    put("onnx", "one_tensor", model)
    put("onnx", "constants_in_if", onnx_constants(tf))
    put("onnx", "typed_data", onnx_typed(tf))


def onnx_typed(tf):
    """Initializers as older exporters write them: packed float_data and double_data (raw
    bytes, read as tensors), float_data in two pieces and varint int64_data (left out)."""
    f = tf.field

    def typed(name, dtype, field, payloads):
        t = f(1, 0, 8) + f(2, 0, dtype) + f(8, 2, name.encode())
        return f(5, 2, t + b"".join(f(field, 2, p) for p in payloads))

    raw = bytes((i * 131 + 5) & 0xff for i in range(64))
    graph = typed("f", 1, 4, [raw[:32]]) + typed("d", 11, 10, [raw]) + \
        typed("split", 1, 4, [raw[:16], raw[16:32]]) + typed("i", 7, 7, [bytes(range(1, 9))])
    graph += f(2, 2, b"typed")
    return f(1, 0, 8) + f(8, 2, f(2, 0, 17)) + f(7, 2, graph)


def onnx_constants(tf):
    """Weights as exporters write them: Constant nodes (a tensor in the node's "value"
    attribute, named by the node's output), one of them in each branch of an If node (the
    branches repeat the TensorProto name), a subgraph initializer and a small constant
    that stays plain bytes (docs/formats.md, ONNX)."""
    f = tf.field

    def const(out, tname, dims, nbytes, seed):
        raw = bytes((i * 131 + seed) & 0xff for i in range(nbytes))
        t = f(1, 2, b"".join(tf.varint(d) for d in dims)) + f(2, 0, tname) + f(8, 2, b"w") + f(9, 2, raw)
        attr = f(1, 2, b"value") + f(20, 0, 4) + f(5, 2, t)
        return f(1, 2, f(2, 2, out.encode()) + f(4, 2, b"Constant") + f(5, 2, attr))

    def branch(name, seed):
        return f(2, 2, name.encode()) + const(name + "/w", 1, [8, 64], 2048, seed) + \
            tf.initializer(name + "/init", "FLOAT", [300], raw=bytes(1200))

    then_g, else_g = branch("then", 1), branch("else", 2)
    node_if = f(1, 2, b"cond") + f(2, 2, b"out") + f(4, 2, b"If") + \
        f(5, 2, f(1, 2, b"then_branch") + f(6, 2, then_g)) + f(5, 2, f(1, 2, b"else_branch") + f(6, 2, else_g))
    graph = const("main/w", 1, [16, 64], 4096, 3) + const("shape", 7, [2], 16, 4) + f(1, 2, node_if)
    graph += f(2, 2, b"constants")
    return f(1, 0, 8) + f(8, 2, f(2, 0, 17)) + f(7, 2, graph)


# ---- signature files (docs/formats.md, "Signatures") ----
# A real one, made by `mvms-store sign` (the standard library has no Ed25519 to make one
# here), and one with an empty statement whose signature does not hold (it still parses).
SIG = (b"mvms-signature v1\n"
       b"key ed25519:461cd1511906de20d4cf7cd6bf0245879725d4fba1efcd2f0fd864a417a0c072\n"
       b"model 9d9e06e6292659281aa622f81036b2a8\n"
       b"version f65fbe998c5b201e00fc8c61bb1f3849bb7cda57bebb36ece96e71fc0391f87d\n"
       b"time 1796463344\n"
       b"statement approved-for: prod\n"
       b"signature afe94709162c6743a9b6a3fd94940ae3aa9a80cd163c3945d96895c200f89b70"
       b"032870b3a6f07fe187cd48aba508654a7d180c67a51a503c4250bc369d78a102\n")


def gen_sig():
    put("sig", "valid", SIG)
    put("sig", "empty_statement", SIG.replace(b"statement approved-for: prod\n", b"statement \n"))
    put("sig", "public_key", b"ed25519:461cd1511906de20d4cf7cd6bf0245879725d4fba1efcd2f0fd864a417a0c072")
    # a throwaway secret key file (its seed is all 7s: never a real key)
    put("sig", "secret_key", b"mvms-store secret key v1\ned25519 " + b"7" * 64 + b"\n")


# ---- delta records: 0x00|flags, u16 raw length, base bytes, stored bytes; or 0x80|dtype,
# base half, new half ----
def gen_delta():
    base = bytes((i * 37 + 11) & 0xff for i in range(len(ZSTD_RAW)))
    payload = b"\xab" * 32 + bytes([0, 1]) + ZSTD_FRAME  # XOR, inner zstd
    put("delta", "xor_zstd", b"\x00" + struct.pack("<H", len(ZSTD_RAW)) + base + payload)
    put("delta", "missing_base", b"\x01" + struct.pack("<H", len(ZSTD_RAW)) + payload)
    f = weights(512, 3)
    g = [v * (1 + 0.01 * w / 0.02) for v, w in zip(f, weights(512, 4))]
    a32 = b"".join(struct.pack("<f", v) for v in f)
    b32 = b"".join(struct.pack("<f", v) for v in g)
    a16 = b"".join(a32[i + 2:i + 4] for i in range(0, len(a32), 4))
    b16 = b"".join(b32[i + 2:i + 4] for i in range(0, len(b32), 4))
    put("delta", "encode_bf16_drift", b"\x80" + a16 + b16)
    put("delta", "encode_f32_drift", b"\x82" + a32 + b32)


def main():
    gen_safetensors()
    gen_tformats()
    gen_manifest()
    gen_filemap()
    gen_pack()
    gen_tar()
    gen_codec()
    gen_sig()
    gen_delta()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes under %s" % (total, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
