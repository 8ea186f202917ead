#!/bin/sh
# SPDX-License-Identifier: MIT
# The version DAG from the command line: lineage in every format (the DOT output parses
# with Graphviz), depth limits and directions, merge-base, and diff of each change kind
# (added, removed, modified, renamed, mode, metadata), --stat, --tensors, --json, across
# models, unknown refs.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

# A Python 3 for jq_is (the standard library only; no numpy needed here)
find_py

# lines of $OUT (without a trailing empty line)
nlines() {
	if [ -z "$OUT" ]; then
		echo 0
	else
		printf '%s\n' "$OUT" | wc -l | tr -d ' '
	fi
}

mkmodel -q --size 1M --tensors 4 --seed 31 --extras "$WORK/b1"
printf '#!/bin/sh\necho run\n' >"$WORK/b1/run.sh"
chmod 644 "$WORK/b1/run.sh"
printf 'content that moves to a new name\n' >"$WORK/b1/old.txt"
printf 'content that goes away\n' >"$WORK/b1/gone.txt"

# b2: two tensors changed, a file added, one removed, one renamed, one mode change, one
# small file modified
cp -R "$WORK/b1" "$WORK/b2" || bail "cp"
poke "$WORK/b2/model.safetensors" layers.1.weight
poke "$WORK/b2/model.safetensors" layers.3.weight
rm "$WORK/b2/gone.txt"
mv "$WORK/b2/old.txt" "$WORK/b2/new.txt"
chmod 755 "$WORK/b2/run.sh"
printf 'a brand new file\n' >"$WORK/b2/added.txt"
printf '\n' >>"$WORK/b2/config.json"

# b3 (on branch exp): one tensor changed
cp -R "$WORK/b1" "$WORK/b3" || bail "cp"
poke "$WORK/b3/model.safetensors" layers.2.weight

# the fine-tune: layers.0 changed
cp -R "$WORK/b1" "$WORK/f1" || bail "cp"
poke "$WORK/f1/model.safetensors" layers.0.weight
cp -R "$WORK/f1" "$WORK/f2" || bail "cp"
poke "$WORK/f2/model.safetensors" layers.0.weight YYYYYYYY

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push base "$WORK/b1" -m "base one" --meta lr=0.1 --meta epochs=3 --meta same=x
is_rc 0 "push base@v1" || bail "push failed"
B1=$(push_id)
# The store holds base@v1 alone: its packs, less their framing, are what diff calls its
# stored bytes (docs/formats.md: 41 B record header + 49 B index entry per chunk, 16 B
# header + 56 B trailer per pack).
mvms --json stats
cp "$WORK/out" "$WORK/stats1.json"
mvms branch base exp
is_rc 0 "branch base exp (at v1)"
mvms push base "$WORK/b2" -m "base two" --meta lr=0.2 --meta opt=adam --meta same=x
is_rc 0 "push base@v2"
B2=$(push_id)
mvms --json stats
cp "$WORK/out" "$WORK/stats2.json"
mvms push base "$WORK/b3" -b exp -m "experiment"
is_rc 0 "push base@v3 on exp"
B3=$(push_id)
mvms push ft "$WORK/f1" --parent base@v1 -m "fine-tune"
is_rc 0 "push ft@v1 --parent base@v1"
F1=$(push_id)
mvms push ft "$WORK/f2" -m "fine-tune, more"
is_rc 0 "push ft@v2"
F2=$(push_id)
[ -n "$B1" ] && [ -n "$B2" ] && [ -n "$B3" ] && [ -n "$F1" ] && [ -n "$F2" ] || bail "no version ids"

# ---- lineage ----
mvms lineage ft@v2
is_rc 0 "lineage ft@v2"
is "$(nlines)" 3 "text: 3 lines (ft@v2, ft@v1, base@v1)"
is "$(printf '%s\n' "$OUT" | awk '{ print $1 ":" $2 }' | tr '\n' ' ')" "+0:ft@v2 +1:ft@v1 +2:base@v1 " \
	"text: depth and version on each line, start first"
