#!/bin/sh
# SPDX-License-Identifier: MIT
# log's flags as git users know them: -n N (the newest N; bad counts are usage errors),
# --oneline (short id, vN, the first line of the message, refs as git names them),
# --all (every branch of the model and what they reach, a fine-tune's base included, drawn
# as a graph: `*`, `|`, `/`, `\`, `_`), --graph for one branch, --json with -n; and the
# same output through a server (--remote).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/t"
# push MODEL MSG [options]: a new version with one more changed file
step=0
push() {
	step=$((step + 1))
	printf '%s\n' "$step" >"$WORK/t/f$step"
	_m=$1
	_msg=$2
	shift 2
	mvms push "$_m" "$WORK/t" -m "$_msg" "$@"
	is_rc 0 "push $_m: $_msg" || bail "push failed"
}
push base "base one"
push m "first
second line" --parent base@v1
mvms branch m dev
push m "dev work" -b dev
mvms tag m@v2 rel-1
is_rc 0 "tag rel-1"
# each push adds its own file, so the merge below is clean
push m "main work"
mvms merge m m@dev -m "merge dev"
is_rc 0 "merge dev into main" || bail "merge failed"
push m "dev after merge" -b dev
mvms branch m exp m@v1
is_rc 0 "branch exp at v1"
push m "experiment" -b exp

# noid: the text in $OUT with 12-hex ids taken out
noid() {
	printf '%s\n' "$OUT" | sed 's/[0-9a-f]\{12\} //'
}

# ---- -n ----
mvms log -n 2 m
is_rc 0 "log -n 2"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 2 "two lines"
like "$OUT" "m@v6" "the newest first (v6, v5)"
unlike "$OUT" "m@v4" "and no third"
mvms log -n 0 m
is_rc 0 "log -n 0"
is "$OUT" "" "prints nothing"
for bad in abc -1 '' 1x; do
	mvms log -n "$bad" m
	is_rc 2 "log -n '$bad': usage error"
done
like "$ERR" "-n wants a count" "says what -n wants"
mvms --json log -n 1 m
is_rc 0 "--json log -n 1"
is "$(json_count message)" 1 "one version in the JSON"

# ---- --oneline ----
mvms log --oneline m
is_rc 0 "log --oneline"
is "$(noid)" "v6 experiment (exp)
v5 dev after merge (dev)
v4 merge dev (main)
v3 main work
v2 dev work (tag: rel-1)
v1 first" "short id, vN, first line, git-style refs"
like "$OUT" "$(printf '%s' "$OUT" | head -n 1 | cut -c1-12) v6" "the id is 12 hex digits"
unlike "$OUT" "second line" "only the first line of a message"

# ---- --all: every branch, as a graph ----
mvms log --all --oneline m
is_rc 0 "log --all --oneline"
is "$(noid)" "* v6 experiment (exp)
| * v5 dev after merge (dev)
| | * v4 merge dev (main)
| | |\\
| | * | v3 main work
| |_|/
| * | v2 dev work (tag: rel-1)
|_|/
|/
* v1 first
* base@v1 base one (base@main)" "the graph of every branch, the base model included"
mvms log --all m
is_rc 0 "log --all (the default line format)"
like "$OUT" "| * m@v5 " "with the graph"
like "$OUT" "* base@v1 " "and the base"
unlike "$OUT" "second line" "one line per version under a graph"
mvms log --all -n 3 --oneline m
is "$(noid)" "* v6 experiment (exp)
| * v5 dev after merge (dev)
| | * v4 merge dev (main)
| | |\\" "--all -n 3: the first three rows, their lanes as in the whole graph"
mvms log --graph --oneline -b main m
is_rc 0 "log --graph -b main"
is "$(printf '%s\n' "$OUT" | head -n 2 | sed 's/[0-9a-f]\{12\} //')" "* v4 merge dev (main)
|\\" "main's graph starts with its merge"
like "$OUT" "base@v1" "and reaches the base"
unlike "$OUT" "experiment" "but not other branches"
mvms log --all -b dev m
is_rc 2 "--all with -b: usage error"
mvms --json log --all m
is_rc 0 "--json log --all"
is "$(json_count message)" 7 "every version of every branch, the base included (7)"
mvms log --all nosuch
is_rc 3 "log --all of an unknown model: not found"

# ---- the same through a server ----
T=$("$MVMS" token create --scope read 2>"$WORK/t.err") || bail "token create: $(cat "$WORK/t.err")"
mvms log --all --oneline m
LOCAL=$OUT
srv_start srv --no-access-log
mvms --remote "$URL" --token "$T" log --all --oneline m
is_rc 0 "--remote log --all --oneline"
is "$OUT" "$LOCAL" "the same graph through the server"
mvms --remote "$URL" --token "$T" log -n 1 --oneline m
is "$OUT" "$(printf '%s\n' "$LOCAL" | sed -n 1p | sed 's/^\* //')" "--remote log -n 1 --oneline: the newest line"

done_testing
