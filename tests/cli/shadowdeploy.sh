#!/bin/sh
# SPDX-License-Identifier: MIT
# Shadow deployments and per-environment forwarding settings from the command line (locally,
# and through a server as tests/cli/remote/shadowdeploy.sh): `deploy --shadow PERCENT` keeps
# the served targets and records the shadow in the revision (deploy-log and --json show it);
# later deploys carry it; `undeploy` of it removes it; a rollback restores it; promoting the
# shadow ends it; `--timeout` and `--retries` are kept per environment across deploys; bad
# input (usage errors, a shadow that serves already, a shadow with nothing served) changes
# nothing.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

mkdir -p "$WORK/tree"
mvms init
is_rc 0 "init" || bail "cannot create a store"
for v in v1 v2 v3; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
done

# jhas KEY VALUE DESC: $OUT (JSON) has "KEY": VALUE (any spacing)
jhas() {
	if printf '%s\n' "$OUT" | grep -q "\"$1\":[[:space:]]*$2"; then
		ok "$3"
	else
		not_ok "$3"
		diag "no \"$1\": $2 in:" "$OUT"
	fi
}

log_count() {
	"$MVMS" deploy-log m "$1" 2>/dev/null | grep -c '^#'
}

mvms deploy m@v2 prod --shadow 10
is_rc 1 "a shadow in an environment that serves nothing: exit 1"
like "$ERR" "serves nothing yet" "says why"

mvms deploy m@v1 prod --endpoint http://127.0.0.1:9001
is_rc 0 "deploy m@v1 prod"
mvms deploy m@v2 prod --shadow 25 --endpoint http://127.0.0.1:9002 -m "shadow v2"
is_rc 0 "deploy m@v2 prod --shadow 25"
like "$OUT" "revision 2" "a new revision"
like "$OUT" "v1     100.0%" "v1 still serves all the traffic"
like "$OUT" "v2     shadow  25%  json" "v2 is the shadow at 25 %, compared as JSON"
mvms --json deployments m prod
is_rc 0 "deployments --json"
jhas percent '25' "--json: the shadow's percent"
jhas compare '"json"' "--json: the comparison mode"
jhas endpoint '"http://127.0.0.1:9002"' "--json: the shadow's endpoint"
is "$(json_count weight)" 1 "--json: one served target"
mvms deploy-log m prod
like "$OUT" "v1 100; shadow v2 25%" "deploy-log shows the shadow"

mvms deploy m@v2 prod --shadow 50 --shadow-compare bytes
is_rc 0 "the shadow's share and mode change"
like "$OUT" "v2     shadow  50%  bytes" "50 %, as bytes"
like "$OUT" "http://127.0.0.1:9002" "its endpoint kept"

mvms deploy m@v3 prod --weight 10 --endpoint http://127.0.0.1:9003
is_rc 0 "a canary next to v1"
like "$OUT" "v2     shadow  50%" "a later deploy carries the shadow"

mvms deploy m@v1 prod --shadow 10
is_rc 1 "a version that serves cannot be the shadow: exit 1"
like "$ERR" "serves prod already" "says why"
before=$(log_count prod)
mvms deploy m@v2 prod --shadow 10 --weight 5
is_rc 2 "--shadow with --weight: usage error"
mvms deploy m@v2 prod --shadow 0
is_rc 2 "--shadow 0: usage error"
mvms deploy m@v2 prod --shadow 101
is_rc 2 "--shadow 101: usage error"
mvms deploy m@v2 prod --shadow 5 --shadow-compare xml
is_rc 2 "--shadow-compare xml: usage error"
mvms deploy m@v2 prod --shadow-compare json
is_rc 2 "--shadow-compare without --shadow: usage error"
mvms deploy m@v1 prod --timeout 0
is_rc 2 "--timeout 0: usage error"
mvms deploy m@v1 prod --timeout abc
is_rc 2 "--timeout abc: usage error"
mvms deploy m@v1 prod --retries 11
is_rc 2 "--retries 11: usage error"
is "$(log_count prod)" "$before" "none of them wrote a revision"

mvms undeploy m@v2 prod
is_rc 0 "undeploy the shadow"
unlike "$OUT" "shadow" "the shadow is gone"
like "$OUT" "v3       9.1%" "the served targets stay"
mvms rollback m prod
is_rc 0 "rollback"
like "$OUT" "v2     shadow  50%  bytes" "the rollback restores the shadow"

mvms deploy m@v2 prod --weight 5
is_rc 0 "the shadow version starts to serve (a canary)"
unlike "$OUT" "shadow" "a version that serves is no shadow any more"
mvms rollback m prod
like "$OUT" "v2     shadow" "rolled back: v2 is the shadow again"

# ---- per-environment settings ----
mvms --json deployments m prod
jhas timeout_ms '30000' "the default timeout (30 s)"
jhas retries '1' "the default retries (1)"
mvms deploy m@v1 prod --weight 100 --timeout 0.25 --retries 3
is_rc 0 "deploy --timeout 0.25 --retries 3"
like "$OUT" "upstream timeout 0.25s, 3 retries" "shown"
mvms deploy m@v3 prod --weight 20
mvms --json deployments m prod
jhas timeout_ms '250' "kept by a later deploy"
jhas retries '3' "the retries too"
mvms deploy m@v1 prod --weight 100 --retries 0
mvms --json deployments m prod
jhas timeout_ms '250' "--retries alone keeps the timeout"
jhas retries '0' "retries 0"
mvms --json deployments m staging
is_rc 0 "an environment never deployed"
mvms deploy m@v1 staging
mvms --json deployments m staging
jhas timeout_ms '30000' "has its own settings (the defaults)"

# ---- the store log carries shadows and settings: reindex rebuilds them ----
if [ "${MVMS_TEST_TRANSPORT:-}" != remote ]; then
	"$MVMS" --json deployments m >"$WORK/before" 2>&1
	"$MVMS" --json deploy-log m prod >>"$WORK/before" 2>&1
	grep -q '"shadow"' "$WORK/before" && grep -q '"timeout_ms":[[:space:]]*250' "$WORK/before"
	is "$?" 0 "before reindex: a shadow and a timeout of 250 ms"
	mvms reindex
	is_rc 0 "reindex"
	"$MVMS" --json deployments m >"$WORK/after" 2>&1
	"$MVMS" --json deploy-log m prod >>"$WORK/after" 2>&1
	is "$(cmp "$WORK/before" "$WORK/after" && echo same)" same "deployments and deploy-log are the same after reindex"
fi

# ---- prune --keep-deployed keeps a shadow version ----
for v in v1 v2 v3; do
	printf 'pruned %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push p "$WORK/tree" -m "$v"
done
mvms deploy p@v3 prod
mvms deploy p@v1 prod --shadow 10
is_rc 0 "p: v3 serves prod, v1 is its shadow"
mvms prune p --keep-last 1 --keep-deployed
is_rc 0 "prune p --keep-last 1 --keep-deployed"
mvms show p@v1
unlike "$OUT" "deleted" "the shadow version v1 is kept"
mvms show p@v2
like "$OUT" "deleted" "v2 is pruned"

# ---- deleting the model takes its shadows and settings along ----
mvms model delete m --yes
is_rc 0 "model delete m --yes (its prod has a shadow and settings)"
mvms push m "$WORK/tree" -m again
is_rc 0 "a new m"
mvms deploy m@v1 prod
mvms --json deployments m prod
jhas timeout_ms '30000' "the new m's prod has the default settings"

done_testing
