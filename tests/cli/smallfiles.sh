#!/bin/sh
# SPDX-License-Identifier: MIT
# Many small files (issue 13): a push keeps their chunk lists in one list pack
# (objects/lists, schema level 14, docs/formats.md), not one object each. The list pack
# must serve everything that reads chunk lists: pull, verify (full and quick), reindex and a
# second database catching up from the log, gc (a pack stays while a content in it is live,
# goes with the last one), a server's pulls, a push killed with SIGKILL, and a store made
# before list packs (its files/ objects still read, new pushes next to them).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

# small_tree DIR N SEED: N small JSON files, 50 per directory, two of them the same bytes
# and one empty; plus a 300 KB file of several chunks
small_tree() {
	awk -v n="$2" -v dir="$1" -v seed="$3" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++) {
			d = sprintf("%s/d%02d", dir, int(i / 50))
			if (i % 50 == 0) system("mkdir -p " d)
			f = sprintf("%s/f%04d.json", d, i)
			s = sprintf("{\"id\": %d, \"seed\": %d, \"t\": [", i, seed)
			for (j = 0; j < 60; j++) s = s (j ? "," : "") int(rand() * 50000)
			print s "]}" > f
			close(f)
		}
	}' || return 1
	cp "$1/d00/f0001.json" "$1/d00/same.json" && : >"$1/d00/empty.json" &&
		head -c 300000 /dev/urandom >"$1/big.bin"
}

nobj() {
	find "$1" -type f 2>/dev/null | wc -l | tr -d ' '
}

mvms init -q
is_rc 0 "init" || bail "cannot create a store"
small_tree "$WORK/a" 300 1 || bail "cannot write the small files"

mvms push -q m "$WORK/a"
is_rc 0 "push 300 small files"
is "$(nobj "$MVMS_STORE/objects/lists")" 1 "their chunk lists are in one list pack"
is "$(nobj "$MVMS_STORE/objects/files")" 0 "and no chunk list is an object of its own"
LP=$(find "$MVMS_STORE/objects/lists" -type f)
is "$(head -c 8 "$LP")" MVMSLPAK "the list pack starts with its magic"
is "$(od -An -t u4 -j 12 -N 4 "$LP" | tr -d ' ')" 303 "and holds 303 chunk lists (one per file)"
mvms verify
is_rc 0 "verify reads every chunk list from the list pack"
mvms verify --quick
is_rc 0 "verify --quick"
mvms pull m@v1 -o "$WORK/p1"
is_rc 0 "pull"
check "byte-identical" same_tree "$WORK/a" "$WORK/p1"

# A damaged chunk list inside the list pack: verify says so, nothing else changes.
cp "$LP" "$WORK/lp.good"
SZ=$(file_size "$LP")
printf 'X' | dd of="$LP" bs=1 seek=$((SZ - 10)) conv=notrunc 2>/dev/null
mvms verify
is_rc 1 "verify finds a damaged chunk list in the list pack"
like "$OUT$ERR" "lists/" "  and names the list pack"
cp "$WORK/lp.good" "$LP"
mvms verify
is_rc 0 "verify is clean again once restored"

# The database rebuilt from the bucket reads chunk lists from the list pack.
mvms ls m@v1 >/dev/null
mvms reindex
is_rc 0 "reindex"
mvms verify
is_rc 0 "the rebuilt database verifies"
rm -rf "$WORK/p1"
mvms pull m@v1 -o "$WORK/p1"
check "and pulls byte-identical" same_tree "$WORK/a" "$WORK/p1"
mkdir "$WORK/s2" && ln -s "$MVMS_STORE/objects" "$WORK/s2/objects"
"$MVMS" --store "$WORK/s2" init -q >/dev/null 2>&1
mvms --store "$WORK/s2" pull m@v1 -o "$WORK/p2"
is_rc 0 "a second database on the objects catches up from the log"
check "and pulls byte-identical" same_tree "$WORK/a" "$WORK/p2"
mvms --store "$WORK/s2" verify
is_rc 0 "and verifies"
rm -rf "$WORK/s2"

# gc: v2 keeps half of v1's contents and adds new ones (a second list pack); with v1
# deleted, the first pack stays while contents in it are live. A model whose every file
# is its own goes with its pack once deleted.
cp -R "$WORK/a" "$WORK/b" && rm -rf "$WORK/b/d00" "$WORK/b/d01" "$WORK/b/d02" &&
	small_tree "$WORK/b/new" 100 2 || bail "cannot write v2"
