#!/bin/sh
# SPDX-License-Identifier: MIT
# A remote pull with a fresh cache of a version stored as fine-tune deltas: the bases its
# cache lacks come from the server in a few batched POST /v1/chunks (counted in the
# server's access log), not one request per base; the file is byte-identical, also with
# --cache-copy, and a base the server holds damaged fails the pull cleanly (no file left).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

MKDELTA=$BUILDDIR/tests/mkdelta
[ -x "$MKDELTA" ] || bail "tests/mkdelta is not built"
S=$WORK/server
"$MVMS" --store "$S" init -q >/dev/null 2>&1 || bail "init the server's store"
mkdir -p "$WORK/v1" "$WORK/v2"
"$MKDELTA" "$WORK/v1/model.safetensors" --size 4194304 --tensors 8 --seed 1 || bail "mkdelta v1"
"$MKDELTA" "$WORK/v2/model.safetensors" --size 4194304 --tensors 8 --seed 1 --drift 1 ||
	bail "mkdelta v2"
run "$MVMS" --store "$S" push -q m "$WORK/v1"
is_rc 0 "push v1 into the server's store"
run "$MVMS" --store "$S" --json push m "$WORK/v2"
is_rc 0 "push v2, every value drifted ~1%"
DELTAS=$(json_get delta_chunks)
num_ge "$DELTAS" 32 "v2 is stored as $DELTAS deltas against v1's chunks"
T=$("$MVMS" --store "$S" token create --scope read 2>/dev/null) || bail "token"
SRV_STORE=$S
srv_start srv --threads 2
# chunk_posts: POST /v1/chunks the server answered so far.
chunk_posts() { grep -c '"route":"/v1/chunks"' "$WORK/srv.log"; }

pull_fresh() {
	rm -rf "$WORK/cache" "$WORK/$1"
	_before=$(chunk_posts)
	run env XDG_CACHE_HOME="$WORK/cache" "$MVMS" --remote "$URL" --token "$T" pull $2 m@v2 \
		-o "$WORK/$1"
	POSTS=$(($(chunk_posts) - _before))
}

pull_fresh p2
is_rc 0 "remote pull of v2 with a fresh cache"
check "byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/p2/model.safetensors"
num_ge "$POSTS" 1 "its bases came from the server ($POSTS requests)"
num_le "$POSTS" $((DELTAS / 8)) "in batches: not one request per base ($DELTAS deltas)"

pull_fresh p2cc --cache-copy
is_rc 0 "the same with --cache-copy (the cache keeps the delta records)"
check "byte-identical" cmp "$WORK/v2/model.safetensors" "$WORK/p2cc/model.safetensors"
num_le "$POSTS" $((DELTAS / 8)) "in batches too ($POSTS requests)"

# The bases are in v1's pack, the larger one (v2's deltas are smaller).
BASEPACK=$(ls -S $(find "$S/objects/packs" -type f) | head -n 1)
printf '\377\377\377\377' | dd of="$BASEPACK" bs=1 seek=3000 conv=notrunc 2>/dev/null
pull_fresh pbad
rc_nonzero "a damaged base fails the pull"
like "$ERR" "pull: model.safetensors" "with a message naming the file"
check "no file is left" test ! -e "$WORK/pbad/model.safetensors"
is "$(find "$WORK/pbad" -name '.mvms-part-*' 2>/dev/null | wc -l | tr -d ' ')" 0 \
	"nor a part file"

done_testing
