#!/bin/sh
# SPDX-License-Identifier: MIT
# The store's log (docs/formats.md, "The log"): every ref change is an entry in the object
# store, so reindex rebuilds the database from the objects alone, byte for byte as the
# outputs go; a second database on the same objects (a second server on one bucket) sees
# what the first commits, and concurrent pushes through both make one linear chain; a store
# made without a log starts one with its rows, once.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

mkmodel -q --size 1M --tensors 4 --seed 31 "$WORK/v1"
mkmodel -q --size 1M --tensors 4 --seed 31 --change 50 --change-seed 3 "$WORK/v2"
mkmodel -q --size 1M --tensors 4 --seed 31 --change 50 --change-seed 4 "$WORK/v3"
mkmodel -q --size 1M --tensors 4 --seed 32 "$WORK/b1"

# snap STORE FILE: every rendering the log must reproduce
snap() {
	: > "$2"
	for _c in "log m" "log b" "branches m" "tags m" "deployments m" "lineage m" \
		"lineage b" "models" "token list" "ls m@v3" "rollout m prod"; do
		printf '== %s\n' "$_c" >> "$2"
		# shellcheck disable=SC2086
		"$MVMS" --store "$1" --json $_c >> "$2" 2>&1
		printf 'rc %s\n' "$?" >> "$2"
	done
}

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push m "$WORK/v1" -m one && mvms push m "$WORK/v2" -m two
is_rc 0 "two pushes" || bail "push failed"
mvms branch m exp m@v1 && mvms push m "$WORK/v3" -b exp -m three
is_rc 0 "branch exp, push on it"
mvms tag m@v2 stable && mvms tag m@exp exptag
is_rc 0 "tags"
mvms push b "$WORK/b1" --parent m@v2 -m "from m"
is_rc 0 "a model whose first version has a parent in m"
mvms deploy m@v2 prod --endpoint http://127.0.0.1:9 -m first
is_rc 0 "deploy"
# A progressive rollout (its record is logged; its counters and notifications are not).
mvms deploy m@v3 prod --canary 10,50,100 --max-error-rate 0.2 --endpoint http://127.0.0.1:9 -m canary
is_rc 0 "deploy --canary: a rollout starts at step 1"
mvms deploy m prod --pause
is_rc 0 "pause the rollout (an update of its row)"
mvms rollout m prod --json
like "$OUT" '"paused"' "the rollout is paused"
mvms token create --scope read -d reader
is_rc 0 "token create"
TOK=$(printf '%s\n' "$OUT" | sed -n 's/^mvms_\([0-9a-f]*\)_.*/\1/p')
mvms token revoke "$TOK"
is_rc 0 "token revoke"
mvms branch m tmp && mvms branch --delete m tmp
is_rc 0 "branch create and delete"
mvms delete m@v1 --force
is_rc 0 "delete v1 (a tombstone)"
# Entry 0 marks the start of the log (written at init); changes are 1, 2, ...
is "$(ls "$MVMS_STORE/objects/log" | head -1)" 00000000000000000000 "entry 0 was written at init"
N=$(ls "$MVMS_STORE/objects/log" | grep -cv '^0*$')
num_ge "$N" 10 "each change is a log entry ($N)"

snap "$MVMS_STORE" "$WORK/before"
mvms reindex
is_rc 0 "reindex"
like "$OUT" "from $N log entries" "reindex applied every entry"
snap "$MVMS_STORE" "$WORK/after"
check "log, branches, tags, deployments, lineage, models, tokens, ls, rollout: byte for byte after reindex" cmp -s "$WORK/before" "$WORK/after"

# A second database on the same objects: what a second server on one bucket is.
mkdir "$WORK/s2" && ln -s "$MVMS_STORE/objects" "$WORK/s2/objects"
"$MVMS" --store "$WORK/s2" init -q >/dev/null 2>&1
snap "$WORK/s2" "$WORK/s2snap"
check "a new database on the objects catches up to the same outputs" cmp -s "$WORK/before" "$WORK/s2snap"
mvms --store "$WORK/s2" deploy m prod --resume
is_rc 0 "resume the rollout through the second database"
mvms rollout m prod --json
like "$OUT" '"running"' "the first database sees the rollout resumed by the second"
mvms --store "$WORK/s2" pull m@exp -o "$WORK/o2"
is_rc 0 "pull through the second database"
check "what it pulls is the pushed tree" same_tree "$WORK/v3" "$WORK/o2"
mvms --store "$WORK/s2" tag m@v3 from2
mvms tags m
like "$OUT" "from2" "a tag made through the second is seen by the first"
mvms --store "$WORK/s2" token create --scope write -d second
TOK2=$(printf '%s\n' "$OUT" | sed -n 's/^mvms_\([0-9a-f]*\)_.*/\1/p')
SECRET2=$OUT
mvms token list
like "$OUT" "$TOK2" "a token made through the second is listed by the first (hash only in the log)"
unlike "$(cat "$MVMS_STORE"/objects/log/*)" "${SECRET2#mvms_*_}" "no token secret in the log"

