#!/bin/sh
# SPDX-License-Identifier: MIT
# Deployments from the command line: deploy (alone, with weights, re-weighting, endpoints,
# reasons, authors), deployments, deploy-log, rollback (one step, --to), undeploy,
# --expect-revision, `pull MODEL@ENV`, --json outputs, bad input (exit codes 2, 1, 3 and 4
# with clear messages, history unchanged), and the hot-update hook: `watch --once` and a
# background `watch --interval 1` that picks up a new deploy and stops on SIGTERM.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
# srv_track and srv_stop for the background watch; the EXIT trap stops it too (SRV_PIDS)
. "$TESTS_SRCDIR/cli/srv.sh"

mkmodel -q --size 256K --tensors 4 --seed 31 "$WORK/v1"
mkmodel -q --size 256K --tensors 4 --seed 31 --change 50 --change-seed 1 "$WORK/v2"
mkmodel -q --size 256K --tensors 4 --seed 31 --change 50 --change-seed 2 "$WORK/v3"
for d in v1 v2 v3; do
	printf 'I am %s\n' "$d" >"$WORK/$d/NAME"
done

mvms init
is_rc 0 "init" || bail "cannot create a store"
for d in v1 v2 v3; do
	mvms push m "$WORK/$d" -m "$d"
	is_rc 0 "push m $d" || bail "push failed"
done
mvms push other "$WORK/v1" -m other
is_rc 0 "push other v1" || bail "push failed"
mvms show --json m@v1
ID1=$(json_get id)
[ -n "$ID1" ] || bail "no id from show --json"

# log_count ENV: how many revisions deploy-log lists (text, one line each)
log_count() {
	"$MVMS" deploy-log m "$1" 2>/dev/null | grep -c '^#'
}

# ---- deploy alone ----
mvms deploy m@v1 prod --endpoint http://127.0.0.1:9001 -m "first release"
is_rc 0 "deploy m@v1 prod"
like "$OUT" "prod of m: revision 1" "says revision 1"
like "$OUT" "100.0%" "v1 takes 100%"
like "$OUT" "http://127.0.0.1:9001" "shows the endpoint"
like "$OUT" '"first release"' "shows the reason"

# ---- with weights ----
mvms --json deploy m@v2 prod --weight 10 --endpoint http://127.0.0.1:9002 -m canary
is_rc 0 "deploy --json m@v2 prod --weight 10"
is "$(json_get revision)" 2 "--json: revision 2"
is "$(json_get action)" deploy "--json: action deploy"
is "$(json_get reason)" canary "--json: reason"
is "$(json_count version)" 2 "--json: two targets"
like "$OUT" "\"targets\":" "--json: a targets array"
like "$OUT" "\"share\":" "--json: targets have a share"
like "$OUT" "\"id\":${TAB}\"$ID1\"" "--json: v1's id"
mvms --json deploy m@v1 prod --weight 90
is_rc 0 "re-weight v1 to 90"
is "$(json_count version)" 2 "still two targets (re-weighted, not added)"
like "$OUT" "\"share\":${TAB}90" "v1's share is 90"
like "$OUT" "\"share\":${TAB}10" "v2's share is 10"
like "$OUT" "\"endpoint\":${TAB}\"http://127.0.0.1:9001\"" "v1 keeps its endpoint"

mvms deployments m
is_rc 0 "deployments m"
like "$OUT" "prod of m: revision 3" "lists prod at revision 3"
like "$OUT" " 90.0%" "v1 at 90.0%"
like "$OUT" " 10.0%" "v2 at 10.0%"
mvms deployments m prod
is_rc 0 "deployments m prod"
like "$OUT" "prod of m: revision 3" "one environment"
mvms deployments m nowhere
is_rc 0 "deployments m ENV of a never-deployed env"
like "$OUT" "nowhere: not deployed" "says not deployed"
mvms --json deployments m
is_rc 0 "deployments --json m"
is "$(head -c 1 "$WORK/out")" "[" "an array"
is "$(json_count revision)" 1 "one environment in it"
mvms deployments other
is_rc 0 "deployments other"
like "$OUT" "no deployments" "other has no deployments"