like "$OUT" "$(printf '%.12s' "$F2")" "text: shows ft@v2's short id"
check "text: ft@v1's line names its parent base@v1" sh -c 'printf "%s\n" "$1" | grep "ft@v1 " | grep -q "<- base@v1"' sh "$OUT"
like "$OUT" "fine-tune" "text: shows messages"

mvms lineage ft@v2 --format json
is_rc 0 "lineage --format json"
cp "$WORK/out" "$WORK/l.json"
is "$(json_count depth "$WORK/l.json")" 3 "json: 3 nodes"
is "$(json_count position "$WORK/l.json")" 2 "json: 2 edges"
is "$(json_get start "$WORK/l.json")" "$F2" "json: start is ft@v2's id"
jq_is "$WORK/l.json" 'len(d["nodes"]), len(d["edges"])' "(3, 2)" "json: nodes and edges arrays"
jq_is "$WORK/l.json" 'sorted((n["model"], n["version"], n["depth"]) for n in d["nodes"])' \
	"[('base', 1, 2), ('ft', 1, 1), ('ft', 2, 0)]" "json: nodes with model, version, depth"
jq_is "$WORK/l.json" 'sorted((e["child"][:8], e["parent"][:8], e["position"]) for e in d["edges"])' \
	"$("${PY:-false}" -c 'import sys; print(sorted([(sys.argv[1][:8], sys.argv[2][:8], 0), (sys.argv[2][:8], sys.argv[3][:8], 0)]))' "$F2" "$F1" "$B1" 2>/dev/null)" \
	"json: edges ft@v2 -> ft@v1 -> base@v1"
mvms --json lineage ft@v2
jq_is "$WORK/out" 'len(d["nodes"])' 3 "global --json means --format json"

mvms lineage base@v1 --descendants
is_rc 0 "lineage base@v1 --descendants"
is "$(printf '%s\n' "$OUT" | awk '{ print $2 }' | sort | tr '\n' ' ')" "base@v1 base@v2 base@v3 ft@v1 ft@v2 " \
	"descendants of base@v1: both branches and the fine-tune (across models)"
check "descendant depths are negative" sh -c 'printf "%s\n" "$1" | grep "ft@v2 " | grep -q "^ *-2 "' sh "$OUT"

mvms lineage base@v1 --descendants --format mermaid
is_rc 0 "lineage --format mermaid"
is "$(printf '%s\n' "$OUT" | head -n 1)" "graph TD" "mermaid: starts with 'graph TD'"
is "$(printf '%s\n' "$OUT" | grep -c -- '-->\|-\.->')" 4 "mermaid: one arrow per edge (4)"
is "$(printf '%s\n' "$OUT" | grep -c '^  n[0-9]*\[')" 5 "mermaid: 5 nodes"

mvms lineage base@v1 --descendants --format dot
is_rc 0 "lineage --format dot"
cp "$WORK/out" "$WORK/l.dot"
is "$(grep -c -- '->' "$WORK/l.dot")" 4 "dot: 4 edges"
if command -v dot >/dev/null 2>&1; then
	run dot -Tsvg "$WORK/l.dot"
	is_rc 0 "dot -Tsvg parses the DOT output"
	like "$OUT" "<svg" "dot -Tsvg makes an SVG"
else
	skip "graphviz 'dot' not installed"
	skip "graphviz 'dot' not installed"
fi
# a model name that needs quoting in DOT
mvms push 'q"m' "$WORK/f1" 2>/dev/null
if [ "$RC" = 0 ]; then
	mvms lineage 'q"m@v1' --format dot
	printf '%s\n' "$OUT" >"$WORK/q.dot"
	if command -v dot >/dev/null 2>&1; then
		run dot -Tsvg "$WORK/q.dot"
		is_rc 0 "dot parses a label with a quote"
	fi
