#!/bin/sh
# SPDX-License-Identifier: MIT
# The file-level habits of git, DVC and huggingface-cli users: ls and cat (--range), pull of
# a subset (paths, --include, --exclude), a pull killed with SIGKILL resumes and leaves no
# temporary file, .mvmsignore and push --exclude, .git/ never pushed, symbolic links (-L, a
# Hugging Face cache snapshot; loops and dangling links), modification times kept and
# restored without making a new version; then pull subsets, resume and times over --remote.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

CRASHAT=${CRASHAT:-}
[ -z "$CRASHAT" ] || [ -f "$CRASHAT" ] || CRASHAT=

mtime_of() {
	stat -c %y "$1"
}

mvms init -q
is_rc 0 "init"
mkmodel -q --size 2M --tensors 8 --extras "$WORK/m1"
touch -d '2021-03-04 05:06:07.123456789' "$WORK/m1/config.json"
touch -d '2019-01-01 00:00:00.5' "$WORK/m1/sub/readme.txt"
mvms push m "$WORK/m1" -m one
is_rc 0 "push m"

# ---- ls ----
mvms ls m@v1
is_rc 0 "ls m@v1"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 4 "one line per file"
like "$OUT" "sub/readme.txt" "with nested paths"
like "$OUT" "2021-03-04T05:06:07Z" "and the recorded modification time"
mvms --json ls m@v1
is_rc 0 "ls --json"
is "$(json_count path)" 4 "lists four files"
like "$OUT" '"mtime_ns":	123456789' "with nanoseconds"
like "$OUT" '"format":	"safetensors"' "and the format"
mvms ls m@v1 sub
is_rc 0 "ls m@v1 sub"
is "$OUT" "$(printf '%s\n' "$OUT" | grep 'sub/readme.txt')" "lists only the directory's files"
mvms ls m@v1 -t model.safetensors
is_rc 0 "ls -t"
is "$(printf '%s\n' "$OUT" | grep -c 'BF16')" 8 "lists the 8 tensors with their dtype"
like "$OUT" "[" "and shapes"
mvms --json ls -t m@v1 model.safetensors
is "$(json_count dtype)" 8 "ls -t --json has 8 tensors"
is "$(json_count shape)" 8 "each with a shape"
mvms ls m@v1 nope
is_rc 3 "ls of an unknown path: exit 3"
mvms ls m@v9
is_rc 3 "ls of an unknown version: exit 3"
mvms ls
is_rc 2 "ls without arguments: exit 2"

# ---- cat ----
run sh -c "\"$MVMS\" cat m@v1 model.safetensors >\"$WORK/cat.out\""
is_rc 0 "cat"
check "cat writes the file byte for byte" cmp "$WORK/m1/model.safetensors" "$WORK/cat.out"
SIZE=$(file_size "$WORK/m1/model.safetensors")
run sh -c "\"$MVMS\" cat --range 100-199 m@v1 model.safetensors >\"$WORK/r1\""
is_rc 0 "cat --range 100-199"
dd if="$WORK/m1/model.safetensors" of="$WORK/r1.want" bs=1 skip=100 count=100 2>/dev/null
check "gives bytes 100..199 inclusive" cmp "$WORK/r1" "$WORK/r1.want"
run sh -c "\"$MVMS\" cat m@v1 model.safetensors --range $((SIZE - 70000))- >\"$WORK/r2\""
tail -c 70000 "$WORK/m1/model.safetensors" >"$WORK/r2.want"
check "A- gives the rest of the file (across chunks)" cmp "$WORK/r2" "$WORK/r2.want"
run sh -c "\"$MVMS\" cat m@v1 model.safetensors --range -5 >\"$WORK/r3\""
tail -c 5 "$WORK/m1/model.safetensors" >"$WORK/r3.want"
check "-N gives the last N bytes" cmp "$WORK/r3" "$WORK/r3.want"
run sh -c "\"$MVMS\" cat m@v1 config.json --range 0-99999999 >\"$WORK/r4\""
check "an end past the file is the end (as HTTP)" cmp "$WORK/r4" "$WORK/m1/config.json"
for bad in 5-2 x 1-2-3 - -0 "" 1-x; do
	mvms cat m@v1 config.json --range "$bad"
	is_rc 2 "cat --range '$bad' is a usage error (exit 2)"
done
mvms cat m@v1 config.json --range "$(file_size "$WORK/m1/config.json")-"
is_rc 2 "a range starting at the end is outside the file (exit 2)"
like "$ERR" "outside" "and says so"
mvms cat m@v1 nope.txt
is_rc 3 "cat of an unknown path: exit 3"
mvms cat m@v1
is_rc 2 "cat without a path: exit 2"

