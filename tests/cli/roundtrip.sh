#!/bin/sh
# SPDX-License-Identifier: MIT
# Round trips: push a directory (nested paths, empty files, a name with spaces, an
# executable, a file larger than one pack), pull it back byte-identical by every kind
# of ref; single-file push; --json documents; log order; option placement; unchanged
# re-push; verify.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

# ---- fixtures ----
SRC=$WORK/src
mkmodel -q --size 5M --tensors 10 --extras "$SRC"
mkdir -p "$SRC/a/b/c" "$SRC/dir with space" || bail "mkdir"
printf 'deep file\n' >"$SRC/a/b/c/file" || bail "write"
: >"$SRC/empty" || bail "write"
: >"$SRC/a/b/empty-nested" || bail "write"
printf 'spaces\n' >"$SRC/file with spaces.txt" || bail "write"
printf 'in a dir with a space\n' >"$SRC/dir with space/x y" || bail "write"
printf '#!/bin/sh\necho hi\n' >"$SRC/run.sh" && chmod 0755 "$SRC/run.sh" || bail "chmod"
BIGSIZE=$(file_size "$SRC/model.safetensors")

mvms init --pack-size 1M
is_rc 0 "init --pack-size 1M" || bail "cannot create a store"

# ---- push v1 ----
mvms push --json rt "$SRC" -m "first version"
is_rc 0 "push directory --json exits 0"
cp "$WORK/out" "$WORK/push1.json"
for k in model version id files logical_bytes new_stored_bytes; do
	v=$(json_get "$k" "$WORK/push1.json")
	check "push --json has key $k" test -n "$v"
done
is "$(json_get model "$WORK/push1.json")" rt "push --json model is rt"
is "$(json_get version "$WORK/push1.json")" 1 "push --json version is 1"
ID1=$(json_get id "$WORK/push1.json")
check "push --json id is 64 hex digits" sh -c 'printf "%s" "$1" | grep -qx "[0-9a-f]\{64\}"' sh "$ID1"
NFILES=$(cd "$SRC" && find . -type f | wc -l | tr -d ' ')
is "$(json_get files "$WORK/push1.json")" "$NFILES" "push --json counts $NFILES files"
LOGICAL=$(find "$SRC" -type f -exec cat {} + | wc -c | tr -d ' ')
is "$(json_get logical_bytes "$WORK/push1.json")" "$LOGICAL" "push --json logical_bytes is the sum of file sizes"
num_gt "$BIGSIZE" 1048576 "the model file ($BIGSIZE B) is larger than one pack (1 MiB)"

# ---- pull by v1 ----
mvms pull rt@v1 -o "$WORK/o-v1"
is_rc 0 "pull rt@v1 -o DIR"
check "pulled tree (v1) is identical: same file list, diff -r" same_tree "$SRC" "$WORK/o-v1"
check "large file is byte-identical (cmp)" cmp "$SRC/model.safetensors" "$WORK/o-v1/model.safetensors"
check "nested a/b/c/file restored" cmp "$SRC/a/b/c/file" "$WORK/o-v1/a/b/c/file"
check "empty file restored as an empty regular file" sh -c 'test -f "$1" && ! test -s "$1"' sh "$WORK/o-v1/empty"
check "nested empty file restored" sh -c 'test -f "$1" && ! test -s "$1"' sh "$WORK/o-v1/a/b/empty-nested"
check "file with spaces in its name restored" cmp "$SRC/file with spaces.txt" "$WORK/o-v1/file with spaces.txt"
check "file in a dir with a space restored" cmp "$SRC/dir with space/x y" "$WORK/o-v1/dir with space/x y"
is "$(mode_of "$WORK/o-v1/run.sh")" "-rwxr-xr-x" "executable file restored with mode 0755"
is "$(mode_of "$WORK/o-v1/config.json")" "-rw-r--r--" "plain file restored with mode 0644"

mvms stats --json
PACKS=$(json_get packs)
num_gt "$PACKS" 1 "a file larger than the pack size spans several packs ($PACKS)"

