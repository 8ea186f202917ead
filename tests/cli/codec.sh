#!/bin/sh
# SPDX-License-Identifier: MIT
# Byte-plane codecs seen from the command line: a bf16 model is stored below 0.72x its raw
# size (stats), f16 and f32 models below zstd's usual 0.92x, and each pulls byte-identical
# and verifies; a store written before the codecs existed (tests/data, made with the
# previous release's binary: zstd and raw records only) still pulls byte-identical,
# verifies, and takes new content next to its old records.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

mvms init -q
is_rc 0 "init" || bail "cannot create a store"

mkmodel -q --size 8M --tensors 8 --seed 21 "$WORK/bf16"
mvms push --json bf16 "$WORK/bf16"
is_rc 0 "push a bf16 safetensors model"
mvms stats --json
is_rc 0 "stats --json"
LOG=$(json_get logical_bytes)
STORED=$(json_get stored_bytes)
RATIO=$(awk -v s="$STORED" -v l="$LOG" 'BEGIN { printf "%.4f", s / l }')
diag "bf16: stored $STORED of $LOG logical bytes: $RATIO"
num_lt "$RATIO" 0.72 "bf16 weights are stored below 0.72x raw (zstd alone: 0.78x)"
mvms pull bf16@main -o "$WORK/p-bf16"
is_rc 0 "pull it"
check "byte-identical" cmp "$WORK/bf16/model.safetensors" "$WORK/p-bf16/model.safetensors"

for dt in f16 f32; do
	mkmodel -q --size 4M --tensors 4 --seed 22 --dtype $dt "$WORK/$dt"
	mvms push --json $dt "$WORK/$dt"
	is_rc 0 "push a $dt model"
	# the file's size: all of it is new (a remote push's JSON has no new_raw_bytes)
	RAW=$(file_size "$WORK/$dt/model.safetensors")
	NEW=$(json_get new_stored_bytes)
	diag "$dt: stored $NEW of $RAW raw bytes"
	num_lt "$NEW" "$(awk -v r="$RAW" 'BEGIN { printf "%d", r * 0.88 }')" \
		"$dt weights are stored below 0.88x raw (zstd alone: ~0.92x)"
	mvms pull $dt@main -o "$WORK/p-$dt"
	is_rc 0 "pull the $dt model"
	check "byte-identical" cmp "$WORK/$dt/model.safetensors" "$WORK/p-$dt/model.safetensors"
done
mvms verify
is_rc 0 "verify decodes every byte-plane record and checks its hash"

# Which codecs the records got, read from the packs (docs/formats.md): each model's dtype
# reached the codec (a guess from the bytes alone would give codec 2 to all three).
find_py
if [ -n "$PY" ]; then
	cat >"$WORK/codecs.py" <<'PY'
import glob, struct, sys
count = {}
for p in glob.glob(sys.argv[1] + "/objects/packs/*/*"):
    d = open(p, "rb").read()
    pos, end = 16, struct.unpack_from("<Q", d, len(d) - 56)[0]
    while pos < end:
        codec, raw, stored = struct.unpack_from("<BII", d, pos)
        count[codec] = count.get(codec, 0) + 1
        pos += 41 + stored
print(" ".join("%d:%d" % kv for kv in sorted(count.items())))
PY
	run "$PY" "$WORK/codecs.py" "$MVMS_STORE"
	is_rc 0 "read the packs' record headers"
	diag "records by codec: $OUT"
	like " $OUT" " 3:" "bf16 tensors are stored as codec 3 (bf16 split)"
	like " $OUT" " 4:" "f32 tensors as codec 4 (f32 split)"
	like " $OUT" " 2:" "f16 tensors as codec 2 (byte planes)"
else
	skip "python3 not installed: the codecs of the records"
fi

# A flipped byte inside a plane record: verify and pull notice, nothing is written.
PACK=$(find "$MVMS_STORE" -path '*packs*' -type f | head -n 1)
[ -n "$PACK" ] || bail "no pack in the store"
printf '\377' | dd of="$PACK" bs=1 seek=200 conv=notrunc 2>/dev/null
mvms verify
is_rc 1 "verify finds the corrupt record"

# ---- a store from before the byte planes ----
mkdir -p "$WORK/old"
tar -xzf "$TESTS_SRCDIR/data/store-before-planes.tar.gz" -C "$WORK/old" ||
	bail "cannot unpack tests/data/store-before-planes.tar.gz"
OLD=$WORK/old/store
# The same model as in the archive (mkmodel is deterministic).
mkmodel -q --size 64K --tensors 4 --seed 3 --extras "$WORK/oldmodel"
run "$MVMS" --store "$OLD" pull m@v1 -o "$WORK/p-old"
is_rc 0 "pull m@v1 from the old store"
check "byte-identical to the model it was pushed from" same_tree "$WORK/oldmodel" "$WORK/p-old"
run "$MVMS" --store "$OLD" verify
is_rc 0 "the old store verifies"
run "$MVMS" --store "$OLD" push -q m "$WORK/bf16"
is_rc 0 "push bf16 content into the old store (byte-plane records next to zstd ones)"
run "$MVMS" --store "$OLD" pull m@v1 -o "$WORK/p-old2"
is_rc 0 "m@v1 still pulls"
check "byte-identical" same_tree "$WORK/oldmodel" "$WORK/p-old2"
run "$MVMS" --store "$OLD" pull m@main -o "$WORK/p-old3"
is_rc 0 "m@v2 pulls"
check "byte-identical" cmp "$WORK/bf16/model.safetensors" "$WORK/p-old3/model.safetensors"
run "$MVMS" --store "$OLD" verify
is_rc 0 "the mixed store verifies"

done_testing
