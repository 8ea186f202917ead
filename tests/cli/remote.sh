#!/bin/sh
# SPDX-License-Identifier: MIT
# mvms-store --remote: push, pull, log and show against a real server on 127.0.0.1 (port 0):
# byte-identical round trips, only new chunks travel on a second push, a pull with a fresh
# cache streams (each chunk checked) and a pull with a warm cache fetches nothing new,
# identical pushes make no version, concurrent pushes conflict cleanly, bad input.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

"$MVMS" --store "$WORK/server" init -q >/dev/null 2>&1 || bail "init the server's store"
W=$("$MVMS" --store "$WORK/server" token create --scope write 2>/dev/null) || bail "token"
R=$("$MVMS" --store "$WORK/server" token create --scope read 2>/dev/null) || bail "read token"
SRV_STORE=$WORK/server
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache-a
export XDG_CACHE_HOME
rem() {
	run "$MVMS" --remote "$URL" --token "$W" "$@"
}

mkmodel -q --size 6M --tensors 12 --extras "$WORK/v1"
mkmodel -q --size 6M --tensors 12 --change 20 --extras "$WORK/v2"
mkdir -p "$WORK/v1/deep/er"
printf 'nested\n' >"$WORK/v1/deep/er/file name.txt"

rem --json push m "$WORK/v1" -m first
is_rc 0 "remote push of v1"
is "$(json_get version)" 1 "it is m@v1"
ID1=$(json_get id)
V1_STORED=$(json_get new_stored_bytes)
num_gt "$V1_STORED" 3000000 "v1 sent most of its bytes ($V1_STORED)"

rem --json push m "$WORK/v2" -m second
is_rc 0 "remote push of v2"
is "$(json_get version)" 2 "it is m@v2"
V2_STORED=$(json_get new_stored_bytes)
num_lt "$V2_STORED" $((V1_STORED / 2)) "v2 sent only its changed chunks ($V2_STORED of $V1_STORED)"

rem --json push m "$WORK/v2"
is_rc 0 "pushing the same tree again"
is "$(json_get created)" false "no version for an identical tree"
is "$(json_get version)" 2 "it names the head, v2"

run "$MVMS" --store "$WORK/server" verify
is_rc 0 "the server's store verifies"
run "$MVMS" --store "$WORK/server" show m@v1 --json
is "$(json_get id)" "$ID1" "the server stored the id the client computed"

# Names of 255 bytes (NAME_MAX): neither the server nor the pull's temporary file may
# derive a longer name from them.
LONG=$(printf '%0255d' 0 | tr 0 n)
mkdir -p "$WORK/long/sub" || bail mkdir
printf 'top\n' >"$WORK/long/$LONG"
printf 'nested\n' >"$WORK/long/sub/$LONG"
rem push long "$WORK/long"
is_rc 0 "remote push of files whose names are 255 bytes long"
rem pull long@v1 -o "$WORK/p-long"
is_rc 0 "remote pull of them"
check "a 255-byte name pulls byte-identical over the remote (top and nested)" same_tree "$WORK/long" "$WORK/p-long"

# sent_bytes: the server's mvms_http_bytes_sent_total (/metrics), to see what a pull fetched.
sent_bytes() {
	curl -s "$URL/metrics" | sed -n 's/^mvms_http_bytes_sent_total \([0-9.e+]*\).*/\1/p' |
		awk '{ printf "%d", $1 }'
}

# A fresh cache: the pull streams whole files; the files it wrote become the cache.
XDG_CACHE_HOME=$WORK/cache-b
rem pull m@v1 -o "$WORK/p1"
is_rc 0 "remote pull of v1 with a fresh cache"
check "v1 came back byte-identical (nested paths, spaces)" same_tree "$WORK/v1" "$WORK/p1"
CACHE_B=$(dirname "$(find "$WORK/cache-b" -name store.db | head -n 1)")
run "$MVMS" --store "$CACHE_B" stats --json
is "$(json_get sources)" "$(find "$WORK/v1" -type f | wc -l | tr -d ' ')" \
	"the cache records each pulled file as a source"