# ---- pull of a subset ----
mvms pull m@v1 config.json -o "$WORK/s1"
is_rc 0 "pull m@v1 config.json"
is "$(cd "$WORK/s1" && find . -type f | sort | tr '\n' ' ')" "./config.json " "only that file"
mvms pull m@v1 sub -o "$WORK/s2"
is "$(cd "$WORK/s2" && find . -type f | sort | tr '\n' ' ')" "./sub/readme.txt " "a directory pulls what is under it"
mvms pull m@v1 --include '*.json' -o "$WORK/s3"
is "$(cd "$WORK/s3" && find . -type f | sort | tr '\n' ' ')" "./config.json ./tokenizer.json " "--include '*.json'"
mvms pull m@v1 --include '*.json' --include 'sub/*' --exclude 'tok*' -o "$WORK/s4"
is "$(cd "$WORK/s4" && find . -type f | sort | tr '\n' ' ')" "./config.json ./sub/readme.txt " \
	"repeated --include, and --exclude"
mvms pull m@v1 --exclude '*.safetensors' -o "$WORK/s5"
is "$(cd "$WORK/s5" && find . -type f | wc -l | tr -d ' ')" 3 "--exclude alone"
check "subset files are byte-identical" cmp "$WORK/m1/sub/readme.txt" "$WORK/s4/sub/readme.txt"
mvms pull m@v1 nope.txt -o "$WORK/s6"
is_rc 3 "a path the version lacks: exit 3"
like "$ERR" "nope.txt" "naming it"
check "and nothing was written" test ! -e "$WORK/s6"
mvms pull m@v1 --include '*.xyz' -o "$WORK/s7"
is_rc 3 "globs that select nothing: exit 3"
mvms pull m@v1 model.safetensors -o "$WORK/s1"
is_rc 0 "a second subset into the same directory"
is "$(cd "$WORK/s1" && find . -type f | sort | tr '\n' ' ')" "./config.json ./model.safetensors " \
	"adds to what is there"

# ---- modification times ----
mvms pull m@v1 -o "$WORK/t1"
is_rc 0 "pull m@v1"
is "$(mtime_of "$WORK/t1/config.json")" "$(mtime_of "$WORK/m1/config.json")" "mtime restored to the nanosecond"
is "$(mtime_of "$WORK/t1/sub/readme.txt")" "$(mtime_of "$WORK/m1/sub/readme.txt")" "in a subdirectory too"
is "$(mtime_of "$WORK/t1/model.safetensors")" "$(mtime_of "$WORK/m1/model.safetensors")" "and for the model"
touch -d '2024-06-01 12:00:00' "$WORK/m1/config.json"
mvms --json push m "$WORK/m1"
is_rc 0 "push again with only a time changed"
is "$(json_get created)" false "identical to the head: no new version"
is "$(json_get version)" 1 "it names v1"

# ---- resume: a pull killed with SIGKILL, then run again ----
mkmodel -q --size 24M --tensors 4 "$WORK/big"
mvms push big "$WORK/big"
is_rc 0 "push a 24 MiB model"
SIZE_BIG=$(file_size "$WORK/big/model.safetensors")
if [ -n "$CRASHAT" ]; then
	# Killed just before its first rename: the file is all written under its part name.
	{ env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
		MVMS_CRASH_AT=1 "$MVMS" pull big@v1 -o "$WORK/k1" >/dev/null 2>&1 </dev/null; } 2>/dev/null
	is "$?" 137 "a pull killed (SIGKILL) before it renames its file"
	is "$(parts "$WORK/k1")" 1 "leaves its part file"
	check "and no file in place" test ! -e "$WORK/k1/model.safetensors"
	mvms --json pull big@v1 -o "$WORK/k1"
	is_rc 0 "the same pull again, no --force"
	is "$(json_get bytes)" 0 "continues from the part file: nothing more to write"
	check "the file is byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/k1/model.safetensors"
	is "$(parts "$WORK/k1")" 0 "no temporary file is left"
	# A part cut mid-chunk with a damaged tail: the chunks that check are kept.
	{ env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
		MVMS_CRASH_AT=1 "$MVMS" pull big@v1 -o "$WORK/k2" >/dev/null 2>&1 </dev/null; } 2>/dev/null
	P=$(find "$WORK/k2" -name '.mvms-part-*')
	truncate -s $((SIZE_BIG / 2)) "$P"
	printf 'garbage' >>"$P"
	mvms --json pull big@v1 -o "$WORK/k2"
	is_rc 0 "a pull over a half-written part with a damaged tail"
	B=$(json_get bytes)
	num_gt "$B" 0 "writes the rest ($B bytes)"
	num_lt "$B" $((SIZE_BIG * 3 / 5)) "and only about half the file"
	check "byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/k2/model.safetensors"
	is "$(parts "$WORK/k2")" 0 "no temporary file is left"
