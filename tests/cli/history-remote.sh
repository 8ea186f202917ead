#!/bin/sh
# SPDX-License-Identifier: MIT
# Editing history through a server: every command of history.sh with --remote (branch -f
# with --expect, -m, --default, -d --force, tag -d, delete and its tombstone in log, show and
# lineage, pull of a deleted version, prune, model delete) gives the local output and exit
# code; the endpoints answer curl as docs/http-api.md says; scopes (read cannot delete,
# write cannot delete a model, admin can).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
find_py
. "$TESTS_SRCDIR/cli/srv.sh"

S=$WORK/server
"$MVMS" --store "$S" init -q >/dev/null 2>&1 || bail "init the server's store"
A=$("$MVMS" --store "$S" token create --scope admin 2>/dev/null) || bail "admin token"
W=$("$MVMS" --store "$S" token create --scope write 2>/dev/null) || bail "write token"
R=$("$MVMS" --store "$S" token create --scope read 2>/dev/null) || bail "read token"
SRV_STORE=$S
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME MVMS_AUTHOR=bob
rem() {
	run "$MVMS" --remote "$URL" --token "$W" "$@"
}

mkdir -p "$WORK/t"
for i in 1 2 3 4 5; do
	echo "file $i" >"$WORK/t/f$i.txt"
	rem push m "$WORK/t" -m "v$i"
	[ "$RC" = 0 ] || bail "remote push m v$i: $ERR"
done

# ---- branches ----
rem branch m exp m@v2
is_rc 0 "remote branch m exp m@v2"
rem branch -f m exp m@v4
is_rc 0 "remote branch -f"
is "$("$MVMS" --store "$S" branches m | awk '$1 == "exp" { print $2 }')" v4 "exp moved to v4 on the server"
rem branch -f m exp m@v3 --expect v2
is_rc 4 "remote --expect naming the wrong head: exit 4"
like "$ERR" "is not at v2" "with the local message"
rem branch -f m nosuch m@v1 --expect v1
is_rc 4 "remote --expect on a missing branch: exit 4"
rem --json branch -f m exp m@v3 --expect m@v4
is_rc 0 "remote --expect naming the head"
is "$(json_get to)" "m@v3" "json: to"
rem branch -m m exp trunk
is_rc 0 "remote branch -m"
rem branch -m m nope x
is_rc 3 "remote rename of an unknown branch: exit 3"
rem branch --default m
is "$OUT" main "remote branch --default: main"
rem branch -d m main
is_rc 1 "remote: the default branch is refused"
like "$ERR" "default branch" "with the local message"
rem branch --default m trunk
is_rc 0 "remote branch --default m trunk"
rem branch --default m
is "$OUT" trunk "the default is trunk"
rem branch -d --force m trunk
is_rc 0 "remote branch -d --force of the default branch"
rem branches m
is "$(printf '%s\n' "$OUT" | awk '{ print $1 }' | tr '\n' ' ')" "main " "only main is left"

# ---- tags ----
rem tag m@v1 rel
rem tag -d m rel
is_rc 0 "remote tag -d"
rem tag -d m rel
is_rc 3 "remote tag -d of a missing tag: exit 3"

# ---- delete and tombstones ----
rem delete m@v2
is_rc 0 "remote delete m@v2"
like "$OUT" "deleted m@v2" "says what it deleted"
rem log m
like "$OUT" "v2  [deleted]" "remote log marks v2 deleted"
rem --json show m@v2
jq_is "$WORK/out" "d['deleted']['by'], d['message'], len(d['file_list'])" "('bob', 'v2', 0)" \
	"remote show --json: deleted.by (the client's author), message kept, no files"
rem show m@v2
like "$OUT" "deleted  " "remote show has the deleted line"
rem lineage m@v3
like "$OUT" "[deleted]" "remote lineage marks it"
rem pull m@v2 -o "$WORK/o2"
is_rc 3 "remote pull of a deleted version: exit 3"
like "$ERR" "was deleted by bob at" "says by whom and when"
rem diff m@v1 m@v2
is_rc 3 "remote diff against it: exit 3"
rem delete m@v5 --no-move
is_rc 4 "remote --no-move: exit 4"
rem --json delete m@v5
is_rc 0 "remote delete of main's head"
jq_is "$WORK/out" "[(x['branch'], x['version']) for x in d['moved']]" "[('main', 4)]" \
	"json: main moved to v4"
rem tag m@v4 keep
rem delete m@v4
is_rc 4 "remote delete of a tagged version: exit 4"
run "$MVMS" --remote "$URL" --token "$R" delete m@v3
is_rc 1 "a read token cannot delete"
like "$ERR" "scope" "the message names the scope"

