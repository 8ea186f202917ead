#!/bin/sh
# SPDX-License-Identifier: MIT
# /predict routing against real HTTP upstreams (tests/upstream, one per version, port 0):
# the measured split over 10,000 requests matches the weights (v1 90 + v2 10) within 2
# points; X-Model-Version matches the answering version; sticky routing by X-Routing-Key;
# an upstream answering 500, closing the connection or down (a PUT retried on another
# version, a POST only when nothing was sent; 502 with ?retry=0); a deployment without endpoints (502 no_endpoint); unknown env and model
# (404); long-polls (200 soon after a CLI deploy, 304 after the wait); concurrent deploys over
# HTTP with the same expected_revision (one 201, one 409); `status` and /metrics counters;
# the HTTP change endpoints' bad input; `watch --remote` (hot update by long-poll).
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || skip_all "UPSTREAM (tests/upstream) is not set or not built"

setup

# srv_start, req (with REQ_AUTH, the token), hdr, is_code, jnum, jstr; cleanup is this
# file's own (it kills the upstreams at once)
. "$TESTS_SRCDIR/cli/srv.sh"

# ---- processes: the server, upstreams, watchers (SRV_PIDS); all killed on exit ----
SRV_STOP_TENTHS=100   # srv_stop: SIGKILL after 10 s

