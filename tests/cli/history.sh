#!/bin/sh
# SPDX-License-Identifier: MIT
# History you can edit, with the DAG kept honest: branch -f (compare-and-swap, --expect),
# branch -m, branch --default and -d of the default branch, tag -d; delete anywhere in the
# history (a tombstone shown in log, show, lineage; pull and diff say it was deleted;
# branches move to the first live ancestor; --no-move; tags and deployments hold unless
# --force); gc --grace 0 leaves no byte only a deleted version held (a marker grep over the
# whole store); model delete; prune.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
find_py
export MVMS_AUTHOR=alice

# v1..v5 of m on main: each adds a small file.
mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/t"
for i in 1 2 3 4 5; do
	echo "file $i" >"$WORK/t/f$i.txt"
	mvms push m "$WORK/t" -m "v$i" || true
	[ "$RC" = 0 ] || bail "push m v$i: $ERR"
done

# ---- branch -f: a compare-and-swap move ----
mvms branch m exp m@v2
is_rc 0 "branch m exp m@v2"
mvms branch -f m exp m@v4
is_rc 0 "branch -f m exp m@v4"
is "$(branch_at m exp)" v4 "exp moved to v4"
mvms branch -f m exp m@v3 --expect v2
is_rc 4 "--expect naming the wrong head: conflict (exit 4)"
like "$ERR" "is not at v2" "the message says the branch is not where expected"
is "$(branch_at m exp)" v4 "exp did not move"
mvms branch -f m exp m@v3 --expect m@v4
is_rc 0 "--expect naming the head: moves"
is "$(branch_at m exp)" v3 "exp is at v3"
mvms branch -f m nosuch m@v1 --expect v1
is_rc 4 "--expect on a branch that is not there: conflict (exit 4)"
is "$(branch_at m nosuch)" "" "and it was not created"
mvms branch -f m fresh m@v1
is_rc 0 "branch -f without --expect creates a missing branch"
is "$(branch_at m fresh)" v1 "fresh is at v1"
mvms branch -f m exp m@v99
is_rc 3 "branch -f to an unknown version: exit 3"
mvms branch -f m exp
is_rc 2 "branch -f without a target: usage error"
mvms branch -d m exp --expect v3
is_rc 2 "--expect without -f: usage error"
mvms --json branch -f m exp m@v2
is_rc 0 "branch -f --json"
is "$(json_get to)" "m@v2" "json: to"

# ---- branch -m: rename ----
mvms branch -m m fresh renamed
is_rc 0 "branch -m m fresh renamed"
is "$(branch_at m fresh)" "" "fresh is gone"
is "$(branch_at m renamed)" v1 "renamed is at v1"
mvms branch -m m renamed exp
rc_in "1 4" "renaming onto an existing branch is refused (exists)"
is "$(branch_at m renamed)" v1 "renamed did not move"
mvms branch -m m nope other
is_rc 3 "renaming an unknown branch: exit 3"
mvms branch -m m renamed v7
is_rc 1 "renaming to a reserved name is refused"

# ---- default branch ----
mvms branch --default m
is_rc 0 "branch --default m"
is "$OUT" main "the default branch is main"
mvms branch -d m main
is_rc 1 "deleting the default branch is refused"
like "$ERR" "default branch" "the message says it is the default branch"
mvms branch --default m exp
is_rc 0 "branch --default m exp"
mvms show m
like "$OUT" "m@v2" "MODEL (latest) is now exp's head, v2"
mvms branch -m m exp trunk
is_rc 0 "renaming the default branch"
mvms branch --default m
is "$OUT" trunk "the default follows the rename"
mvms branch -d m main
is_rc 0 "main can go once it is not the default"
mvms branch -d m trunk
is_rc 1 "the new default is protected"
mvms branch -d --force m trunk
is_rc 0 "branch -d --force deletes the default branch"
mvms branch --default m
is "$OUT" main "with the default gone, main is the default again"
mvms branch m main m@v5
is_rc 0 "branch m main m@v5"
mvms branch --default m main
is_rc 0 "main is the default again"
mvms branch --default m nope
is_rc 3 "an unknown branch cannot be the default"
mvms branch -d m renamed
is_rc 0 "branch -d m renamed"

