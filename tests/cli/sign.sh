#!/bin/sh
# SPDX-License-Identifier: MIT
# Signed releases from the command line (also run through a server: CLI_REMOTE_TESTS):
# key generate (0600, never overwritten, .pub beside it), sign, verify --signatures (valid;
# a wrong key, no signature, a tampered object each refused), show listing signatures (text
# and --json), env policy (show, set, clear; store-wide), deploy refused without a valid
# signature (exit 4) and allowed with one, rollback to an unsigned revision refused under
# the policy, pull --require-signature refused before writing anything and allowed, gc
# keeping the signatures of live versions and reclaiming those of a deleted model. Once,
# on a local store: the same refusals over HTTP (403 policy_refused; 400 for a signature of
# another version, a tampered one and garbage; 403 for a policy change without admin).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"
find_py

mkdir -p "$WORK/d"
for n in one two three; do
	printf '%s\n' "$n" >"$WORK/d/a.txt"
	mvms push m "$WORK/d" -m "$n"
	is_rc 0 "push m $n" || bail "push failed"
done
mvms push other "$WORK/d" -m other
is_rc 0 "push other" || bail "push failed"

# ---- keys ----
mvms key generate --out "$WORK/k1"
is_rc 0 "key generate --out k1"
like "$OUT" "public key ed25519:" "prints the public key"
like "$OUT" "key id " "prints the key id"
is "$(stat -c %a "$WORK/k1")" 600 "the secret key file is 0600"
check "k1.pub is written" test -s "$WORK/k1.pub"
PUB1=$(cat "$WORK/k1.pub")
cp "$WORK/k1" "$WORK/k1.before"
mvms key generate --out "$WORK/k1"
is_rc 4 "key generate over an existing key: exit 4"
like "$ERR" "never overwritten" "says keys are never overwritten"
check "k1 is unchanged" cmp -s "$WORK/k1" "$WORK/k1.before"
mvms key generate --out "$WORK/k2"
is_rc 0 "key generate --out k2"
mvms key show "$WORK/k1"
is_rc 0 "key show k1"
like "$OUT" "$PUB1" "key show gives the public key of the secret key file"
K1ID=$(printf '%s\n' "$OUT" | sed -n 's/^key id *//p' | cut -c1-16)
[ -n "$K1ID" ] || bail "no key id"

# ---- sign and verify ----
mvms sign m@v1 --key "$WORK/k1" --statement "approved-for: prod"
is_rc 0 "sign m@v1 with k1"
like "$OUT" "$K1ID" "names the key id"
mvms verify --signatures m@v1
is_rc 0 "verify --signatures m@v1"
like "$OUT" "valid    key $K1ID" "one valid signature by k1"
like "$OUT" '"approved-for: prod"' "with its statement"
mvms verify --signatures m@v1 --key "$WORK/k1.pub"
is_rc 0 "verify --signatures --key k1.pub"
mvms verify --signatures m@v1 --key "$WORK/k2.pub"
is_rc 4 "verify --signatures --key k2.pub (a wrong key): exit 4"
like "$ERR" "no valid signature by key" "says so"
mvms verify --signatures m@v2
is_rc 3 "verify --signatures of an unsigned version: exit 3"
mvms sign m@v1 --key "$WORK/k1" --statement "$(printf 'two\nlines')"
is_rc 1 "a statement with a newline: refused"
mvms sign m@v1 --key "$WORK/nokey"
is_rc 3 "sign with a missing key file: exit 3"
mvms sign m@v1 --key "$WORK/k1.pub"
is_rc 1 "sign with a public key file: refused"
like "$ERR" "not an mvms-store secret key file" "says it is no secret key"

# ---- show ----
mvms show m@v1
is_rc 0 "show m@v1"
like "$OUT" "signatures:" "show lists signatures"
like "$OUT" "valid    key $K1ID" "with key id and verdict"
mvms --json show m@v1
is_rc 0 "show --json m@v1"
like "$OUT" '"signatures":' "--json: a signatures array"
like "$OUT" "\"valid\":${TAB}true" "--json: valid"
like "$OUT" "\"statement\":${TAB}\"approved-for: prod\"" "--json: the statement"
mvms --json show m@v2
unlike "$OUT" '"key_id"' "show --json of an unsigned version lists none"

