#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sends raw bytes to an HTTP server and prints what comes back (for requests curl will not
make: bad request lines, folded headers, pipelining, a head cut into pieces).

  rawhttp.py [--piece N] PORT DATA

DATA takes Python escapes (\\r\\n, \\x00). With --piece N the bytes go N at a time, 5 ms
apart. Reads until the server closes or is quiet for 2 s, then prints everything received.
"""
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    piece = 0
    if args and args[0] == "--piece":
        piece = int(args[1])
        args = args[2:]
    port, data = int(args[0]), args[1].encode("latin1").decode("unicode_escape").encode("latin1")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if piece:
        for i in range(0, len(data), piece):
            s.sendall(data[i:i + piece])
            time.sleep(0.005)
    else:
        s.sendall(data)
    s.settimeout(2.0)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    sys.stdout.write(out.decode("latin1"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
