# SPDX-License-Identifier: MIT
# Helpers for the tests that drive a real `mvms-store serve` on 127.0.0.1 with curl
# (server.sh, server-bad.sh, predict.sh, remote.sh): start and stop servers (port 0,
# --port-file), send a request and look at its status, headers and JSON body. deploy.sh
# uses only srv_stop, for its background `watch`. Sourced after lib.sh and `setup`; sets
# the EXIT trap, which stops every process in SRV_PIDS, and lib.sh's DONE_HOOK, which stops
# them (srv_stop_all) before done_testing's last look for sanitizer reports. REQ_MAX_TIME
# (seconds, default 60) bounds each request.

SRV_PIDS=
DONE_HOOK=srv_stop_all

# srv_track PID [LOG]: a background process for srv_stop and the EXIT trap; srv_stop fails
# the test when LOG (its stderr) holds a sanitizer report
srv_track() {
	SRV_PIDS="$SRV_PIDS $1"
	eval "SRV_LOG_$1=\${2:-}"
}

# srv_stop PID: SIGTERM, then wait (SIGKILL after SRV_STOP_TENTHS tenths of a second,
# default 150); sets SRV_RC (its exit status), SRV_TENTHS (how long it took to go) and
# SRV_KILLED (1 if it had to be killed, else empty). A sanitizer report in its log (see
# srv_track) or in $SAN_DIR is a "not ok" (lib.sh's san_scan); srv_stop returns 1 then.
srv_stop() {
	SRV_RC=
	SRV_TENTHS=0
	SRV_KILLED=
	if kill -TERM "$1" 2>/dev/null; then
		while kill -0 "$1" 2>/dev/null && [ "$SRV_TENTHS" -lt "${SRV_STOP_TENTHS:-150}" ]; do
			sleep 0.1
			SRV_TENTHS=$((SRV_TENTHS + 1))
		done
		if kill -0 "$1" 2>/dev/null; then
			diag "process $1 ignored SIGTERM for $SRV_TENTHS tenths of a second: killing it"
			kill -KILL "$1" 2>/dev/null
			SRV_KILLED=1
		fi
	fi
	wait "$1" 2>/dev/null
	SRV_RC=$?
	_rest=
	for _p in $SRV_PIDS; do
		[ "$_p" = "$1" ] || _rest="$_rest $_p"
	done
	SRV_PIDS=$_rest
	eval "_slog=\${SRV_LOG_$1:-}"
	san_scan "process $1 (${_slog:-no log}), stopped with exit code $SRV_RC" "$_slog"
}

# srv_kill PID: SIGKILL (a crash), wait, forget it; a sanitizer report in its log until
# then is a "not ok" (crash.sh)
srv_kill() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	SRV_RC=$?
	_rest=
	for _p in $SRV_PIDS; do
		[ "$_p" = "$1" ] || _rest="$_rest $_p"
	done
	SRV_PIDS=$_rest
	eval "_slog=\${SRV_LOG_$1:-}"
	san_scan "process $1 (${_slog:-no log}), killed" "$_slog"
}

# srv_stop_all: srv_stop for every process still in SRV_PIDS
srv_stop_all() {
	for _p in $SRV_PIDS; do
		srv_stop "$_p"
	done
}

# wait_port FILE PID WHAT [LOG]: until FILE holds a port number (10 s), then sets PORT;
# bails when PID exits first (showing the end of LOG) or nothing comes. Not in $(...): a
# bail there would only end the subshell.
wait_port() {
	_w=0
	while ! grep -q '^[0-9][0-9]*$' "$1" 2>/dev/null; do
		if ! kill -0 "$2" 2>/dev/null; then
			[ -z "${4:-}" ] || diag "$3's log:" "$(tail -n 20 "$4")"
			bail "$3 exited before listening"
		fi
		_w=$((_w + 1))
		[ $_w -le 100 ] || bail "$3 wrote no port file within 10 s"
		sleep 0.1
	done
	PORT=$(cat "$1")
}

# upstream NAME [options...]: starts tests/upstream (the stand-in inference server) with
# --name NAME and the options; sets UP_PID, PORT and UP_URL. Stopped with the servers.
upstream() {
	_n=$1
	shift
	rm -f "$WORK/up-$_n.port"
	"$UPSTREAM" --name "$_n" --port-file "$WORK/up-$_n.port" "$@" \
		>/dev/null 2>"$WORK/up-$_n.log" </dev/null &
	UP_PID=$!
	srv_track "$UP_PID" "$WORK/up-$_n.log"
	wait_port "$WORK/up-$_n.port" "$UP_PID" "upstream $_n" "$WORK/up-$_n.log"
	UP_URL="http://127.0.0.1:$PORT"
}

