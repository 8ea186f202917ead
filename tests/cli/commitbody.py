#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Builds bodies for POST /v1/models/{m}/versions (docs/http-api.md), good and bad, from a
version's canonical manifest and one file's chunk list, independently of libmvms.

  commitbody.py CASE MANIFEST FILEMAP BRANCH > body.json

MANIFEST is a version's manifest object (GET /v1/objects/manifests/{id}); FILEMAP the
chunk list (GET /v1/objects/files/{id}) of its largest file, which must have 2+ chunks.
The commit goes to the new branch BRANCH (expected head ""), with the manifest's parents.
CASE:
  ok        a new message, nothing else changed: a valid commit (the control)
  size      the largest file declared 123456 bytes longer than its stored content
  small     a file of stored content declared 123456 bytes (over fewer real bytes)
  lens      a new chunk list whose lengths add up to the size but are not the chunks'
            (one byte moved from the second chunk to the first); its file id matches it
  sum       a chunk list missing its last chunk, the manifest keeping the full size
  dirfile   the file also at "a" and at "a/b": a path that is a file and a directory
  partial   a valid new file (the first chunk alone), then (in path order) a file made of
            a chunk the server does not have: nothing of the first may be kept
  chunk     a chunk list naming a chunk the server does not have
  fileid    a chunk list that does not hash to the file id it is sent under
The canonical encoding is docs/formats.md's: fixed key order, sorted paths, no spaces.
"""
import base64
import hashlib
import json
import struct
import sys


def fmap_entries(fm):
    size, count = struct.unpack_from("<QQ", fm, 16)
    return size, [(fm[32 + 40 * i:64 + 40 * i], struct.unpack_from("<Q", fm, 64 + 40 * i)[0])
                  for i in range(count)]


def fmap_encode(size, entries):
    body = b"".join(cid + struct.pack("<Q", n) for cid, n in entries)
    head = b"MVMSFMAP" + struct.pack("<IIQQ", 1, 0, size, len(entries))
    return head + body, hashlib.blake2b(body, digest_size=32).hexdigest()


def ghost(man, maps, path):
    """Adds file PATH made of one chunk the server does not have, with its chunk list."""
    e = [(hashlib.blake2b(b"not stored here", digest_size=32).digest(), 15)]
    data, fid = fmap_encode(15, e)
    maps[fid] = data
    man["files"].append({"path": path, "mode": 420, "size": 15, "id": fid})


def canonical(man):
    man["files"].sort(key=lambda f: f["path"].encode())
    return json.dumps(man, separators=(",", ":"), ensure_ascii=False) + "\n"


def main():
    case, man_path, fm_path, branch = sys.argv[1:5]
    man = json.loads(open(man_path, "rb").read().decode())
    fm = open(fm_path, "rb").read()
    size, entries = fmap_entries(fm)
    big = max(man["files"], key=lambda f: f["size"])
    small = min(man["files"], key=lambda f: f["size"])
    maps = {}
    man["message"] = "commitbody " + case
    if case == "size":
        big["size"] += 123456
    elif case == "small":
        small["size"] = 123456
    elif case == "lens":
        e = list(entries)
        e[0] = (e[0][0], e[0][1] + 1)
        e[1] = (e[1][0], e[1][1] - 1)
        data, fid = fmap_encode(size, e)
        maps[fid] = data
        man["files"].append({"path": "lens.bin", "mode": 420, "size": size, "id": fid})
    elif case == "sum":
        e = entries[:-1]
        data, fid = fmap_encode(sum(n for _, n in e), e)
        maps[fid] = data
        man["files"].append({"path": "sum.bin", "mode": 420, "size": size, "id": fid})
    elif case == "dirfile":
        for p in ("a", "a/b"):
            man["files"].append({"path": p, "mode": 420, "size": small["size"], "id": small["id"]})
    elif case == "partial":
        e = entries[:1]
        data, fid = fmap_encode(e[0][1], e)
        maps[fid] = data
        man["files"].append({"path": "first.bin", "mode": 420, "size": e[0][1], "id": fid})
        ghost(man, maps, "zz-ghost.bin")
    elif case == "chunk":
        ghost(man, maps, "ghost.bin")
    elif case == "fileid":
        e = entries[:1]
        data, fid = fmap_encode(e[0][1], e)
        fid = hashlib.blake2b(b"another id", digest_size=32).hexdigest()
        maps[fid] = data
        man["files"].append({"path": "wrongid.bin", "mode": 420, "size": e[0][1], "id": fid})
    elif case != "ok":
        sys.exit("commitbody.py: unknown case " + case)
    body = {"manifest": canonical(man),
            "filemaps": {k: base64.b64encode(v).decode() for k, v in maps.items()},
            "branch": branch, "expected_head": ""}
    sys.stdout.write(json.dumps(body))


if __name__ == "__main__":
    main()
