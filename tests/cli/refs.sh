#!/bin/sh
# SPDX-License-Identifier: MIT
# Refs: branches (create, push to, list, log along, delete; main cannot be deleted),
# tags, cross-model parents, id prefixes that match nothing.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

mkmodel -q --size 1M --tensors 4 --seed 21 "$WORK/v1"
mkmodel -q --size 1M --tensors 4 --seed 21 --change 50 --change-seed 3 "$WORK/v2"
mkmodel -q --size 1M --tensors 4 --seed 21 --change 50 --change-seed 4 "$WORK/v3"
mkmodel -q --size 1M --tensors 4 --seed 22 "$WORK/base"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push m "$WORK/v1" -m one
is_rc 0 "push m v1" || bail "push failed"
ID1=$(push_id)

mvms branch m exp
is_rc 0 "branch m exp (from main)"
is "$(branch_at m exp)" v1 "exp starts at main's head (v1)"
mvms branch m exp
is_rc 4 "creating an existing branch again is an error: exists (exit 4)"

mvms push m "$WORK/v2" -b exp -m "on exp"
is_rc 0 "push -b exp"
like "$OUT" "m@v2 " "it is m@v2"
ID2=$(push_id)
is "$(branch_at m exp)" v2 "push -b exp moves exp to v2"
is "$(branch_at m main)" v1 "push -b exp leaves main at v1"

mvms branches m
is_rc 0 "branches m"
is "$(printf '%s\n' "$OUT" | awk '{ print $1 }' | sort | tr '\n' ' ')" "exp main " "branches lists exp and main"
mvms branches --json m
like "$OUT" "\"name\":${TAB}\"exp\"" "branches --json has exp"
like "$OUT" "\"name\":${TAB}\"main\"" "branches --json has main"

mvms pull m@exp -o "$WORK/o-exp"
is_rc 0 "pull m@exp"
check "m@exp is v2's content" cmp "$WORK/v2/model.safetensors" "$WORK/o-exp/model.safetensors"
mvms pull m@latest -o "$WORK/o-latest"
check "m@latest is still v1 (head of main)" cmp "$WORK/v1/model.safetensors" "$WORK/o-latest/model.safetensors"

mvms show --json m@v2
like "$OUT" "\"id\":${TAB}\"$ID1\"" "v2's parent is v1 (exp's head when pushed)"

mvms push m "$WORK/v3" -m "on main"
is_rc 0 "push to main again"
is "$(branch_at m main)" v3 "main moves to v3"
is "$(branch_at m exp)" v2 "exp stays at v2"

mvms log m -b exp
is_rc 0 "log m -b exp"
is "$(printf '%s\n' "$OUT" | sed 's/[[:space:]].*//' | tr '\n' ' ')" "m@v2 m@v1 " "log -b exp lists v2 then v1 (not v3)"
mvms log m -b main
is "$(printf '%s\n' "$OUT" | sed 's/[[:space:]].*//' | tr '\n' ' ')" "m@v3 m@v1 " "log -b main lists v3 then v1 (not v2)"
mvms log m
is "$(printf '%s\n' "$OUT" | sed 's/[[:space:]].*//' | tr '\n' ' ')" "m@v3 m@v2 m@v1 " "log m lists all versions newest first"
mvms log m -b nope
is_rc 3 "log along an unknown branch exits 3"

mvms branch m fromv1 m@v1
is_rc 0 "branch m fromv1 m@v1 (explicit start)"
is "$(branch_at m fromv1)" v1 "fromv1 is at v1"
mvms branch m bad m@v99
is_rc 3 "branch from an unknown version exits 3"

mvms branch -d m exp
is_rc 0 "branch -d m exp"
is "$(branch_at m exp)" "" "exp is gone from branches"
mvms pull m@exp -o "$WORK/o-gone"
is_rc 3 "pull m@exp after deleting it exits 3"
mvms pull m@v2 -o "$WORK/o-v2"
is_rc 0 "the version stays reachable by number after its branch is deleted"
mvms branch -d m main
is_rc 1 "deleting main is refused"
is "$(branch_at m main)" v3 "main is still there"
mvms branch -d m nope
is_rc 3 "deleting an unknown branch exits 3"

