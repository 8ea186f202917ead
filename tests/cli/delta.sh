#!/bin/sh
# SPDX-License-Identifier: MIT
# Fine-tune deltas from the command line: v2 of a bf16 model whose every value drifted ~1%
# is stored as deltas against v1 (at most 0.35x raw, from deterministic byte counts), pulls
# and cats byte-identical, verifies; after v1 is deleted gc keeps the bases v2's deltas need
# (v2 still pulls); verify names v2 when a base is damaged. Pushes go to the store itself
# (tests/cli/deltapush.sh covers remote pushes); every read also runs through a server
# (CLI_REMOTE_TESTS), where the client fetches the bases its cache lacks.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

MKDELTA=$BUILDDIR/tests/mkdelta
[ -x "$MKDELTA" ] || bail "tests/mkdelta is not built"
mkd() { "$MKDELTA" "$@" || bail "mkdelta $*"; }
# The store itself, whatever the transport.
direct() { run "${MVMS_BIN:-$MVMS}" --store "$MVMS_STORE" "$@"; }

direct init -q
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/v1" "$WORK/v2" "$WORK/other"
mkd "$WORK/v1/model.safetensors" --size 2097152 --tensors 8 --seed 1
mkd "$WORK/v2/model.safetensors" --size 2097152 --tensors 8 --seed 1 --drift 1
mkd "$WORK/other/model.safetensors" --size 262144 --tensors 2 --seed 5
direct push -q m "$WORK/v1"
is_rc 0 "push v1"
direct push --json m "$WORK/v2"
is_rc 0 "push v2, every value drifted ~1%"
RAW=$(json_get logical_bytes)
NEW=$(json_get new_stored_bytes)
DELTAS=$(json_get delta_chunks)
diag "v2: $NEW bytes stored for $RAW raw, $DELTAS chunks as deltas"
num_gt "$DELTAS" 0 "v2's chunks are stored as deltas"
num_le "$NEW" "$(awk -v r="$RAW" 'BEGIN { printf "%d", r * 0.35 }')" \
	"v2 is stored in at most 0.35x its raw bytes"
direct push other "$WORK/other"
is_rc 0 "push an unrelated model (gc will take it)"

mvms stats --json
is_rc 0 "stats"
num_gt "$(json_get delta_chunks)" 0 "stats counts the delta chunks"

mvms pull m@v2 -o "$WORK/p2"
is_rc 0 "pull v2"
check "v2 is byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/p2/model.safetensors"
cold_cache
mvms pull --cache-copy m@v2 -o "$WORK/p2cc"
is_rc 0 "pull --cache-copy v2 (in a remote cache: delta records kept as they came)"
check "byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/p2cc/model.safetensors"
mvms pull m@v1 -o "$WORK/p1"
is_rc 0 "pull v1"
check "v1 is byte-identical" cmp "$WORK/v1/model.safetensors" "$WORK/p1/model.safetensors"
run sh -c "'$MVMS' cat m@v2 model.safetensors >'$WORK/cat2'"
is_rc 0 "cat v2's file"
check "cat decodes the deltas byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/cat2"
run sh -c "'$MVMS' cat m@v2 model.safetensors --range 1000-300000 >'$WORK/range2'"
is_rc 0 "cat a byte range of it"
tail -c +1001 "$WORK/v2/model.safetensors" | head -c 299001 >"$WORK/range2.want"
check "a range read decodes them too" cmp "$WORK/range2.want" "$WORK/range2"
mvms verify
is_rc 0 "verify decodes every delta through its base"

# ---- the same versions pushed through the transport (remotely: deltas made by the client) ----
mvms push -q m2 "$WORK/v1"
is_rc 0 "push v1 as another model"
mvms push -q m2 "$WORK/v2"
is_rc 0 "push v2 on it"
mvms pull m2@v2 -o "$WORK/pm2"
is_rc 0 "it pulls"
check "byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/pm2/model.safetensors"

# ---- repack keeps deltas valid: a pack of deltas and of chunks gc drops is rewritten ----
mkdir -p "$WORK/r1" "$WORK/r2" "$WORK/r3"
mkd "$WORK/r1/model.safetensors" --size 1048576 --tensors 4 --seed 8
mkd "$WORK/r2/model.safetensors" --size 1048576 --tensors 4 --seed 8 --drift 1
cp "$WORK/r2/model.safetensors" "$WORK/r3/"
head -c 300000 /dev/urandom >"$WORK/r2/extra.bin"
direct push -q r "$WORK/r1"
direct push --json r "$WORK/r2"
is_rc 0 "push r@v2: deltas and an extra file, in one pack"
num_gt "$(json_get delta_chunks)" 0 "(with deltas)"
direct push -q r "$WORK/r3"
is_rc 0 "push r@v3: the same model without the extra file"
direct delete r@v2
is_rc 0 "delete r@v2"
mvms gc --grace 0
is_rc 0 "gc --grace 0"
like "$OUT" "rewrote 1 pack" "gc rewrote the pack that mixed the deltas and the extra file"
mvms pull r@v3 -o "$WORK/pr3"
is_rc 0 "r@v3 pulls after the rewrite"
check "byte-identical" cmp "$WORK/r3/model.safetensors" "$WORK/pr3/model.safetensors"

# ---- gc keeps the bases ----
direct delete m@v1
is_rc 0 "delete v1 (its chunks are the bases of v2's deltas)"
direct model delete other --yes
is_rc 0 "delete the unrelated model"
direct model delete m2 --yes
is_rc 0 "and m2 (whose v1 has the same chunks as m@v1)"
mvms gc --grace 0
is_rc 0 "gc --grace 0"
unlike "$OUT" "removed 0 packs (0 B), 0 chunks" "gc removed what only the deleted ones held"
mvms pull m@v2 -o "$WORK/p2b"
is_rc 0 "v2 still pulls after gc"
check "byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/p2b/model.safetensors"
mvms verify
is_rc 0 "verify finds no base missing"

# ---- a damaged base breaks v2, and verify says so ----
# The bases are in v1's pack, the larger one (v2's deltas are smaller).
BASEPACK=$(ls -S $(find "$MVMS_STORE/objects/packs" -type f) | head -n 1)
printf '\377\377\377\377' | dd of="$BASEPACK" bs=1 seek=3000 conv=notrunc 2>/dev/null
mvms verify
is_rc 1 "verify finds the damaged base"
like "$OUT$ERR" "m@v2" "and names v2, whose deltas need it"
# (a remote client reads v2 from the files it pulled before: not through a cold cache)
cold_cache
mvms pull m@v2 -o "$WORK/p2c"
rc_nonzero "pulling v2 fails cleanly"
[ -e "$WORK/p2c/model.safetensors" ] && not_ok "no file was written" || ok "no file was written"

done_testing