# ---- a second version, for log order and moving refs ----
SRC2=$WORK/src2
cp -R "$SRC" "$SRC2" || bail "cp -R"
chmod 0755 "$SRC2/run.sh"
printf 'second\n' >>"$SRC2/a/b/c/file"
printf 'new file\n' >"$SRC2/added.txt"
mvms push rt "$SRC2" -m "second version"
is_rc 0 "push v2"
like "$OUT" "rt@v2 " "push prints MODEL@vN ID"
ID2=$(push_id)
check "push prints a 64-hex id" test -n "$ID2"

mvms log rt
is_rc 0 "log rt"
is "$(printf '%s\n' "$OUT" | grep -c '^rt@v')" 2 "log lists two versions"
is "$(printf '%s\n' "$OUT" | sed -n '1s/[[:space:]].*//p')" "rt@v2" "log: newest (v2) first"
is "$(printf '%s\n' "$OUT" | sed -n '2s/[[:space:]].*//p')" "rt@v1" "log: v1 second"

mvms tag rt@v1 release-1
is_rc 0 "tag rt@v1 release-1"

# ---- pull by every kind of ref ----
pull_as() { # REF WANT_TREE DESC
	rm -rf "$WORK/o-ref"
	mvms pull "rt@$1" -o "$WORK/o-ref"
	if [ "$RC" != 0 ]; then
		not_ok "$3"
		_show_last
		return
	fi
	check "$3" same_tree "$2" "$WORK/o-ref"
}
PFX8=$(printf '%s' "$ID1" | cut -c1-8)
pull_as v1 "$SRC" "pull by version number v1"
pull_as "$PFX8" "$SRC" "pull by 8-char id prefix ($PFX8)"
pull_as "$ID1" "$SRC" "pull by full id"
pull_as main "$SRC2" "pull by branch main gives the head (v2)"
pull_as latest "$SRC2" "pull by latest gives the head of main (v2)"
pull_as release-1 "$SRC" "pull by tag release-1 gives v1"
pull_as v2 "$SRC2" "pull by v2"

# ---- single file ----
printf 'just one file\n' >"$WORK/single.bin"
mvms push --json one "$WORK/single.bin"
is_rc 0 "push a single file"
is "$(json_get files)" 1 "single-file push has 1 file"
mvms show --json one@v1
like "$OUT" "\"path\":${TAB}\"single.bin\"" "single file is stored under its base name"
mvms pull one@v1 -o "$WORK/o-one"
is_rc 0 "pull the single-file version"
check "single file round trip is byte-identical" cmp "$WORK/single.bin" "$WORK/o-one/single.bin"

# ---- show --json and stats --json ----
mvms show --json rt@v1
is_rc 0 "show --json rt@v1"
cp "$WORK/out" "$WORK/show1.json"
is "$(json_count path "$WORK/show1.json")" "$NFILES" "show --json lists every file with a path"
is "$(json_count size "$WORK/show1.json")" "$NFILES" "show --json gives each file a size"
# each file has an id besides the version's own id
is "$(json_count id "$WORK/show1.json")" "$((NFILES + 1))" "show --json gives each file an id"
like "$(cat "$WORK/show1.json")" "\"path\":${TAB}\"a/b/c/file\"" "show --json lists the nested path a/b/c/file"
like "$(cat "$WORK/show1.json")" "\"size\":${TAB}$BIGSIZE" "show --json has the large file's size"
is "$(json_get id "$WORK/show1.json")" "$ID1" "show --json id matches the push id"

mvms stats --json
is_rc 0 "stats --json"
for k in logical_bytes unique_bytes stored_bytes chunks packs dedup_ratio compression_ratio; do
	v=$(json_get "$k")
	check "stats --json has key $k" test -n "$v"
done