mvms push -q m "$WORK/b"
is_rc 0 "push v2"
is "$(nobj "$MVMS_STORE/objects/lists")" 2 "its new chunk lists are in a second list pack"
small_tree "$WORK/c" 120 3 || bail "cannot write model z"
mvms push -q z "$WORK/c"
is_rc 0 "push model z"
mvms delete m@v1
is_rc 0 "delete m@v1"
mvms model delete z --yes
is_rc 0 "delete model z"
mvms gc --grace 0
is_rc 0 "gc --grace 0"
[ -f "$LP" ]
is_rc_lp=$?
is "$is_rc_lp" 0 "v1's list pack stays: v2 still uses contents in it"
is "$(nobj "$MVMS_STORE/objects/lists")" 2 "z's list pack went with z's contents"
mvms verify
is_rc 0 "verify after gc"
mvms pull m@v2 -o "$WORK/p3"
is_rc 0 "pull v2 after gc"
check "byte-identical" same_tree "$WORK/b" "$WORK/p3"
mvms model delete m --yes
is_rc 0 "delete model m"
mvms gc --grace 0
is_rc 0 "gc with no version left"
is "$(nobj "$MVMS_STORE/objects/lists")" 0 "no list pack left"
is "$(nobj "$MVMS_STORE/objects/files")" 0 "no chunk list left"

# A push killed with SIGKILL at some point: the store verifies, a new push commits.
small_tree "$WORK/k" 1500 4 || bail "cannot write the killed push's files"
"$MVMS" push -q k "$WORK/k" >/dev/null 2>&1 &
KP=$!
i=0
while [ $i -lt 40 ] && [ "$(nobj "$MVMS_STORE/objects/packs")$(nobj "$MVMS_STORE/objects/lists")" = 00 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -9 "$KP" 2>/dev/null
wait "$KP" 2>/dev/null
mvms verify
is_rc 0 "after a push killed with SIGKILL the store verifies"
mvms push -q k "$WORK/k"
is_rc 0 "the push again commits"
mvms pull k@main -o "$WORK/pk"
check "and pulls byte-identical" same_tree "$WORK/k" "$WORK/pk"
mvms verify
is_rc 0 "and verifies"

# Through a server: a remote pull reads the chunk lists the server keeps in list packs;
# a remote push of many small files commits and pulls back.
R=$("$MVMS" token create --scope read 2>/dev/null) || bail "read token"
W=$("$MVMS" token create --scope write 2>/dev/null) || bail "write token"
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache1 run "$MVMS" --remote "$URL" --token "$R" pull k@main -o "$WORK/r1"
is_rc 0 "remote pull of the small files"
check "byte-identical" same_tree "$WORK/k" "$WORK/r1"
small_tree "$WORK/e" 400 5 || bail "cannot write the remote push's files"
NL=$(nobj "$MVMS_STORE/objects/lists")
NF=$(nobj "$MVMS_STORE/objects/files")
XDG_CACHE_HOME=$WORK/cache2 run "$MVMS" --remote "$URL" --token "$W" push -q e "$WORK/e"
is_rc 0 "remote push of 400 small files"
is "$(nobj "$MVMS_STORE/objects/lists")" $((NL + 1)) "the server keeps their chunk lists in one list pack"
is "$(nobj "$MVMS_STORE/objects/files")" "$NF" "  not one object each"
XDG_CACHE_HOME=$WORK/cache3 run "$MVMS" --remote "$URL" --token "$R" pull e@main -o "$WORK/r2"
is_rc 0 "remote pull of them with an empty cache"
check "byte-identical" same_tree "$WORK/e" "$WORK/r2"
srv_stop_all
mvms verify
is_rc 0 "the server's store verifies"

# A store made before list packs: its chunk lists are objects of their own.
mkdir -p "$WORK/old"
tar -xzf "$TESTS_SRCDIR/data/store-before-planes.tar.gz" -C "$WORK/old" ||
	bail "cannot unpack tests/data/store-before-planes.tar.gz"
OLD=$WORK/old/store
NF=$(nobj "$OLD/objects/files")
mkmodel -q --size 64K --tensors 4 --seed 3 --extras "$WORK/oldmodel"
run "$MVMS" --store "$OLD" pull m@v1 -o "$WORK/po"
is_rc 0 "pull from a store made before list packs"
check "byte-identical" same_tree "$WORK/oldmodel" "$WORK/po"
run "$MVMS" --store "$OLD" push -q s "$WORK/a"
is_rc 0 "push small files into it"
is "$(nobj "$OLD/objects/lists")" 1 "their chunk lists go to a list pack"
is "$(nobj "$OLD/objects/files")" "$NF" "next to its own chunk list objects"
run "$MVMS" --store "$OLD" verify
is_rc 0 "the old store verifies (both kinds)"
run "$MVMS" --store "$OLD" reindex
is_rc 0 "and reindexes"
run "$MVMS" --store "$OLD" pull s@v1 -o "$WORK/po2"
check "pull of the new version" same_tree "$WORK/a" "$WORK/po2"
rm -rf "$WORK/po"
run "$MVMS" --store "$OLD" pull m@v1 -o "$WORK/po"
check "pull of the old version" same_tree "$WORK/oldmodel" "$WORK/po"

done_testing
