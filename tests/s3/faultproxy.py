#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""faultproxy.py: an HTTP/1.1 forwarding proxy that injects faults, for the S3 tests.

Listens on 127.0.0.1 and forwards every request, unchanged (Host header included, so
SigV4 signatures still verify), to the upstream server. Some requests get a fault
instead of the server's answer; which ones is deterministic:

  --every N         every Nth request (counted over all connections, from 1) faults
  --rate F --seed S each request faults with probability F, from random.Random(S)

The fault of the k-th faulting request is kinds[k % len(kinds)], kinds from --faults
(comma-separated, default 500,503,drop):
  500, 503, 429  read the request (body included), answer that status with an S3 XML
                 error body (503/429 with Retry-After: 0)
  drop           read the request headers, then close the connection without answering
  reset          read the whole request, forward it upstream, then close without answering
                 (the server did the work: the client cannot tell, it must retry safely)
  truncate       forward the request, send the response headers and half the body, close

--skip N leaves the first N requests alone. Every request is logged to --log (default
stderr) as "N METHOD PATH -> STATUS|FAULT". --port 0 picks a free port; the port is
written to --port-file. Python 3 standard library only.
"""

import argparse
import random
import socket
import socketserver
import sys
import threading

BUF = 65536


class Counter:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.n = 0
        self.nfault = 0
        self.every = args.every
        self.rate = args.rate
        self.rng = random.Random(args.seed)
        self.kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
        self.skip = args.skip

    def next(self):
        """Returns (request number, fault kind or None)."""
        with self.lock:
            self.n += 1
            n = self.n
            fault = False
            if n > self.skip:
                if self.every > 0:
                    fault = (n - self.skip) % self.every == 0
                elif self.rate > 0:
                    fault = self.rng.random() < self.rate
            kind = None
            if fault and self.kinds:
                kind = self.kinds[self.nfault % len(self.kinds)]
                self.nfault += 1
            return n, kind


class Conn:
    """A buffered reader over a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(BUF)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_head(self):
        """Start line and headers [(name, value)], or None at a clean EOF."""
        try:
            line = self.readline()
        except EOFError:
            if self.buf:
                raise
            return None
        while line == b"":  # tolerate stray CRLFs between requests
            line = self.readline()
        headers = []
        while True:
            h = self.readline()
            if h == b"":
                break
            name, _, value = h.partition(b":")
            headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        return line.decode("latin-1"), headers

    def read_some(self, limit):
        if not self.buf:
            self.fill()
        data, self.buf = self.buf[:limit], self.buf[limit:]
        return data

    def copy_body(self, headers, out, no_body=False, until_close=False, limit=None):
        """Copies a message body (Content-Length or chunked) to out (a callable,
        or None to discard). Stops after `limit` bytes if given (for truncate)."""
        sent = 0

        def emit(b):
            nonlocal sent
            if out is not None:
                out(b)
            sent += len(b)

        if no_body:
            return
        te = header(headers, "transfer-encoding")
        if te and "chunked" in te.lower():
            while True:
                size_line = self.readline()
                emit(size_line + b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers
                        t = self.readline()
                        emit(t + b"\r\n")
                        if t == b"":
                            return
                left = size + 2
                while left > 0:
                    d = self.read_some(min(left, BUF))
                    emit(d)
                    left -= len(d)
                    if limit is not None and sent >= limit:
                        return
        cl = header(headers, "content-length")
        if cl is not None:
            left = int(cl)
            while left > 0:
                d = self.read_some(min(left, BUF))
                emit(d)
                left -= len(d)
                if limit is not None and sent >= limit:
                    return
            return
        if until_close:
            while True:
                try:
                    d = self.read_some(BUF)
                except EOFError:
                    return
                emit(d)


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def head_bytes(start, headers):
    return (start + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n").encode("latin-1")


def error_reply(status, path):
    reason = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}.get(status, "Error")
    code = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}.get(status, "InternalError")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>injected by '
            'faultproxy</Message><Resource>%s</Resource></Error>' % (code, path)).encode()
    extra = "Retry-After: 0\r\n" if status in (503, 429) else ""
    return ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason, len(body), extra)).encode() + body


