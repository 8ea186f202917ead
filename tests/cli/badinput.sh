#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input: missing paths, symlinks and FIFOs, bad model names, unknown models,
# versions, branches and id prefixes, output dirs holding other content, usage errors, bad
# --meta, init twice, duplicate and reserved tag names.
# Exit codes: 0 ok, 1 error, 2 usage, 3 not found; errors are "mvms-store: ..." on stderr.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

mkmodel -q --size 1M --tensors 4 "$WORK/model"
printf 'hello\n' >"$WORK/hello.txt" || bail "write"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push m "$WORK/model"
is_rc 0 "push a good model" || bail "push failed"
ID=$(push_id)
[ -n "$ID" ] || bail "push printed no id: $OUT"

# ---- paths ----
mvms push x "$WORK/does-not-exist"
is_rc 3 "push of a missing path fails: not found (exit 3)"
like "$ERR" "$WORK/does-not-exist" "the message names the missing path"
like "$ERR" "mvms-store: " "the message starts with 'mvms-store: '"

mkdir -p "$WORK/withlink" || bail mkdir
printf 'data\n' >"$WORK/withlink/real" || bail write
ln -s real "$WORK/withlink/the-link" || bail "ln -s"
mvms push sl "$WORK/withlink"
is_rc 1 "push of a directory holding a symlink is refused (exit 1)"
like "$ERR" "the-link" "the message names the symlink"
mvms log sl
is_rc 3 "no version was created by the refused push: the model is unknown (exit 3)"
mvms pull sl@latest -o "$WORK/o-sl"
is_rc 3 "the refused model has no latest version (exit 3)"

ln -s "$WORK/hello.txt" "$WORK/toplink" || bail "ln -s"
mvms push sl2 "$WORK/toplink"
is_rc 1 "push of a symlink given as PATH is refused (exit 1)"
like "$ERR" "toplink" "the message names it"

mkdir -p "$WORK/withfifo" || bail mkdir
printf 'data\n' >"$WORK/withfifo/real" || bail write
if mkfifo "$WORK/withfifo/a-fifo" 2>/dev/null; then
	mvms push ff "$WORK/withfifo"
	is_rc 1 "push of a directory holding a FIFO is refused, exit 1 (and does not hang)"
	like "$ERR" "a-fifo" "the message names the FIFO"
	mvms log ff
	is_rc 3 "no version was created for the FIFO tree: the model is unknown (exit 3)"
else
	skip "mkfifo not available"
	skip "mkfifo not available"
	skip "mkfifo not available"
fi

# A refused push must leave nothing behind ("nothing is stored"; a push is atomic):
# not even the implicit registration of a new model.
mkdir -p "$WORK/emptydir" || bail mkdir
mvms push empty-dir-model "$WORK/emptydir"
is_rc 1 "push of an empty directory fails, exit 1 (no files to push)"
mvms push bad-parent-model "$WORK/hello.txt" --parent nosuchmodel@v1
is_rc 3 "push with --parent naming an unknown model exits 3"
for name in sl ff x empty-dir-model bad-parent-model; do
	check "a refused push does not register model '$name'" \
		sh -c '! "$1" models | awk -v n="$2" '\''$1 == n { f = 1 } END { exit !f }'\' sh "$MVMS" "$name"
done

# ---- model names ----
for name in '../x' 'a b' '' 'x/../../y' '/abs'; do
	mvms push "$name" "$WORK/hello.txt"
	is_rc 1 "bad model name '$name' is refused (exit 1)"
	like "$ERR" "mvms-store: " "bad model name '$name': error message on stderr"
done
mvms models
unlike "$OUT" "a b" "no model 'a b' was registered"
unlike "$OUT" ".." "no model with '..' was registered"