# ---- a tampered object is invalid ----
SIGFILE=$(find "$MVMS_STORE/objects/signatures" -type f | head -n 1)
[ -n "$SIGFILE" ] || bail "no signature object in the store"
cp "$SIGFILE" "$WORK/sig.good"
sed 's/^statement .*/statement approved-for: anything/' "$WORK/sig.good" >"$SIGFILE"
mvms verify --signatures m@v1
is_rc 1 "verify --signatures after the object was altered: exit 1"
like "$OUT" "INVALID" "lists it as INVALID"
mvms show m@v1
like "$OUT" "INVALID" "show says INVALID too"
cp "$WORK/sig.good" "$SIGFILE"
mvms verify --signatures m@v1
is_rc 0 "restored: valid again"

# ---- policies ----
mvms deploy m@v3 prod
is_rc 0 "deploy unsigned m@v3 to prod (no policy yet)"
mvms env policy prod
is_rc 0 "env policy prod (none)"
like "$OUT" "no signature policy" "says there is none"
mvms env policy prod --require-signature "$WORK/k1.pub"
is_rc 0 "env policy prod --require-signature k1.pub"
like "$OUT" "$PUB1" "shows the key"
mvms --json env policy prod
like "$OUT" "\"public_key\":${TAB}\"$PUB1\"" "--json: the key"
mvms env policy prod --require-signature ed25519:nothex
is_rc 2 "a bad key: usage error"
mvms deploy m@v2 prod
is_rc 4 "deploy unsigned m@v2 to prod: exit 4"
like "$ERR" "requires a valid signature" "says a signature is required"
mvms deploy other@v1 prod
is_rc 4 "another model's prod is bound too (store-wide)"
mvms deploy m@v2 staging
is_rc 0 "staging has no policy"
mvms deploy m@v1 prod
is_rc 0 "deploy signed m@v1 to prod"
mvms rollback m prod
is_rc 4 "rollback to the unsigned m@v3: exit 4"
like "$ERR" "rollback: environment prod requires" "says why"
mvms deploy-log m prod
like "$OUT" "#2" "the log has the signed deploy"
unlike "$OUT" "#3" "and no revision from the refused rollback"
mvms sign m@v2 --key "$WORK/k2"
mvms deploy m@v2 prod
is_rc 4 "m@v2 signed by k2 only: still refused"
mvms env policy prod --require-signature "$WORK/k1.pub" --require-signature "$WORK/k2.pub"
is_rc 0 "policy: k1 or k2"
mvms deploy m@v2 prod
is_rc 0 "m@v2 signed by k2 deploys now"

# ---- pull --require-signature ----
mvms pull m@v3 --require-signature "$WORK/k1.pub" -o "$WORK/p3"
is_rc 4 "pull --require-signature of unsigned m@v3: exit 4"
check "nothing was written" test ! -e "$WORK/p3"
mvms pull m@v1 --require-signature "$WORK/k2.pub" -o "$WORK/p1"
is_rc 4 "pull --require-signature with a key that did not sign: exit 4"
mvms pull m@v1 --require-signature "$WORK/k1.pub" -o "$WORK/p1"
is_rc 0 "pull --require-signature k1 of m@v1"
is "$(cat "$WORK/p1/a.txt")" one "the files are there"

# ---- clearing ----
mvms env policy prod --clear
is_rc 0 "env policy prod --clear"
like "$OUT" "no signature policy" "cleared"
mvms deploy m@v3 prod
is_rc 0 "unsigned m@v3 deploys to prod again"

# ---- the bucket's log carries signatures and policies (reindex rebuilds from it) ----
if [ -z "$REMOTE" ]; then
	mvms env policy prod --require-signature "$WORK/k1.pub"
	mvms reindex
	is_rc 0 "reindex"
	mvms verify --signatures m@v1 --key "$WORK/k1.pub"
	is_rc 0 "after reindex, m@v1's signature by k1 is still there"
	mvms deploy m@v2 prod
	is_rc 4 "after reindex, prod's policy still refuses m@v2 (signed by k2 only)"
	mvms env policy prod --clear
	is_rc 0 "clear the policy again"
