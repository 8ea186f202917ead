#!/bin/sh
# SPDX-License-Identifier: MIT
# token whoami: what a store handle may do. On a local store, admin over every model; with
# --remote, the scope and model glob of the token sent, as the server's GET /v1/whoami says
# (the web page decides from it which buttons to show); the same JSON both ways for an admin
# token; a token the server refuses is an error (exit 1); whoami takes no arguments (exit 2).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

"$MVMS" init -q || bail "init"
ADMIN=$("$MVMS" token create --scope admin -q 2>/dev/null) || bail "admin token"
READ=$("$MVMS" token create --scope read --model 'team/*' -q 2>/dev/null) || bail "read token"

mvms token whoami
is_rc 0 "whoami on a local store"
is "$OUT" "admin, models '*'" "a local store: admin over every model"
mvms --json token whoami
cp "$WORK/out" "$WORK/local.json"
is "$(json_get scope)" admin "--json: scope"
mvms token whoami extra
is_rc 2 "whoami takes no arguments"

srv_start whoami
mvms --remote "$URL" --token "$ADMIN" --json token whoami
is_rc 0 "whoami through a server"
check "an admin token: the same JSON as the local store" cmp -s "$WORK/out" "$WORK/local.json"
mvms --remote "$URL" --token "$READ" token whoami
is "$OUT" "read, models 'team/*'" "a read token for team/*: its scope and glob"
mvms --remote "$URL" --token "$READ" --json token whoami
is "$(json_get models)" "team/*" "--json: the token's glob"
mvms --remote "$URL" --token "mvms_0000000000000000_nope" token whoami
is_rc 1 "a token the server refuses is an error"
req GET "$URL/v1/whoami?model=team/x" -H "Authorization: Bearer $READ"
like "$BODY" '"may":{"read":true,"write":false,"admin":false}' "GET /v1/whoami?model=: a covered model, read only"
req GET "$URL/v1/whoami?model=other" -H "Authorization: Bearer $READ"
like "$BODY" '"may":{"read":false,"write":false,"admin":false}' "GET /v1/whoami?model=: a model outside the glob"
req GET "$URL/v1/whoami?model=" -H "Authorization: Bearer $READ"
is_code 400 "an empty model is a bad query"
srv_stop_all
srv_start whoami-ro --read-only --allow-anonymous-read
req GET "$URL/v1/whoami?model=x" -H "Authorization: Bearer $ADMIN"
like "$BODY" '"write":false' "a read-only server: an admin token may not write"
req GET "$URL/v1/whoami"
like "$BODY" '"scope":"read"' "anonymous reads: scope read without a token"
like "$BODY" '"anonymous":true' "and it says anonymous"
done_testing