# ---- tags ----
mvms tag m@v1 rel-1.0
is_rc 0 "tag m@v1 rel-1.0"
mvms tag m@exp2 x
is_rc 3 "tagging through an unknown ref exits 3"
mvms tag m@v3 rel-2.0
is_rc 0 "tag m@v3 rel-2.0"
mvms tags m
is_rc 0 "tags m"
is "$(printf '%s\n' "$OUT" | awk '{ print $1 ":" $2 }' | sort | tr '\n' ' ')" "rel-1.0:v1 rel-2.0:v3 " "tags lists both tags with their versions"
mvms push m "$WORK/v2"
is_rc 0 "push to main again"
mvms pull m@rel-2.0 -o "$WORK/o-tag"
check "a tag does not move when its branch does" cmp "$WORK/v3/model.safetensors" "$WORK/o-tag/model.safetensors"

# ---- cross-model parents ----
mvms push other "$WORK/base" -m base
is_rc 0 "push other@v1"
OTHER_ID=$(push_id)
mvms push ft "$WORK/v1" --parent other@v1 -m "fine-tune of other"
is_rc 0 "push ft --parent other@v1"
mvms show ft@v1
is_rc 0 "show ft@v1"
like "$OUT" "other@v1" "show names the cross-model parent other@v1"
check "show has a parent line for it" sh -c 'printf "%s\n" "$1" | grep -q "^parent[[:space:]][[:space:]]*other@v1"' sh "$OUT"
mvms show --json ft@v1
cp "$WORK/out" "$WORK/ft.json"
like "$(cat "$WORK/ft.json")" "\"model\":${TAB}\"other\"" "show --json parents has model other"
like "$(cat "$WORK/ft.json")" "\"id\":${TAB}\"$OTHER_ID\"" "show --json parents has other@v1's id"
check "the parent is inside the parents array" sh -c 'sed -n "/\"parents\":/,/\]/p" "$1" | grep -q "$2"' sh "$WORK/ft.json" "$OTHER_ID"
mvms push ft2 "$WORK/v1" --parent other@v1 --parent m@v2
is_rc 0 "push with two --parent options"
mvms show --json ft2@v1
check "both parents are recorded" sh -c 'sed -n "/\"parents\":/,/\]/p" "$1" | grep -q "$2" && sed -n "/\"parents\":/,/\]/p" "$1" | grep -q "$3"' sh "$WORK/out" "$OTHER_ID" "$ID2"
mvms push ft3 "$WORK/v1" --parent other@v99
is_rc 3 "--parent naming an unknown version exits 3"
mvms log ft3
is_rc 3 "and creates no version: the model is unknown (exit 3)"

# ---- id prefixes ----
mvms pull "m@$(printf '%s' "$ID2" | cut -c1-6)" -o "$WORK/o-p6"
is_rc 0 "a 6-hex id prefix resolves"
ALL_IDS=$(for r in m@v1 m@v2 m@v3 m@v4 other@v1 ft@v1 ft2@v1; do "$MVMS" show --json "$r" 2>/dev/null; done)
NOMATCH=
for p in 000000 ffffff 123456 abcdef 0f0f0f; do
	case $ALL_IDS in
	*"\"$p"*) ;;
	*) NOMATCH=$p; break ;;
	esac
done
[ -n "$NOMATCH" ] || bail "every candidate prefix matched some id"
mvms pull "m@$NOMATCH" -o "$WORK/o-nomatch"
is_rc 3 "a 6-hex id prefix that matches nothing exits 3"
like "$ERR" "$NOMATCH" "the message names the prefix"

# ---- concurrent pushes to one branch ----
# Several first pushes to a new model race on registering it and on moving main. The
# documented outcome: each push either succeeds or fails with exit 4 ("branch moved",
# nothing committed); the implicit registration must not fail.
ROUNDS=6
PAR=4
r=1
while [ $r -le $ROUNDS ]; do
	i=1
	while [ $i -le $PAR ]; do
		printf 'round %d push %d\n' $r $i >"$WORK/race-$r-$i.txt"
		(
			$_TIMEOUT "$MVMS" push "race$r" "$WORK/race-$r-$i.txt" >"$WORK/race-$r-$i.out" 2>"$WORK/race-$r-$i.err" </dev/null
			echo $? >"$WORK/race-$r-$i.rc"
		) &
		i=$((i + 1))
	done
	wait
	r=$((r + 1))