cleanup() {
	for _p in $SRV_PIDS; do
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT


# req_as TOKEN METHOD URL [curl options...]: req with another token
req_as() {
	_saved=$REQ_AUTH
	REQ_AUTH="Authorization: Bearer $1"
	shift
	req "$@"
	REQ_AUTH=$_saved
}

# predict_many ENV N [curl options...]: N POSTs to /predict/m/ENV over one connection
# (curl's URL globbing), one answer per line in $WORK/answers
predict_many() {
	_env=$1
	_n=$2
	shift 2
	curl -s -X POST -d x -H "$AUTH" -w '\n' "$@" "$URL/predict/m/$_env?n=[1-$_n]" >"$WORK/answers"
}

# count_version V: answers from version V in $WORK/answers
count_version() {
	grep -c "^{\"version\":\"$1\"" "$WORK/answers"
}

# status_requests V: the requests column of `status` for version V ($WORK/out)
status_requests() {
	awk -v v="$1" '$1 == v { print $3 }' "$WORK/out"
}

# metric NAME LABELS: the value of one sample in $WORK/body (a /metrics reply)
metric() {
	grep -F "$1{$2}" "$WORK/body" | head -n 1 | awk '{ print $2 }'
}

# ---- a store with v1..v3 and a server ----
mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree"
for v in v1 v2 v3; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
done
W=$("$MVMS" token create --scope write 2>"$WORK/token.err") || bail "token create: $(cat "$WORK/token.err")"
R=$("$MVMS" token create --scope read 2>"$WORK/token.err") || bail "token create --scope read"
AUTH="Authorization: Bearer $W"
REQ_AUTH=$AUTH

srv_start srv --threads 2 --no-access-log

upstream v1
UP1=$UP_URL
upstream v2
UP2=$UP_URL
upstream v3
UP3=$UP_URL

mvms deploy m@v1 prod --weight 90 --endpoint "$UP1"
is_rc 0 "deploy m@v1 prod --weight 90 --endpoint (upstream v1)"
mvms deploy m@v2 prod --weight 10 --endpoint "$UP2/"
is_rc 0 "deploy m@v2 prod --weight 10 --endpoint (upstream v2)"

# ---- one request ----
req POST "$URL/predict/m/prod" -d 'hello world'
is_code 200 "POST /predict/m/prod"
V=$(jstr version)
is "$(hdr X-Model-Version)" "$V" "X-Model-Version matches the answering upstream ($V)"
is "$(jnum bytes)" 11 "the request body reached the upstream (11 bytes)"
like "$(hdr Content-Type)" "application/json" "the upstream's Content-Type is passed on"
req POST "$URL/v1/models/m/deployments/prod/predict" -d 'abc'
is_code 200 "POST /v1/models/m/deployments/prod/predict (the long form)"
is "$(hdr X-Model-Version)" "$(jstr version)" "X-Model-Version matches here too"
req_as "$R" POST "$URL/predict/m/prod" -d x
is_code 200 "a read token may predict"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$URL/predict/m/prod")
is "$CODE" 401 "no token: 401"

# ---- the split over 10,000 requests ----
T0=$(date +%s)
: >"$WORK/all"
i=0
while [ $i -lt 10 ]; do
	predict_many prod 1000
	cat "$WORK/answers" >>"$WORK/all"
	i=$((i + 1))
done
T1=$(date +%s)
cp "$WORK/all" "$WORK/answers"
N1=$(count_version v1)
N2=$(count_version v2)
is "$((N1 + N2))" 10000 "10,000 predictions answered by v1 or v2 ($((T1 - T0)) s)"
S1=$(awk -v a="$N1" 'BEGIN { printf "%.2f", a / 100 }')
S2=$(awk -v a="$N2" 'BEGIN { printf "%.2f", a / 100 }')
diag "measured split: v1 $S1%, v2 $S2% (weights 90 / 10)"
num_le "$(awk -v s="$S1" 'BEGIN { d = s - 90; print d < 0 ? -d : d }')" 2 "v1's share $S1% is within 2 points of 90%"
num_le "$(awk -v s="$S2" 'BEGIN { d = s - 10; print d < 0 ? -d : d }')" 2 "v2's share $S2% is within 2 points of 10%"

# status and /metrics count the same requests (plus the 3 single ones above)
mvms --remote "$URL" --token "$W" status m prod
is_rc 0 "status m prod (--remote)"
like "$OUT" "prod of m, revision 2" "status names the revision"
SR1=$(status_requests v1)
SR2=$(status_requests v2)
is "$((SR1 + SR2))" 10003 "status counts every request (10,000 + 3)"
num_le "$(awk -v a="$SR1" -v b="$N1" 'BEGIN { d = a - b; print d < 0 ? -d : d }')" 3 \
	"status: v1's requests ($SR1) match the measured $N1"
num_le "$(awk -v a="$SR2" -v b="$N2" 'BEGIN { d = a - b; print d < 0 ? -d : d }')" 3 \
	"status: v2's requests ($SR2) match the measured $N2"
is "$(awk '$1 == "v1" { print $2 }' "$WORK/out")" 90 "status shows v1's weight"
is "$(awk '$1 == "v1" { print $4 }' "$WORK/out")" 0 "no errors on v1"
mvms --remote "$URL" --token "$W" --json status m prod
is_rc 0 "status --json"
like "$OUT" "\"p99_ms\":" "status --json has p99_ms"
like "$OUT" "\"mean_upstream_ms\":" "and the mean upstream time"

req GET "$URL/metrics"
is_code 200 "GET /metrics"
is "$(metric mvms_predict_requests_total 'model="m",env="prod",version="v1"')" "$SR1" \
	"mvms_predict_requests_total for v1 equals status"
is "$(metric mvms_predict_requests_total 'model="m",env="prod",version="v2"')" "$SR2" \
	"mvms_predict_requests_total for v2 equals status"
is "$(metric mvms_predict_errors_total 'model="m",env="prod",version="v1"')" 0 \
	"mvms_predict_errors_total for v1 is 0"
is "$(metric mvms_deployment_weight 'model="m",env="prod",version="v1"')" 90 "mvms_deployment_weight v1 90"
is "$(metric mvms_deployment_weight 'model="m",env="prod",version="v2"')" 10 "mvms_deployment_weight v2 10"
is "$(metric mvms_deployment_revision 'model="m",env="prod"')" 2 "mvms_deployment_revision 2"
is "$(metric mvms_predict_duration_seconds_count 'model="m",env="prod",version="v1"')" "$SR1" \
	"the latency histogram's count for v1"
like "$BODY" 'mvms_predict_duration_seconds_bucket{model="m",env="prod",version="v2",le="+Inf"}' \
	"a latency histogram per version"
like "$BODY" 'mvms_predict_upstream_seconds_total{model="m",env="prod",version="v1"}' \
	"upstream time per version"

# ---- X-Model-Version on every answer ----
curl -s -X POST -d x -H "$AUTH" -i -w '\n' "$URL/predict/m/prod?n=[1-200]" >"$WORK/answers"
awk '
	tolower($0) ~ /^x-model-version:/ { sub(/\r$/, ""); sub(/^[^:]*:[ \t]*/, ""); h = $0; next }
	/^\{"version":/ { n++; if (h == "" || index($0, "{\"version\":\"" h "\"") != 1) bad++; h = "" }
	END { print n + 0, bad + 0 }' "$WORK/answers" >"$WORK/hv"
is "$(cat "$WORK/hv")" "200 0" "200 answers: X-Model-Version always names the version that answered"

# ---- sticky routing ----
predict_many prod 200 -H "X-Routing-Key: user-42"
is "$(sort -u "$WORK/answers" | wc -l | tr -d ' ')" 1 "200 requests with one X-Routing-Key land on one version"
: >"$WORK/keys"
k=0
while [ $k -lt 200 ]; do
	curl -s -X POST -d x -H "$AUTH" -H "X-Routing-Key: key-$k" "$URL/predict/m/prod" >>"$WORK/keys"
	echo >>"$WORK/keys"
	k=$((k + 1))
done
cp "$WORK/keys" "$WORK/answers"
K1=$(count_version v1)
K2=$(count_version v2)
diag "200 routing keys: $K1 on v1, $K2 on v2"
is "$((K1 + K2))" 200 "200 different keys all answered"
num_gt "$K2" 0 "different keys reach v2"
num_gt "$K1" "$K2" "and more of them reach v1 (weight 90)"
: >"$WORK/again"
k=0
while [ $k -lt 20 ]; do
	curl -s -X POST -d x -H "$AUTH" -H "X-Routing-Key: key-$k" "$URL/predict/m/prod" >>"$WORK/again"
	echo >>"$WORK/again"
	k=$((k + 1))
done
is "$(head -n 20 "$WORK/keys" | md5sum)" "$(md5sum <"$WORK/again")" "each key lands on the same version again"

# ---- upstream failures ----
upstream v3-500 --status 500
UP500=$UP_URL
mvms deploy m@v3 flaky --weight 1000000 --endpoint "$UP500"
is_rc 0 "flaky: v3 (answers 500) at weight 1000000"
mvms deploy m@v2 flaky --weight 1 --endpoint "$UP2"
is_rc 0 "flaky: v2 at weight 1"
req PUT "$URL/predict/m/flaky" -d x
is_code 200 "an upstream answering 500 to a PUT: retried on another version, 200"
is "$(jstr version)" v2 "answered by v2"
is "$(hdr X-Model-Version)" v2 "X-Model-Version: v2"
req POST "$URL/predict/m/flaky" -d x
is "$CODE:$(hdr X-Model-Version)" "502:v3" "a POST answered 500 is not retried (not idempotent)"
req POST "$URL/predict/m/flaky?retry=0" -d x
is_code 502 "with ?retry=0: 502"
is "$(jstr code)" upstream_error "code upstream_error"
like "$(jstr message)" "answered 500" "the message gives the upstream's status"
is "$(hdr X-Model-Version)" v3 "X-Model-Version names the failing version"
like "$(hdr Content-Type)" "application/json" "the error is JSON"
req PUT "$URL/predict/m/flaky" -d x -H "X-Routing-Key: k"
is "$CODE:$(hdr X-Model-Version)" "502:v3" "a sticky request is retried on its own version only (502 from v3)"
req GET "$URL/v1/models/m/deployments/flaky/status"
is_code 200 "GET .../flaky/status"
like "$BODY" '"version":3,' "status lists v3"
num_ge "$(grep -o '"errors":[0-9]*' "$WORK/body" | head -n 1 | cut -d: -f2)" 3 "v3's errors are counted"

upstream v3-close --close
mvms deploy m@v3 closing --weight 1000000 --endpoint "$UP_URL"
mvms deploy m@v1 closing --weight 1 --endpoint "$UP1"
req POST "$URL/predict/m/closing?retry=0" -d x
is_code 502 "an upstream that drops the connection: 502 (retry=0)"
is "$(jstr code)" upstream_unreachable "code upstream_unreachable"
req POST "$URL/predict/m/closing" -d x
is_code 502 "a POST whose connection dropped after it was sent: not retried, 502"
req PUT "$URL/predict/m/closing" -d x
is_code 200 "a PUT: retried, 200"
is "$(jstr version)" v1 "from v1"

upstream v3-down
DOWN_PID=$UP_PID
DOWN_URL=$UP_URL
mvms deploy m@v3 down --weight 1000000 --endpoint "$DOWN_URL"
mvms deploy m@v1 down --weight 1 --endpoint "$UP1"
mvms deploy m@v3 alone --endpoint "$DOWN_URL"
is_rc 0 "deploy to down and alone (v3 on an upstream about to stop)"
srv_stop "$DOWN_PID"
req POST "$URL/predict/m/down" -d x
is_code 200 "an upstream that is down: a POST too is retried on v1 (nothing was sent), 200"
is "$(jstr version)" v1 "from v1"
req POST "$URL/predict/m/down?retry=0" -d x
is_code 502 "an upstream that is down, retry=0: 502"
is "$(jstr code)" upstream_unreachable "code upstream_unreachable"
like "$(jstr message)" "could not be reached" "says it could not be reached"
req POST "$URL/predict/m/alone" -d x
is_code 502 "the only version down: 502 even with retry (nothing else to try)"
# (the upstream timeout per environment, with 504 upstream_timeout: tests/cli/proxy.sh)

# ---- no endpoint, unknown env or model ----
mvms deploy m@v1 noep
is_rc 0 "deploy m@v1 noep (no endpoint)"
req POST "$URL/predict/m/noep" -d x
is_code 502 "a deployment without endpoints: 502"
is "$(jstr code)" no_endpoint "code no_endpoint"
req POST "$URL/predict/m/nosuchenv" -d x
is_code 404 "an unknown env: 404"
is "$(jstr code)" not_deployed "code not_deployed"
req POST "$URL/v1/models/m/deployments/nosuchenv/predict" -d x
is_code 404 "an unknown env (long form): 404"
req POST "$URL/predict/nosuchmodel/prod" -d x
is_code 404 "an unknown model: 404"
req POST "$URL/predict/m/bad%20env" -d x
is_code 400 "a bad env name: 400"

# ---- reading deployments over HTTP ----
req GET "$URL/v1/models/m/deployments"
is_code 200 "GET /v1/models/m/deployments"
for e in prod flaky closing down alone noep; do
	like "$BODY" "\"env\":\"$e\"" "lists $e"
done
req GET "$URL/v1/models/m/deployments/prod/history"
is_code 200 "GET .../prod/history"
is "$(grep -o '"revision":' "$WORK/body" | wc -l | tr -d ' ')" 2 "two revisions"
req GET "$URL/v1/models/m/deployments/prod"
is_code 200 "GET .../prod"
is "$(jnum revision)" 2 "revision 2"
like "$BODY" '"share":90' "with v1's share"

# ---- long-poll ----
req GET "$URL/v1/models/m/deployments/prod?wait=0&since=2"
is_code 304 "since=current, wait=0: 304 at once"
req GET "$URL/v1/models/m/deployments/prod?wait=5&since=1"
is_code 200 "since=an older revision: 200 at once"
is "$(jnum revision)" 2 "with the current revision"
curl -s -H "$AUTH" -o "$WORK/lp.body" -w '%{http_code} %{time_total}' \
	"$URL/v1/models/m/deployments/prod?wait=5&since=2" >"$WORK/lp.out" &
LP=$!
sleep 0.3
"$MVMS" deploy m@v3 prod --weight 5 --endpoint "$UP3" -q >/dev/null 2>&1 &
DEP=$!
wait $DEP
wait $LP
is "$(cut -d' ' -f1 "$WORK/lp.out")" 200 "a long-poll returns 200 after a deploy by the CLI"
like "$(cat "$WORK/lp.body")" '"revision":3' "with the new revision 3"
num_lt "$(cut -d' ' -f2 "$WORK/lp.out")" 3 "within 3 s ($(cut -d' ' -f2 "$WORK/lp.out") s)"
curl -s -H "$AUTH" -o /dev/null -w '%{http_code} %{time_total}' \
	"$URL/v1/models/m/deployments/prod?wait=1&since=3" >"$WORK/lp.out"
is "$(cut -d' ' -f1 "$WORK/lp.out")" 304 "nothing changes: 304 after the wait"
num_ge "$(cut -d' ' -f2 "$WORK/lp.out")" 0.9 "after about 1 s ($(cut -d' ' -f2 "$WORK/lp.out") s)"
req GET "$URL/v1/models/m/deployments/prod?wait=abc&since=3"
is_code 400 "wait=abc: 400"
req GET "$URL/v1/models/m/deployments/prod?wait=5"
is_code 400 "wait without since: 400"
req GET "$URL/v1/models/m/deployments/prod?wait=301&since=3"
is_code 400 "wait=301: 400"
req GET "$URL/v1/models/m/deployments/prod?since=-1"
is_code 400 "since=-1: 400"

# ---- changes over HTTP ----
J='Content-Type: application/json'
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d "{\"ref\":\"v1\",\"endpoint\":\"$UP1\",\"reason\":\"by api\"}"
is_code 201 "POST deployments/api: 201"
is "$(jnum revision)" 1 "revision 1"
is "$(jstr author)" api "author api"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v2","weight":0}'
is_code 400 "weight 0: 400"
is "$(jstr code)" bad_weight "code bad_weight"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v2","weight":-3}'
is_code 400 "weight -3: 400"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v2","endpoint":"ftp://h/"}'
is_code 400 "an ftp endpoint: 400"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v9"}'
is_code 404 "an unknown version: 404"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"other@v1"}'
is_code 404 "a ref naming another model: 404 (refs resolve within the model in the path)"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"weight":5}'
is_code 400 "no ref: 400"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d 'not json'
is_code 400 "not JSON: 400"
req POST "$URL/v1/models/m/deployments/api/rollback" -H "$J" -d '{}'
is_code 404 "rollback with no history: 404"
req POST "$URL/v1/models/m/deployments/api/undeploy" -H "$J" -d '{"ref":"v1"}'
is_code 400 "undeploy the last version: 400"
req POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v1","expected_revision":0}'
is_code 409 "a stale expected_revision: 409"
is "$(jstr code)" conflict "code conflict"
req_as "$R" POST "$URL/v1/models/m/deployments/api" -H "$J" -d '{"ref":"v2"}'
is_code 403 "a read token cannot deploy: 403"

