#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gcsrecorder.py: a tiny in-memory object store speaking enough of the S3 / GCS XML API
for mvms-store, that records every request. For tests/cli/gcs.sh.

Operations: PUT object (If-None-Match: * -> 412 when the key exists), GET (with Range:
bytes=A-B, A-, -N -> 206), HEAD, DELETE, ListObjectsV2 (list-type=2, prefix, max-keys,
continuation-token, start-after), multipart upload (POST ?uploads, PUT
?partNumber=N&uploadId=U, POST ?uploadId=U complete, DELETE ?uploadId=U abort).

Addressing: path style (/BUCKET/KEY), or virtual host (Host: BUCKET.127.0.0.1:PORT or
BUCKET.localhost:PORT, path /KEY). Only the buckets given with --bucket exist (others:
404 NoSuchBucket).

Authentication: with --token T, every request must carry exactly one header
"Authorization: Bearer T"; anything else (no header, another token, a SigV4 signature)
gets 401 with a GCS-style XML error (Code AuthenticationRequired). Without --token
nothing is checked.

Every request is appended to --log as one JSON object a line, written before the answer
is sent: {"n", "method", "target" (as received), "path" (percent-decoded), "query" (raw
string), "args" ({name: [values]}), "headers" ([[name, value], ...] in order, duplicates
kept), "body_len", "status"}. --keys FILE is rewritten after every change with the stored
objects, "BUCKET/KEY SIZE MD5" a line, sorted. --port 0 (default) picks a free port on
127.0.0.1, written to --port-file. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape


class Store:
    def __init__(self, buckets, keys_file):
        self.lock = threading.Lock()
        self.objects = {b: {} for b in buckets}  # bucket -> key -> (bytes, etag, mtime)
        self.uploads = {}  # upload id -> (bucket, key, {part number: (bytes, etag)})
        self.next_upload = 0
        self.keys_file = keys_file

    def dump(self):
        if not self.keys_file:
            return
        lines = []
        for b, objs in self.objects.items():
            for k, (data, _etag, _mt) in objs.items():
                lines.append("%s/%s %d %s\n" % (b, k, len(data), hashlib.md5(data).hexdigest()))
        tmp = self.keys_file + ".tmp"
        with open(tmp, "w") as f:
            f.writelines(sorted(lines))
        os.replace(tmp, self.keys_file)