done
cat "$WORK"/race-*.rc | sort | uniq -c | sed 's/^ */exit code /; s/^exit code \([0-9]*\) \(.*\)/exit \2: \1 pushes/' >"$WORK/race.summary"
diag "concurrent pushes ($ROUNDS rounds of $PAR):" "$(cat "$WORK/race.summary")"
BAD_RC=$(cat "$WORK"/race-*.rc | grep -cv '^[04]$')
is "$BAD_RC" 0 "every concurrent push exits 0 or 4 (branch moved)" ||
	grep -h . "$WORK"/race-*.err | grep -v '^  ' | sort | uniq -c | head -n 5 | sed 's/^/# /'
EXISTS=$(cat "$WORK"/race-*.err | grep -c 'exists already')
is "$EXISTS" 0 "no concurrent first push fails on the implicit model registration ('exists already')"
r=1
CONSISTENT=yes
while [ $r -le $ROUNDS ]; do
	WON=$(cat "$WORK"/race-$r-*.rc | grep -c '^0$')
	NV=$("$MVMS" log "race$r" 2>/dev/null | grep -c "^race$r@v")
	if [ "$WON" -lt 1 ] || [ "$NV" != "$WON" ]; then
		CONSISTENT=no
		diag "round $r: $WON pushes succeeded, log has $NV versions"
	fi
	r=$((r + 1))
done
is "$CONSISTENT" yes "each round: at least one push wins, and the log has exactly one version per successful push"

mvms verify
is_rc 0 "verify is clean"

# ---- concurrent first pushes into a new store ----
# Three pushes of different models create one store at once: they race on the schema
# migrations and on recording the store's parameters. Each must succeed.
TRIES=10
t=1
while [ $t -le $TRIES ]; do
	for i in 1 2 3; do
		printf 'try %d model %d\n' $t $i >"$WORK/new-$t-$i.txt"
		(
			$_TIMEOUT "$MVMS" --store "$WORK/new-$t" push "n$i" "$WORK/new-$t-$i.txt" \
				>"$WORK/new-$t-$i.out" 2>"$WORK/new-$t-$i.err" </dev/null
			echo $? >"$WORK/new-$t-$i.rc"
		) &
	done
	wait
	t=$((t + 1))
done
FAILED=$(cat "$WORK"/new-*.rc | grep -cv '^0$')
is "$FAILED" 0 "$TRIES tries of 3 concurrent pushes into a new store: every push succeeds" ||
	grep -h . "$WORK"/new-*.err | grep -v '^  ' | sort | uniq -c | head -n 5 | sed 's/^/# /'
GOOD=0
t=1
while [ $t -le $TRIES ]; do
	NV=0
	for i in 1 2 3; do
		NV=$((NV + $("$MVMS" --store "$WORK/new-$t" log "n$i" 2>/dev/null | grep -c "^n$i@v1 ")))
	done
	if [ "$NV" = 3 ] && "$MVMS" --store "$WORK/new-$t" verify >/dev/null 2>&1; then
		GOOD=$((GOOD + 1))
	else
		diag "try $t: $NV of 3 versions, or verify failed"
	fi
	t=$((t + 1))
done
is "$GOOD" "$TRIES" "each new store has the 3 versions and verifies"

# two inits of one new store at once: one creates it, the other says it exists
t=1
INIT_OK=0
while [ $t -le 5 ]; do
	for i in 1 2; do
		(
			$_TIMEOUT "$MVMS" --store "$WORK/init-$t" init --pack-size $((i + 1))M \
				>/dev/null 2>"$WORK/init-$t-$i.err" </dev/null
			echo $? >"$WORK/init-$t-$i.rc"
		) &
	done
	wait
	WON=$(cat "$WORK"/init-$t-*.rc | grep -c '^0$')
	LOST=$(grep -l 'holds a store already' "$WORK"/init-$t-*.err 2>/dev/null | wc -l | tr -d ' ')
	if [ "$WON" = 1 ] && [ "$LOST" = 1 ]; then
		INIT_OK=$((INIT_OK + 1))
	else
		diag "init round $t: $WON succeeded, $LOST said 'holds a store already'"
	fi
	t=$((t + 1))
done
is "$INIT_OK" 5 "two concurrent inits of one store: one wins, the other fails with 'holds a store already' (5 rounds)"

done_testing
