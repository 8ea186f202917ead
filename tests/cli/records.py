#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks a records stream (docs/formats.md) against a chunk list, independently of libmvms.

  records.py STREAM FILEMAP OUT

STREAM is the body of GET .../files/{path}?format=records, FILEMAP the file's chunk list
(GET /v1/objects/files/{id}). Every record must name the next chunk of the list with its
length, store it raw (codec 0), as one zstd frame (codec 1, decoded with the zstd
command) or as byte planes (codecs 2 to 4, decoded here from docs/formats.md alone), and
decode to bytes whose BLAKE2b-256 is the chunk id. The decoded bytes are
written to OUT. Prints one line; exit 0 when all holds, 1 otherwise.
"""
import hashlib
import struct
import subprocess
import sys


def zstd_d(body):
    return subprocess.run(["zstd", "-dc"], input=body, stdout=subprocess.PIPE,
                          check=True).stdout


def planes(codec, body, raw_len):
    """Codecs 2-4 (docs/formats.md, "Compression"): the raw bytes, or None if malformed."""
    if not body:
        return None
    w = body[0]
    if (codec, w) not in ((2, 2), (2, 4), (2, 8), (3, 2), (4, 4)) or len(body) < 1 + 5 * w:
        return None
    n, tail, pos, ps = raw_len // w, raw_len % w, 1 + 5 * w, []
    for k in range(w):
        method, length = struct.unpack_from("<BI", body, 1 + 5 * k)
        part = body[pos:pos + length]
        pos += length
        p = part if method == 0 else zstd_d(part) if method == 1 else None
        if p is None or len(p) != n:
            return None
        ps.append(p)
    if pos + tail != len(body):
        return None
    out = bytearray(n * w)
    if codec == 3:  # exponent | sign,mantissa -> lo, hi
        e, m = ps
        out[0::2] = bytes(((x << 7) & 0xff) | (y & 0x7f) for x, y in zip(e, m))
        out[1::2] = bytes((y & 0x80) | (x >> 1) for x, y in zip(e, m))
    elif codec == 4:  # exponent, sign|mantissa high, mid, low -> b0..b3
        e, p1, p2, p3 = ps
        out[0::4], out[1::4] = p3, p2
        out[2::4] = bytes(((x << 7) & 0xff) | (y & 0x7f) for x, y in zip(e, p1))
        out[3::4] = bytes((y & 0x80) | (x >> 1) for x, y in zip(e, p1))
    else:
        for k in range(w):
            out[k::w] = ps[k]
    return bytes(out) + body[pos:]


def main():
    stream, fmap, out = sys.argv[1:4]
    data = open(stream, "rb").read()
    fm = open(fmap, "rb").read()
    if fm[:8] != b"MVMSFMAP":
        return "the chunk list has no MVMSFMAP magic"
    size, count = struct.unpack_from("<QQ", fm, 16)
    pos, raw = 0, []
    for i in range(count):
        cid, clen = fm[32 + 40 * i:64 + 40 * i], struct.unpack_from("<Q", fm, 64 + 40 * i)[0]
        if len(data) - pos < 41:
            return "the stream ends before chunk %d of %d" % (i, count)
        codec, raw_len, stored = struct.unpack_from("<BII", data, pos)
        if data[pos + 9:pos + 41] != cid or raw_len != clen:
            return "record %d does not name chunk %d of the list" % (i, i)
        body = data[pos + 41:pos + 41 + stored]
        if len(body) != stored:
            return "record %d is cut short" % i
        if codec == 0:
            chunk = body
        elif codec == 1:
            chunk = zstd_d(body)
        elif codec in (2, 3, 4):
            chunk = planes(codec, body, raw_len)
            if chunk is None:
                return "record %d: malformed byte planes (codec %d)" % (i, codec)
        else:
            return "record %d has codec %d" % (i, codec)
        if len(chunk) != raw_len or hashlib.blake2b(chunk, digest_size=32).digest() != cid:
            return "record %d does not decode to its chunk" % i
        raw.append(chunk)
        pos += 41 + stored
    if pos != len(data):
        return "%d bytes after the last record" % (len(data) - pos)
    joined = b"".join(raw)
    if len(joined) != size:
        return "the chunks add up to %d bytes, the list says %d" % (len(joined), size)
    open(out, "wb").write(joined)
    return None


if __name__ == "__main__":
    err = main()
    print(err or "ok")
    sys.exit(1 if err else 0)
