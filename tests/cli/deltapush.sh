#!/bin/sh
# SPDX-License-Identifier: MIT
# Fine-tune deltas through a remote push (mvms-store --remote URL push): v2 of a bf16 model
# whose every value drifted ~1% is uploaded and stored on the server as deltas against v1's
# full records (at most 0.35x raw sent and stored); v3 pushed from a fresh cache fetches its
# bases from the server and diffs against v1's records, never v2's deltas (no chains); the
# server's description of a file (GET .../bases/{path}) says which chunks it holds as
# deltas; every version pulls back byte-identical remotely (warm and cold caches) and
# locally from the server's store; after v1 is deleted a gc keeps the bases and verify
# passes; the server refuses a pack holding a delta whose base it lacks, or holds as a
# delta itself (400 delta_base, nothing kept); and a cache whose deltas the server refuses
# (their bases were deleted and collected) sends them again as full records.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

MKDELTA=$BUILDDIR/tests/mkdelta
[ -x "$MKDELTA" ] || bail "tests/mkdelta is not built"
mkd() { "$MKDELTA" "$@" || bail "mkdelta $*"; }

"$MVMS" --store "$WORK/server" init -q >/dev/null 2>&1 || bail "init the server's store"
A=$("$MVMS" --store "$WORK/server" token create --scope admin 2>/dev/null) || bail "token"
SRV_STORE=$WORK/server
srv_start srv --threads 2 --no-access-log
S1=$URL
XDG_CACHE_HOME=$WORK/cache-a
export XDG_CACHE_HOME
rem() { run "$MVMS" --remote "$S1" --token "$A" "$@"; }
AH="Authorization: Bearer $A"
F=model.safetensors

mkdir -p "$WORK/v1" "$WORK/v2" "$WORK/v3" "$WORK/o1" "$WORK/o2"
mkd "$WORK/v1/$F" --size 2097152 --tensors 8 --seed 1
mkd "$WORK/v2/$F" --size 2097152 --tensors 8 --seed 1 --drift 1
mkd "$WORK/v3/$F" --size 2097152 --tensors 8 --seed 1 --drift 1 --drift-seed 3
printf '{"hidden": 64}\n' >"$WORK/v2/config.json"

rem push -q m "$WORK/v1"
is_rc 0 "remote push of v1"
rem --json push m "$WORK/v2"
is_rc 0 "remote push of v2, every value drifted ~1%"
RAW=$(json_get new_raw_bytes)
NEW=$(json_get new_stored_bytes)
DELTAS=$(json_get delta_chunks)
diag "v2 through the server: $NEW bytes sent and stored for $RAW raw, $DELTAS deltas"
num_ge "$DELTAS" 32 "every tensor chunk of v2 travels as a delta"
num_le "$NEW" "$(awk -v r="$RAW" 'BEGIN { printf "%d", r * 0.35 }')" \
	"v2 is sent and stored in at most 0.35x its raw bytes"

rem stats --json
is_rc 0 "the server's stats"
num_ge "$(json_get delta_chunks)" 32 "the server stores v2's chunks as deltas"

# ---- what the server says of a file: its tensors and the full record each chunk pairs with ----
req GET "$S1/v1/models/m/versions/v1/bases/$F" -H "$AH"
is_code 200 "GET .../versions/v1/bases/$F"
is "$(jcount base)" 0 "v1's chunks are all full records"
grep -o '"id":"[0-9a-f]*"' "$WORK/body" | sed 's/.*:"//; s/"//' | sort >"$WORK/v1.ids"
num_ge "$(wc -l <"$WORK/v1.ids")" 32 "with its chunk ids"
is "$(jcount dtype)" 8 "and its 8 tensors"
req GET "$S1/v1/models/m/versions/v2/bases/$F" -H "$AH"
is_code 200 "GET .../versions/v2/bases/$F"
num_ge "$(jcount base)" 32 "v2's chunks are deltas, each naming its base"
req GET "$S1/v1/models/m/versions/v2/bases/config.json" -H "$AH"
is_code 200 "GET .../bases/config.json"
is "$(jcount dtype)$(jcount id)" 00 "a file without tensors has nothing to pair with"
req GET "$S1/v1/models/m/versions/v2/bases/nothere.safetensors" -H "$AH"
is_code 404 "nor has a path the version lacks"
req GET "$S1/v1/models/m/versions/v2/bases/$F"
is_code 401 "it needs a token"

