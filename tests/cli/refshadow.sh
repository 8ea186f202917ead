#!/bin/sh
# SPDX-License-Identifier: MIT
# Refs that cannot shadow versions (issue 10, finding 3): a tag or branch named with a
# version id, an id prefix (4+ hex digits, any case) or vN is refused, locally and through
# the server (a JSON 400); MODEL@<full id> always names that version, locally, through
# the server's API and in a remote pull; a tag cannot take a branch's name.
. "$TESTS_SRCDIR/cli/lib.sh"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

printf 'one\n' >"$WORK/one.txt"
mkdir -p "$WORK/v1" "$WORK/v2"
printf 'first\n' >"$WORK/v1/a.txt"
printf 'second\n' >"$WORK/v2/a.txt"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push sp "$WORK/v1" -m one
is_rc 0 "push sp v1" || bail "push failed"
ID1=$(push_id)
mvms push sp "$WORK/v2" -m two
is_rc 0 "push sp v2" || bail "push failed"
ID2=$(push_id)

# ---- locally ----
mvms tag sp@v1 "$ID2"
is_rc 1 "tag sp@v1 <full id of v2> is refused"
like "$ERR" "could be read as a version id" "the message says the name reads as a version id"
mvms branch sp "$ID2" sp@v1
is_rc 1 "a branch named with v2's full id is refused"
for name in 000000 abcdef v7 ABCD 2024; do
	mvms tag sp@v1 "$name"
	is_rc 1 "tag '$name' is refused"
	mvms branch sp "$name" sp@v1
	is_rc 1 "branch '$name' is refused"
done
like "$ERR" "id prefix" "the message for '2024' says it reads as an id prefix"
mvms tag sp@v1 v7
like "$ERR" "version number" "the message for 'v7' says it reads as a version number"
mvms push sp "$WORK/v1" -b cafe
is_rc 1 "a push to a new branch 'cafe' is refused"
mvms tags sp
is "$OUT" "" "no tag was made"
is "$(branch_at sp cafe)" "" "no branch 'cafe' was made"

mvms show --json "sp@$ID2"
is_rc 0 "show sp@<full id of v2>"
is "$(json_get version)" 2 "it shows v2"
mvms show --json "sp@$(printf '%s' "$ID1" | cut -c1-4)"
if [ "$(printf '%s' "$ID1" | cut -c1-4)" = "$(printf '%s' "$ID2" | cut -c1-4)" ]; then
	is_rc 1 "a 4-hex prefix both ids share is ambiguous"
else
	is "$(json_get version)" 1 "a 4-hex id prefix resolves"
fi

mvms tag sp@v1 rel
is_rc 0 "tag sp@v1 rel"
mvms branch sp rel sp@v2
is_rc 4 "a branch cannot take the tag's name (exists: exit 4)"
like "$ERR" "ambiguous" "the message says it would be ambiguous"
mvms branch sp lane sp@v1
is_rc 0 "branch sp lane"
mvms tag sp@v2 lane
is_rc 4 "a tag cannot take the branch's name (exists: exit 4)"
mvms show --json sp@rel
is "$(json_get version)" 1 "sp@rel is still the tag's v1"
mvms deploy sp@v2 lane
is_rc 4 "an environment cannot take a branch's name"
mvms deploy sp@v2 prod
is_rc 0 "deploy sp@v2 prod"
mvms tag sp@v1 prod
is_rc 4 "a tag cannot take an environment's name"
mvms deploy sp@v2 beef
is_rc 1 "an environment named 'beef' (hex) is refused"

# ---- through the server ----
W=$("$MVMS" token create --scope write 2>/dev/null) || bail "token"
AW="Authorization: Bearer $W"
JSON='Content-Type: application/json'
srv_start srv --threads 2 --no-access-log

req POST "$URL/v1/models/sp/tags" -H "$AW" -H "$JSON" -d "{\"name\":\"$ID2\",\"ref\":\"v1\"}"
is_code 400 "POST a tag named with v2's full id: 400"
like "$BODY" '{"error":{"code":"invalid","message":"' "a JSON error, code invalid"
like "$BODY" "version id" "the message says why"
for name in 000000 abcdef v7 ABCD; do
	req POST "$URL/v1/models/sp/tags" -H "$AW" -H "$JSON" -d "{\"name\":\"$name\",\"ref\":\"v1\"}"
	is_code 400 "POST tag '$name': 400"
	req POST "$URL/v1/models/sp/branches" -H "$AW" -H "$JSON" -d "{\"name\":\"$name\",\"from\":\"v1\"}"
	is_code 400 "POST branch '$name': 400"
	like "$BODY" '"code":"invalid"' "branch '$name': JSON error invalid"
done
req POST "$URL/v1/models/sp/branches" -H "$AW" -H "$JSON" -d '{"name":"rel","from":"v2"}'
is_code 409 "POST a branch with a tag's name: 409"
like "$BODY" '"code":"exists"' "JSON error exists"
req GET "$URL/v1/models/sp/tags" -H "$AW"
is_code 200 "GET tags"
unlike "$BODY" "$ID2" "no tag named with an id was made"

req GET "$URL/v1/models/sp/versions/$ID2" -H "$AW"
is_code 200 "GET sp/versions/<full id of v2>"
like "$BODY" "\"version\":2," "the server's answer is v2"

XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME
run "$MVMS" --remote "$URL" --token "$W" pull "sp@$ID2" -o "$WORK/pulled"
is_rc 0 "remote pull of sp@<full id of v2>"
check "it pulled v2's files" same_tree "$WORK/v2" "$WORK/pulled"

mvms verify
is_rc 0 "verify is clean"

done_testing