class Handler(socketserver.BaseRequestHandler):
    def log(self, msg):
        srv = self.server
        with srv.log_lock:
            srv.log_file.write(msg + "\n")
            srv.log_file.flush()

    def handle(self):
        srv = self.server
        client = Conn(self.request)
        upstream = None
        try:
            while True:
                head = client.read_head()
                if head is None:
                    return
                start, headers = head
                parts = start.split(" ")
                method = parts[0]
                path = parts[1] if len(parts) > 1 else "/"
                n, kind = srv.counter.next()
                expect = header(headers, "expect")
                fwd_headers = [(k, v) for k, v in headers if k.lower() != "expect"]
                if expect and expect.lower() == "100-continue" and kind != "drop":
                    self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if kind == "drop":
                    self.log("%d %s %s -> FAULT drop" % (n, method, path))
                    return
                if kind in ("500", "503", "429"):
                    client.copy_body(headers, None)
                    self.request.sendall(error_reply(int(kind), path))
                    self.log("%d %s %s -> FAULT %s" % (n, method, path, kind))
                    continue
                # forward
                if upstream is None:
                    us = socket.create_connection((srv.up_host, srv.up_port), timeout=300)
                    upstream = Conn(us)
                upstream.sock.sendall(head_bytes(start, fwd_headers))
                client.copy_body(headers, upstream.sock.sendall)
                if kind == "reset":
                    # let the server finish the request, then drop the client
                    rhead = upstream.read_head()
                    self.log("%d %s %s -> FAULT reset (server said %s)"
                             % (n, method, path, rhead[0].split(" ")[1] if rhead else "nothing"))
                    return
                while True:
                    rhead = upstream.read_head()
                    if rhead is None:
                        raise EOFError("upstream closed")
                    rstart, rheaders = rhead
                    status = int(rstart.split(" ")[1])
                    if status == 100:  # we already sent our own
                        continue
                    break
                no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
                conn_close = (header(rheaders, "connection") or "").lower() == "close"
                has_len = header(rheaders, "content-length") is not None or \
                    "chunked" in (header(rheaders, "transfer-encoding") or "").lower()
                if kind == "truncate" and not no_body:
                    cl = header(rheaders, "content-length")
                    total = int(cl) if cl is not None else 2
                    self.request.sendall(head_bytes(rstart, rheaders))
                    upstream.copy_body(rheaders, self.request.sendall, limit=max(1, total // 2))
                    self.log("%d %s %s -> FAULT truncate (%d)" % (n, method, path, status))
                    return
                self.request.sendall(head_bytes(rstart, rheaders))
                upstream.copy_body(rheaders, self.request.sendall, no_body=no_body,
                                   until_close=not has_len)
                rng = header(headers, "range")
                self.log("%d %s %s -> %d%s" % (n, method, path, status, " range=" + rng if rng else ""))
                if conn_close or (not no_body and not has_len):
                    return
                if (header(headers, "connection") or "").lower() == "close":
                    return
        except (EOFError, ConnectionError, socket.timeout, ValueError, OSError) as e:
            self.log("connection error: %s" % e)
        finally:
            if upstream is not None:
                try:
                    upstream.sock.close()
                except OSError:
                    pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--every", type=int, default=0, help="fault every Nth request")
    ap.add_argument("--rate", type=float, default=0.0, help="fault probability per request")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--faults", default="500,503,drop")
    ap.add_argument("--skip", type=int, default=0, help="leave the first N requests alone")
    ap.add_argument("--log", help="log file (default stderr)")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    for k in args.faults.split(","):
        if k.strip() and k.strip() not in ("500", "503", "429", "drop", "reset", "truncate"):
            ap.error("unknown fault kind %r" % k)

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.up_host, srv.up_port = host or "127.0.0.1", int(port)
    srv.counter = Counter(args)
    srv.log_lock = threading.Lock()
    srv.log_file = open(args.log, "a") if args.log else sys.stderr
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