else
	skip "resume after a kill at a known step: tests/crashat.so is not built"
fi
# A real kill -9 at whatever point the pull has reached (bounded wait; when the pull was
# faster than the loop the kill finds it done, and the checks still hold).
"$MVMS" pull big@v1 -o "$WORK/k3" >/dev/null 2>&1 </dev/null &
KP=$!
wait_parts "$WORK/k3" $KP
kill -KILL $KP 2>/dev/null
wait $KP 2>/dev/null
diag "killed with $(parts "$WORK/k3") part file(s) there"
mvms pull big@v1 -o "$WORK/k3"
is_rc 0 "after kill -9, pulling again works without --force"
check "byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/k3/model.safetensors"
is "$(parts "$WORK/k3")" 0 "no temporary file is left"
mvms --json pull big@v1 -o "$WORK/k3"
is_rc 0 "pulling into a complete directory"
is "$(json_get kept)" 1 "keeps the file that checks"
is "$(json_get bytes)" 0 "and writes nothing"
chmod 755 "$WORK/k3/model.safetensors"
touch -d '2001-01-01' "$WORK/k3/model.safetensors"
mvms pull big@v1 -o "$WORK/k3"
is "$(mode_of "$WORK/k3/model.safetensors")" "-rw-r--r--" "a kept file gets its mode back"
is "$(mtime_of "$WORK/k3/model.safetensors")" "$(mtime_of "$WORK/big/model.safetensors")" "and its time"
# Stale temporary files of killed pulls anywhere in the directory are swept.
mkdir -p "$WORK/k3/sub"
printf 'x' >"$WORK/k3/sub/.mvms-part-0123456789abcdef"
printf 'y' >"$WORK/k3/.mvms-tmp-AbCdEf"
mvms pull big@v1 -o "$WORK/k3"
is "$(parts "$WORK/k3")" 0 "a pull removes temporary files killed pulls left"

# ---- .mvmsignore, push --exclude, .git ----
D=$WORK/ign
mkdir -p "$D/build" "$D/sub/build" "$D/sub/deep" "$D/data/a/b" "$D/.git" "$D/sub/.git" || bail mkdir
for f in a.log keep.log build/x sub/build/y top.txt sub/top.txt data/a/b/c.tmp data/c.tmp \
	'#hash.txt' main.bin sub/deep/w.txt .git/config sub/.git/HEAD weights.safetensors; do
	printf '%s\n' "$f" >"$D/$f"
done
cat >"$D/.mvmsignore" <<'IGN'
# a comment, then blank

*.log
!keep.log
build/
/top.txt
data/**/*.tmp
\#hash.txt
IGN
mvms push ign "$D"
is_rc 0 "push a tree with a .mvmsignore"
mvms ls ign@v1
for f in keep.log sub/top.txt main.bin sub/deep/w.txt weights.safetensors .mvmsignore; do
	like "$OUT" " $f" "kept: $f"
done
for f in a.log build/x sub/build/y ' top.txt' c.tmp '#hash.txt' .git; do
	unlike "$OUT" "$f" "left out: $f"
done
mvms push ign2 "$D" --exclude '*.bin' --exclude 'sub/'
is_rc 0 "push --exclude (repeated)"
mvms ls ign2@v1
unlike "$OUT" "main.bin" "--exclude '*.bin'"
unlike "$OUT" "sub/" "--exclude 'sub/'"
like "$OUT" "keep.log" ".mvmsignore still applies"
mvms push ign3 "$D" --exclude '*'
is_rc 1 "excluding everything: nothing to push"
like "$ERR" "no files to push" "says so"

