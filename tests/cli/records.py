#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks a records stream (docs/formats.md) against a chunk list, independently of libmvms.

  records.py STREAM FILEMAP OUT

STREAM is the body of GET .../files/{path}?format=records, FILEMAP the file's chunk list
(GET /v1/objects/files/{id}). Every record must name the next chunk of the list with its
length, store it raw (codec 0) or as one zstd frame (codec 1, decoded with the zstd
command), and decode to bytes whose BLAKE2b-256 is the chunk id. The decoded bytes are
written to OUT. Prints one line; exit 0 when all holds, 1 otherwise.
"""
import hashlib
import struct
import subprocess
import sys


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
            chunk = subprocess.run(["zstd", "-dc"], input=body, stdout=subprocess.PIPE,
                                   check=True).stdout
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