cleanup() {
	srv_stop_all
	remote_stop_all
	rm -rf "$WORK"
}
trap cleanup EXIT

# srv_start NAME [serve options...]: a server on $SRV_STORE (default $MVMS_STORE); sets
# SRV_PID and URL. Its stderr (the access log) goes to $WORK/NAME.log.
srv_start() {
	_name=$1
	shift
	rm -f "$WORK/$_name.port"
	"$MVMS" --store "${SRV_STORE:-$MVMS_STORE}" serve --listen 127.0.0.1:0 \
		--port-file "$WORK/$_name.port" "$@" \
		>"$WORK/$_name.out" 2>"$WORK/$_name.log" </dev/null &
	SRV_PID=$!
	srv_track "$SRV_PID" "$WORK/$_name.log"
	wait_port "$WORK/$_name.port" "$SRV_PID" "the server ($_name)" "$WORK/$_name.log"
	URL="http://127.0.0.1:$PORT"
}

# req METHOD URL [curl options...]: sets CODE; the body is in $WORK/body (and BODY), the
# headers in $WORK/hdr. HEAD is sent with curl -I (no body is awaited). REQ_AUTH, when
# set, is a header sent with every request (predict.sh: "Authorization: Bearer ...").
req() {
	_m=$1
	_u=$2
	shift 2
	: >"$WORK/body"
	: >"$WORK/hdr"
	if [ "$_m" = HEAD ]; then
		CODE=$(curl -s -I --max-time "${REQ_MAX_TIME:-60}" -o "$WORK/hdr" -w '%{http_code}' \
			${REQ_AUTH:+-H "$REQ_AUTH"} "$@" "$_u")
	else
		CODE=$(curl -s -X "$_m" --max-time "${REQ_MAX_TIME:-60}" -o "$WORK/body" -D "$WORK/hdr" \
			-w '%{http_code}' ${REQ_AUTH:+-H "$REQ_AUTH"} "$@" "$_u")
	fi
	BODY=$(cat "$WORK/body")
	LAST_REQ="$_m $_u"
}

# hdr NAME: a reply header's value (last occurrence, CR stripped)
hdr() {
	grep -i "^$1:" "$WORK/hdr" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//' | tr -d '\r'
}

# is_code WANT DESC
is_code() {
	if [ "$CODE" = "$1" ]; then
		ok "$2"
	else
		not_ok "$2"
		diag "$LAST_REQ: want HTTP $1, got $CODE" "body: $(head -c 400 "$WORK/body")"
		return 1
	fi
}

# jnum KEY: the first number value of "KEY" in $WORK/body (compact JSON)
jnum() {
	grep -o "\"$1\":-\{0,1\}[0-9][0-9.]*" "$WORK/body" | head -n 1 | sed 's/^[^:]*://'
}

# jstr KEY: the first string value of "KEY" in $WORK/body (no escaped quotes expected)
jstr() {
	grep -o "\"$1\":\"[^\"]*\"" "$WORK/body" | head -n 1 | sed 's/^[^:]*:"//; s/"$//'
}

# jcount KEY: how many times "KEY": occurs in $WORK/body
jcount() {
	grep -o "\"$1\":" "$WORK/body" | wc -l | tr -d ' '
}

# file_id SPEC PATH: the file id that `show --json` gives for PATH
file_id() {
	"$MVMS" show --json "$1" 2>/dev/null | awk -v p="$2" '
		index($0, "\"path\":") && index($0, "\"" p "\"") { hit = 1; next }
		hit && index($0, "\"id\":") { sub(/.*"id":[[:space:]]*"/, ""); sub(/".*/, ""); print; exit }'
}

# healthy: /healthz answers 200; the first time it does not, the server logs are shown
DUMPED=
healthy() {
	_hc=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/healthz")
	[ "$_hc" = 200 ] && return 0
	if [ -z "$DUMPED" ]; then
		DUMPED=1
		for _l in "$WORK"/*.log; do
			diag "$_l (last lines):"
			tail -n 30 "$_l" | sed 's/^/  /' | while IFS= read -r _x; do diag "$_x"; done
		done
	fi
	return 1
}