# The last branch of a model may go even when it is the default.
mvms push solo "$WORK/t" -m solo
mvms branch -d solo main
is_rc 0 "the last (default) branch of a model can be deleted"

# ---- tag -d ----
mvms tag m@v1 rel-1
is_rc 0 "tag m@v1 rel-1"
mvms tag -d m rel-1
is_rc 0 "tag -d m rel-1"
mvms tags m
unlike "$OUT" "rel-1" "rel-1 is gone"
mvms tag -d m rel-1
is_rc 3 "deleting it again: exit 3"
mvms tag -d m
is_rc 2 "tag -d without a name: usage error"

# ---- delete anywhere in the history ----
mvms delete m@v2
is_rc 0 "delete m@v2 (a parent of v3, in the middle)"
like "$OUT" "deleted m@v2" "says it deleted m@v2"
mvms log m
like "$OUT" "v2  [deleted]" "log marks v2 deleted"
unlike "$(printf '%s\n' "$OUT" | grep 'm@v3 ')" "[deleted]" "log does not mark v3"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 5 "log still lists 5 versions"
mvms show m@v2
is_rc 0 "show m@v2 works on a tombstone"
like "$OUT" "deleted  " "show has a deleted line"
like "$OUT" "by alice" "show says by whom"
like "$OUT" "parent   m@v1" "its parent is kept"
mvms --json show m@v2
jq_is "$WORK/out" "d['deleted']['by'], d['author'], d['message'], len(d['file_list'])" \
	"('alice', 'alice', 'v2', 0)" "show --json: deleted.by, author and message kept, no files"
mvms --json show m@v3
jq_is "$WORK/out" "'deleted' in d" "False" "show --json of a live version has no 'deleted'"
mvms show m@v3
like "$OUT" "parent   m@v2" "v3 still names v2 as its parent"
mvms lineage m@v3
like "$OUT" "m@v2" "lineage shows v2"
like "$OUT" "[deleted]" "lineage marks it deleted"
mvms --json lineage m@v3
jq_is "$WORK/out" "[n['version'] for n in d['nodes'] if 'deleted_at' in n]" "[2]" \
	"lineage --json: v2 has deleted_at"
mvms pull m@v2 -o "$WORK/o2"
is_rc 3 "pull of a deleted version: exit 3"
like "$ERR" "was deleted by alice at" "the pull says it was deleted, by whom and when"
[ -e "$WORK/o2" ] && [ -n "$(ls -A "$WORK/o2")" ] && not_ok "pull wrote nothing" || ok "pull wrote nothing"
mvms diff m@v1 m@v2
is_rc 3 "diff against a deleted version: exit 3"
like "$ERR" "m@v2 was deleted" "diff says it was deleted"
mvms pull m@v3 -o "$WORK/o3"
is_rc 0 "v3 (a child of the tombstone) still pulls"
is "$(cat "$WORK/o3/f2.txt")" "file 2" "with v2's file, which it shares"
mvms delete m@v2
is_rc 3 "deleting it again: exit 3"
mvms verify
is_rc 0 "verify does not count a tombstone as damage"

# Deleting a branch head: the branch moves to the first live ancestor (skipping v2).
mvms branch m side m@v3
mvms delete m@v3 --no-move
is_rc 4 "--no-move refuses when a branch points at it"
like "$ERR" "side" "and names the branch"
mvms delete m@v3
is_rc 0 "delete m@v3 (branch side points at it)"
like "$OUT" "moved branch side to m@v1" "side moved past the tombstone v2 to v1"
is "$(branch_at m side)" v1 "side is at v1"
mvms --json delete m@v4 --dry-run
is_rc 0 "delete --dry-run --json"
jq_is "$WORK/out" "d['dry_run'], d['version'], d['deleted']['by']" "(True, 4, 'alice')" \
	"dry-run json: version and author"
