#!/bin/sh
# SPDX-License-Identifier: MIT
# A pull's workers write runs of chunks at their places in any order, so a killed pull can
# leave a part file with holes (zeros) and later bytes written: the next pull keeps only the
# leading chunks that hash right and writes the rest, byte-identical. Also: pulls killed
# with SIGKILL at several points resume; a damaged record fails the pull with a clear error
# and leaves neither the file nor a part.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

# The part file of model.safetensors (resume.c: 16 hex of the BLAKE2b-256 of its path).
PART=.mvms-part-$(printf %s model.safetensors | b2sum -l 256 | cut -c1-16)

mvms init -q
is_rc 0 "init"
mkmodel -q --size 8M --tensors 4 "$WORK/m"
mvms push m "$WORK/m"
is_rc 0 "push an 8 MiB model"
F=$WORK/m/model.safetensors
SIZE=$(file_size "$F")

# A hole from 1/4 to 1/2 of the file, the bytes after it written: a pull killed while
# its workers were ahead of the one that had the hole.
mkdir -p "$WORK/h1"
cp "$F" "$WORK/h1/$PART"
dd if=/dev/zero of="$WORK/h1/$PART" bs=1024 seek=$((SIZE / 4096)) count=$((SIZE / 4096)) \
	conv=notrunc 2>/dev/null
mvms --json pull m@v1 -o "$WORK/h1"
is_rc 0 "a pull over a part file with a hole in the middle"
B=$(json_get bytes)
num_gt "$B" $((SIZE / 2)) "rewrites from the hole on ($B bytes)"
num_lt "$B" $((SIZE * 4 / 5)) "keeps the chunks before it"
check "byte-identical" cmp "$F" "$WORK/h1/model.safetensors"
is "$(parts "$WORK/h1")" 0 "no part file is left"

# The first chunk missing, everything after it there: nothing can be kept.
mkdir -p "$WORK/h2"
cp "$F" "$WORK/h2/$PART"
dd if=/dev/zero of="$WORK/h2/$PART" bs=1024 count=16 conv=notrunc 2>/dev/null
mvms --json pull m@v1 -o "$WORK/h2"
is_rc 0 "a pull over a part file whose first chunk is a hole"
is "$(json_get bytes)" "$SIZE" "writes the whole file again"
check "byte-identical" cmp "$F" "$WORK/h2/model.safetensors"

# Real kills at several points (bounded waits; a pull that finished first is fine too).
for d in 0 0.01 0.03; do
	"$MVMS" pull m@v1 -o "$WORK/k" >/dev/null 2>&1 </dev/null &
	KP=$!
	wait_parts "$WORK/k" $KP
	sleep $d
	kill -KILL $KP 2>/dev/null
	wait $KP 2>/dev/null
	diag "killed ${d}s after its part file appeared: $(parts "$WORK/k") part file(s) there"
	rm -f "$WORK/k/model.safetensors"
done
mvms pull m@v1 -o "$WORK/k"
is_rc 0 "after kill -9, pulling again works"
check "byte-identical" cmp "$F" "$WORK/k/model.safetensors"
is "$(parts "$WORK/k")" 0 "no part file is left"

# A damaged record in the middle of the pack: a clear error, nothing left behind.
PACK=$(ls -S $(find "$MVMS_STORE/objects/packs" -type f) | head -n 1)
PSIZE=$(file_size "$PACK")
printf '\377\377\377\377\377\377\377\377' |
	dd of="$PACK" bs=1 seek=$((PSIZE / 2)) conv=notrunc 2>/dev/null
mvms pull m@v1 -o "$WORK/bad"
rc_nonzero "pulling over a damaged record fails"
like "$ERR" "pull: model.safetensors" "the error names the file"
check "no file is left" test ! -e "$WORK/bad/model.safetensors"
is "$(parts "$WORK/bad")" 0 "nor a part file"

done_testing
