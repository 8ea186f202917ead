#!/bin/sh
# SPDX-License-Identifier: MIT
# A rollout that requires a clean shadow phase first (deploy --canary ... --shadow-first N
# --max-diff-rate RATE): the canary starts as the environment's shadow, serving nothing, and
# the server moves it to its first weighted step only once its shadow compared N answers
# within the limits. Upstreams (tests/upstream --fixed BODY) make the canary answer as the
# baseline does (one rollout, through --remote, that proceeds to its first step) or
# differently (one, local, rolled back before serving any traffic, with the reason in
# deploy-log). Not doubled through viaserver.sh: a second server would drive the same rollouts.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || skip_all "UPSTREAM (tests/upstream) is not set or not built"
find_py
[ -n "$PY" ] || skip_all "python3 not installed"

setup
. "$TESTS_SRCDIR/cli/srv.sh"

# upstream NAME [options...]: starts tests/upstream --name NAME; sets UP_URL
upstream() {
	_n=$1
	shift
	rm -f "$WORK/up-$_n.port"
	"$UPSTREAM" --name "$_n" --port-file "$WORK/up-$_n.port" "$@" \
		>/dev/null 2>"$WORK/up-$_n.log" </dev/null &
	srv_track "$!" "$WORK/up-$_n.log"
	wait_port "$WORK/up-$_n.port" "$!" "upstream $_n" "$WORK/up-$_n.log"
	UP_URL="http://127.0.0.1:$PORT"
}

traffic() {
	curl -s -o /dev/null -X POST -d x -H "$AUTH" "$URL/predict/m/$1?n=[1-$2]"
}

# rstate ENV: "state step shadowing" of the rollout of ENV ("running 1 True")
rstate() {
	"$MVMS" rollout m "$1" --json 2>/dev/null >"$WORK/ro.json"
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["state"], d["step"], d["shadowing"])' "$WORK/ro.json" 2>/dev/null
}

# drive ENV WANT: 30 requests every 0.3 s until "state step shadowing" starts with WANT
drive() {
	_i=0
	ST=$(rstate "$1")
	while [ $_i -lt 60 ]; do
		case "$ST" in "$2"*) return 0 ;; esac
		traffic "$1" 30
		sleep 0.3
		_i=$((_i + 1))
		ST=$(rstate "$1")
	done
	return 1
}

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree"
for v in v1 v2; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
done
W=$("$MVMS" token create --scope write 2>"$WORK/token.err") || bail "token create: $(cat "$WORK/token.err")"
AUTH="Authorization: Bearer $W"
REQ_AUTH=$AUTH
srv_start srv --threads 2 --no-access-log
RMVMS="$MVMS --remote $URL --token $W"

upstream v1 --fixed '{"label":"cat"}'
V1=$UP_URL
upstream v2-same --fixed '{ "label": "cat" }'
SAME=$UP_URL
upstream v2-other --fixed '{"label":"dog"}'
OTHER=$UP_URL
for e in agree differ; do
	mvms deploy m@v1 $e --endpoint "$V1"
	is_rc 0 "deploy m@v1 $e (the baseline)"
done
GUARDS="--step-interval 200ms --min-requests 1000 --max-error-rate 0.05"

# ---- bad input ----
mvms deploy m@v2 agree --canary 10,100 --shadow-first 0
is_rc 2 "--shadow-first 0: usage error"
mvms deploy m@v2 agree --canary 10,100 --shadow-first 20 --max-diff-rate 2
is_rc 2 "--max-diff-rate 2: usage error"
req POST "$URL/v1/models/m/deployments/agree/rollout" -d '{"ref":"v2","steps":[10,100],"shadow_first":2.5}'
is_code 400 "HTTP: shadow_first 2.5: 400"
req POST "$URL/v1/models/m/deployments/agree/rollout" -d '{"ref":"v2","steps":[10,100],"shadow_first":10,"max_diff_rate":7}'
is_code 400 "HTTP: max_diff_rate 7: 400"

# ---- 1. a shadow that agrees (JSON compared): on to the first step (through --remote) ----
run $RMVMS deploy m@v2 agree --canary 10,100 $GUARDS --shadow-first 30 --max-diff-rate 0.05 \
	--endpoint "$SAME"
is_rc 0 "deploy --canary --shadow-first 30 --remote"
like "$OUT" "shadow phase of 30 answers (now)" "says the rollout starts with its shadow phase"
is "$(rstate agree)" "running 1 True" "stored: running, in the shadow phase"
mvms deployments m agree
like "$OUT" "v2     shadow 100%" "the canary is the environment's shadow"
unlike "$OUT" "v2 .*weight" "and serves nothing yet"
drive agree "running 1 False"
is "$ST" "running 1 False" "a clean shadow phase moves the rollout to its first step"
mvms deploy-log m agree
like "$OUT" "step 1/2 (10%): shadow phase passed: shadow v2: " \
	"deploy-log says the shadow phase passed"
like "$OUT" " answers compared, 0 differ, 0 errors" "with its figures"
mvms deployments m agree
like "$OUT" "  v2  " "v2 now serves a share of agree"
unlike "$OUT" "shadow 100%" "and is no longer the shadow"

# ---- 2. a shadow that differs: rolled back before serving any traffic (local) ----
mvms deploy m@v2 differ --canary 10,100 $GUARDS --shadow-first 30 --max-diff-rate 0.05 \
	--endpoint "$OTHER"
is_rc 0 "deploy --canary --shadow-first 30 (a shadow that differs)"
drive differ "rolled_back"
is "$ST" "rolled_back 1 True" "a shadow that differs rolls the rollout back in its shadow phase"
mvms deploy-log m differ
like "$OUT" "auto-rollback in the shadow phase, before serving any traffic: shadow v2: 100.0% of " \
	"deploy-log says why"
like "$OUT" " answers differ (> 5.0%)" "with the figures"
unlike "$OUT" "step 1/2" "the canary never had a weighted step"
mvms deployments m differ
like "$OUT" "v1 " "v1 serves differ again"
unlike "$OUT" "  v2  " "v2 is neither served nor the shadow after the rollback"

srv_stop
done_testing