# ---- v3 from a fresh cache: bases fetched from the server, v1's records (no chains) ----
# POST /v1/chunks answered so far (the metric's value, 0 when none)
chunk_posts() {
	curl -s "$S1/metrics" -H "$AH" |
		awk '/^mvms_http_requests_total\{route="\/v1\/chunks",method="POST"/ { n += $NF }
		     END { print n + 0 }'
}
POSTS0=$(chunk_posts)
XDG_CACHE_HOME=$WORK/cache-b rem --json push m "$WORK/v3"
is_rc 0 "remote push of v3 from a cache that has never seen the model"
num_ge "$(json_get delta_chunks)" 32 "v3 travels as deltas too (bases fetched from the server)"
POSTS=$(($(chunk_posts) - POSTS0))
diag "the fresh cache fetched v3's $(json_get delta_chunks) bases in $POSTS POST /v1/chunks"
num_le "$POSTS" 3 "  in a few batched requests, not one per base"
req GET "$S1/v1/models/m/versions/v3/bases/$F" -H "$AH"
is_code 200 "GET .../versions/v3/bases/$F"
grep -o '"base":"[0-9a-f]*"' "$WORK/body" | sed 's/.*:"//; s/"//' | sort -u >"$WORK/v3.bases"
num_ge "$(wc -l <"$WORK/v3.bases")" 32 "v3's deltas name their bases"
is "$(comm -23 "$WORK/v3.bases" "$WORK/v1.ids" | wc -l | tr -d ' ')" 0 \
	"every base is one of v1's full records, not one of v2's deltas"

# ---- byte-identical back, remotely (warm and cold caches) and locally ----
for v in 2 3; do
	rem pull "m@v$v" -o "$WORK/p$v"
	is_rc 0 "remote pull of v$v"
	check "v$v is byte-identical" cmp "$WORK/v$v/$F" "$WORK/p$v/$F"
	XDG_CACHE_HOME=$WORK/cache-c$v rem pull "m@v$v" -o "$WORK/pc$v"
	is_rc 0 "remote pull of v$v with a cold cache"
	check "byte-identical" cmp "$WORK/v$v/$F" "$WORK/pc$v/$F"
	run "$MVMS" --store "$WORK/server" pull "m@v$v" -o "$WORK/pl$v"
	is_rc 0 "local pull of v$v from the server's store"
	check "byte-identical" cmp "$WORK/v$v/$F" "$WORK/pl$v/$F"
done
check "v2's config.json too" cmp "$WORK/v2/config.json" "$WORK/p2/config.json"

# ---- gc keeps the bases of the deltas ----
rem delete m@v1
is_rc 0 "delete v1 (its chunks are the bases of v2's and v3's deltas)"
rem gc --grace 0
is_rc 0 "gc --grace 0 on the server"
rem verify
is_rc 0 "verify on the server decodes every delta through its base"
XDG_CACHE_HOME=$WORK/cache-d rem pull m@v3 -o "$WORK/pg3"
is_rc 0 "v3 still pulls after gc (cold cache)"
check "byte-identical" cmp "$WORK/v3/$F" "$WORK/pg3/$F"

# ---- forged packs: a delta whose base the server lacks, or holds as a delta ----
# A second store L: x@v1 = v2's bytes (full there), x@v2 = v3's bytes (deltas against v2's
# chunks, which the server holds as deltas); y@v1, y@v2 an unrelated model and its drift
# (deltas against chunks the server has never seen).
"$MVMS" --store "$WORK/L" init -q >/dev/null 2>&1 || bail "init L"
mkd "$WORK/o1/$F" --size 524288 --tensors 2 --seed 9
mkd "$WORK/o2/$F" --size 524288 --tensors 2 --seed 9 --drift 1
for p in "x $WORK/v2" "x $WORK/v3" "y $WORK/o1" "y $WORK/o2"; do
	set -- $p
	"$MVMS" --store "$WORK/L" push -q "$1" "$2" >/dev/null 2>&1 || bail "push $1 to L"