# ---- MODEL@ENV ----
mvms pull m@prod -o "$WORK/o-prod"
is_rc 0 "pull m@prod"
check "m@prod is v1 (the highest weight)" same_tree "$WORK/v1" "$WORK/o-prod"
mvms show --json m@prod
is "$(json_get id)" "$ID1" "show m@prod is v1"

# ---- history and authors ----
MVMS_AUTHOR=carol
export MVMS_AUTHOR
mvms deploy m@v2 staging
is_rc 0 "deploy m@v2 staging (as carol)"
unset MVMS_AUTHOR
mvms deploy-log m staging
like "$OUT" "carol" "deploy-log shows the author"
mvms deploy-log m prod
is_rc 0 "deploy-log m prod"
is "$(printf '%s\n' "$OUT" | cut -c1-2 | tr '\n' ' ')" "#3 #2 #1 " "newest first"
like "$OUT" '"canary"' "the reason is in the log"
like "$OUT" "v1 90, v2 10" "revision 3's targets"
mvms --json deploy-log m prod
is_rc 0 "deploy-log --json"
is "$(json_count revision)" 3 "three revisions"
like "$OUT" "\"created_at\":" "with times"
like "$OUT" "\"author\":" "with authors"
mvms deploy-log m nowhere
is_rc 3 "deploy-log of a never-deployed env: not found (3), as rollback"
like "$ERR" "nowhere of m was never deployed" "says it was never deployed"

# ---- bad input: usage errors (2) ----
N_PROD=$(log_count prod)
mvms deploy
is_rc 2 "deploy with no arguments: usage error"
like "$ERR" "usage: mvms-store deploy" "prints the usage"
mvms deploy m@v1
is_rc 2 "deploy without ENV: usage error"
for w in 0 -5 abc 1.5 1000001 ""; do
	mvms deploy m@v1 prod --weight "$w"
	is_rc 2 "deploy --weight '$w': usage error"
done
like "$ERR" "--weight wants 1 to 1000000" "says what --weight wants"
mvms deploy m@v1 prod --expect-revision abc
is_rc 2 "--expect-revision abc: usage error"
mvms deploy m@v1 prod --bogus
is_rc 2 "an unknown option: usage error"
mvms undeploy m@v1
is_rc 2 "undeploy without ENV: usage error"
mvms rollback m
is_rc 2 "rollback without ENV: usage error"
for t in 0 -1 abc; do
	mvms rollback m prod --to "$t"
	is_rc 2 "rollback --to '$t': usage error"
done
mvms deployments
is_rc 2 "deployments with no arguments: usage error"
mvms deploy-log m
is_rc 2 "deploy-log without ENV: usage error"
mvms watch m
is_rc 2 "watch without ENV: usage error"
mvms watch m prod --interval 0
is_rc 2 "watch --interval 0: usage error"
# the binary itself, even in the remote run (lib.sh, "the two transports"), which would
# give it --remote: this is what status does on a store
run "$MVMS_BIN" status m prod
is_rc 2 "status without --remote: usage error"
like "$ERR" "--remote" "status says it needs --remote"

# ---- bad input: errors (1) ----
mvms deploy m@v1 prod --endpoint ftp://127.0.0.1/x
is_rc 1 "an ftp endpoint: error"
like "$ERR" "not an http(s) URL" "says it is not http(s)"
mvms deploy m@v1 prod --endpoint 'http://a b/'
is_rc 1 "an endpoint with a space: error"
mvms deploy m@v1 prod --endpoint 'http://'
is_rc 1 "an endpoint without a host: error"
like "$ERR" "not a valid URL" "says it is not a valid URL"
mvms deploy m@v1 'bad env'
is_rc 1 "an env name with a space: error"
like "$ERR" "bad environment name" "says bad environment name"
mvms deploy m@v1 v3
is_rc 1 "env 'v3' (a reserved ref name): error"
mvms deploy m@v1 ../x
is_rc 1 "env '../x': error"