is "$(json_get packs)" 0 "and copies none of them into packs"
S0=$(sent_bytes)
rem pull m@v1 -o "$WORK/p1b"
is_rc 0 "pulling v1 again, into another directory"
check "byte-identical" same_tree "$WORK/v1" "$WORK/p1b"
num_lt $(($(sent_bytes) - S0)) 200000 "the chunks came from the first pull's files: the server sent $(($(sent_bytes) - S0)) bytes for 6 MB"
S0=$(sent_bytes)
rem pull m@v2 -o "$WORK/p2"
is_rc 0 "remote pull of v2 with the cache warm from v1"
check "v2 came back byte-identical" same_tree "$WORK/v2" "$WORK/p2"
num_lt $(($(sent_bytes) - S0)) 3000000 "only v2's new chunks came over ($(($(sent_bytes) - S0)) bytes)"
# The pulled files are the user's: a cache that reads them checks every chunk.
MODEL1=$WORK/p1/model.safetensors
printf 'X' | dd of="$MODEL1" bs=1 seek=1000000 conv=notrunc 2>/dev/null
touch -r "$WORK/p1b/model.safetensors" "$WORK/p1/config.json"
rem pull m@v1 -o "$WORK/p1c"
is_rc 0 "a pull after a pulled file was edited in place"
check "still byte-identical" same_tree "$WORK/v1" "$WORK/p1c"
rm -rf "$WORK/p1b" "$WORK/p1c"
# Edited with its size and modification time put back: only the chunk check can tell.
cp "$WORK/p2/model.safetensors" "$WORK/p2.keep"
printf 'Y' | dd of="$WORK/p2/model.safetensors" bs=1 seek=2000000 conv=notrunc 2>/dev/null
touch -r "$WORK/p2.keep" "$WORK/p2/model.safetensors"
rm -f "$WORK/p1/model.safetensors"
rem pull m@v2 -o "$WORK/p2b"
is_rc 0 "a pull whose cached file was changed behind its back (same size and time)"
check "byte-identical all the same" same_tree "$WORK/v2" "$WORK/p2b"
rm -rf "$WORK/p2b"
# Pulling a version over an earlier pull's files replaces files the cache reads from.
XDG_CACHE_HOME=$WORK/cache-f
rem pull m@v1 -o "$WORK/pf"
is_rc 0 "a pull of v1 into pf"
rem pull --force m@v2 -o "$WORK/pf"
is_rc 0 "then v2 over it with --force"
check "pf has v2's files, byte-identical (and v1's extra file, --force keeps it)" sh -c \
	'cd "$1" && find . -type f | while read -r f; do cmp -s "$f" "$2/$f" || exit 1; done' \
	sh "$WORK/v2" "$WORK/pf"
rem pull --force m@v1 -o "$WORK/pf"
is_rc 0 "and v1 over that again"
check "pf is v1, byte-identical" same_tree "$WORK/v1" "$WORK/pf"
rm -rf "$WORK/pf"
# --cache-copy: the downloaded chunks also go into the cache's packs, which outlive the files.
XDG_CACHE_HOME=$WORK/cache-copy
rem pull --cache-copy m@v1 -o "$WORK/pc"
is_rc 0 "a pull with --cache-copy"
check "byte-identical" same_tree "$WORK/v1" "$WORK/pc"
CACHE_C=$(dirname "$(find "$WORK/cache-copy" -name store.db | head -n 1)")
run "$MVMS" --store "$CACHE_C" stats --json
num_gt "$(json_get packs)" 0 "the cache has packs ($(json_get packs))"
num_lt "$(json_get stored_bytes)" "$(json_get unique_bytes)" \
	"holding the chunks as the server stores them, compressed ($(json_get stored_bytes) of $(json_get unique_bytes) bytes)"