# two deploys at once with the same expected_revision, five rounds
wins=0
confl=0
r=0
while [ $r -lt 5 ]; do
	req GET "$URL/v1/models/m/deployments/api"
	CUR=$(jnum revision)
	curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$AUTH" -H "$J" \
		-d "{\"ref\":\"v2\",\"expected_revision\":$CUR}" "$URL/v1/models/m/deployments/api" >"$WORK/race.a" &
	A=$!
	curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$AUTH" -H "$J" \
		-d "{\"ref\":\"v3\",\"expected_revision\":$CUR}" "$URL/v1/models/m/deployments/api" >"$WORK/race.b" &
	B=$!
	wait $A
	wait $B
	case "$(cat "$WORK/race.a" "$WORK/race.b" | sort | tr '\n' ' ')" in
	"201 409 ") wins=$((wins + 1)) ;;
	*) diag "round $r: $(cat "$WORK/race.a" "$WORK/race.b" | tr '\n' ' ')" ;;
	esac
	req GET "$URL/v1/models/m/deployments/api"
	[ "$(jnum revision)" = $((CUR + 1)) ] && confl=$((confl + 1))
	r=$((r + 1))
done
is "$wins" 5 "concurrent deploys with the same expected_revision: one 201, one 409 (5 rounds)"
is "$confl" 5 "each round adds exactly one revision"
req GET "$URL/v1/models/m/deployments/api/history"
is "$(grep -o '"revision":' "$WORK/body" | wc -l | tr -d ' ')" 6 "api's history: 6 revisions"
req POST "$URL/v1/models/m/deployments/api/rollback" -H "$J" -d '{"to":1,"reason":"back"}'
is_code 201 "rollback to 1 over HTTP: 201"
is "$(jnum from_revision)" 1 "from_revision 1"
req POST "$URL/v1/models/m/deployments/api/rollback" -H "$J" -d '{"to":7}'
is_code 400 "rollback to the current revision: 400"