# ---- option placement ----
S2=$WORK/store2
run env MVMS_STORE="$WORK/nowhere" "$MVMS" --store "$S2" push g1 "$WORK/single.bin"
is_rc 0 "global --store before the subcommand"
run env MVMS_STORE="$WORK/nowhere" "$MVMS" push g2 "$WORK/single.bin" --store "$S2" --json
is_rc 0 "global --store and --json after the subcommand and its arguments"
is "$(json_get model)" g2 "--json after the arguments gives a JSON document"
run env MVMS_STORE="$WORK/nowhere" "$MVMS" models --store "$S2"
like "$OUT" "g1" "the --store store has model g1"
like "$OUT" "g2" "the --store store has model g2"
check "\$MVMS_STORE was not used when --store was given" test ! -e "$WORK/nowhere"
mvms models
unlike "$OUT" "g1" "the default store does not have g1"

mvms push opt1 "$WORK/single.bin" -m "msg after args"
is_rc 0 "push MODEL PATH -m MSG (option after positionals)"
mvms show --json opt1@v1
is "$(json_get message)" "msg after args" "message given after the positionals is recorded"
mvms push -m "msg before args" opt2 "$WORK/single.bin"
is_rc 0 "push -m MSG MODEL PATH"
mvms show --json opt2@v1
is "$(json_get message)" "msg before args" "message given before the positionals is recorded"

# ---- identical tree again ----
mvms push uc "$SRC"
is_rc 0 "push a tree to a new model"
mvms push uc "$SRC"
is_rc 0 "pushing the identical tree again exits 0"
like "$OUT$ERR" "unchanged" "and says unchanged"
mvms log uc
is "$(printf '%s\n' "$OUT" | grep -c '^uc@v')" 1 "log still has one version"
mvms push --json uc "$SRC"
is "$(json_get version)" 1 "push --json of an identical tree names the existing version"
is "$(json_get new_stored_bytes)" 0 "and stores no new bytes"

# a mode change alone is a change (the executable bit is part of the tree)
chmod 0755 "$SRC/config.json"
mvms push uc "$SRC"
is_rc 0 "push the same tree with one file made executable"
like "$OUT" "uc@v2 " "a mode change creates a new version"
mvms pull uc@v2 -o "$WORK/o-mode"
is "$(mode_of "$WORK/o-mode/config.json")" "-rwxr-xr-x" "and the new mode comes back"
chmod 0644 "$SRC/config.json"

# ---- bare MODEL, default output dir, authors ----
mkdir -p "$WORK/cwd" || bail mkdir
mvms push acme/sub-model "$WORK/single.bin"
is_rc 0 "push a model with a '/' in its name"
(cd "$WORK/cwd" && "$MVMS" pull acme/sub-model >"$WORK/out" 2>"$WORK/err")
RC=$?
is_rc 0 "pull MODEL (bare, no @REF, no -o)"
check "a bare pull writes into the model's last name component in the cwd" \
	cmp "$WORK/single.bin" "$WORK/cwd/sub-model/single.bin"
run env MVMS_AUTHOR=alice "$MVMS" push who "$WORK/single.bin"
mvms show --json who@v1
is "$(json_get author)" alice "author comes from \$MVMS_AUTHOR"
printf 'x\n' >"$WORK/other.bin"
run env MVMS_AUTHOR=alice "$MVMS" push who "$WORK/other.bin" --author bob
mvms show --json who@v2
is "$(json_get author)" bob "--author wins over \$MVMS_AUTHOR"

# ---- names of 255 bytes (NAME_MAX): the pull's temporary name must not grow them ----
LONG=$(printf '%0255d' 0 | tr 0 n)
mkdir -p "$WORK/long/sub" || bail mkdir
printf 'top\n' >"$WORK/long/$LONG"
printf 'nested\n' >"$WORK/long/sub/$LONG"
mvms push long "$WORK/long"
is_rc 0 "push files whose names are 255 bytes long"
mvms pull long@v1 -o "$WORK/o-long"
is_rc 0 "pull them back"
check "a 255-byte name pulls byte-identical (at the top and in a directory)" same_tree "$WORK/long" "$WORK/o-long"

# ---- verify ----
mvms verify
is_rc 0 "verify is clean after all this"
like "$OUT$ERR" "0 problems" "verify reports 0 problems"

done_testing