else
	skip "reindex runs on the store itself: checked in the local run"
fi

# ---- gc ----
mvms sign other@v1 --key "$WORK/k1"
is_rc 0 "sign other@v1"
NSIG=$(find "$MVMS_STORE/objects/signatures" -type f | wc -l)
is "$NSIG" 3 "three signature objects"
mvms gc --grace 0
is_rc 0 "gc --grace 0"
is "$(find "$MVMS_STORE/objects/signatures" -type f | wc -l)" 3 "gc keeps the signatures of live versions"
mvms verify --signatures m@v1
is_rc 0 "m@v1 still verifies after gc"
mvms model delete other --yes
is_rc 0 "delete model other"
mvms gc --grace 0
is_rc 0 "gc --grace 0 after the delete"
is "$(find "$MVMS_STORE/objects/signatures" -type f | wc -l)" 2 "gc reclaimed other's signature"

# ---- over HTTP, once ----
if [ -n "$REMOTE" ]; then
	skip "HTTP statuses: checked in the local run"
elif [ -z "$PY" ]; then
	skip "HTTP statuses: python3 not installed"
else
	ADMIN=$("$MVMS" token create --scope admin 2>/dev/null)
	READ=$("$MVMS" token create --scope read 2>/dev/null)
	srv_start sign
	AUTH="Authorization: Bearer $ADMIN"
	mvms env policy prod --require-signature "$WORK/k1.pub"
	req POST "$URL/v1/models/m/deployments/prod" -H "$AUTH" -d '{"ref":"v3"}'
	is_code 403 "POST deploy of unsigned m@v3 to prod: 403"
	like "$BODY" '"policy_refused"' "code policy_refused"
	req POST "$URL/v1/models/m/deployments/prod" -H "$AUTH" -d '{"ref":"v1"}'
	is_code 201 "POST deploy of signed m@v1 to prod: 201"
	"$PY" -c 'import json, sys; print(json.dumps({"signature": open(sys.argv[1]).read()}))' \
		"$WORK/sig.good" >"$WORK/sig.json"
	req POST "$URL/v1/models/m/versions/v3/signatures" -H "$AUTH" --data-binary @"$WORK/sig.json"
	is_code 400 "m@v1's signature posted for m@v3: 400"
	like "$BODY" "signs version" "says it signs another version"
	sed 's/^statement .*/statement approved-for: anything/' "$WORK/sig.good" >"$WORK/sig.bad"
	"$PY" -c 'import json, sys; print(json.dumps({"signature": open(sys.argv[1]).read()}))' \
		"$WORK/sig.bad" >"$WORK/sig.json"
	req POST "$URL/v1/models/m/versions/v1/signatures" -H "$AUTH" --data-binary @"$WORK/sig.json"
	is_code 400 "a tampered signature: 400"
	req POST "$URL/v1/models/m/versions/v1/signatures" -H "$AUTH" -d '{"signature":"x"}'
	is_code 400 "garbage: 400"
	req GET "$URL/v1/models/m/versions/v1/signatures" -H "Authorization: Bearer $READ"
	is_code 200 "GET signatures with a read token"
	is "$(jcount valid)" 2 "one signature (and the count of valid ones)"
	req PUT "$URL/v1/env-policies/prod" -H "Authorization: Bearer $READ" \
		-d '{"require_signature":[]}'
	is_code 403 "PUT a policy with a read token: 403"
	req DELETE "$URL/v1/env-policies/prod" -H "$AUTH"
	is_code 200 "DELETE the policy with an admin token"
	req POST "$URL/v1/models/m/deployments/prod" -H "$AUTH" -d '{"ref":"v3"}'
	is_code 201 "then unsigned m@v3 deploys"
	srv_stop "$SRV_PID"
fi

done_testing