# ---- bad input: not found (3) ----
mvms deploy m@v9 prod
is_rc 3 "deploy an unknown version: not found"
like "$ERR" "m@v9: no such version" "names the version"
mvms deploy nope@v1 prod
is_rc 3 "deploy a version of an unknown model: not found"
mvms deployments nope
is_rc 3 "deployments of an unknown model: not found"
mvms rollback m nowhere
is_rc 3 "rollback of a never-deployed env: not found"
like "$ERR" "never deployed" "says never deployed"
mvms rollback m staging
is_rc 3 "rollback with one revision of history: not found"
like "$ERR" "nothing to roll back to" "says nothing to roll back to"
mvms undeploy m@v3 prod
is_rc 3 "undeploy a version that is not deployed: not found"
like "$ERR" "not deployed in prod" "says so"
mvms --json deploy m@v9 prod
is_rc 3 "--json: unknown version still exits 3"
like "$OUT" "\"code\":${TAB}\"not_found\"" "--json: the error as JSON with code not_found"

# ---- bad input: conflicts (4) ----
mvms deploy m@v3 prod --expect-revision 2
is_rc 4 "--expect-revision 2 while 3 is current: conflict"
like "$ERR" "another change came first" "says another change came first"
mvms rollback m prod --expect-revision 1
is_rc 4 "rollback --expect-revision 1: conflict"
is "$(log_count prod)" "$N_PROD" "no refused command changed the history"
mvms deployments m prod
like "$OUT" "revision 3" "prod still at revision 3"

mvms deploy m@v3 prod --weight 10 --expect-revision 3
is_rc 0 "--expect-revision 3 (current): deployed"
like "$OUT" "revision 4" "revision 4"

# ---- undeploy ----
mvms undeploy m@v3 prod
is_rc 0 "undeploy m@v3 prod"
like "$OUT" "revision 5 (undeploy" "revision 5, action undeploy"
unlike "$OUT" "  v3 " "v3 is gone"
mvms undeploy m@v2 staging
is_rc 1 "undeploying the last version: error"
like "$ERR" "last version" "says it is the last version"

# ---- rollback ----
mvms rollback m prod -m "v3 again"
is_rc 0 "rollback m prod (one step)"
like "$OUT" "revision 6 (rollback" "a new revision 6"
like "$OUT" "  v3 " "v3 is back (revision 4's targets)"
mvms deploy-log m prod
like "$(printf '%s\n' "$OUT" | head -n 1)" "(to #4)" "the log says it went back to #4"
like "$(printf '%s\n' "$OUT" | head -n 1)" '"v3 again"' "with the reason"
mvms --json rollback m prod --to 1
is_rc 0 "rollback --to 1"
is "$(json_get revision)" 7 "revision 7"
is "$(json_get from_revision)" 1 "from_revision 1"
is "$(json_get action)" rollback "action rollback"
is "$(json_count version)" 1 "revision 1's single target"
mvms rollback m prod --to 7
is_rc 1 "rollback --to the current revision: error"
like "$ERR" "not an earlier revision" "says not an earlier revision"
mvms rollback m prod --to 99
is_rc 1 "rollback --to a future revision: error"
is "$(log_count prod)" 7 "prod has 7 revisions"
mvms pull m@prod -o "$WORK/o-prod2"
check "m@prod is v1 after the rollback" same_tree "$WORK/v1" "$WORK/o-prod2"

