#!/bin/sh
# SPDX-License-Identifier: MIT
# A cancelled push: killed with SIGKILL, or interrupted with SIGINT (^C), while its
# pipeline has slots in flight and full packs are being finished (fsynced and renamed) by
# the uploader threads. Small packs (1 MiB) make a 24 MiB push write a score of them, so a
# kill before a step of the push's middle (tests/crashat.so counts steps: fsync, rename,
# ...) catches a pack being finished while the reading thread is still cutting the file.
# After each kill:
# - `verify` finds no damage: every pack the database names is there and whole (a pack
#   indexed before it was in place under its name would be named but missing);
# - the version committed before still pulls byte-identical (no committed object lost);
# - a re-push completes, pulls back byte-identical, and stores exactly the chunks that
#   were not durable and indexed: its new chunks + the chunks the killed push left indexed
#   = every chunk of the file (what was durable is deduplicated, nothing is trusted that
#   was not: a chunk indexed but not stored would be counted as known and then missing).
# At least one kill must leave indexed packs behind (else the dedup check proves nothing)
# and at least one must come before the end (else nothing was in flight).
. "$TESTS_SRCDIR/cli/lib.sh"
setup

CRASHAT=${CRASHAT:-}
[ -n "$CRASHAT" ] && [ -f "$CRASHAT" ] || skip_all "tests/crashat.so is not built (CRASHAT)"

B=$WORK/base
mkmodel --size 4M --tensors 4 --seed 61 "$WORK/v1"
# Another seed and tensor count: no chunk (not even the header's) is shared with v1.
mkmodel --size 24M --tensors 12 --seed 62 "$WORK/big"

run "$MVMS" --store "$B" init --pack-size 1M
is_rc 0 "init with 1 MiB packs" || bail "init failed"
run "$MVMS" --store "$B" --json push one "$WORK/v1"
is_rc 0 "push v1" || bail "push v1 failed"
V1_CHUNKS=$(json_get chunks)

# An uncrashed run in a copy: the steps it takes and the chunks of the file.
cp -R "$B" "$WORK/count" || bail "cp"
run env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
	MVMS_CRASH_COUNT="$WORK/steps" "$MVMS" --store "$WORK/count" --json push two "$WORK/big"
is_rc 0 "an uncrashed push of 24 MiB under crashat.so" || bail "push failed"
BIG_CHUNKS=$(json_get chunks)
PACKS=$(json_get packs)
STEPS=$(cat "$WORK/steps")
diag "the push takes $STEPS steps, writes $PACKS packs, $BIG_CHUNKS chunks"
num_ge "$PACKS" 10 "the push writes many packs (finished in the background while it reads)"

# chunks STORE: the chunks the store's database holds
chunks() {
	"$MVMS" --store "$1" --json stats 2>/dev/null | json_get chunks /dev/stdin
}

LEFT=0
EARLY=0
# kill_at SIGNAL PERMILLE: kills a push of big with SIGNAL (KILL or INT) before the step at
# PERMILLE of the uncrashed run's steps, then checks the store and re-pushes.
kill_at() {
	_s=$WORK/S.$1.$2
	_step=$(($2 * STEPS / 1000))
	[ "$_step" -ge 1 ] || _step=1
	rm -rf "$_s"
	cp -R "$B" "$_s" || bail "cp"
	{ env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
		MVMS_CRASH_AT="$_step" MVMS_CRASH_SIGNAL="$1" \
		"$MVMS" --store "$_s" -q push two "$WORK/big" >"$WORK/k.out" 2>"$WORK/k.err" </dev/null; } 2>/dev/null
	_krc=$?
	case $1 in KILL) _want=137 ;; *) _want=130 ;; esac
	is "$_krc" "$_want" "SIG$1 before step $_step of $STEPS ends the push"
	san_scan "push killed with SIG$1" "$WORK/k.err"

	_left=$(($(chunks "$_s") - V1_CHUNKS))
	diag "SIG$1 at step $_step: $_left of $BIG_CHUNKS chunks left indexed"
	[ "$_left" -gt 0 ] && LEFT=$((LEFT + 1))
	[ "$_left" -lt "$BIG_CHUNKS" ] && EARLY=$((EARLY + 1))
	run "$MVMS" --store "$_s" verify
	is_rc 0 "verify after SIG$1 at step $_step: no damage"
	rm -rf "$WORK/o1"
	run "$MVMS" --store "$_s" pull one -o "$WORK/o1"
	is_rc 0 "the version committed before pulls after SIG$1 at step $_step"
	check "... byte-identical" cmp "$WORK/v1/model.safetensors" "$WORK/o1/model.safetensors"
	run "$MVMS" --store "$_s" --json push two "$WORK/big"
	is_rc 0 "the re-push after SIG$1 at step $_step completes"
	is "$(json_get new_chunks)" "$((BIG_CHUNKS - _left))" \
		"... and stores only the chunks that were not durable (the others are deduplicated)"
	rm -rf "$WORK/o2"
	run "$MVMS" --store "$_s" pull two -o "$WORK/o2"
	is_rc 0 "the re-pushed version pulls"
	check "... byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/o2/model.safetensors"
	run "$MVMS" --store "$_s" verify
	is_rc 0 "verify after the re-push"
	rm -rf "$_s"
}

kill_at KILL 150
kill_at KILL 350
kill_at INT 500
kill_at KILL 650
kill_at INT 800

num_ge "$LEFT" 1 "some kill left durable packs indexed (the re-push's dedup was tested)"
num_ge "$EARLY" 1 "some kill came before the push had stored everything"

done_testing
