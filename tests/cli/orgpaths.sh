#!/bin/sh
# SPDX-License-Identifier: MIT
# Model names with one '/' (org/name, as on Hugging Face) in server paths without %2F: every
# route with {m} answers for acme/llama-ft written as is, the same as with %2F (reads,
# changes, files, deployments, /predict/{m}/{env}, upload); the ambiguity rule (a path is read
# with a one-segment model first, so /v1/models/acme/versions is model acme's versions, and
# a model acme/versions is written acme%2Fversions); names of three segments need %2F; an
# unknown route's 404 says how names are written; a token scoped to acme/* is held to it on
# unescaped paths (tests/test-authz walks every route that way too).
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree/sub"
for v in v1 v2; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/weights.bin"
	printf '{"v":"%s"}\n' "$v" >"$WORK/tree/sub/cfg.json"
	mvms push acme/llama-ft "$WORK/tree" -m "$v"
	is_rc 0 "push acme/llama-ft $v" || bail "push failed"
done
mvms push acme "$WORK/tree" -m "the model called acme"
is_rc 0 "push acme (a model named like the org)" || bail "push failed"
mvms push acme/versions "$WORK/tree" -m "named like a route word"
is_rc 0 "push acme/versions" || bail "push failed"
mvms push a/b/c "$WORK/tree" -m "three segments"
is_rc 0 "push a/b/c" || bail "push failed"
mvms push other/x "$WORK/tree" -m "another org"
is_rc 0 "push other/x" || bail "push failed"
W=$("$MVMS" token create --scope write 2>"$WORK/t.err") || bail "token create: $(cat "$WORK/t.err")"
S=$("$MVMS" token create --scope read --model 'acme/*' 2>"$WORK/t.err") ||
	bail "token create --model: $(cat "$WORK/t.err")"
REQ_AUTH="Authorization: Bearer $W"
J='Content-Type: application/json'
srv_start srv --threads 2 --no-access-log

# same PATH DESC: PATH with acme/llama-ft and with acme%2Fllama-ft answer the same 200 body
same() {
	req GET "$URL/v1/models/acme%2Fllama-ft$1"
	_esc=$BODY
	_ecode=$CODE
	req GET "$URL/v1/models/acme/llama-ft$1"
	is_code 200 "GET /v1/models/acme/llama-ft$1"
	if [ "$_ecode" = 200 ] && [ "$BODY" = "$_esc" ]; then
		ok "$2: the same answer as with %2F"
	else
		not_ok "$2: the same answer as with %2F"
		diag "with %2F: $_ecode $_esc" "without: $CODE $BODY"
	fi
}

# ---- reads ----
same "" "the model"
like "$BODY" '"acme/llama-ft"' "names the model acme/llama-ft"
same "/versions" "its versions"
is "$(jcount message)" 2 "two versions"
same "/versions/v2" "one version"
same "/versions/v2/lineage" "lineage"
same "/versions/v1/files/sub/cfg.json" "a file in a subdirectory"
is "$BODY" '{"v":"v1"}' "the file's bytes"
same "/diff?from=v1&to=v2" "diff"
same "/merge-base?a=v1&b=v2" "merge-base"
same "/branches" "branches"
same "/tags" "tags"

