#!/bin/sh
# SPDX-License-Identifier: MIT
# The administration with --remote: stats, verify [--quick], gc [--grace D] [--dry-run] and
# token create/list/revoke run on a store directly and through a server on the same store
# (127.0.0.1, port 0), and must print the same stdout, byte for byte, in text and with
# --json, and exit with the same code: on a clean store, with an orphan (verify lists it,
# gc --dry-run would remove it, gc removes it), after a pack byte flip (verify fails the
# same way), for unknown and malformed token ids. A read token, or an admin token limited to
# some models, is refused (exit 1, a message that says why) and changes nothing.
# What differs by nature is masked before comparing: ages in seconds, gc's cutoff time, a
# new token's secret, id and creation time.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

S=$WORK/server
"$MVMS" --store "$S" init -q >/dev/null 2>&1 || bail "init the server's store"
A=$("$MVMS" --store "$S" token create --scope admin --description admin 2>/dev/null) ||
	bail "admin token"
R=$("$MVMS" --store "$S" token create --scope read --description reader 2>/dev/null) ||
	bail "read token"
P=$("$MVMS" --store "$S" token create --scope admin --model 'm*' --description part 2>/dev/null) ||
	bail "admin token for some models"
SRV_STORE=$S
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME

mkmodel -q --size 1M --tensors 4 --seed 21 "$WORK/m1"
mkmodel -q --size 1M --tensors 4 --seed 22 "$WORK/m2"
run "$MVMS" --remote "$URL" --token "$A" push m "$WORK/m1" -m one
is_rc 0 "remote push of m@v1" || bail "cannot push: $ERR"
run "$MVMS" --remote "$URL" --token "$A" push n "$WORK/m2" -m two
is_rc 0 "remote push of n@v1" || bail "cannot push: $ERR"

# mask: what differs between two runs by nature (see the head of this file)
mask() {
	sed -e 's/[0-9][0-9]* s old/N s old/g' \
	    -e 's/"age":\([[:space:]]*\)[0-9][0-9]*/"age":\1N/' \
	    -e 's/"cutoff":\([[:space:]]*\)[0-9][0-9]*/"cutoff":\1N/' \
	    -e 's/mvms_[0-9a-f]\{16\}_[A-Za-z0-9_-]*/TOKEN/' \
	    -e 's/"id":\([[:space:]]*\)"[0-9a-f]\{16\}"/"id":\1"ID"/' \
	    -e 's/"created_at":\([[:space:]]*\)"[^"]*"/"created_at":\1"TIME"/' \
	    -e 's/revoked token [0-9a-f]\{16\}/revoked token ID/'
}

# local ARGS...: mvms-store ARGS on the store itself; keeps its stdout, stderr and code
local_run() {
	run "$MVMS" --store "$S" "$@"
	mask <"$WORK/out" >"$WORK/local.out"
	cp "$WORK/err" "$WORK/local.err"
	L_RC=$RC
}

# remote TOKEN ARGS...: mvms-store ARGS through the server with TOKEN
remote_run() {
	_t=$1
	shift
	run "$MVMS" --remote "$URL" --token "$_t" "$@"
	mask <"$WORK/out" >"$WORK/remote.out"
}

# same DESC ARGS...: ARGS locally and through the server (admin token): the same stdout,
# byte for byte (after mask), and the same exit code; with SAME_ERR=1 the same stderr too
same() {
	_d=$1
	shift
	local_run "$@"
	remote_run "$A" "$@"
	if [ "$RC" = "$L_RC" ] && cmp -s "$WORK/local.out" "$WORK/remote.out" &&
		{ [ -z "${SAME_ERR:-}" ] || cmp -s "$WORK/local.err" "$WORK/err"; }; then
		ok "$_d (exit $RC both ways)"
	else
		not_ok "$_d"
		diag "$*: exit $L_RC locally, $RC remotely" "local stdout:" "$(head -c 1500 "$WORK/local.out")" \
			"remote stdout:" "$(head -c 1500 "$WORK/remote.out")" \
			"local stderr: $(head -c 400 "$WORK/local.err")" "remote stderr: $(head -c 400 "$WORK/err")"
	fi
}