else
	ok "a model name with a quote is refused (nothing to escape)"
fi

mvms lineage ft@v2 --depth 1
is_rc 0 "lineage --depth 1"
is "$(printf '%s\n' "$OUT" | awk '{ print $2 }' | tr '\n' ' ')" "ft@v2 ft@v1 " "--depth 1: ft@v2 and its parent only"
mvms lineage ft@v2 --depth 0
is "$(printf '%s\n' "$OUT" | awk '{ print $2 }' | tr '\n' ' ')" "ft@v2 " "--depth 0: the start alone"
mvms lineage base@v1 --descendants --depth 1 --format json
jq_is "$WORK/out" 'sorted((n["model"], n["version"], n["depth"]) for n in d["nodes"])' \
	"[('base', 1, 0), ('base', 2, -1), ('base', 3, -1), ('ft', 1, -1)]" "--descendants --depth 1: the three children"
mvms lineage ft@v1 --both
is_rc 0 "lineage --both"
is "$(printf '%s\n' "$OUT" | awk '{ print $1 ":" $2 }' | sort | tr '\n' ' ')" "+0:ft@v1 +1:base@v1 -1:ft@v2 " \
	"--both: ancestors positive, descendants negative"
mvms lineage ft@v2 --depth -1
is_rc 2 "--depth -1 is a usage error"
mvms lineage ft@v2 --format svg
is_rc 2 "an unknown --format is a usage error"
mvms lineage ft@v9
is_rc 3 "lineage of an unknown version exits 3"

# ---- merge-base ----
mvms merge-base base@main base@exp
is_rc 0 "merge-base base@main base@exp"
is "$OUT" "base@v1 $B1" "merge-base of the two branch heads is base@v1"
mvms merge-base ft@v2 base@v3
is "$OUT" "base@v1 $B1" "merge-base across models: base@v1"
mvms merge-base base@v2 base@v1
is "$OUT" "base@v1 $B1" "merge-base of a version and its ancestor is the ancestor"
mvms --json merge-base base@main base@exp
jq_is "$WORK/out" '[x["id"] for x in d]' "['$B1']" "merge-base --json: an array with base@v1"
mvms push other "$WORK/b1/config.json"
mvms merge-base base@v1 other@v1
is_rc 3 "merge-base of unrelated versions exits 3"
like "$ERR" "share no history" "and says they share no history"
mvms merge-base base@v1 base@v42
is_rc 3 "merge-base with an unknown version exits 3"

# ---- diff ----
mvms diff base@v1 base@v2
is_rc 0 "diff base@v1 base@v2"
cp "$WORK/out" "$WORK/d.txt"
has_line() { # PATTERN (grep -E) DESC
	if grep -Eq -- "$1" "$WORK/d.txt"; then
		ok "$2"
	else
		not_ok "$2"
		sed 's/^/#   /' "$WORK/d.txt" | head -n 30
	fi
}
has_line '^  A  added\.txt ' "diff: added.txt added"
has_line '^  D  gone\.txt ' "diff: gone.txt removed"
has_line '^  M  config\.json ' "diff: config.json modified"
has_line '^  R  old\.txt -> new\.txt' "diff: old.txt renamed to new.txt"
has_line '^  T  run\.sh  mode 0644 -> 0755' "diff: run.sh mode 0644 -> 0755"
has_line '^  M  model\.safetensors ' "diff: model.safetensors modified"
has_line 'model\.safetensors: 2 of 4 tensors changed' "diff: tensor summary '2 of 4 tensors changed'"
has_line '^  meta lr: 0\.1 -> 0\.2$' "diff: meta lr 0.1 -> 0.2"
has_line '^  meta epochs: 3 -> \(none\)$' "diff: meta epochs removed"
has_line '^  meta opt: \(none\) -> adam$' "diff: meta opt added"
unlike "$OUT" "meta same" "diff: an unchanged meta key is not listed"
unlike "$OUT" "tokenizer.json" "diff: unchanged files are not listed"
unlike "$OUT" "  D  old.txt" "diff: a renamed file is not also removed"
has_line '^6 files changed, 2 unchanged' "diff: '6 files changed, 2 unchanged' summary (tokenizer.json, sub/readme.txt)"