mvms show m@v4
unlike "$OUT" "deleted " "a dry run deletes nothing"

# A tag or a deployment holds a version unless --force.
mvms tag m@v4 keep
mvms delete m@v4
is_rc 4 "a tagged version is refused (exit 4)"
like "$ERR" "tag keep" "the message names the tag"
mvms deploy m@v1 prod
is_rc 0 "deploy m@v1 prod"
mvms delete m@v1
is_rc 4 "a deployed version is refused (exit 4)"
like "$ERR" "deployment prod" "the message names the deployment"
mvms --json delete m@v4 --force
is_rc 0 "delete --force a tagged version"
jq_is "$WORK/out" "d['held']" "['tag keep']" "json: it says the tag still names it"
mvms deploy m@v4 staging
is_rc 3 "deploying a deleted version: exit 3"
like "$ERR" "was deleted" "says it was deleted"
mvms deploy m@v5 prod
is_rc 0 "deploy m@v5 prod (revision 2)"
mvms deploy m@v1 prod
is_rc 0 "deploy m@v1 prod again (revision 3)"
mvms delete m@v5
is_rc 0 "delete m@v5 (prod's previous revision)"
mvms rollback m prod
is_rc 3 "rollback to a revision whose version was deleted: exit 3"
like "$ERR" "m@v5 was deleted" "says which version was deleted"
mvms deployments m prod
like "$OUT" "v1" "prod still serves m@v1"
mvms delete m@v99
is_rc 3 "delete of an unknown version: exit 3"
mvms delete
is_rc 2 "delete without a version: usage error"

# A branch with no live ancestor to go to: refused.
mvms push lone "$WORK/t" -m only
mvms delete lone@v1
is_rc 4 "deleting the only version under a branch: refused"
like "$ERR" "no live ancestor" "the message says why"

# ---- gc --grace 0 leaves no byte only the deleted version held ----
MARK="mvms-history-marker-$$-7d1c0b"
mkdir -p "$WORK/s1" "$WORK/s2"
# Random bytes do not compress, so the packs hold the marker verbatim until gc.
head -c 200000 /dev/urandom >"$WORK/s1/secret.bin"
printf '%s' "$MARK" >>"$WORK/s1/secret.bin"
head -c 200000 /dev/urandom >>"$WORK/s1/secret.bin"
head -c 300000 /dev/urandom >"$WORK/s1/keep.bin"
echo base >"$WORK/s2/base.txt"
echo base >"$WORK/s1/base.txt"
mvms push sec "$WORK/s2" -m base
mvms push sec "$WORK/s1" -m "oops: secret"
is_rc 0 "push sec@v2 with secret.bin next to keep.bin (one pack)"
rm "$WORK/s1/secret.bin"
mvms push sec "$WORK/s1" -m "secret removed"
is_rc 0 "push sec@v3 without it (keep.bin still used, from v2's pack)"
MVMS_STORE_DIR=$MVMS_STORE
hits() { grep -r -a -l -F "$MARK" "$MVMS_STORE_DIR" 2>/dev/null | wc -l | tr -d ' '; }
num_gt "$(hits)" 0 "before: the marker is in the store (so this test can fail)"
mvms delete sec@v2
is_rc 0 "delete sec@v2"
mvms gc --grace 0
is_rc 0 "gc --grace 0"
like "$OUT" "rewrote 1 pack" "gc rewrote the pack that mixed used and unused chunks"
is "$(hits)" 0 "after gc: no file under the store holds the marker"
mvms pull sec@v3 -o "$WORK/o-sec"
is_rc 0 "sec@v3 still pulls"
check "keep.bin (which shared the pack) is intact" cmp "$WORK/s1/keep.bin" "$WORK/o-sec/keep.bin"
mvms verify
is_rc 0 "verify is clean after the rewrite"
mvms --json gc --grace 0
is "$(json_get rewritten_packs)" 0 "a second gc has nothing to rewrite"