done
AL=$("$MVMS" --store "$WORK/L" token create --scope admin 2>/dev/null) || bail "token on L"
SRV_STORE=$WORK/L
srv_start l --threads 1 --no-access-log
SL=$URL
# forge MODEL: a pack from L holding one delta chunk of MODEL@v2, in $WORK/forged
forge() {
	req GET "$SL/v1/models/$1/versions/v2/bases/$F" -H "Authorization: Bearer $AL"
	_id=$(grep -o '"id":"[0-9a-f]*","length":[0-9]*,"base"' "$WORK/body" | head -n 1 |
		sed 's/"id":"//; s/".*//')
	[ -n "$_id" ] || bail "L holds no delta of $1@v2"
	curl -s --max-time 60 -H "Authorization: Bearer $AL" -H 'Content-Type: application/json' \
		-d "{\"ids\":[\"$_id\"]}" -o "$WORK/forged" "$SL/v1/chunks" || bail "fetch from L"
	# The pack id is the index hash in the trailer (docs/formats.md, Packs).
	_pid=$(tail -c 40 "$WORK/forged" | head -c 32 | od -An -v -tx1 | tr -d ' \n')
	[ ${#_pid} = 64 ] || bail "no pack id"
}
forge x
req PUT "$S1/v1/packs/$_pid" -H "$AH" --data-binary "@$WORK/forged"
is_code 400 "the server refuses a delta whose base it holds as a delta"
is "$(jstr code)" delta_base "(delta_base)"
like "$BODY" "holds as a delta" "the message says why"
forge y
req PUT "$S1/v1/packs/$_pid" -H "$AH" --data-binary "@$WORK/forged"
is_code 400 "the server refuses a delta whose base it does not hold"
is "$(jstr code)" delta_base "(delta_base)"
like "$BODY" "does not hold" "the message says why"
[ -e "$WORK/server/objects/packs/$(printf %s "$_pid" | cut -c1-2)/$_pid" ] &&
	not_ok "nothing was kept" || ok "nothing was kept"
rem verify
is_rc 0 "the server's store still verifies"

# ---- namings taken back while their bases are fetched: a stress, six fresh caches ----
# 90% of the chunks of a 10%-changed version are the parent's own: each is named ahead,
# then taken back by a worker, while the batch that holds its base may be arriving. A
# record freed under the fetching thread (remote_prefetch.c, now pinned while asked for)
# crashed a 4 GiB benchmark, and one push in three of such a 128 MiB model by hand in the
# sanitizer build. The window is narrow: this stress catches it only now and then (not in
# two runs of this file before the fix); it cannot pass a crash.
mkdir -p "$WORK/s1" "$WORK/s2"
mkd "$WORK/s1/$F" --size 134217728 --tensors 64 --seed 5
mkd "$WORK/s2/$F" --size 134217728 --tensors 64 --seed 5 --change 10
rem push -q s "$WORK/s1"
is_rc 0 "push s@v1 (128 MiB, 64 tensors)"
BAD=
for k in 1 2 3 4 5 6; do
	XDG_CACHE_HOME=$WORK/cache-s$k rem push -q s "$WORK/s2"
	{ [ "$RC" = 0 ] && [ -z "$SAN_LAST" ]; } || BAD="$BAD $k(exit $RC)"
	rm -rf "$WORK/cache-s$k"
done
is "$BAD" "" "six fresh caches push its 10%-changed v2, taking back the namings of the chunks it shares"
rem model delete s --yes
is_rc 0 "delete model s"

# ---- a cache whose deltas the server refuses: their bases went (model deleted, gc) ----
rem model delete m --yes
is_rc 0 "delete model m on the server"
rem gc --grace 0
is_rc 0 "gc --grace 0 takes its chunks"
rem gc --grace 0
is_rc 0 "and the next one the bases of its deltas (the bases of the cache's deltas)"
like "$OUT" "removed 1 pack" "(they went)"
rem --json push m "$WORK/v2"
is_rc 0 "the cache that staged v2 as deltas pushes it again"
is "$(json_get delta_chunks)" 0 "(its deltas go as full records: the server refused them once)"
num_ge "$(json_get new_raw_bytes)" 2097152 "(every chunk sent)"
XDG_CACHE_HOME=$WORK/cache-e rem pull m@v1 -o "$WORK/pe"
is_rc 0 "it pulls (cold cache)"
check "byte-identical" cmp "$WORK/v2/$F" "$WORK/pe/$F"
rem verify
is_rc 0 "and the server's store verifies"

done_testing
