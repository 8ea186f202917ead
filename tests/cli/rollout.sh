#!/bin/sh
# SPDX-License-Identifier: MIT
# Progressive rollouts (deploy --canary) driven by a server against real upstreams
# (tests/upstream, one per version, whose error rate and latency the test changes at run
# time with GET /_control): a rollout that passes every step (and is promoted), one rolled
# back at its second step when its upstream starts failing, one rolled back by latency, one
# aborted, one paused across a server restart (its state and the /predict counters survive
# it) and then resumed; notifications posted to a listener that refuses the first ones (so
# they are retried). Half of the commands run locally on the store the server serves, the
# other half with --remote: the same server drives both. Not doubled through viaserver.sh
# (its own --remote part; a second server would drive the same rollouts).
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || skip_all "UPSTREAM (tests/upstream) is not set or not built"
find_py
[ -n "$PY" ] || skip_all "python3 not installed (the notification listener)"

setup
. "$TESTS_SRCDIR/cli/srv.sh"

# traffic ENV N: N predictions over one connection (answers dropped)
traffic() {
	curl -s -o /dev/null -X POST -d x -H "$AUTH" "$URL/predict/m/$1?n=[1-$2]"
}

# rstate ENV: the state and step of the rollout of ENV ("running 2")
rstate() {
	"$MVMS" rollout m "$1" --json 2>/dev/null >"$WORK/ro.json"
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["state"], d["step"])' "$WORK/ro.json" 2>/dev/null
}

# drive ENV WANT [N]: traffic of N (default 40) requests every 0.3 s until the rollout's
# "state step" starts with WANT (at most 60 rounds); sets ST to the last one seen
drive() {
	_i=0
	ST=$(rstate "$1")
	while [ $_i -lt 60 ]; do
		case "$ST" in "$2"*) return 0 ;; esac
		traffic "$1" "${3:-40}"
		sleep 0.3
		_i=$((_i + 1))
		ST=$(rstate "$1")
	done
	return 1
}

# match TEXT ERE DESC: a line of TEXT matches the extended regular expression ERE
match() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3"
		diag "no line matches /$2/:"
		printf '%s\n' "$1" | head -n 20 | sed 's/^/#   /'
	fi
}

# ---- a store with v1 (the baseline) and v2 (the canary), a server, upstreams ----
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
SRV=$SRV_PID
RMVMS="$MVMS --remote $URL --token $W"

upstream v1
V1=$UP_URL
rm -f "$WORK/notify.port"
"$PY" "$TESTS_SRCDIR/cli/notifylisten.py" "$WORK/notify.port" "$WORK/events" 2 \
	2>"$WORK/notify.log" </dev/null &
srv_track "$!" "$WORK/notify.log"
wait_port "$WORK/notify.port" "$!" "the notification listener" "$WORK/notify.log"
NOTIFY="http://127.0.0.1:$PORT/hook"

GUARDS="--step-interval 1s --min-requests 20 --max-error-rate 0.05 --max-p95-ms 300"

# ---- bad input ----
mvms deploy m@v2 pass --canary 5,25,50,100
is_rc 1 "a canary in an environment never deployed: refused"
like "$ERR" "needs another version already serving pass" "says what it needs"
mvms deploy m@v1 pass --endpoint "$V1"
is_rc 0 "deploy m@v1 pass (the baseline)"
mvms deploy m@v1 pass --canary 50,100
is_rc 1 "a canary of the version that alone serves the environment: refused"
like "$ERR" "needs another version" "says a canary needs another version serving"
mvms deploy m@v2 pass --canary 50,25
is_rc 2 "steps that do not rise: usage error"
mvms deploy m@v2 pass --canary 0,100
is_rc 2 "a 0% step: usage error"
mvms deploy m@v2 pass --canary 10,100 --step-interval 10ms
is_rc 2 "a step interval under 100ms: usage error"
mvms deploy m@v2 pass --canary 10,100 --max-error-rate 1.5
is_rc 2 "an error rate above 1: usage error"
mvms deploy m@v2 pass --canary 10,100 --weight 5
is_rc 2 "--canary with --weight: usage error"
mvms deploy m@v2 pass --max-p95-ms 300
is_rc 2 "guards without --canary: usage error"
mvms deploy m pass --pause
is_rc 3 "pause with no rollout: not found"
mvms deploy m@v2 pass --canary 10,100 --notify ftp://x/y
is_rc 1 "an ftp notify URL: refused"
req POST "$URL/v1/models/m/deployments/pass/rollout" -d '{"ref":"v2","steps":"5,25"}'
is_code 400 "HTTP: steps not an array: 400"
req POST "$URL/v1/models/m/deployments/pass/rollout" -d '{"ref":"v2","steps":[10,100],"max_error_rate":2}'
is_code 400 "HTTP: max_error_rate 2: 400"
req POST "$URL/v1/models/m/deployments/pass/rollout/jump" -d '{}'
is_code 404 "HTTP: an unknown action: 404"