# ---- model delete ----
mvms push ft2 "$WORK/t" -m ft --parent m@v5
is_rc 3 "a push naming a deleted version as its parent: exit 3"
mvms push ft "$WORK/t" -m ft --parent m@v1
mvms model delete ft
is_rc 2 "model delete without --yes: exit 2"
like "$ERR" "would delete model ft with 1 version" "and says what it would delete"
like "$ERR" "--yes" "and how to go on"
mvms models
like "$OUT" "ft" "ft is still there"
mvms model delete m --yes
is_rc 4 "a model another model's version was made from: refused (exit 4)"
like "$ERR" "1 version of 1 other model was made from versions of m" "the message says what holds it"
mvms model delete ft --yes
is_rc 0 "model delete ft --yes"
mvms models
unlike "$OUT" "ft" "ft is gone"
mvms --json model delete m --yes
is_rc 0 "model delete m --yes --json"
jq_is "$WORK/out" "d['deleted'], d['versions'], d['environments']" "(True, 5, 1)" \
	"json: counts of what went"
mvms log m
is_rc 3 "the model is gone"
mvms deployments m
is_rc 3 "with its deployments"
mvms model delete m --yes
is_rc 3 "deleting it again: exit 3"
mvms gc --grace 0
is_rc 0 "gc after model delete"
mvms verify
is_rc 0 "verify is clean"

# ---- prune ----
for i in 1 2 3 4 5 6; do
	echo "p $i" >"$WORK/t/p.txt"
	mvms push p "$WORK/t" -m "p$i"
done
mvms tag p@v2 rel
mvms deploy p@v3 prod
mvms branch p old p@v1
mvms prune p
is_rc 2 "prune without --keep-last: usage error"
mvms prune p --keep-last 2 --keep-tagged --keep-deployed --dry-run
is_rc 0 "prune --dry-run"
like "$OUT" "would delete p@v4" "would delete v4"
unlike "$OUT" "p@v1 " "keeps v1 (branch old's head)"
unlike "$OUT" "p@v2 " "keeps v2 (tagged)"
unlike "$OUT" "p@v3 " "keeps v3 (deployed)"
unlike "$OUT" "p@v5 " "keeps v5 (last 2)"
mvms log p
unlike "$OUT" "[deleted]" "a dry run deletes nothing"
mvms prune p --keep-last 2 --older-than 1d
is_rc 0 "prune --older-than 1d"
like "$OUT" "deleted 0 versions" "nothing is that old"
mvms --json prune p --keep-last 2 --keep-deployed
is_rc 0 "prune --keep-last 2 --keep-deployed --json"
jq_is "$WORK/out" "sorted(v['version'] for v in d['deleted'])" "[2, 4]" "deleted v2 (tag not kept) and v4"
jq_is "$WORK/out" "[v.get('held_by') for v in d['deleted'] if v['version'] == 2]" "['tag rel']" \
	"json: v2 was held by tag rel"
mvms log p
is "$(printf '%s\n' "$OUT" | grep -c '\[deleted\]')" 2 "log shows two deleted versions"
mvms prune p --keep-last x
is_rc 2 "--keep-last x: usage error"
mvms prune p --keep-last 1 --older-than soon
is_rc 2 "--older-than soon: usage error"
mvms prune nope --keep-last 1
is_rc 3 "prune of an unknown model: exit 3"
mvms prune p --keep-last 1 --branch nope
is_rc 3 "prune along an unknown branch: exit 3"
mvms gc --grace 0
mvms verify
is_rc 0 "verify is clean after prune and gc"

done_testing
