#!/bin/sh
# SPDX-License-Identifier: MIT
# Deduplication: a second version with 10% of tensors changed stores about the changed
# tensors only; identical content pushed under another model stores nothing new; the
# store's dedup ratio reflects it; show reports the safetensors format.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

SIZE_MIB=16
TENSORS=32
SIZE=$((SIZE_MIB * 1048576))

mkmodel --size ${SIZE_MIB}M --tensors $TENSORS --seed 5 "$WORK/v1"
mkmodel --size ${SIZE_MIB}M --tensors $TENSORS --seed 5 --change 10 "$WORK/v2"
CHANGED=$(printf '%s\n' "$MK_OUT" | sed -n 's/.* \([0-9][0-9]*\) changed.*/\1/p')
[ -n "$CHANGED" ] || bail "cannot read the changed-tensor count from mkmodel: $MK_OUT"
[ "$CHANGED" -gt 0 ] || bail "mkmodel --change 10 changed no tensor"
CHANGED_RAW=$((SIZE / TENSORS * CHANGED))
diag "v2 changes $CHANGED of $TENSORS tensors, about $CHANGED_RAW raw bytes"

mvms init
is_rc 0 "init" || bail "cannot create a store"

mvms push --json m "$WORK/v1"
is_rc 0 "push v1" || bail "push v1 failed"
V1_NEW=$(json_get new_stored_bytes)
diag "v1 new_stored_bytes $V1_NEW"
# The same fields, local or through a server.
is "$(json_get tensors)" "$TENSORS" "push --json counts the tensors"
is "$(json_get new_raw_bytes)" "$(json_get logical_bytes)" "push --json new_raw_bytes: all of v1 is new"
num_gt "$V1_NEW" $((SIZE / 2)) "v1 stores most of its bytes (random-ish bf16 data)"

mvms push --json m "$WORK/v2"
is_rc 0 "push v2 (10% of tensors changed)"
is "$(json_get version)" 2 "v2 is version 2"
V2_NEW=$(json_get new_stored_bytes)
diag "v2 new_stored_bytes $V2_NEW"
LIMIT=$(awk -v r="$CHANGED_RAW" 'BEGIN { printf "%d", r * 1.2 }')
num_le "$V2_NEW" "$LIMIT" "v2 new_stored_bytes ($V2_NEW) <= 1.2 x changed tensors' raw size ($LIMIT)"
num_lt "$V2_NEW" "$((V1_NEW / 4))" "v2 stores much less than v1 (< 1/4)"
num_gt "$V2_NEW" 0 "v2 stores something (its changed tensors)"

mvms push --json other "$WORK/v1"
is_rc 0 "push v1's content again as another model"
B_NEW=$(json_get new_stored_bytes)
num_le "$B_NEW" 1024 "cross-model dedup: identical content under model 'other' stores ~0 new bytes ($B_NEW)"
is "$(json_get version)" 1 "it is other@v1"

mvms stats --json
is_rc 0 "stats --json"
RATIO=$(json_get dedup_ratio)
diag "dedup_ratio $RATIO"
num_gt "$RATIO" 1.5 "dedup_ratio > 1.5 after v1, v2 and v1 again"
LOG=$(json_get logical_bytes)
UNIQ=$(json_get unique_bytes)
num_gt "$LOG" "$((3 * SIZE - 1))" "logical_bytes counts all three versions"
num_lt "$UNIQ" "$((SIZE * 3 / 2))" "unique_bytes is about one model plus the changed tensors"

mvms show m@v2
is_rc 0 "show m@v2"
like "$OUT" "safetensors, $TENSORS tensors" "show reports the safetensors format with $TENSORS tensors"
mvms show --json m@v2
like "$OUT" "\"format\":${TAB}\"safetensors\"" "show --json: format safetensors"
like "$OUT" "\"tensors\":${TAB}$TENSORS" "show --json: $TENSORS tensors"

mvms pull m@v2 -o "$WORK/o2"
is_rc 0 "pull v2"
check "v2 round trip is byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/o2/model.safetensors"

done_testing