mvms diff base@v1 v2
is_rc 0 "diff MODEL@A B (B without a model)"
is "$OUT" "$(cat "$WORK/d.txt")" "the same diff"

mvms diff base@v1 base@v2 --stat
is_rc 0 "diff --stat"
unlike "$OUT" "meta lr" "--stat leaves out metadata lines"
like "$OUT" "6 files changed" "--stat keeps the summary"
unlike "$OUT" "layers.1.weight" "--stat lists no tensors"

mvms diff base@v1 base@v2 --tensors
is_rc 0 "diff --tensors"
is "$(printf '%s\n' "$OUT" | sed -n 's/^       [AMDS]  \([^ ]*\) .*/\1/p' | sort | tr '\n' ' ')" \
	"layers.1.weight layers.3.weight " "--tensors lists exactly the changed tensors"
like "$OUT" "model.safetensors: 2 of 4 tensors changed" "--tensors keeps the summary line"

mvms --json diff base@v1 base@v2 --tensors
is_rc 0 "diff --json --tensors"
cp "$WORK/out" "$WORK/d.json"
jq_is "$WORK/d.json" 'sorted((f["path"], f["status"]) for f in d["files"])' \
	"[('added.txt', 'added'), ('config.json', 'modified'), ('gone.txt', 'removed'), ('model.safetensors', 'modified'), ('new.txt', 'renamed'), ('run.sh', 'mode')]" \
	"json: each file's status"
jq_is "$WORK/d.json" '[f.get("old_path") for f in d["files"] if f["status"] == "renamed"]' "['old.txt']" \
	"json: the rename's old_path"
jq_is "$WORK/d.json" '[(f["old_mode"], f["new_mode"]) for f in d["files"] if f["path"] == "run.sh"]' "[(420, 493)]" \
	"json: old_mode, new_mode"
jq_is "$WORK/d.json" '[f["tensors"]["changed"] for f in d["files"] if f["path"] == "model.safetensors"]' "[2]" \
	"json: tensors.changed is 2"
jq_is "$WORK/d.json" '[(f["tensors"]["total"], f["tensors"]["unchanged"]) for f in d["files"] if f["path"] == "model.safetensors"]' "[(4, 2)]" \
	"json: tensors total 4, unchanged 2"
jq_is "$WORK/d.json" '[sorted(t["name"] for t in f["tensors"]["list"]) for f in d["files"] if f["path"] == "model.safetensors"]' \
	"[['layers.1.weight', 'layers.3.weight']]" "json: tensors.list names the changed tensors"
jq_is "$WORK/d.json" '[f["shared_bytes"] > 500000 and 0 < f["new_bytes"] < 600000 and f["shared_bytes"] + f["new_bytes"] == f["new_size"] for f in d["files"] if f["path"] == "model.safetensors"]' \
	"[True]" "json: model.safetensors shares its unchanged tensors' bytes; shared + new = size"
jq_is "$WORK/d.json" '[(f["shared_bytes"], f["new_bytes"]) for f in d["files"] if f["path"] == "added.txt"]' \
	"[(0, 17)]" "json: added.txt is all new bytes"
jq_is "$WORK/d.json" '[f["new_bytes"] for f in d["files"] if f["path"] == "new.txt"]' "[0]" \
	"json: a renamed file costs nothing"
jq_is "$WORK/d.json" 'sorted((m["key"], m["old"], m["new"]) for m in d["meta"])' \
	"[('epochs', '3', None), ('lr', '0.1', '0.2'), ('opt', None, 'adam')]" "json: meta changes with old/new values"