# Concurrent pushes to one branch through both databases: losers retry on exit 4.
HEAD0=$("$MVMS" log m | head -1 | awk '{ print $1 }')
i=1
while [ $i -le 6 ]; do
	mkdir -p "$WORK/c$i" && cp "$WORK/v1"/* "$WORK/c$i"/ && printf 'w%s\n' $i > "$WORK/c$i/who"
	(
		db=$MVMS_STORE
		[ $((i % 2)) -eq 0 ] && db=$WORK/s2
		t=0
		while [ $t -lt 20 ]; do
			"$MVMS" --store "$db" push m "$WORK/c$i" -m "c$i" -q >/dev/null 2>"$WORK/c$i.err"
			rc=$?
			[ $rc -eq 0 ] && break
			[ $rc -eq 4 ] || { echo "rc $rc" >> "$WORK/c$i.err"; break; }
			t=$((t + 1))
		done
		echo $rc > "$WORK/c$i.rc"
	) &
	i=$((i + 1))
done
wait
is "$(cat "$WORK"/c*.rc | sort -u | tr '\n' ' ')" "0 " "every concurrent push got in (retrying on conflicts)"
mvms log m
is "$(printf '%s\n' "$OUT" | grep -cE ' c[1-6]( |$)')" 6 "six new versions, none lost"
# One linear chain: each new version's first parent is the one before it.
"$MVMS" --json log m > "$WORK/log.json"
V=$(grep -c '"version"' "$WORK/log.json")
is "$(for k in 1 2 3 4 5 6; do "$MVMS" log m | grep -E " c$k( |\$)" | awk '{ print $1 }'; done | sort -u | wc -l |
	tr -d ' ')" 6 "six distinct version numbers"
snap "$MVMS_STORE" "$WORK/one"
snap "$WORK/s2" "$WORK/two"
check "both databases agree after the race" cmp -s "$WORK/one" "$WORK/two"
mvms reindex
snap "$MVMS_STORE" "$WORK/three"
check "and reindex agrees with both" cmp -s "$WORK/one" "$WORK/three"
diag "head before the race: $HEAD0; versions in the log: $V"

# A store made without a log (as before it existed) starts one with its rows, once.
MVMS_SINGLE_WRITER=1 "$MVMS" --store "$WORK/old" init -q >/dev/null 2>&1
MVMS_SINGLE_WRITER=1 "$MVMS" --store "$WORK/old" push m "$WORK/v1" -m one -q >/dev/null 2>&1
MVMS_SINGLE_WRITER=1 "$MVMS" --store "$WORK/old" tag m@v1 t -q >/dev/null 2>&1
is "$(ls "$WORK/old/objects/log" 2>/dev/null | wc -l | tr -d ' ')" 0 "single-writer: no log"
mvms --store "$WORK/old" tags m
like "$OUT" "t                        v1" "opened with the log: its rows are there"
is "$(ls "$WORK/old/objects/log" | tr '\n' ' ')" "00000000000000000000 00000000000000000001 " \
	"and the first entry holds them"
mvms --store "$WORK/old" reindex
is_rc 0 "reindex of the upgraded store"
mvms --store "$WORK/old" tags m
like "$OUT" "t                        v1" "the tag came back from the first entry"

# gc through one database honours a lease taken through another (leases/<id> in the bucket).
W=$("$MVMS" token create --scope write 2>/dev/null) || bail "token"
SRV_STORE=$MVMS_STORE srv_start one
req POST "$URL/v1/leases" -H "Authorization: Bearer $W"
is "$CODE" 201 "a lease through a server on the first database"
L=$(printf '%s' "$BODY" | sed 's/.*"lease":"\([0-9a-f]*\)".*/\1/')
check "the lease is an object in the bucket" test -f "$MVMS_STORE/objects/leases/$L"
sleep 2
ORPHAN=files/ee/ee$(printf '%062d' 7)
mkdir -p "$MVMS_STORE/objects/files/ee" && printf 'orphan' > "$MVMS_STORE/objects/$ORPHAN"
sleep 2
mvms --store "$WORK/s2" gc --grace 0
is_rc 0 "gc --grace 0 through the second database"
check "it kept an object written after the other database's lease started" \
	test -f "$MVMS_STORE/objects/$ORPHAN"
req DELETE "$URL/v1/leases/$L" -H "Authorization: Bearer $W"
check "released: the lease object is gone" test ! -f "$MVMS_STORE/objects/leases/$L"
mvms --store "$WORK/s2" gc --grace 0
check "with the lease released, gc removes the unreferenced object" \
	test ! -f "$MVMS_STORE/objects/$ORPHAN"
srv_stop_all
done_testing