# ---- changes ----
req POST "$URL/v1/models/acme/llama-ft/branches" -H "$J" -d '{"name":"exp","from":"v1"}'
is_code 201 "POST .../acme/llama-ft/branches"
req DELETE "$URL/v1/models/acme/llama-ft/branches/exp"
is_code 200 "DELETE .../acme/llama-ft/branches/exp"
req POST "$URL/v1/models/acme/llama-ft/tags" -H "$J" -d '{"name":"rel-1","ref":"v1"}'
is_code 201 "POST .../acme/llama-ft/tags"
mvms tags acme/llama-ft
like "$OUT" "rel-1" "the tag is on acme/llama-ft"
req PUT "$URL/v1/models/acme/llama-ft/upload?path=extra.txt&message=up" --data-binary 'extra'
is_code 201 "PUT .../acme/llama-ft/upload"
like "$BODY" '"version":3' "a third version of acme/llama-ft"
req POST "$URL/v1/models/acme/llama-ft/deployments/prod" -H "$J" -d '{"ref":"v2"}'
is_code 201 "POST .../acme/llama-ft/deployments/prod (deploy)"
same "/deployments" "deployments"
same "/deployments/prod" "one environment"
same "/deployments/prod/history" "deploy history"
req GET "$URL/v1/models/acme/llama-ft/deployments/prod/status"
is_code 200 "GET .../deployments/prod/status"
req POST "$URL/v1/models/acme/llama-ft/deployments/prod/rollback" -H "$J" -d '{}'
is_code 404 "rollback with one revision: 404 (the route and the model were found)"
is "$(jstr code)" not_found "code not_found"
req POST "$URL/predict/acme/llama-ft/prod" -d x
is_code 502 "POST /predict/acme/llama-ft/prod reaches the deployment (no endpoint: 502)"
is "$(jstr code)" no_endpoint "code no_endpoint (not no_route)"
req POST "$URL/v1/models/acme/llama-ft/deployments/prod/predict" -d x
is "$(jstr code)" no_endpoint "the long /predict form too"
mvms deploy-log acme/llama-ft prod
like "$OUT" "#1" "the deploy made over the unescaped path is in the store"

# ---- the rule: a one-segment model first ----
req GET "$URL/v1/models/acme/versions"
is_code 200 "GET /v1/models/acme/versions"
is "$(jcount message)" 1 "is the versions of model acme (one version), not the model acme/versions"
like "$BODY" "the model called acme" "acme's own version"
req GET "$URL/v1/models/acme%2Fversions"
is_code 200 "GET /v1/models/acme%2Fversions"
is "$(jstr model)" "acme/versions" "the model acme/versions, written with %2F"
req GET "$URL/v1/models/acme%2Fversions/versions"
is_code 200 "its versions with %2F"
like "$BODY" "named like a route word" "acme/versions's version"
req GET "$URL/v1/models/acme/versions/versions"
is_code 404 "without %2F: version 'versions' of model acme (a one-segment route has that shape)"
like "$BODY" "acme@versions" "the error names acme@versions"
req GET "$URL/v1/models/acme/versions/versions/v1"
is_code 200 ".../acme/versions/versions/v1: no one-segment route has that shape, so acme/versions@v1"
like "$BODY" "named like a route word" "acme/versions's version"
req DELETE "$URL/v1/models/acme/llama-ft"
is_code 405 "DELETE on a model path: 405 (the method, not the name)"

# ---- three segments need %2F; unknown routes say so ----
req GET "$URL/v1/models/a%2Fb%2Fc/versions"
is_code 200 "a/b/c with %2F"
req GET "$URL/v1/models/a%2Fb/c/versions"
is_code 200 "a/b/c with one %2F (two raw segments)"
req GET "$URL/v1/models/a/b/c/versions"
is_code 404 "a/b/c without %2F: 404"
is "$(jstr code)" no_route "code no_route"
like "$BODY" "%2F" "the message says to write '/' as %2F"
like "$BODY" "org/name" "and that org/name works as is"
req GET "$URL/v1/models/acme//versions"
is_code 404 "an empty segment is no model name: 404"
req GET "$URL/v1/models/nosuch/thing"
is_code 404 "an unknown org/name model: 404"
is "$(jstr code)" not_found "code not_found (the route matched)"

# ---- a token scoped to acme/* ----
REQ_AUTH="Authorization: Bearer $S"
req GET "$URL/v1/models/acme/llama-ft/versions"
is_code 200 "the acme/* token reads acme/llama-ft unescaped"
req GET "$URL/v1/models/other/x/versions"
is_code 403 "but not other/x unescaped: 403"
unlike "$BODY" "another org" "and sees none of it"
req GET "$URL/v1/models/other/x/versions/v1/files/weights.bin"
is_code 403 "nor its files: 403"
req GET "$URL/v1/models/acme/versions"
is_code 403 "acme (one segment, not covered by acme/*): 403"

done_testing
