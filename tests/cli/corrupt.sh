#!/bin/sh
# SPDX-License-Identifier: MIT
# Corruption: a flipped pack byte, a truncated pack and a deleted manifest are each
# named by `verify` (with the versions they break) and make it exit 1; `pull`
# of a broken version fails without leaving a wrong or temporary file behind, while
# versions whose packs are intact still pull.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

OBJ=$MVMS_STORE/objects

# each model has its own seed, so its own chunks and (default pack size) its own pack
mkmodel -q --size 2M --tensors 4 --seed 11 "$WORK/a"
mkmodel -q --size 2M --tensors 4 --seed 12 "$WORK/b"
mkmodel -q --size 2M --tensors 4 --seed 13 "$WORK/c"
mkmodel -q --size 1M --tensors 4 --seed 14 "$WORK/d"

mvms init
is_rc 0 "init" || bail "cannot create a store"

list_packs() {
	find "$OBJ/packs" -type f ! -name '*.tmp*' 2>/dev/null | sort
}

# push_model NAME: push $WORK/NAME, set NEW_PACK to the one pack it added, ID to its id
push_model() {
	list_packs >"$WORK/packs.before"
	mvms push "$1" "$WORK/$1"
	[ "$RC" = 0 ] || bail "push $1 failed: $ERR"
	ID=$(push_id)
	list_packs >"$WORK/packs.after"
	NEW_PACK=$(comm -13 "$WORK/packs.before" "$WORK/packs.after")
	[ "$(printf '%s\n' "$NEW_PACK" | grep -c .)" = 1 ] ||
		bail "push $1 did not add exactly one pack: $NEW_PACK"
}