# ---- prune ----
for i in 1 2 3 4; do
	echo "p $i" >"$WORK/t/p.txt"
	rem push p "$WORK/t" -m "p$i"
done
rem prune p --keep-last 2 --dry-run
is_rc 0 "remote prune --dry-run"
like "$OUT" "would delete p@v2" "lists p@v2"
rem --json prune p --keep-last 2
is_rc 0 "remote prune --json"
jq_is "$WORK/out" "sorted(v['version'] for v in d['deleted'])" "[1, 2]" "deleted v1 and v2"
rem prune p
is_rc 2 "remote prune without --keep-last: usage error"

# ---- model delete: admin only ----
rem model delete p
is_rc 2 "remote model delete without --yes: exit 2"
like "$ERR" "would delete model p with 4 versions" "says what it would delete"
rem model delete p --yes
is_rc 1 "a write token cannot delete a model"
run "$MVMS" --remote "$URL" --token "$A" --json model delete p --yes
is_rc 0 "an admin token can"
is "$(json_get versions)" 4 "json: 4 versions"
rem log p
is_rc 3 "p is gone"

# ---- the endpoints with curl ----
req DELETE "$URL/v1/models/m/tags/keep" -H "Authorization: Bearer $W"
is_code 200 "DELETE /v1/models/m/tags/keep"
req DELETE "$URL/v1/models/m/tags/keep" -H "Authorization: Bearer $W"
is_code 404 "again: 404"
req PUT "$URL/v1/models/m/branches/main" -H "Authorization: Bearer $W" \
	-H "Content-Type: application/json" -d '{"to": "v3", "expect": "v1"}'
is_code 409 "PUT branches/main with a wrong expect: 409"
req PUT "$URL/v1/models/m/branches/main" -H "Authorization: Bearer $W" \
	-H "Content-Type: application/json" -d '{"to": "other@v1"}'
is_code 400 "PUT branches/main to another model's version: 400"
req PUT "$URL/v1/models/m/branches/main" -H "Authorization: Bearer $W" \
	-H "Content-Type: application/json" -d '{"expect": "v3"}'
is_code 400 "PUT branches/main without to: 400"
req DELETE "$URL/v1/models/m/versions/v3?dry_run=1&author=carol" -H "Authorization: Bearer $W"
is_code 200 "DELETE versions/v3?dry_run=1"
is "$(jstr by)" carol "the reply names the author given"
req DELETE "$URL/v1/models/m/versions/v3?force=maybe" -H "Authorization: Bearer $W"
is_code 400 "a bad flag value: 400"
req POST "$URL/v1/models/m/prune" -H "Authorization: Bearer $W" \
	-H "Content-Type: application/json" -d '{"keep_last": -1}'
is_code 400 "prune with keep_last -1: 400"
req GET "$URL/v1/models/m/default-branch" -H "Authorization: Bearer $R"
is_code 200 "GET default-branch with a read token"
is "$(jstr default)" main "default is main"
req DELETE "$URL/v1/models/m" -H "Authorization: Bearer $W"
is_code 403 "DELETE /v1/models/m with a write token: 403"

# ---- a deleted version's bytes leave the server's store at a remote gc ----
MARK="mvms-remote-marker-$$-5e0a"
mkdir -p "$WORK/s"
head -c 150000 /dev/urandom >"$WORK/s/secret.bin"
printf '%s' "$MARK" >>"$WORK/s/secret.bin"
head -c 150000 /dev/urandom >>"$WORK/s/secret.bin"
head -c 200000 /dev/urandom >"$WORK/s/keep.bin"
rem push sec "$WORK/s" -m "with a secret"
rm "$WORK/s/secret.bin"
rem push sec "$WORK/s" -m "without it"
hits() { grep -r -a -l -F "$MARK" "$S" 2>/dev/null | wc -l | tr -d ' '; }
num_gt "$(hits)" 0 "the marker reached the server's packs"
rem delete sec@v1
is_rc 0 "remote delete sec@v1"
run "$MVMS" --remote "$URL" --token "$A" gc --grace 0
is_rc 0 "remote gc --grace 0 (admin)"
like "$OUT" "rewrote 1 pack" "it rewrote the pack sec@v2 shares"
is "$(hits)" 0 "no file of the server's store holds the marker"
rem pull sec@v2 -o "$WORK/o-sec"
check "sec@v2 still pulls keep.bin" cmp "$WORK/s/keep.bin" "$WORK/o-sec/keep.bin"

run "$MVMS" --store "$S" gc --grace 0
is_rc 0 "gc on the server's store"
run "$MVMS" --store "$S" verify
is_rc 0 "the server's store verifies"

done_testing