# ---- watch --once ----
mkdir "$WORK/wd"
HOOK='printf "%s\n" "$MVMS_MODEL" "$MVMS_ENV" "$MVMS_VERSION" "$MVMS_VERSION_ID" "$MVMS_REVISION" "$MVMS_DIR" >"$WORK/hook.env"; cp -R "$MVMS_DIR" "$WORK/hook.copy"'
export WORK
mvms watch m prod --once --dir "$WORK/wd" --exec "$HOOK"
is_rc 0 "watch --once --exec"
like "$ERR" "prod of m is at revision 7" "says which revision it saw"
[ -f "$WORK/hook.env" ] || printf '\n\n\n\n\n\n' >"$WORK/hook.env"
is "$(sed -n 1p "$WORK/hook.env")" m "the hook sees MVMS_MODEL"
is "$(sed -n 2p "$WORK/hook.env")" prod "the hook sees MVMS_ENV"
is "$(sed -n 3p "$WORK/hook.env")" v1 "the hook sees MVMS_VERSION=v1"
is "$(sed -n 4p "$WORK/hook.env")" "$ID1" "the hook sees MVMS_VERSION_ID"
is "$(sed -n 5p "$WORK/hook.env")" 7 "the hook sees MVMS_REVISION=7"
is "$(sed -n 6p "$WORK/hook.env")" "$WORK/wd/m@v1" "MVMS_DIR is DIR/MODEL@vN"
check "the pulled files are there when the hook runs" same_tree "$WORK/v1" "$WORK/hook.copy"
mvms watch m prod --once --dir "$WORK/wd" --exec 'exit 7'
is_rc 1 "watch --once with a failing hook exits 1"
like "$ERR" "the hook exited with 7" "and says the hook failed"
mvms watch m nowhere --once --dir "$WORK/wd" --exec 'touch "$WORK/never"'
is_rc 0 "watch --once on a never-deployed env"
check "runs no hook" test ! -e "$WORK/never"

# ---- watch in the background ----
rm -rf "$WORK/wd2"
mkdir "$WORK/wd2"
"$MVMS" watch m prod --interval 1 --dir "$WORK/wd2" \
	--exec 'echo "$MVMS_REVISION $MVMS_VERSION $MVMS_DIR" >>"$WORK/hook.log"' \
	>"$WORK/watch.out" 2>"$WORK/watch.err" </dev/null &
WATCH_PID=$!
srv_track "$WATCH_PID" "$WORK/watch.err"
wait_lines "$WORK/hook.log" 1 15 >/dev/null
is "$(sed -n 1p "$WORK/hook.log" | cut -d' ' -f1-2)" "7 v1" "background watch: the hook ran for revision 7 (v1)"
mvms deploy m@v3 prod -m "hot update"
is_rc 0 "deploy m@v3 prod while watching"
T=$(wait_lines "$WORK/hook.log" 2 15)
is "$(sed -n 2p "$WORK/hook.log" | cut -d' ' -f1-2)" "8 v3" "the hook ran again for revision 8 (v3)"
num_le "$T" 40 "within 4 s of the deploy (interval 1 s; took $T tenths)"
check "v3's files were pulled before the hook ran" same_tree "$WORK/v3" "$WORK/wd2/m@v3"
mvms deploy m@v3 prod --weight 50 --endpoint http://127.0.0.1:9003
is_rc 0 "a change that keeps v3 primary"
T=$(wait_lines "$WORK/hook.log" 3 15)
is "$(sed -n 3p "$WORK/hook.log" | cut -d' ' -f1-2)" "9 v3" "the hook runs for every new revision (9, still v3)"
sleep 2
is "$(wc -l <"$WORK/hook.log" | tr -d ' ')" 3 "no hook runs while nothing changes"
SRV_STOP_TENTHS=50   # srv_stop: SIGKILL after 5 s
srv_stop "$WATCH_PID"
if [ -n "$SRV_KILLED" ]; then
	not_ok "watch stops within 5 s of SIGTERM"
else
	ok "watch stops within 5 s of SIGTERM"
	is "$SRV_RC" 0 "and exits 0"
fi

# `verify` is clean at the end
mvms verify
is_rc 0 "verify"

done_testing