def etag_of(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def parse_range(spec, size):
    """(start, end inclusive) or None when unsatisfiable; raises ValueError when bad."""
    if not spec.startswith("bytes=") or "," in spec:
        raise ValueError(spec)
    a, _, b = spec[6:].strip().partition("-")
    if a == "":
        n = int(b)
        if n <= 0:
            return None
        return (max(0, size - n), size - 1) if size else None
    start = int(a)
    end = int(b) if b != "" else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcsrecorder"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    # ---- helpers ----

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, status, body_len):
        srv = self.server
        with srv.log_lock:
            srv.nreq += 1
            rec = {
                "n": srv.nreq,
                "method": self.command,
                "target": self.path,
                "path": self.upath,
                "query": self.rawq,
                "args": self.args,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_len": body_len,
                "status": status,
            }
            srv.log.write(json.dumps(rec, sort_keys=True) + "\n")
            srv.log.flush()

    def answer(self, status, body=b"", headers=(), ctype="application/xml", head=False):
        self.record(status, self.body_len)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body or not head:
            self.send_header("Content-Type", ctype)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def error(self, status, code, message, extra=""):
        xml = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>%s</Message>"
               "%s</Error>" % (code, escape(message), extra)).encode()
        self.answer(status, xml, head=self.command == "HEAD")

    def xml(self, body):
        self.answer(200, ("<?xml version='1.0' encoding='UTF-8'?>" + body).encode())

    # ---- dispatch ----

    def handle_any(self):
        self.body_len = 0
        target = self.path
        raw_path, _, self.rawq = target.partition("?")
        self.upath = urllib.parse.unquote(raw_path)
        self.args = urllib.parse.parse_qs(self.rawq, keep_blank_values=True)
        body = b""
        if self.command in ("PUT", "POST"):
            body = self.read_body()
            self.body_len = len(body)
        srv = self.server
        if srv.token is not None:
            auths = self.headers.get_all("Authorization") or []
            if auths != ["Bearer " + srv.token]:
                return self.error(401, "AuthenticationRequired",
                                  "Authentication required (bearer token missing or invalid).")
        # bucket and key: virtual host or path style
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        vbucket = None
        for base in ("127.0.0.1", "localhost"):
            if host.endswith("." + base):
                vbucket = host[: -len(base) - 1]
        if vbucket is not None:
            bucket, key = vbucket, self.upath[1:]
        else:
            bucket, _, key = self.upath[1:].partition("/")
        store = srv.store
        if bucket not in store.objects:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist.",
                              "<BucketName>%s</BucketName>" % escape(bucket))
        q = self.args
        with store.lock:
            if key == "":
                if self.command == "GET" and q.get("list-type") == ["2"]:
                    return self.list_v2(store.objects[bucket], bucket)
                if self.command == "HEAD":
                    return self.answer(200, head=True)
                return self.error(400, "InvalidArgument", "unsupported bucket operation")
            objs = store.objects[bucket]
            if self.command == "POST" and "uploads" in q:
                store.next_upload += 1
                uid = "upload-%d-%s" % (store.next_upload, hashlib.md5(key.encode()).hexdigest()[:8])
                store.uploads[uid] = (bucket, key, {})
                return self.xml("<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                                "<UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                                % (escape(bucket), escape(key), uid))
            if "uploadId" in q:
                uid = q["uploadId"][0]
                up = store.uploads.get(uid)
                if not up or up[:2] != (bucket, key):
                    return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
                parts = up[2]
                if self.command == "PUT" and "partNumber" in q:
                    num = int(q["partNumber"][0])
                    parts[num] = (body, etag_of(body))
                    return self.answer(200, headers=[("ETag", parts[num][1])])
                if self.command == "POST":
                    return self.complete(uid, bucket, key, parts, body)
                if self.command == "DELETE":
                    del store.uploads[uid]
                    return self.answer(204)
                return self.error(400, "InvalidArgument", "unsupported upload operation")
            if self.rawq and self.command != "GET":
                return self.error(400, "InvalidArgument", "unexpected query: " + self.rawq)
            if self.command == "PUT":
                if self.headers.get("If-None-Match") == "*" and key in objs:
                    return self.error(412, "PreconditionFailed", "At least one of the pre-conditions "
                                      "you specified did not hold.")
                objs[key] = (body, etag_of(body), time.time())
                store.dump()
                return self.answer(200, headers=[("ETag", objs[key][1])])
            if key not in objs:
                if self.command == "DELETE":
                    return self.answer(204)
                return self.error(404, "NoSuchKey", "The specified key does not exist.",
                                  "<Key>%s</Key>" % escape(key))
            data, etag, mtime = objs[key]
            if self.command == "DELETE":
                del objs[key]
                store.dump()
                return self.answer(204)
            lm = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(mtime))
            common = [("ETag", etag), ("Last-Modified", lm), ("Accept-Ranges", "bytes")]
            if self.command == "HEAD":
                return self.answer(200, headers=common + [("Content-Length", str(len(data)))],
                                   ctype="application/octet-stream", head=True)
            if self.command == "GET":
                rng = self.headers.get("Range")
                if rng:
                    try:
                        r = parse_range(rng, len(data))
                    except ValueError:  # a malformed Range is ignored, as S3 does
                        return self.answer(200, data, common, "application/octet-stream")
                    if r is None:
                        return self.error(416, "InvalidRange",
                                          "The requested range cannot be satisfied.")
                    a, b = r
                    return self.answer(206, data[a:b + 1], common + [
                        ("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))],
                        "application/octet-stream")
                return self.answer(200, data, common, "application/octet-stream")
            return self.error(405, "MethodNotAllowed", "method not allowed")

    def list_v2(self, objs, bucket):
        q = self.args
        prefix = q.get("prefix", [""])[0]
        maxk = int(q.get("max-keys", ["1000"])[0])
        maxk = max(1, min(maxk, 1000))
        after = q.get("start-after", [""])[0]
        tok = q.get("continuation-token", [None])[0]
        if tok is not None:
            try:
                after = max(after, base64.urlsafe_b64decode(tok.encode()).decode())
            except Exception:
                return self.error(400, "InvalidArgument", "The continuation token provided is incorrect")
        keys = sorted(k for k in objs if k.startswith(prefix) and k > after)
        page, rest = keys[:maxk], keys[maxk:]
        out = ["<ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'>",
               "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys><KeyCount>%d</KeyCount>"
               % (escape(bucket), escape(prefix), maxk, len(page))]
        if tok is not None:
            out.append("<ContinuationToken>%s</ContinuationToken>" % escape(tok))
        for k in page:
            data, etag, mtime = objs[k]
            out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag>"
                       "<Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                       % (escape(k), time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(mtime)),
                          escape(etag), len(data)))
        out.append("<IsTruncated>%s</IsTruncated>" % ("true" if rest else "false"))
        if rest:
            out.append("<NextContinuationToken>%s</NextContinuationToken>"
                       % base64.urlsafe_b64encode(page[-1].encode()).decode())
        out.append("</ListBucketResult>")
        return self.xml("".join(out))

    def complete(self, uid, bucket, key, parts, body):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return self.error(400, "MalformedXML", "The XML you provided was not well-formed.")
        want = []
        for p in root.iter():
            if p.tag.split("}")[-1] != "Part":
                continue
            num = etag = None
            for c in p:
                t = c.tag.split("}")[-1]
                if t == "PartNumber":
                    num = int(c.text)
                elif t == "ETag":
                    etag = (c.text or "").strip()
            want.append((num, etag))
        nums = [n for n, _ in want]
        if not want or nums != sorted(set(nums)):
            return self.error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        data = bytearray()
        for num, etag in want:
            if num not in parts or parts[num][1].strip('"') != (etag or "").strip('"'):
                return self.error(400, "InvalidPart", "One or more of the specified parts could not be found.")
            data += parts[num][0]
        data = bytes(data)
        md5s = b"".join(hashlib.md5(parts[n][0]).digest() for n in nums)
        etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(nums))
        self.server.store.objects[bucket][key] = (data, etag, time.time())
        del self.server.store.uploads[uid]
        self.server.store.dump()
        return self.xml("<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                        "<ETag>%s</ETag></CompleteMultipartUploadResult>"
                        % (escape(bucket), escape(key), escape(etag)))

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", required=True, help="JSON lines, one per request")
    ap.add_argument("--keys", help="rewritten with the stored objects after every change")
    ap.add_argument("--bucket", action="append", default=[], help="a bucket that exists (repeat)")
    ap.add_argument("--token", help="the only bearer token accepted (else: no auth check)")
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.store = Store(args.bucket, args.keys)
    srv.store.dump()
    srv.token = args.token
    srv.log = open(args.log, "a")
    srv.log_lock = threading.Lock()
    srv.nreq = 0
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