# ---- a clean store ----
same "stats" stats
same "stats --json" --json stats
is "$L_RC" 0 "stats exits 0"
like "$(cat "$WORK/remote.out")" "\"versions\":${TAB}2" "remote stats --json counts both versions"
same "verify" verify
is "$L_RC" 0 "verify of the clean store exits 0"
same "verify --json" --json verify
same "verify --quick" verify --quick
same "verify --quick --json" --json verify --quick
same "gc --dry-run (nothing to remove)" gc --dry-run --grace 0
same "gc --dry-run --json (nothing to remove)" --json gc --dry-run --grace 0
same "token list" token list
same "token list --json" --json token list
like "$(cat "$WORK/remote.out")" "\"description\":${TAB}\"reader\"" "the remote token list names the tokens"

# ---- an orphan: a pack no index row names, ten days old ----
PACK=$(find "$S/objects/packs" -type f ! -name '*.tmp*' | sort | head -n 1)
[ -n "$PACK" ] || bail "no pack in the server's store"
ORPHAN_ID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
make_orphan() {
	mkdir -p "$S/objects/packs/01" || bail mkdir
	cp "$PACK" "$S/objects/packs/01/$ORPHAN_ID" || bail "cp pack"
	touch -d "@$(($(date +%s) - 10 * 86400 - 43200))" "$S/objects/packs/01/$ORPHAN_ID" ||
		bail "touch -d"
}
make_orphan
same "verify with an orphan" verify
like "$(cat "$WORK/remote.out")" "orphan" "the remote verify reports the orphan"
same "verify --json with an orphan" --json verify
like "$(cat "$WORK/remote.out")" "$ORPHAN_ID" "the remote verify --json lists it"
same "gc --dry-run with an orphan" gc --dry-run --grace 0
like "$(cat "$WORK/remote.out")" "would remove packs/01/$ORPHAN_ID" \
	"the remote gc --dry-run names it, line by line as locally"
same "gc --dry-run --json with an orphan" --json gc --dry-run --grace 0
is "$(grep -c "\"key\":.*$ORPHAN_ID" "$WORK/remote.out")" 1 "the remote gc --dry-run --json lists it"
check "a dry run removed nothing" test -f "$S/objects/packs/01/$ORPHAN_ID"

# A real gc removes it: remotely, then (on a new orphan) locally; the outputs agree.
run "$MVMS" --remote "$URL" --token "$A" gc --grace 0
is_rc 0 "remote gc --grace 0"
cp "$WORK/out" "$WORK/gc-remote.out"
check "the remote gc removed the orphan" test ! -e "$S/objects/packs/01/$ORPHAN_ID"
make_orphan
run "$MVMS" --store "$S" gc --grace 0
is_rc 0 "local gc --grace 0"
check "gc prints the same, locally and remotely" cmp -s "$WORK/out" "$WORK/gc-remote.out"
make_orphan
run "$MVMS" --remote "$URL" --token "$A" --json gc --grace 0
mask <"$WORK/out" >"$WORK/gc-remote.json"
make_orphan
run "$MVMS" --store "$S" --json gc --grace 0
mask <"$WORK/out" >"$WORK/gc-local.json"
check "gc --json prints the same, locally and remotely" cmp -s "$WORK/gc-local.json" "$WORK/gc-remote.json"
like "$(cat "$WORK/gc-local.json")" "\"packs\":${TAB}1" "(both removed one pack)"
same "verify after gc" verify
is "$L_RC" 0 "verify is clean after gc"

# ---- tokens ----
same "token create --json (a read token for models x*)" --json token create --scope read \
	--model 'x*' --description made
