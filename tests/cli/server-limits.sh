#!/bin/sh
# SPDX-License-Identifier: MIT
# The server at the edge of its resources and its announcement: out of file descriptors
# (serve under `ulimit -n 64` with 120 idle connections) it pauses accepting instead of
# spinning on accept(), logs that once, and serves again when the connections go; the line
# "serving ... on http://ADDR:PORT" names the address actually bound. And the client's
# edge: a server's reply whose JSON strings hold an escaped NUL (which would cut them short)
# is refused.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
find_py
[ -n "$PY" ] || skip_all "python3 not installed"

setup
REQ_MAX_TIME=30
. "$TESTS_SRCDIR/cli/srv.sh"

mvms init
is_rc 0 "init" || bail "cannot create a store"

# ---- the announcement names the bound address ----
# 127.0.0.2 is loopback on Linux (127/8) and not the 127.0.0.1 that was always printed.
srv_start announce --threads 1 --no-access-log
like "$(cat "$WORK/announce.log")" "on http://127.0.0.1:$PORT " "127.0.0.1:0 is announced as 127.0.0.1:$PORT"
srv_stop "$SRV_PID"
if "$PY" -c 'import socket; socket.socket().bind(("127.0.0.2", 0))' 2>/dev/null; then
	rm -f "$WORK/a2.port"
	"$MVMS" serve --listen 127.0.0.2:0 --port-file "$WORK/a2.port" --threads 1 \
		>/dev/null 2>"$WORK/a2.log" </dev/null &
	SRV_PID=$!
	SRV_PIDS="$SRV_PIDS $SRV_PID"
	wait_port "$WORK/a2.port" "$SRV_PID" "the server (127.0.0.2)" "$WORK/a2.log"
	like "$(cat "$WORK/a2.log")" "on http://127.0.0.2:$PORT " "127.0.0.2:0 is announced as 127.0.0.2:$PORT"
	_hc=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.2:$PORT/healthz")
	is "$_hc" 200 "the announced address answers /healthz"
	srv_stop "$SRV_PID"
else
	skip "127.0.0.2 cannot be bound here: the announcement of another address"
	skip "127.0.0.2 cannot be bound here: /healthz on it"
fi

# ---- a client refuses a reply with a NUL in a string ----
# A stand-in server: its first /v1/store reply has a NUL in a string, later ones are fine;
# its version list has a NUL in a message.
XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME
"$PY" - "$WORK/fake.port" <<'EOF' >/dev/null 2>&1 &
import http.server, sys
store = b'{"api":1,"backend":"local","chunker":"fastcdc-gear-v1","chunk_min":8192,' \
        b'"chunk_avg":65536,"chunk_max":131072,"zstd_level":3,"pack_size":67108864,' \
        b'"max_body":1073741824,"note":"%s"}'
versions = b'{"versions":[{"model":"m","version":1,"id":"' + b'ab' * 32 + \
    b'","message":"good\\u0000evil","author":"x","created_at":"2026-01-01T00:00:00Z",' \
    b'"files":1,"logical_bytes":1,"parents":[],"meta":{},"refs":["branch:main"]}]}'
seen = []
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/v1/store":
            body = store % (b"a\\u0000b" if not seen else b"fine")
            seen.append(1)
        elif self.path.startswith("/v1/models/m/versions"):
            body = versions
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
s.timeout = 30
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % s.server_address[1])
for _ in range(4):
    s.handle_request()
EOF
FAKE=$!
SRV_PIDS="$SRV_PIDS $FAKE"
wait_port "$WORK/fake.port" "$FAKE" "the stand-in server"
mvms --remote "http://127.0.0.1:$PORT" log m
rc_nonzero "a /v1/store reply with a NUL in a string: the client refuses it"
like "$ERR" "NUL" "and says why"
mvms --remote "http://127.0.0.1:$PORT" log m
rc_nonzero "a version list with a NUL in a message: the client refuses it"
like "$ERR" "NUL" "and says why"
unlike "$OUT" "good" "and prints no message cut at the NUL"
srv_stop "$FAKE"

# ---- out of file descriptors ----
# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (/proc/PID/stat
# fields 14 and 15, counted after the ")" that ends the command name)
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
if [ ! -r /proc/self/stat ]; then
	skip "no /proc: CPU time while out of descriptors"
	done_testing
fi
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# The server runs with 64 descriptors; `exec` keeps its pid the one srv_start records.
REAL_MVMS=$MVMS
cat >"$WORK/mvms-64" <<EOF
#!/bin/sh
ulimit -n 64 || exit 99
exec "$REAL_MVMS" "\$@"
EOF
chmod +x "$WORK/mvms-64"
MVMS=$WORK/mvms-64
srv_start fds --threads 2
MVMS=$REAL_MVMS
check "the server answers /healthz with 64 descriptors" healthy || bail "no /healthz"
is "$(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' "/proc/$SRV_PID/limits")" 64 \
	"the server runs with a limit of 64 descriptors"

# 120 idle connections, held until $WORK/release appears (60 s at most)
"$PY" - "$PORT" 120 "$WORK/held" "$WORK/release" <<'EOF' &
import os, socket, sys, time
port, n, held, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for _ in range(n):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        break
with open(held, "w") as f:
    f.write("%d\n" % len(socks))
for _ in range(600):
    if os.path.exists(release):
        break
    time.sleep(0.1)
for s in socks:
    s.close()
EOF
HOLDER=$!
w=0
while [ ! -s "$WORK/held" ] && [ $w -lt 300 ]; do
	sleep 0.1
	w=$((w + 1))
done
is "$(cat "$WORK/held" 2>/dev/null)" 120 "120 connections are open"
# let the server take what it can and run out
sleep 0.5
LINES0=$(wc -l <"$WORK/fds.log")
T0=$(cpu_ticks "$SRV_PID")
sleep 3
T1=$(cpu_ticks "$SRV_PID")
LINES1=$(wc -l <"$WORK/fds.log")
CPU=$(awk -v a="$T0" -v b="$T1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
diag "CPU time over 3 s out of descriptors: $CPU s; log lines: $LINES0 then $LINES1"
check "the server is alive out of descriptors" kill -0 "$SRV_PID"
num_lt "$CPU" 1 "out of descriptors, the server does not spin (CPU-seconds over 3 s)"
num_lt "$LINES1" 100 "out of descriptors, the log stays small"
check "the log says why accepting stopped" grep -q "Too many open files" "$WORK/fds.log"
check "the log says accepting is paused" grep -q "pausing accepts" "$WORK/fds.log"

: >"$WORK/release"
wait "$HOLDER"
check "after the connections close, the server answers /healthz" healthy
check "and again" healthy
# the episode ends after a quiet second; 10 s at most
w=0
while ! grep -q "accepting again" "$WORK/fds.log" && [ $w -lt 100 ]; do
	sleep 0.1
	w=$((w + 1))
done
check "the log says accepting resumed" grep -q "accepting again" "$WORK/fds.log"
diag "the server's log:" "$(head -n 20 "$WORK/fds.log")"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the server stops cleanly"

done_testing