# ---- symbolic links ----
H=$WORK/hf/models--acme--m
mkdir -p "$H/blobs" "$H/snapshots/abc123/sub" "$H/refs" || bail mkdir
cp "$WORK/m1/model.safetensors" "$H/blobs/1111"
cp "$WORK/m1/config.json" "$H/blobs/2222"
cp "$WORK/m1/sub/readme.txt" "$H/blobs/3333"
ln -s ../../blobs/1111 "$H/snapshots/abc123/model.safetensors"
ln -s ../../blobs/2222 "$H/snapshots/abc123/config.json"
ln -s ../../../blobs/3333 "$H/snapshots/abc123/sub/readme.txt"
printf 'abc123' >"$H/refs/main"
mvms push hf "$H/snapshots/abc123"
is_rc 1 "a Hugging Face snapshot (symbolic links) without -L is refused"
like "$ERR" "-L" "and the error says to use -L"
mvms push hf "$H/snapshots/abc123" -L
is_rc 0 "push -L of the snapshot"
mvms pull hf@v1 -o "$WORK/hfp"
is_rc 0 "pull it"
check "the model is the blob's bytes" cmp "$H/blobs/1111" "$WORK/hfp/model.safetensors"
check "a nested link too" cmp "$H/blobs/3333" "$WORK/hfp/sub/readme.txt"
check "pulled as a regular file" test ! -L "$WORK/hfp/config.json"
mvms push hf2 --follow-symlinks "$H/snapshots/abc123"
is_rc 0 "--follow-symlinks is -L"
mkdir -p "$WORK/loop/d" && printf 'x\n' >"$WORK/loop/d/f" && ln -s .. "$WORK/loop/d/up"
mvms push loop -L "$WORK/loop"
is_rc 1 "a link back to a directory above: refused"
like "$ERR" "loop" "as a loop"
mkdir -p "$WORK/dang" && printf 'x\n' >"$WORK/dang/f" && ln -s nowhere "$WORK/dang/gone"
mvms push dang -L "$WORK/dang"
is_rc 1 "a dangling link: refused"
like "$ERR" "dangling" "as dangling"
like "$ERR" "gone" "naming it"
mkdir -p "$WORK/self" && printf 'x\n' >"$WORK/self/f" && ln -s me "$WORK/self/me"
mvms push self -L "$WORK/self"
is_rc 1 "a link to itself: refused"
like "$ERR" "loop" "as a loop"

# ---- over --remote ----
. "$TESTS_SRCDIR/cli/srv.sh"
"$MVMS" --store "$WORK/server" init -q >/dev/null 2>&1 || bail "init the server's store"
W=$("$MVMS" --store "$WORK/server" token create --scope write 2>/dev/null) || bail "token"
SRV_STORE=$WORK/server
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache-r
export XDG_CACHE_HOME
rem() {
	run "$MVMS" --remote "$URL" --token "$W" "$@"
}
touch -d '2021-03-04 05:06:07.123456789' "$WORK/m1/config.json"
rem push rm "$WORK/m1"
is_rc 0 "remote push"
rem push rm "$WORK/big" --exclude 'nothing'
# What a push takes, over the remote too: .mvmsignore, --exclude, .git, -L.
rem push rign "$D" --exclude '*.bin'
is_rc 0 "remote push of a tree with a .mvmsignore"
rem ls rign@v1
like "$OUT" "keep.log" "remote: a re-included file is there"
unlike "$OUT" "a.log" "remote: .mvmsignore left a.log out"
unlike "$OUT" "main.bin" "remote: --exclude left main.bin out"
unlike "$OUT" ".git" "remote: .git/ is never pushed"
rem push rhf "$H/snapshots/abc123"
is_rc 1 "remote push of the snapshot without -L is refused"
rem push rhf -L "$H/snapshots/abc123"
is_rc 0 "remote push -L of the snapshot"
rem cat rhf@v1 model.safetensors
check "and it holds the blob's bytes" cmp "$H/blobs/1111" "$WORK/out"
touch -d '2025-01-01 00:00:00' "$WORK/big/model.safetensors"
rem --json push rm "$WORK/big"
is_rc 0 "remote push of a tree whose only change is a time"
is "$(json_get created)" false "identical to the head over the remote too: no new version"
rem pull rm@v1 config.json sub -o "$WORK/rp1"
is_rc 0 "remote pull of paths"
is "$(cd "$WORK/rp1" && find . -type f | sort | tr '\n' ' ')" "./config.json ./sub/readme.txt " "only those"
is "$(mtime_of "$WORK/rp1/config.json")" "$(mtime_of "$WORK/m1/config.json")" "with their times"
rem pull rm@v1 --include '*.json' --exclude 'tok*' -o "$WORK/rp2"
is "$(cd "$WORK/rp2" && find . -type f | sort | tr '\n' ' ')" "./config.json " "remote --include and --exclude"
rem pull rm@v1 nope -o "$WORK/rp3"
is_rc 3 "remote pull of an unknown path: exit 3"
check "nothing was written" test ! -e "$WORK/rp3"
rem --json pull rm@v1 -o "$WORK/rp1"
is_rc 0 "remote pull of the whole version over the subset"
is "$(json_get kept)" 2 "keeps the two files already there"
check "byte-identical" same_tree "$WORK/m1" "$WORK/rp1"
is "$(mtime_of "$WORK/rp1/model.safetensors")" "$(mtime_of "$WORK/m1/model.safetensors")" "times of streamed files too"
if [ -n "$CRASHAT" ] && [ -e "$WORK/k2/model.safetensors" ]; then
	# The part file a killed local pull left, cut in half: the remote pull continues it.
	{ env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
		MVMS_CRASH_AT=1 "$MVMS" pull big@v1 -o "$WORK/rp4" >/dev/null 2>&1 </dev/null; } 2>/dev/null
	P=$(find "$WORK/rp4" -name '.mvms-part-*')
	truncate -s $((SIZE_BIG / 2)) "$P"
	run env XDG_CACHE_HOME="$WORK/cache-r4" "$MVMS" --remote "$URL" --token "$W" pull rm@v2 -o "$WORK/rp4"
	is_rc 0 "a remote pull over a half-written part"
	check "byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/rp4/model.safetensors"
	is "$(parts "$WORK/rp4")" 0 "no temporary file is left"
	run "$MVMS" --store "$(dirname "$(find "$WORK/cache-r4" -name store.db | head -n 1)")" stats --json
	num_lt "$(json_get unique_bytes)" $((SIZE_BIG * 3 / 5)) "only the missing half was fetched ($(json_get unique_bytes) bytes)"