like "$(cat "$WORK/remote.out")" "\"models\":${TAB}\"x*\"" "the remote token create says what it allows"
run "$MVMS" --remote "$URL" --token "$A" --json token create --scope write --expires 2d
is_rc 0 "remote token create --expires 2d"
EXP=$(json_get expires_at)
case $EXP in
20[0-9][0-9]-*Z) ok "it expires at a time ($EXP)" ;;
*) not_ok "it expires at a time"; diag "expires_at: '$EXP'" ;;
esac
NEW=$("$MVMS" --remote "$URL" --token "$A" token create --scope read --description fresh 2>"$WORK/err")
RC=$?
is "$RC" 0 "remote token create prints the token"
case $NEW in
mvms_????????????????_*) ok "it looks like a token" ;;
*) not_ok "it looks like a token"; diag "got '$NEW'" ;;
esac
like "$(cat "$WORK/err")" "cannot be shown again" "and says it is shown once"
run "$MVMS" --remote "$URL" --token "$NEW" stats
is_rc 0 "the new token works"
NEW_ID=$(printf '%s' "$NEW" | cut -c6-21)
run "$MVMS" --remote "$URL" --token "$A" token revoke "$NEW_ID"
is_rc 0 "remote token revoke"
is "$OUT" "revoked token $NEW_ID" "it says which"
run "$MVMS" --remote "$URL" --token "$NEW" stats
is_rc 1 "the revoked token no longer works"
same "token list after create and revoke" token list
like "$(cat "$WORK/remote.out")" "fresh" "it shows the revoked token"
SAME_ERR=1 same "token revoke of an unknown id (exit 3, same message)" token revoke 0123456789abcdef
is "$L_RC" 3 "an unknown id exits 3"
SAME_ERR=1 same "token revoke --json of an unknown id" --json token revoke 0123456789abcdef
SAME_ERR=1 same "token revoke of a whole token pasted as the id" token revoke "$NEW"
unlike "$(cat "$WORK/err")" "${NEW#mvms_????????????????_}" "the error does not echo the secret"
SAME_ERR=1 same "token create with a bad glob" token create --scope read --model 'a b'

# ---- refusals ----
# refused TOKEN DESC ARGS...: exit 1, a message naming WHY (a regex), nothing changed
refused() {
	_t=$1
	_why=$2
	_d=$3
	shift 3
	run "$MVMS" --remote "$URL" --token "$_t" "$@"
	is_rc 1 "$_d: exit 1"
	like "$ERR" "$_why" "$_d: the message says why"
}
make_orphan
TOKENS_BEFORE=$("$MVMS" --store "$S" token list | wc -l)
refused "$R" "scope" "gc with a read token" gc --grace 0
refused "$R" "scope" "verify with a read token" verify
refused "$R" "scope" "token list with a read token" token list
refused "$R" "scope" "token create with a read token" token create --scope admin
refused "$R" "scope" "token revoke with a read token" token revoke "$(printf '%s' "$A" | cut -c6-21)"
refused "$P" "every model" "gc with an admin token for models m*" gc --grace 0
refused "$P" "every model" "stats with an admin token for models m*" stats
refused "$P" "every model" "token create with an admin token for models m*" token create --scope admin
check "no refused gc removed the orphan" test -f "$S/objects/packs/01/$ORPHAN_ID"
is "$("$MVMS" --store "$S" token list | wc -l)" "$TOKENS_BEFORE" "no refused call made a token"
run "$MVMS" --remote "$URL" --token "$A" stats
is_rc 0 "the admin token still works (no refused revoke went through)"
run "$MVMS" --remote "$URL" --token "$R" stats --json
is_rc 0 "stats with a read token of every model"
"$MVMS" --store "$S" gc --grace 0 >/dev/null 2>&1 || bail "local gc"

# ---- damage: one byte of m's pack flipped ----
SZ=$(file_size "$PACK")
OFF=$((SZ / 2))
OLD=$(dd if="$PACK" bs=1 skip=$OFF count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
NEWB=$(((OLD + 1) % 256))
printf "\\$(printf '%03o' "$NEWB")" | dd of="$PACK" bs=1 seek=$OFF conv=notrunc 2>/dev/null ||
	bail "cannot write into $PACK"
SAME_ERR=1 same "verify after a pack byte flip (same lines, same message)" verify
is "$L_RC" 1 "verify exits 1 on damage, locally and remotely"
like "$(cat "$WORK/remote.out")" "CORRUPT" "the remote verify names what is damaged"
like "$(cat "$WORK/remote.out")" "breaks: " "and what it breaks"
same "verify --json after a pack byte flip" --json verify
like "$(cat "$WORK/remote.out")" "\"ok\":${TAB}false" "the remote verify --json says ok: false"
same "verify --quick after a pack byte flip (sizes are intact)" verify --quick
same "stats after the damage" stats

done_testing
