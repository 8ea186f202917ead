#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A small safetensors tool for the command-line tests (Python 3 + numpy).

  st.py names FILE                       tensor names, one a line, in data order
  st.py info FILE NAME                   "DTYPE [d0,d1,...]" of one tensor
  st.py set IN OUT NAME[,NAME...] VALUE  tensors set to a constant (a number) or to
                                         random values ("random" or "random:SEED");
                                         same header, so the same layout
  st.py reshape IN OUT NAME DTYPE SHAPE  tensor NAME gets a new dtype/shape (SHAPE like
                                         "4,16"), random values; header rebuilt
  st.py add IN OUT NAME DTYPE SHAPE      a new tensor (random values) at the end
  st.py remove IN OUT NAME               drop a tensor; header rebuilt
  st.py check MERGED OURS THEIRS BASE    every tensor of MERGED equals the side that
                                         changed it (ours if ours != base, else theirs),
                                         dtypes/shapes right, header offsets contiguous
                                         and in bounds; prints one line, exit 0 or 1

Exit 77 when numpy is missing (the shell tests turn that into a TAP skip).
"""
import json
import struct
import sys

try:
    import numpy as np
except ImportError:  # pragma: no cover
    sys.stderr.write("st.py: numpy not installed\n")
    sys.exit(77)

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_,
}


class BadFile(Exception):
    pass


def load(path):
    """-> (metadata or None, [(name, dtype, shape, bytes)] in data order, header dict, blob)"""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise BadFile("%s: shorter than 8 bytes" % path)
    (hl,) = struct.unpack("<Q", blob[:8])
    if 8 + hl > len(blob):
        raise BadFile("%s: header length %d beyond the file" % (path, hl))
    try:
        header = json.loads(blob[8:8 + hl].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadFile("%s: bad header JSON: %s" % (path, e))
    meta = header.pop("__metadata__", None)
    data = blob[8 + hl:]
    items = []
    for name, t in header.items():
        if t.get("dtype") not in DTYPES:
            raise BadFile("%s: %s: unknown dtype %r" % (path, name, t.get("dtype")))
        a, b = t["data_offsets"]
        if not (0 <= a <= b <= len(data)):
            raise BadFile("%s: %s: offsets [%d,%d] out of bounds (%d data bytes)"
                          % (path, name, a, b, len(data)))
        items.append((name, t["dtype"], list(t["shape"]), a, b))
    items.sort(key=lambda x: (x[3], x[4]))
    pos = 0
    for name, dt, shape, a, b in items:
        if a != pos:
            raise BadFile("%s: %s starts at %d, want %d (offsets not contiguous)"
                          % (path, name, a, pos))
        pos = b
        want = int(np.prod(shape, dtype=np.int64)) * np.dtype(DTYPES[dt]).itemsize
        if b - a != want:
            raise BadFile("%s: %s: %d bytes for %s %s, want %d" % (path, name, b - a, dt, shape, want))
    if pos != len(data):
        raise BadFile("%s: tensor data ends at %d, file data is %d bytes" % (path, pos, len(data)))
    out = [(n, dt, shape, data[a:b]) for n, dt, shape, a, b in items]
    return meta, out, header, blob


def arrays(path):
    """-> {name: (dtype string, shape list, numpy array)}"""
    _, items, _, _ = load(path)
    res = {}
    for name, dt, shape, raw in items:
        arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[dt]).newbyteorder("<")).reshape(shape)
        res[name] = (dt, shape, arr)
    return res


def save(path, meta, items):
    """items: [(name, dtype, shape, bytes)] written in this order."""
    header = {}
    if meta is not None:
        header["__metadata__"] = meta
    pos = 0
    for name, dt, shape, raw in items:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + len(raw)]}
        pos += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for _, _, _, raw in items:
            f.write(raw)


def values(dt, shape, spec):
    n = int(np.prod(shape, dtype=np.int64))
    npdt = np.dtype(DTYPES[dt]).newbyteorder("<")
    if spec.startswith("random"):
        seed = int(spec.split(":", 1)[1]) if ":" in spec else 12345
        rng = np.random.default_rng(seed)
        if dt == "BF16":
            f = (rng.standard_normal(n) * 0.02).astype("<f4")
            return (f.view("<u4") >> 16).astype("<u2").tobytes()
        if np.issubdtype(npdt, np.integer):
            return rng.integers(0, 100, n).astype(npdt).tobytes()
        return rng.standard_normal(n).astype(npdt).tobytes()
    v = float(spec)
    if dt == "BF16":
        f = np.full(n, v, dtype="<f4")
        return (f.view("<u4") >> 16).astype("<u2").tobytes()
    return np.full(n, v).astype(npdt).tobytes()


def cmd_set(src, dst, names, spec):
    meta, items, header, blob = load(src)
    want = set(names.split(","))
    known = {n for n, _, _, _ in items}
    missing = want - known
    if missing:
        raise BadFile("%s: no tensor %s" % (src, ", ".join(sorted(missing))))
    # Same header bytes: patch the data in place.
    (hl,) = struct.unpack("<Q", blob[:8])
    out = bytearray(blob)
    for name in want:
        t = header[name]
        a, b = t["data_offsets"]
        raw = values(t["dtype"], t["shape"], spec)
        assert len(raw) == b - a
        out[8 + hl + a:8 + hl + b] = raw
    with open(dst, "wb") as f:
        f.write(out)


def parse_shape(s):
    return [int(x) for x in s.split(",") if x != ""]


def cmd_reshape(src, dst, name, dt, shape):
    meta, items, _, _ = load(src)
    if name not in {n for n, _, _, _ in items}:
        raise BadFile("%s: no tensor %s" % (src, name))
    shape = parse_shape(shape)
    items = [(n, dt, shape, values(dt, shape, "random:7")) if n == name else (n, d, s, r)
             for n, d, s, r in items]
    save(dst, meta, items)


def cmd_add(src, dst, name, dt, shape):
    meta, items, _, _ = load(src)
    shape = parse_shape(shape)
    items.append((name, dt, shape, values(dt, shape, "random:11")))
    save(dst, meta, items)


def cmd_remove(src, dst, name):
    meta, items, _, _ = load(src)
    if name not in {n for n, _, _, _ in items}:
        raise BadFile("%s: no tensor %s" % (src, name))
    save(dst, meta, [x for x in items if x[0] != name])


def same(x, y):
    if x is None or y is None:
        return x is y
    return x[0] == y[0] and list(x[1]) == list(y[1]) and np.array_equal(x[2], y[2])


def cmd_check(merged, ours, theirs, base):
    m, o, t, b = arrays(merged), arrays(ours), arrays(theirs), arrays(base)
    names = set(o) | set(t) | set(b)
    problems = []
    from_ours = from_theirs = 0
    for name in sorted(names):
        xo, xt, xb = o.get(name), t.get(name), b.get(name)
        if not same(xo, xb):
            want, side = xo, "ours"
            if not same(xt, xb) and not same(xt, xo):
                problems.append("%s: changed on both sides" % name)
                continue
        else:
            want, side = xt, "theirs"
        got = m.get(name)
        if want is None:
            if got is not None:
                problems.append("%s: should be absent (removed by %s)" % (name, side))
            continue
        if got is None:
            problems.append("%s: missing (want %s's)" % (name, side))
            continue
        if got[0] != want[0] or list(got[1]) != list(want[1]):
            problems.append("%s: %s %s, want %s %s (%s)" % (name, got[0], got[1], want[0], want[1], side))
        elif not np.array_equal(got[2], want[2]):
            problems.append("%s: values differ from %s's" % (name, side))
        if not same(xo, xt):
            if side == "ours":
                from_ours += 1
            else:
                from_theirs += 1
    extra = set(m) - names
    for name in sorted(extra):
        problems.append("%s: in the merged file only" % name)
    if problems:
        print("FAIL %s: %s" % (merged, "; ".join(problems[:5])))
        return 1
    print("OK %s: %d tensors, %d changed by ours, %d by theirs" % (merged, len(m), from_ours, from_theirs))
    return 0


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "names" and len(args) == 1:
            _, items, _, _ = load(args[0])
            for n, _, _, _ in items:
                print(n)
        elif cmd == "info" and len(args) == 2:
            a = arrays(args[0])
            if args[1] not in a:
                raise BadFile("%s: no tensor %s" % (args[0], args[1]))
            print("%s [%s]" % (a[args[1]][0], ",".join(str(x) for x in a[args[1]][1])))
        elif cmd == "set" and len(args) == 4:
            cmd_set(*args)
        elif cmd == "reshape" and len(args) == 5:
            cmd_reshape(*args)
        elif cmd == "add" and len(args) == 5:
            cmd_add(*args)
        elif cmd == "remove" and len(args) == 3:
            cmd_remove(*args)
        elif cmd == "check" and len(args) == 4:
            return cmd_check(*args)
        else:
            sys.stderr.write(__doc__)
            return 2
    except (BadFile, OSError, KeyError, ValueError) as e:
        print("FAIL %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