else
	skip "remote resume: tests/crashat.so is not built"
fi
# A real kill -9 of a remote pull, then again.
XDG_CACHE_HOME=$WORK/cache-r5 "$MVMS" --remote "$URL" --token "$W" pull rm@v2 -o "$WORK/rp5" \
	>/dev/null 2>&1 </dev/null &
KP=$!
i=0
while [ $i -lt 500 ] && [ "$(parts "$WORK/rp5" 2>/dev/null || echo 0)" = 0 ] && kill -0 $KP 2>/dev/null; do
	sleep 0.01
	i=$((i + 1))
done
kill -KILL $KP 2>/dev/null
wait $KP 2>/dev/null
run env XDG_CACHE_HOME="$WORK/cache-r5" "$MVMS" --remote "$URL" --token "$W" pull rm@v2 -o "$WORK/rp5"
is_rc 0 "after kill -9, a remote pull again works"
check "byte-identical" cmp "$WORK/big/model.safetensors" "$WORK/rp5/model.safetensors"
is "$(parts "$WORK/rp5")" 0 "no temporary file is left"
# ls and cat through the server: same output, bytes checked by the client.
mvms ls m@v1
LOCAL_LS=$OUT
rem ls rm@v1
is_rc 0 "remote ls"
is "$OUT" "$LOCAL_LS" "lists what a local ls lists (same files, ids, times)"
rem ls -t rm@v1 model.safetensors
is "$(printf '%s\n' "$OUT" | grep -c 'BF16')" 8 "remote ls -t lists the tensors"
rem ls rm@v1 nope
is_rc 3 "remote ls of an unknown path: exit 3"
run sh -c "\"$MVMS\" --remote \"$URL\" --token \"$W\" cat rm@v2 model.safetensors >\"$WORK/rc1\""
is_rc 0 "remote cat"
check "byte-identical (many chunks, several requests)" cmp "$WORK/big/model.safetensors" "$WORK/rc1"
run sh -c "\"$MVMS\" --remote \"$URL\" --token \"$W\" cat rm@v1 model.safetensors --range 100-199 >\"$WORK/rc2\""
is_rc 0 "remote cat --range"
check "the same bytes as a local one" cmp "$WORK/r1" "$WORK/rc2"
rem cat rm@v1 nope.txt
is_rc 3 "remote cat of an unknown path: exit 3"
rem cat rm@v1 config.json --range 9-3
is_rc 2 "remote cat with a bad range: exit 2"
rem cat rm@v1 config.json --range 99999-
is_rc 2 "remote cat past the end: exit 2"
req GET "$URL/v1/models/rm/versions/v1/files?tensors=1" -H "Authorization: Bearer $W"
is "$CODE" 200 "GET …/files lists a version's files"
like "$BODY" '"dtype"' "with tensors when asked"
like "$BODY" '"mtime_ns"' "and times"
req GET "$URL/v1/models/rm/versions/v1/files?path=nope" -H "Authorization: Bearer $W"
is "$CODE" 404 "an unknown path is a 404"

done_testing
