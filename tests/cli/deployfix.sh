#!/bin/sh
# SPDX-License-Identifier: MIT
# Deployment rough edges (issue 12): a version deployed again after a rollback (or another
# deploy) took its place keeps the endpoint it last had in that environment, and /predict
# reaches its upstream (it answered 502 no_endpoint when the endpoint was lost); an endpoint
# cleared with --endpoint '' stays cleared; `watch --dir` creates the directory (mkdir -p)
# and says clearly when it cannot; `deploy-log` and `status` of an environment never
# deployed exit 3 (not found) like `rollback`, locally and through a server (404 not_found).
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || skip_all "UPSTREAM (tests/upstream) is not set or not built"

setup
. "$TESTS_SRCDIR/cli/srv.sh"
find_py


# endpoint_of N: the endpoint of target vN in the --json state in $WORK/out ("-" if absent)
endpoint_of() {
	if [ -z "$PY" ]; then
		echo "(no python)"
		return
	fi
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
e = [t["endpoint"] for t in d["targets"] if t["version"] == int(sys.argv[2])]
print(e[0] if e else "-")' "$WORK/out" "$1"
}

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree"
for v in v1 v2 v3; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
done
T=$("$MVMS" token create --scope write 2>"$WORK/token.err") || bail "token create: $(cat "$WORK/token.err")"
REQ_AUTH="Authorization: Bearer $T"
srv_start srv --threads 2 --no-access-log
upstream v1
UP1=$UP_URL
upstream v2
UP2=$UP_URL

# ---- the canary rollout of docs/deployments.md, then v2 again ----
mvms deploy m@v1 prod --endpoint "$UP1"
is_rc 0 "rev 1: v1 alone with its endpoint"
mvms deploy m@v2 prod --weight 10 --endpoint "$UP2"
is_rc 0 "rev 2: v2 canary with its endpoint"
mvms deploy m@v2 prod
is_rc 0 "rev 3: v2 takes all the traffic"
mvms rollback m prod --to 1
is_rc 0 "rev 4: rollback to revision 1 (v1 alone)"
mvms --json deploy m@v2 prod -m "v2 again"
is_rc 0 "rev 5: v2 deployed again, no --endpoint"
is "$(endpoint_of 2)" "$UP2" "v2 keeps the endpoint it last had in prod"
req POST "$URL/predict/m/prod" -d x
is_code 200 "/predict reaches v2's upstream after the re-deploy"
is "$(hdr X-Model-Version)" v2 "answered by v2"

mvms rollback m prod
is_rc 0 "rev 6: rollback (v1 alone again)"
mvms --json deploy m@v2 prod --weight 5
is_rc 0 "rev 7: v2 joins with a weight, no --endpoint"
is "$(endpoint_of 2)" "$UP2" "a weighted re-join keeps v2's endpoint too"
is "$(endpoint_of 1)" "$UP1" "v1 keeps its own"

# a version never in the environment has none; one cleared with '' stays cleared
mvms --json deploy m@v3 prod --weight 1
is_rc 0 "v3 joins (never deployed in prod before)"
is "$(endpoint_of 3)" "" "a version new to the environment has no endpoint"
mvms deploy m@v2 prod --endpoint ''
is_rc 0 "v2's endpoint cleared with --endpoint ''"
mvms deploy m@v1 prod
is_rc 0 "v1 alone"
mvms --json deploy m@v2 prod
is_rc 0 "v2 again after its endpoint was cleared"
is "$(endpoint_of 2)" "" "a cleared endpoint stays cleared"
mvms --json deploy m@v1 prod --weight 50 --endpoint "$UP2"
is_rc 0 "an explicit --endpoint still wins"
is "$(endpoint_of 1)" "$UP2" "v1 gets the endpoint given"
# the same through HTTP: a deploy without "endpoint" after a rollback
mvms deploy m@v1 api --endpoint "$UP1"
mvms deploy m@v2 api --endpoint "$UP2"
mvms rollback m api
is_rc 0 "api: v1, v2, rollback to v1"
req POST "$URL/v1/models/m/deployments/api" -H 'Content-Type: application/json' -d '{"ref":"v2"}'
is_code 201 "deploy v2 over HTTP without an endpoint"
like "$BODY" "\"endpoint\":\"$UP2\"" "the reply shows v2's endpoint kept"

# ---- watch --dir creates the directory ----
mvms watch m prod --once --dir "$WORK/srv/models/a"
is_rc 0 "watch --once --dir into a directory that does not exist"
check "the directory was created with its parents, and the version pulled into it" \
	test -f "$WORK/srv/models/a/m@v2/model.bin"
: >"$WORK/afile"
mvms watch m prod --once --dir "$WORK/afile/sub"
is_rc 1 "watch --dir under a regular file: error"
like "$ERR" "cannot create --dir $WORK/afile/sub" "says it cannot create the directory"
mvms watch m prod --once --dir "$WORK/afile"
is_rc 1 "watch --dir naming a regular file: error"
like "$ERR" "is not a directory" "says it is not a directory"

# ---- never deployed: not found, locally and through the server ----
mvms deploy-log m nowhere
is_rc 3 "deploy-log of a never-deployed environment: exit 3"
like "$ERR" "never deployed" "says it was never deployed"
mvms rollback m nowhere
is_rc 3 "rollback of it: exit 3 (the same)"
mvms deploy-log nomodel prod
is_rc 3 "deploy-log of an unknown model: exit 3"
mvms --remote "$URL" --token "$T" status m nowhere
is_rc 3 "status of a never-deployed environment (--remote): exit 3"
like "$ERR" "never deployed" "says it was never deployed"
mvms --remote "$URL" --token "$T" status m prod
is_rc 0 "status of a deployed one: 0"
mvms --remote "$URL" --token "$T" deploy-log m nowhere
is_rc 3 "deploy-log of a never-deployed environment (--remote): exit 3"
mvms --remote "$URL" --token "$T" deploy-log m prod
is_rc 0 "deploy-log of a deployed one (--remote): 0"
req GET "$URL/v1/models/m/deployments/nowhere/status"
is_code 404 "GET .../nowhere/status: 404"
is "$(jstr code)" not_found "code not_found"
req GET "$URL/v1/models/m/deployments/nowhere/history"
is_code 404 "GET .../nowhere/history: 404"
is "$(jstr code)" not_found "code not_found"
req GET "$URL/v1/models/m/deployments/nowhere"
is_code 200 "GET .../nowhere (the state, revision 0, for long-polls) is still 200"

done_testing
