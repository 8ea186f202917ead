#!/bin/sh
# SPDX-License-Identifier: MIT
# What /predict forwards and how it retries, and shadow traffic, against real HTTP upstreams
# (tests/upstream): the method (GET, POST, PUT), the query string and the end-to-end headers
# reach the upstream, Authorization and hop-by-hop headers (the fixed list and those named
# in Connection) do not, and the same filter applies to the answer's headers; the
# environment's --timeout gives 504 upstream_timeout; --retries N makes N more attempts
# (counted at the upstream) for idempotent methods and for connections that failed before
# anything was sent, none for a POST that reached the upstream. Shadow traffic: the served
# answers are byte-identical with and without a shadow; differences are counted (as bytes,
# or as JSON with key order and spacing ignored); a shadow that never answers does not hold
# up /predict: copies beyond the bounded queue (32) are dropped and counted.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || skip_all "UPSTREAM (tests/upstream) is not set or not built"

setup
. "$TESTS_SRCDIR/cli/srv.sh"
SRV_STOP_TENTHS=100

cleanup() {
	for _p in $SRV_PIDS; do
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT


# hits NAME: the requests upstream NAME has seen
hits() {
	cat "$WORK/hits-$1" 2>/dev/null || echo 0
}

# predict_many ENV N FILE: N POSTs to /predict/m/ENV (one connection), answers in FILE
predict_many() {
	curl -s -X POST -d 'same body' -H "$AUTH" -w '\n' "$URL/predict/m/$1?n=[1-$2]" >"$3"
}

# shadow_field KEY: a number of the "shadow" object of `status --json` ($WORK/body)
shadow_field() {
	sed 's/.*"shadow"://' "$WORK/body" | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}

# wait_compared ENV N: polls status until the shadow compared N answers (bounded, 10 s)
wait_compared() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		req GET "$URL/v1/models/m/deployments/$1/status"
		[ "$(shadow_field compared)" = "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree"
for v in v1 v2 v3; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
done
W=$("$MVMS" token create --scope write 2>"$WORK/token.err") || bail "token create: $(cat "$WORK/token.err")"
AUTH="Authorization: Bearer $W"
REQ_AUTH=$AUTH
srv_start srv --threads 2 --no-access-log

# ---- forwarding: method, query, headers ----
upstream echo --echo --hits-file "$WORK/hits-echo"
ECHO=$UP_URL
mvms deploy m@v1 fwd --endpoint "$ECHO/infer?model=m"
is_rc 0 "deploy m@v1 fwd (an endpoint with a path and a query)"
req PUT "$URL/predict/m/fwd?temperature=0.5&top=3" -d 'x' -H 'X-Trace: t-42' \
	-H 'Accept-Language: fr' -H 'Connection: X-Private' -H 'X-Private: secret' \
	-H 'Keep-Alive: timeout=5' -H 'Proxy-Authorization: Basic abc' -H 'TE: trailers' \
	-H 'Upgrade: h2c' -H 'Trailer: X-Sum'
is_code 200 "PUT /predict with a query and headers"
like "$BODY" '"method":"PUT"' "the upstream got a PUT"
like "$BODY" '"uri":"/infer?model=m&temperature=0.5&top=3"' "the endpoint's path and query, then the client's query"
like "$BODY" '"X-Trace":"t-42"' "an end-to-end header is forwarded"
like "$BODY" '"Accept-Language":"fr"' "another one"
unlike "$BODY" "$W" "the caller's token is not forwarded"
unlike "$BODY" '"Authorization"' "no Authorization header upstream"
unlike "$BODY" 'X-Private' "a header named in Connection is not forwarded"
unlike "$BODY" 'Keep-Alive' "Keep-Alive is not forwarded"
unlike "$BODY" 'Proxy-Authorization' "Proxy-* is not forwarded"
unlike "$BODY" '"TE"' "TE is not forwarded"
unlike "$BODY" 'Upgrade' "Upgrade is not forwarded"
unlike "$BODY" 'Trailer' "Trailer is not forwarded"
is "$(hdr X-Upstream-Name)" echo "an end-to-end header of the answer comes back"
is "$(hdr X-Upstream-Private)" "" "a header the upstream named in Connection does not"
is "$(hdr Proxy-Upstream)" "" "nor a Proxy-* one"
is "$(hdr X-Model-Version)" v1 "X-Model-Version is the store's"
req GET "$URL/predict/m/fwd?q=1"
is_code 200 "GET /predict"
like "$BODY" '"method":"GET"' "the upstream got a GET"
like "$BODY" '"uri":"/infer?model=m&q=1"' "with the query"
req POST "$URL/v1/models/m/deployments/fwd/predict" -d 'abc' -H 'Content-Type: text/plain'
like "$BODY" '"method":"POST"' "POST on the long form"
like "$BODY" '"Content-Type":"text/plain"' "Content-Type forwarded"
like "$BODY" '"bytes":3' "the body too"
req DELETE "$URL/predict/m/fwd"
is_code 405 "DELETE /predict: 405"

# ---- timeout ----
upstream slow --delay-ms 5000
mvms deploy m@v1 slow --endpoint "$UP_URL" --timeout 0.3 --retries 0
is_rc 0 "deploy m@v1 slow --timeout 0.3 --retries 0"
req POST "$URL/predict/m/slow" -d x
is_code 504 "an upstream slower than the environment's timeout: 504"
is "$(jstr code)" upstream_timeout "code upstream_timeout"

# ---- retries ----
upstream failing --status 500 --hits-file "$WORK/hits-failing"
FAILING=$UP_URL
mvms deploy m@v1 retry --endpoint "$FAILING" --retries 2
is_rc 0 "deploy m@v1 retry --retries 2 (an upstream answering 500)"
req PUT "$URL/predict/m/retry" -d x
is_code 502 "PUT to an upstream answering 500: 502 in the end"
is "$(hits failing)" 3 "tried 3 times (1 + 2 retries)"
req GET "$URL/predict/m/retry"
is "$(hits failing)" 6 "a GET too"
req POST "$URL/predict/m/retry" -d x
is_code 502 "POST: 502"
is "$(hits failing)" 7 "a POST that reached the upstream is not retried"
req PUT "$URL/predict/m/retry?retry=0" -d x
is "$(hits failing)" 8 "?retry=0: no retry"
upstream flaky --fail-first 2 --hits-file "$WORK/hits-flaky"
mvms deploy m@v1 retry --endpoint "$UP_URL"
req GET "$URL/predict/m/retry"
is_code 200 "an upstream failing twice, then fine: the third attempt answers 200"
is "$(hits flaky)" 3 "3 attempts"
upstream gone
GONE=$UP_URL
srv_stop "$UP_PID"
mvms deploy m@v1 down --endpoint "$GONE" --retries 3
req POST "$URL/predict/m/down" -d x
is_code 502 "an upstream that is down: 502"
is "$(jstr code)" upstream_unreachable "upstream_unreachable"
req GET "$URL/v1/models/m/deployments/down/status"
is "$(jnum errors)" 4 "a POST to a refused connection is retried (nothing was sent): 4 attempts"

# ---- shadow traffic: the served answers do not change ----
upstream s1
S1=$UP_URL
upstream s2 --hits-file "$WORK/hits-s2"
S2=$UP_URL
mvms deploy m@v1 sh --endpoint "$S1"
is_rc 0 "deploy m@v1 sh"
predict_many sh 20 "$WORK/plain"
mvms deploy m@v2 sh --shadow 100 --endpoint "$S2" --shadow-compare bytes
is_rc 0 "deploy m@v2 sh --shadow 100 (it answers differently)"
predict_many sh 20 "$WORK/shadowed"
is "$(md5sum <"$WORK/shadowed")" "$(md5sum <"$WORK/plain")" "the served answers are byte-identical with the shadow"
is "$(grep -c '"version":"s1"' "$WORK/shadowed")" 20 "20 answers, all from v1's upstream"
wait_compared sh 20
is "$(shadow_field compared)" 20 "status: 20 shadow answers compared"
is "$(shadow_field differences)" 20 "all 20 differ"
is "$(shadow_field requests)" 20 "20 copies sent"
is "$(shadow_field dropped)" 0 "none dropped"
is "$(hits s2)" 20 "the shadow's upstream saw 20 requests"
req GET "$URL/v1/models/m/deployments/sh/status"
like "$BODY" '"versions":[{"version":1,' "the served version is listed as before"
unlike "$(sed 's/"shadow".*//' "$WORK/body")" '"version":2' "the shadow is not among the served versions"
mvms --remote "$URL" --token "$W" status m sh
like "$OUT" "shadow v2 (100%, compared as bytes): 20 requests, 0 errors, 0 dropped, 20 of 20 answers differ" "status shows the shadow"
req GET "$URL/metrics"
like "$BODY" 'mvms_shadow_differences_total{model="m",env="sh",version="v2"} 20' "/metrics: differences"
like "$BODY" 'mvms_shadow_requests_total{model="m",env="sh",version="v2"} 20' "/metrics: requests"
like "$BODY" 'mvms_shadow_duration_seconds_count{model="m",env="sh",version="v2"} 20' "/metrics: latency"
like "$BODY" 'mvms_predict_requests_total{model="m",env="sh",version="v1"} 40' "the served version counts its own"
unlike "$BODY" 'mvms_predict_requests_total{model="m",env="sh",version="v2"}' "the shadow is not counted as served"

# JSON comparison: the same document with other key order and spacing is no difference
upstream j1 --fixed '{"label":"fraud","score":[0.5,1],"meta":{"a":1,"b":2}}'
upstream j2 --fixed '{ "meta": {"b": 2, "a": 1}, "score": [0.5, 1],  "label": "fraud" }'
J2=$UP_URL
mvms deploy m@v1 js --endpoint "http://127.0.0.1:$(cat "$WORK/up-j1.port")"
mvms deploy m@v2 js --shadow 100 --endpoint "$J2"
is_rc 0 "deploy a shadow compared as JSON (the default)"
predict_many js 10 "$WORK/js"
wait_compared js 10
is "$(shadow_field differences)" 0 "JSON: key order and spacing are no difference"
mvms deploy m@v2 js --shadow 100 --shadow-compare bytes
predict_many js 10 "$WORK/js"
wait_compared js 10
is "$(shadow_field differences)" 10 "bytes: every answer differs (a new revision, same counters)"
upstream j3 --fixed '{"label":"ok","score":[0.5,1],"meta":{"a":1,"b":2}}'
mvms deploy m@v3 js --shadow 100 --endpoint "$UP_URL"
predict_many js 10 "$WORK/js"
wait_compared js 10
is "$(shadow_field differences)" 10 "JSON: another value is a difference"

# ---- a shadow that never answers does not hold up /predict ----
upstream hang --delay-ms 600000 --hits-file "$WORK/hits-hang"
HANG_PID=$UP_PID
mvms deploy m@v1 hang --endpoint "$S1" --timeout 300
mvms deploy m@v2 hang --shadow 100 --endpoint "$UP_URL"
predict_many hang 40 "$WORK/hang"
is "$(grep -c '"version":"s1"' "$WORK/hang")" 40 "40 answers from v1 while the shadow hangs"
is "$(sort -u "$WORK/hang")" "$(sort -u "$WORK/plain")" "the same answers as without a shadow"
req GET "$URL/v1/models/m/deployments/hang/status"
is "$(shadow_field dropped)" 8 "32 copies in flight, the other 8 dropped and counted"
is "$(shadow_field requests)" 0 "no copy answered yet"
req GET "$URL/metrics"
like "$BODY" 'mvms_shadow_dropped_total{model="m",env="hang",version="v2"} 8' "/metrics: dropped"
# The hanging upstream goes away: its 32 copies end as errors (and are freed).
srv_stop "$HANG_PID"
_i=0
while [ "$_i" -lt 100 ]; do
	req GET "$URL/v1/models/m/deployments/hang/status"
	[ "$(shadow_field errors)" = 32 ] && break
	sleep 0.1
	_i=$((_i + 1))
done
is "$(shadow_field errors)" 32 "the upstream stopped: the 32 copies in flight end as errors"
mvms undeploy m@v2 hang
is_rc 0 "undeploy the shadow"
predict_many hang 5 "$WORK/hang"
req GET "$URL/v1/models/m/deployments/hang/status"
unlike "$BODY" '"shadow"' "no shadow any more"

req GET "$URL/healthz"
is_code 200 "healthz after all that"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the server stops on SIGTERM with 0"
done_testing