# ---- 1. a rollout that passes every step, with notifications (through --remote) ----
upstream v2-pass
run $RMVMS deploy m@v2 pass --canary 10,50,100 $GUARDS --endpoint "$UP_URL" --notify "$NOTIFY"
is_rc 0 "deploy --canary 10,50,100 --remote (pass)"
like "$OUT" "running, step 1/3 (10%)" "the rollout runs at step 1 (10%)"
run $RMVMS deploy m@v2 pass --canary 10,100
is_rc 4 "a second rollout of the same environment: conflict"
drive pass succeeded
is "$ST" "succeeded 3" "passes every step and succeeds"
mvms deploy-log m pass
match "$OUT" "rollout #[0-9]+: step 2/3 \\(50%\\): step 1 passed: v2 [0-9]+ req 0 err" \
	"deploy-log: step 2 with the figures of step 1"
like "$OUT" "step 3/3 (100%): step 2 passed" "deploy-log: step 3"
like "$OUT" "promoted after step 3/3 (100%) passed" "deploy-log: the promotion"
mvms deployments m pass
match "$OUT" "^  v2 +100\\.0%" "v2 serves pass alone"

# ---- 2. rolled back at the second step when the canary's upstream starts failing ----
upstream v2-errs
ERRS=$UP_URL
mvms deploy m@v1 errs --endpoint "$V1"
is_rc 0 "deploy m@v1 errs"
mvms deploy m@v2 errs --canary 10,50,100 $GUARDS --endpoint "$ERRS"
is_rc 0 "deploy --canary 10,50,100 (errs, local)"
drive errs "running 2"
is "$ST" "running 2" "errs reaches step 2"
curl -s -o /dev/null "$ERRS/_control?error_rate=0.5"
drive errs rolled_back
is "$ST" "rolled_back 2" "rolled back at step 2 once v2 fails half of its requests"
mvms deploy-log m errs
match "$OUT" "auto-rollback at step 2/3 \\(50%\\): error rate [0-9.]+% > 5% over [0-9]+ requests; v2 [0-9]+ req [0-9]+ err" \
	"deploy-log: the rollback says why, with the figures"
match "$(echo "$OUT" | head -n 1)" "rollback +\\(to #1\\) +v1 100 " "back to revision 1 (v1 alone)"
mvms rollout m errs
like "$OUT" "rolled_back" "rollout shows the state"
run $RMVMS deploy m errs --abort
is_rc 4 "abort a finished rollout: conflict"

# ---- 3. rolled back by latency ----
upstream v2-slow --delay-ms 400
mvms deploy m@v1 slow --endpoint "$V1"
run $RMVMS deploy m@v2 slow --canary 20,100 $GUARDS --endpoint "$UP_URL"
is_rc 0 "deploy --canary 20,100 (slow, remote)"
drive slow rolled_back 60
is "$ST" "rolled_back 1" "a canary answering in 400ms is rolled back at step 1"
mvms deploy-log m slow
match "$OUT" "auto-rollback at step 1/2 \\(20%\\): p95 [0-9]+ms > 300ms" "deploy-log: the p95 reason"

# ---- 3b. against the baseline: 4% errors pass the absolute 10% limit, not the baseline ----
upstream v2-cmp --error-rate 0.04
mvms deploy m@v1 cmp --endpoint "$V1"
mvms deploy m@v2 cmp --canary 20,100 --step-interval 1s --min-requests 50 --max-error-rate 0.1 \
	--compare-to-baseline --endpoint "$UP_URL"
is_rc 0 "deploy --canary --compare-to-baseline (cmp)"
drive cmp rolled_back 60
is "$ST" "rolled_back 1" "rolled back against the baseline's 0% errors"
mvms deploy-log m cmp
match "$OUT" "auto-rollback at step 1/2 \\(20%\\): error rate [0-9.]+% > baseline 0\\.0% \\+ 1 point" \
	"deploy-log: the comparison's reason"