run "$MVMS" --store "$CACHE_C" verify
is_rc 0 "the cache verifies"
rm -rf "$WORK/pc"
S0=$(sent_bytes)
rem pull m@v1 -o "$WORK/pc2"
is_rc 0 "with the pulled files gone, a pull from that cache"
check "byte-identical" same_tree "$WORK/v1" "$WORK/pc2"
num_lt $(($(sent_bytes) - S0)) 200000 "came from its packs: the server sent $(($(sent_bytes) - S0)) bytes"
rm -rf "$WORK/pc2"
XDG_CACHE_HOME=$WORK/cache-b
rem pull m -o "$WORK/p3"
is_rc 0 "a bare MODEL pulls latest"
check "latest is v2" same_tree "$WORK/v2" "$WORK/p3"

rem log m
is_rc 0 "remote log"
like "$OUT" "m@v2" "log lists v2"
like "$OUT" "m@v1" "log lists v1"
rem show m@v1
is_rc 0 "remote show"
like "$OUT" "model.safetensors" "show lists the files"
like "$OUT" "$ID1" "show has the id"

# Bad input and errors.
rem pull m@v9 -o "$WORK/p9"
is_rc 3 "pulling an unknown version: exit 3"
check "no directory was made for it" test ! -e "$WORK/p9/model.safetensors"
mkdir -p "$WORK/pother" && printf 'other\n' >"$WORK/pother/model.safetensors"
rem pull m@v2 -o "$WORK/pother"
is_rc 4 "pulling over files with other content is refused (exists)"
like "$ERR" "exists with other content" "and says why"
is "$(cat "$WORK/pother/model.safetensors")" other "and leaves it as it was"
printf 'x\n' >"$WORK/afile"
rem pull m@v1 -o "$WORK/afile"
is_rc 1 "pulling onto a regular file is refused"
like "$ERR" "Not a directory" "and says why"
is "$(cat "$WORK/afile")" x "the file is left as it was"
run "$MVMS" --remote "$URL" --token "$R" push m "$WORK/v1" -m "with a read token"
is_rc 1 "a push with a read token fails"
like "$ERR" "403" "and says 403"
run "$MVMS" --remote "$URL" --token "mvms_0000000000000000_bad" log m
is_rc 1 "a bad token fails"
like "$ERR" "401" "and says 401"
run "$MVMS" --remote "http://127.0.0.1:1" --token "$W" log m
is_rc 1 "an unreachable server fails (exit 1)"
like "$ERR" "remote" "with a message about the remote"
run "$MVMS" --remote "ftp://x" log m
is_rc 1 "a non-http URL is refused"
rem push m "$WORK/missing"
is_rc 3 "pushing a missing path: exit 3"

# Two pushes to one branch at once: both succeed in turn or one reports the conflict.
mkdir -p "$WORK/c1" "$WORK/c2"
printf 'one\n' >"$WORK/c1/a.txt"
printf 'two\n' >"$WORK/c2/a.txt"
XDG_CACHE_HOME=$WORK/cache-c "$MVMS" --remote "$URL" --token "$W" -q push race "$WORK/c1" \
	>"$WORK/r1.out" 2>"$WORK/r1.err" &
P1=$!
XDG_CACHE_HOME=$WORK/cache-d "$MVMS" --remote "$URL" --token "$W" -q push race "$WORK/c2" \
	>"$WORK/r2.out" 2>"$WORK/r2.err" &
P2=$!
wait $P1
RC1=$?
wait $P2
RC2=$?
check "each concurrent push succeeded or reported a conflict (exit 4)" \
	sh -c "[ $RC1 = 0 -o $RC1 = 4 ] && [ $RC2 = 0 -o $RC2 = 4 ] && [ $RC1 = 0 -o $RC2 = 0 ]"
run "$MVMS" --store "$WORK/server" log race
N=$(printf '%s\n' "$OUT" | grep -c 'race@v')
is "$N" "$(( (RC1 == 0) + (RC2 == 0) ))" "one version per successful push, none for a conflict"
run "$MVMS" --store "$WORK/server" verify
is_rc 0 "the server's store still verifies"