push_model a
PACK_A=$NEW_PACK
push_model b
PACK_B=$NEW_PACK
push_model c
PACK_C=$NEW_PACK
push_model d
ID_D=$ID
KEY_A=${PACK_A#"$OBJ"/}
KEY_B=${PACK_B#"$OBJ"/}
KEY_C=${PACK_C#"$OBJ"/}
MAN_D=$OBJ/manifests/$(printf '%s' "$ID_D" | cut -c1-2)/$ID_D
KEY_MAN_D=manifests/$(printf '%s' "$ID_D" | cut -c1-2)/$ID_D
[ -f "$MAN_D" ] || bail "no manifest object at $MAN_D"
diag "pack of a: $KEY_A" "pack of c: $KEY_C" "manifest of d: $KEY_MAN_D"

mvms verify
is_rc 0 "verify is clean before any damage" || bail "store is broken from the start"

# ---- flip one byte in the middle of a's pack ----
SZ=$(file_size "$PACK_A")
OFF=$((SZ / 2))
OLD=$(dd if="$PACK_A" bs=1 skip=$OFF count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
NEW=$(((OLD + 1) % 256))   # any different value
printf "\\$(printf '%03o' "$NEW")" | dd of="$PACK_A" bs=1 seek=$OFF conv=notrunc 2>/dev/null ||
	bail "cannot write into $PACK_A"
GOT=$(dd if="$PACK_A" bs=1 skip=$OFF count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
[ "$GOT" = "$NEW" ] || bail "byte flip did not take ($OLD -> $GOT)"
is "$(file_size "$PACK_A")" "$SZ" "(the pack keeps its size after the byte flip)"

mvms verify
is_rc 1 "verify exits 1 after a pack byte flip"
like "$OUT$ERR" "$KEY_A" "verify names the corrupt pack ($KEY_A)"
like "$OUT$ERR" "a@v1" "verify names the broken version a@v1"
unlike "$OUT$ERR" "b@v1" "verify does not blame b@v1"
unlike "$OUT$ERR" "$KEY_B" "verify does not name b's intact pack"
mvms verify --json
is_rc 1 "verify --json exits 1 too"
is "$(json_get ok)" false "verify --json: ok is false"
like "$OUT" "\"$KEY_A\"" "verify --json names the pack"

# a remote client would pull from the copy of a@v1 it kept when it pushed it (intact bytes,
# rightly): the pulls below are about the damaged store, so they read from it
cold_cache
mkdir "$WORK/out-a" || bail mkdir
mvms pull a@v1 -o "$WORK/out-a"
is_rc 1 "pull of the corrupt version fails (exit 1)"
like "$ERR" "mvms-store: " "pull says why on stderr"
check "pull left no model.safetensors behind" test ! -e "$WORK/out-a/model.safetensors"
is "$(find "$WORK/out-a" -name '*.mvms-tmp-*' | wc -l | tr -d ' ')" 0 "pull left no *.mvms-tmp-* temp files behind"
is "$(find "$WORK/out-a" ! -type d | wc -l | tr -d ' ')" 0 "pull left no file at all in the output dir"

mvms pull a@v1 -o "$WORK/out-a2"
is_rc 1 "pull of the corrupt version into a new dir fails (exit 1)"
check "and leaves no model.safetensors there" test ! -e "$WORK/out-a2/model.safetensors"
if [ -d "$WORK/out-a2" ]; then
	is "$(find "$WORK/out-a2" ! -type d | wc -l | tr -d ' ')" 0 "and no file at all"
else
	ok "and no file at all (no dir was created)"
fi

mvms pull b@v1 -o "$WORK/out-b"
is_rc 0 "pull of a version in an intact pack still works"
check "and it is byte-identical" cmp "$WORK/b/model.safetensors" "$WORK/out-b/model.safetensors"

# a failed pull --force over an existing good file must not clobber it
mvms pull a@v1 -o "$WORK/out-b" --force
is_rc 1 "pull --force of the corrupt version over an existing dir fails (exit 1)"
check "the file already there is untouched (not replaced by wrong bytes)" \
	cmp "$WORK/b/model.safetensors" "$WORK/out-b/model.safetensors"
is "$(find "$WORK/out-b" -name '*.mvms-tmp-*' | wc -l | tr -d ' ')" 0 "and no temp files are left there"

# ---- truncate c's pack ----
SZC=$(file_size "$PACK_C")
truncate -s $((SZC / 2)) "$PACK_C" 2>/dev/null ||
	{ head -c $((SZC / 2)) "$PACK_C" >"$WORK/half" && cat "$WORK/half" >"$PACK_C"; } ||
	bail "cannot truncate $PACK_C"
mvms verify
is_rc 1 "verify exits 1 with a truncated pack"
like "$OUT$ERR" "$KEY_C" "verify names the truncated pack ($KEY_C)"
like "$OUT$ERR" "c@v1" "verify names the broken version c@v1"
like "$OUT$ERR" "$KEY_A" "verify still names the byte-flipped pack"
mkdir "$WORK/out-c" || bail mkdir
mvms pull c@v1 -o "$WORK/out-c"
is_rc 1 "pull of the version in the truncated pack fails (exit 1)"
is "$(find "$WORK/out-c" ! -type d | wc -l | tr -d ' ')" 0 "and leaves no file behind"

# ---- delete d's manifest object ----
rm -f "$MAN_D" || bail "rm $MAN_D"
mvms verify
is_rc 1 "verify exits 1 with a missing manifest object"
like "$OUT$ERR" "$KEY_MAN_D" "verify names the missing manifest ($KEY_MAN_D)"
like "$OUT$ERR" "d@v1" "verify names the version whose manifest is gone"

# ---- damage to a pack that is shared is named with every version using it ----
mvms push a2 "$WORK/a"
is_rc 0 "push a's content again as model a2 (dedup: uses a's pack)"
mvms verify
like "$OUT$ERR" "a2@v1" "verify names every version that the corrupt pack breaks (a2@v1 too)"

mvms pull b@v1 -o "$WORK/out-b2"
is_rc 0 "b@v1 still pulls after all the damage elsewhere"

done_testing