# ---- 4. aborted ----
upstream v2-abort
mvms deploy m@v1 abort --endpoint "$V1"
mvms deploy m@v2 abort --canary 10,100 --step-interval 1h --endpoint "$UP_URL" --notify "$NOTIFY"
is_rc 0 "deploy --canary (abort)"
run $RMVMS deploy m abort --abort -m "wrong build"
is_rc 0 "deploy --abort --remote"
like "$OUT" "aborted" "the rollout is aborted"
mvms deploy-log m abort
match "$(echo "$OUT" | head -n 1)" "rollback +\\(to #1\\) +v1 100 .*aborted at step 1/2 by .*wrong build" \
	"abort rolled back to the revision before the rollout, at once"
mvms deploy m abort --resume
is_rc 4 "resume an aborted rollout: conflict"

# ---- 5. paused across a server restart, then resumed ----
upstream v2-pause
mvms deploy m@v1 pause --endpoint "$V1"
mvms deploy m@v2 pause --canary 10,100 $GUARDS --endpoint "$UP_URL"
is_rc 0 "deploy --canary (pause)"
traffic pause 50
mvms deploy m pause --pause
is_rc 0 "deploy --pause"
like "$OUT" "paused, step 1/2" "paused at step 1"
sleep 0.5 # a tick, so the counts are in the store
req GET "$URL/metrics"
BEFORE=$(grep -F 'mvms_predict_requests_total{model="m",env="pause",version="v1"}' "$WORK/body" | awk '{ print $2 }')
num_gt "${BEFORE:-0}" 0 "v1 of pause has requests before the restart"
srv_stop "$SRV"
is "$SRV_RC" 0 "the server stops"
srv_start srv2 --threads 2 --no-access-log
SRV=$SRV_PID
req GET "$URL/metrics"
AFTER=$(grep -F 'mvms_predict_requests_total{model="m",env="pause",version="v1"}' "$WORK/body" | awk '{ print $2 }')
is "$AFTER" "$BEFORE" "/metrics after the restart: the counts survived"
is "$(rstate pause)" "paused 1" "still paused after the restart"
traffic pause 100
sleep 1.5
traffic pause 100
sleep 0.5
is "$(rstate pause)" "paused 1" "a paused rollout does not move, however much traffic"
run $MVMS --remote "$URL" --token "$W" deploy m pause --resume
is_rc 0 "deploy --resume --remote (the new server)"
drive pause succeeded
is "$ST" "succeeded 2" "resumed, it goes on and succeeds"

# ---- notifications ----
_w=$(wait_lines "$WORK/events" 8 10)
grep '^204 ' "$WORK/events" >"$WORK/delivered"
is "$(head -n 2 "$WORK/events" | cut -c1-3 | tr '\n' ' ')" "500 500 " "the listener refused the first two posts"
like "$(cat "$WORK/events")" "application/json" "posted as application/json"
match "$(cat "$WORK/delivered")" '"event":"started","rollout":[0-9]+,"model":"m","env":"pass"' \
	"the refused start event was retried and delivered"
match "$(cat "$WORK/delivered")" '"event":"step".*"env":"pass".*"canary":\{"requests":' \
	"step events carry the canary's figures"
match "$(cat "$WORK/delivered")" '"event":"succeeded".*"env":"pass"' "the success event"
match "$(cat "$WORK/delivered")" '"event":"aborted".*"env":"abort".*wrong build' "the abort event"
is "$(grep -c '"event":"started".*"env":"pass"' "$WORK/delivered")" 1 "each event is delivered once"

# ---- a model deleted and made again starts with no rollout and no counts ----
mvms model delete m --yes
is_rc 0 "model delete m"
printf 'weights again\n' >"$WORK/tree/model.bin"
mvms push m "$WORK/tree" -m "new v1"
is_rc 0 "push m again"
mvms rollout m pass
is_rc 3 "the new m has no rollout of the old one"
mvms deploy m@v1 pass --endpoint "$V1"
traffic pass 3
srv_stop "$SRV" # its last counts are stored as it stops
srv_start srv3 --threads 2 --no-access-log
req GET "$URL/metrics"
is "$(grep -F 'mvms_predict_requests_total{model="m",env="pass",version="v1"}' "$WORK/body" | awk '{ print $2 }')" 3 \
	"its stored counters start from 0 (3 requests after a restart)"

healthy
done_testing