jq_is "$WORK/d.json" 'd["unchanged_files"], d["from"]["id"] == "'"$B1"'", d["to"]["id"] == "'"$B2"'"' \
	"(2, True, True)" "json: unchanged_files, from, to"
jq_is "$WORK/d.json" 'd["new_bytes"] == sum(f.get("new_bytes", 0) for f in d["files"])' "True" \
	"json: the total new_bytes is the sum over changed files"

# Stored bytes, against the packs the pushes wrote (stats --json before and after)
FRAMING='(d["stored_bytes"] - 90 * d["chunks"] - 72 * d["packs"])'
mvms --json diff base@v1 base@v1
cp "$WORK/out" "$WORK/d11.json"
S1=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print('"$FRAMING"')' "$WORK/stats1.json")
jq_is "$WORK/d11.json" '(d["stored_bytes"], d["new_stored_bytes"])' "($S1, 0)" \
	"json: a first version's stored_bytes is its push's packs less framing; nothing new against itself"
S2=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print('"$FRAMING"')' "$WORK/stats2.json")
jq_is "$WORK/d.json" 'd["new_stored_bytes"]' "$((S2 - S1))" \
	"json: new_stored_bytes is what the push of v2 stored (less framing)"
jq_is "$WORK/d.json" '0 < d["new_stored_bytes"] < d["stored_bytes"] <= '"$S2" "True" \
	"json: v2's stored_bytes covers its new chunks and reused ones, within the store"
mvms diff base@v1 base@v2
cp "$WORK/out" "$WORK/d.txt"
has_line '^the second version is stored in [0-9.]* [KMG]*i*B, [0-9.]* [KMG]*i*B of it in chunks the first lacks$' "text: the stored bytes line"

# dtype/shape change of a tensor: an 'S' entry
if [ -n "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
	cp -R "$WORK/b1" "$WORK/b4"
	"$PY" "$TESTS_SRCDIR/cli/st.py" reshape "$WORK/b1/model.safetensors" "$WORK/b4/model.safetensors" \
		layers.2.weight F32 16,16 >/dev/null || bail "st.py reshape"
	mvms branch base exp2 base@v1
	mvms push base "$WORK/b4" -b exp2
	is_rc 0 "push a reshaped tensor"
	mvms diff base@v1 base@exp2 --tensors
	like "$OUT" "S  layers.2.weight  BF16" "--tensors: dtype/shape change listed as S"
	like "$OUT" "-> F32[16,16]" "--tensors: with the new dtype and shape"
else
	skip "numpy not installed"
	skip "numpy not installed"
	skip "numpy not installed"
fi

# across models
mvms diff base@v1 ft@v1 --tensors
is_rc 0 "diff across models: base@v1 ft@v1"
like "$OUT" "-> ft@v1" "the header names ft@v1"
is "$(printf '%s\n' "$OUT" | sed -n 's/^       [AMDS]  \([^ ]*\) .*/\1/p' | tr '\n' ' ')" "layers.0.weight " \
	"across models: the fine-tune changed layers.0.weight only"
like "$OUT" "1 of 4 tensors changed" "across models: 1 of 4 tensors changed"
mvms --json diff base@v1 ft@v1
jq_is "$WORK/out" '[f["path"] for f in d["files"]]' "['model.safetensors']" "across models: only model.safetensors differs"

mvms diff base@v2 base@v2
is_rc 0 "diff of a version with itself"
like "$OUT" "0 files changed" "nothing changed"

# unknown refs
mvms diff base@v1 base@v99
is_rc 3 "diff with an unknown version exits 3"
mvms diff nope@v1 base@v1
is_rc 3 "diff with an unknown model exits 3"
mvms diff base@v1 nobranch
is_rc 3 "diff with an unknown ref exits 3"
mvms diff base@v1
is_rc 2 "diff with one argument is a usage error"

done_testing
