# SPDX-License-Identifier: MIT
# A receiver of rollout notifications for tests/cli/rollout.sh: listens on 127.0.0.1
# (port 0), writes its port to PORTFILE, answers the first FAILS posts with 500 (so the
# sender has to retry) and the rest with 204, and appends one line per post to LOG:
# "<status> <body>". Stops on SIGTERM.
import http.server
import signal
import sys

port_file, log, fails = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = [0]


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace").replace("\n", " ")
        seen[0] += 1
        code = 500 if seen[0] <= fails else 204
        with open(log, "a") as f:
            f.write("%d %s %s\n" % (code, self.headers.get("Content-Type"), body))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