# An error crosses the wire by its code name: a branch named like a tag is EEXISTS
# locally (exit 4, as a conflict is) and must be the same over --remote, code "exists"
# rather than the 409's "conflict".
"$MVMS" --store "$WORK/server" tag m@v1 t1 >/dev/null 2>&1 || bail "tag on the server"
"$MVMS" --store "$WORK/local" init -q >/dev/null 2>&1 || bail "init a local store"
"$MVMS" --store "$WORK/local" push m "$WORK/v1" >/dev/null 2>&1 || bail "local push"
"$MVMS" --store "$WORK/local" tag m@v1 t1 >/dev/null 2>&1 || bail "local tag"
run "$MVMS" --store "$WORK/local" push -b t1 m "$WORK/v2"
LOCAL_RC=$RC
is "$LOCAL_RC" 4 "locally, a branch named like a tag exits 4 (exists)"
rem push -b t1 m "$WORK/v2"
is "$RC" "$LOCAL_RC" "over the remote it exits the same ($RC)"
like "$ERR" "exists already" "and says the tag exists"
rem --json push -b t1 m "$WORK/v2"
check "its --json error names the code exists" grep -Eq '"code":[[:space:]]*"exists"' "$WORK/out"

# The server sends stored records unchecked; the client checks each chunk. A byte flipped in
# the server's pack must fail the pull, leave no file and keep the bad chunk out of the cache.
mkmodel -q --size 2M --tensors 4 "$WORK/z"
rem --json push z "$WORK/z" -m "to be damaged"
is_rc 0 "remote push of z"
ZPACK=$(ls -t $(find "$WORK/server/objects/packs" -type f) | head -n 1)
SZ=$(file_size "$ZPACK")
OFF=$((SZ / 2))
OLD=$(dd if="$ZPACK" bs=1 skip=$OFF count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(((OLD + 1) % 256)))" | dd of="$ZPACK" bs=1 seek=$OFF conv=notrunc 2>/dev/null ||
	bail "cannot write into $ZPACK"
XDG_CACHE_HOME=$WORK/cache-z
rem pull z -o "$WORK/pz"
is_rc 1 "a pull of a file whose chunk is damaged on the server fails"
like "$ERR" "arrived corrupt" "and says a chunk arrived corrupt"
is "$(find "$WORK/pz" -type f 2>/dev/null | wc -l | tr -d ' ')" 0 "no file (or temporary file) is left"
CACHE_Z=$(dirname "$(find "$WORK/cache-z" -name store.db | head -n 1)")
run "$MVMS" --store "$CACHE_Z" stats --json
is "$(json_get sources)" 0 "the file that failed is not recorded as a source"
run "$MVMS" --store "$WORK/server" verify
is_rc 1 "(the server's own verify finds the damage)"

# Damage the server finds in its own store is its fault: a 500 ("store_damaged"), not a 400
# that blames the client. A one-chunk file's record header is flipped in the server's pack:
# the records stream is refused before it starts, and a remote pull exits as a local one.
printf 'a small file of one chunk\n' >"$WORK/one.txt"
mkdir -p "$WORK/one" && mv "$WORK/one.txt" "$WORK/one/"
rem push one "$WORK/one" -m "one chunk"
is_rc 0 "remote push of a one-chunk model"
OPACK=$(ls -t $(find "$WORK/server/objects/packs" -type f) | head -n 1)
OLD=$(dd if="$OPACK" bs=1 skip=30 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(((OLD + 1) % 256)))" | dd of="$OPACK" bs=1 seek=30 conv=notrunc 2>/dev/null ||
	bail "cannot write into $OPACK"
req GET "$URL/v1/models/one/versions/v1/files/one.txt?format=records" -H "Authorization: Bearer $R"
is_code 500 "a records stream over a damaged record of the server's own pack is a 500"
like "$(cat "$WORK/body")" '"code":"store_damaged"' "whose code is store_damaged"
XDG_CACHE_HOME=$WORK/cache-one
rem pull one -o "$WORK/pone"
is_rc 1 "a remote pull of it fails (exit 1, as a local pull of a damaged store)"
like "$ERR" "HTTP 500" "and the server owns the damage"

done_testing