# ---- unknown things ----
mvms pull nosuchmodel@v1 -o "$WORK/o1"
is_rc 3 "pull of an unknown model exits 3"
like "$ERR" "nosuchmodel" "the message names the model"
mvms pull m@v99 -o "$WORK/o1"
is_rc 3 "pull of an unknown version v99 exits 3"
like "$ERR" "v99" "the message names v99"
mvms pull m@no-such-branch -o "$WORK/o1"
is_rc 3 "pull of an unknown branch exits 3"
SHORT=$(printf '%s' "$ID" | cut -c1-3)
mvms pull "m@$SHORT" -o "$WORK/o1"
is_rc 3 "a 3-hex id prefix (of a real id) is not found (exit 3): prefixes need 4 hex digits"
like "$ERR" "$SHORT" "the message names the prefix"
check "failed pulls created no output dir" test ! -e "$WORK/o1"
mvms show m@v99
is_rc 3 "show of an unknown version exits 3"
mvms log nosuchmodel
is_rc 3 "log of an unknown model exits 3"

# ---- output dir holding other content ----
# Files that are not in the version are left alone; one that is, with other content, is
# refused without --force (exit 1 or 4: "exists") and nothing is written.
mkdir -p "$WORK/full" || bail mkdir
printf 'keep me\n' >"$WORK/full/existing.txt" || bail write
printf 'not the model\n' >"$WORK/full/model.safetensors" || bail write
ls -la "$WORK/full" >"$WORK/full.before"
cksum "$WORK/full/existing.txt" "$WORK/full/model.safetensors" >>"$WORK/full.before"
mvms pull m@v1 -o "$WORK/full"
is_rc 4 "pull over a file with other content without --force fails (exists)"
like "$ERR" "exists with other content" "and says which file"
ls -la "$WORK/full" >"$WORK/full.after"
cksum "$WORK/full/existing.txt" "$WORK/full/model.safetensors" >>"$WORK/full.after"
check "the directory is left unchanged" cmp -s "$WORK/full.before" "$WORK/full.after"
mvms pull m@v1 -o "$WORK/full" --force
is_rc 0 "pull into it with --force succeeds"
check "--force wrote the model" cmp "$WORK/model/model.safetensors" "$WORK/full/model.safetensors"
is "$(cat "$WORK/full/existing.txt")" "keep me" "a file that is not in the version is left alone"

# ---- usage errors ----
mvms frobnicate
is_rc 2 "unknown command exits 2"
like "$ERR" "frobnicate" "the message names the unknown command"
mvms push --no-such-option m "$WORK/hello.txt"
is_rc 2 "unknown option exits 2"
mvms --no-such-global models
is_rc 2 "unknown global option exits 2"
mvms push
is_rc 2 "push without arguments exits 2"
mvms push m
is_rc 2 "push with one argument exits 2"
mvms pull
is_rc 2 "pull without arguments exits 2"
mvms
is_rc 2 "no command at all exits 2"
mvms push m "$WORK/hello.txt" extra-arg
is_rc 2 "push with an extra argument exits 2"

mvms push m "$WORK/hello.txt" --meta novalue
is_rc 1 "--meta without '=' is an error (exit 1)"
like "$ERR" "novalue" "the message names the bad --meta"
mvms log m
is "$(printf '%s\n' "$OUT" | grep -c '^m@v')" 1 "the bad --meta push created no version"

mvms init
is_rc 4 "init on an existing store is an error: exists (exit 4)"
like "$ERR" "mvms-store: " "init twice: error message on stderr"

# ---- tags ----
mvms tag m@v1 rel
is_rc 0 "tag m@v1 rel"
mvms tag m@v1 rel
is_rc 4 "tagging with an existing tag name is an error: exists (exit 4)"
like "$ERR" "rel" "the message names the tag"
for t in v3 latest; do
	mvms tag m@v1 "$t"
	is_rc 1 "the reserved tag name '$t' is refused (exit 1)"
done
mvms tags m
unlike "$OUT" "latest" "no tag 'latest' was created"
is "$(printf '%s\n' "$OUT" | grep -c .)" 1 "tags lists only 'rel'"
mvms tag m@v99 newtag
is_rc 3 "tagging an unknown version exits 3"

mvms verify
is_rc 0 "verify is clean after the refused operations"

done_testing