# ---- watch --remote: hot update by long-poll ----
mkdir "$WORK/wd"
export WORK
mvms --remote "$URL" --token "$W" watch m prod --once --dir "$WORK/wd" \
	--exec 'echo "$MVMS_REVISION $MVMS_VERSION" >"$WORK/once.log"; cat "$MVMS_DIR/model.bin" >>"$WORK/once.log"'
is_rc 0 "watch --remote --once"
is "$(tr '\n' ' ' <"$WORK/once.log" 2>/dev/null)" "3 v1 weights of v1 " "the hook got revision 3, v1, and v1's files"
"$MVMS" --remote "$URL" --token "$W" watch m prod --dir "$WORK/wd" \
	--exec 'echo "$MVMS_REVISION $MVMS_VERSION" >>"$WORK/watch.log"' \
	>/dev/null 2>"$WORK/watch.err" </dev/null &
WP=$!
srv_track "$WP" "$WORK/watch.err"
wait_lines "$WORK/watch.log" 1 10 >/dev/null
is "$(head -n 1 "$WORK/watch.log" 2>/dev/null)" "3 v1" "watch --remote: the hook ran for revision 3"
mvms deploy m@v2 prod --weight 1000 -q
T=$(wait_lines "$WORK/watch.log" 2 10)
is "$(sed -n 2p "$WORK/watch.log" 2>/dev/null)" "4 v2" "the hook ran again for revision 4 (v2)"
num_lt "$T" 30 "within 3 s of the deploy (long-poll; $T tenths)"
srv_stop "$WP"
num_le "$SRV_TENTHS" 50 "watch --remote stops within 5 s of SIGTERM (took $SRV_TENTHS tenths)"

# ---- the server is still healthy and stops cleanly ----
req GET "$URL/healthz"
is_code 200 "healthz after all that"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the server stops on SIGTERM with 0"

done_testing
