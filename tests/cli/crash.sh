#!/bin/sh
# SPDX-License-Identifier: MIT
# Crash points: kill -9 at random moments of a local push, a remote push (the client), a
# server under a client's remote push (then restarted), a merge, a gc, a tag, a branch
# creation and a branch deletion. After each kill: `verify` finds no damage (orphans, which
# a later gc reclaims, are allowed and only counted), every committed version still pulls
# byte-identical to what was pushed, and re-running the killed command succeeds and leaves
# the state it was meant to (the pushed tree at the branch head, the merge made, the ref
# where it was asked to be).
#
# Two kinds of moments, both drawn at random:
# - CRASH_POINTS (default 30) kills after a delay drawn from 0 to the command's own duration,
#   measured once at the start on an uncrashed run of the same kind (a push of a 2 MiB model
#   and 60 small files, each a file object of its own, lasts a few tenths of a second):
#   push 7, remote push 5, server 5, merge 5, gc 4, tag 2, branch 1, branch -d 1 (in
#   proportion for other counts);
# - CRASH_STEPS (default 10) kills just before a step drawn from the steps the command took
#   uncrashed, where a step is a call whose effect outlives a crash (rename, link, unlink,
#   fsync...: tests/crashat.so, preloaded, counts them and sends the SIGKILL), so that the
#   rare states between two such calls are reached as often as the long ones: push 2,
#   remote push 1, merge 2, gc 2, tag 1, branch 1, branch -d 1. Skipped when CRASHAT (the
#   path of crashat.so) is not set.
# CRASH_SEED is the seed of every random choice (moments, order, versions checked, refs): a
# new one each run, printed, so that a failure can be replayed. `make soak` runs 200 + 100.
# At the end, a gc must leave nothing on disk that no row names (temporary files of killed
# pushes, tmp-merge-* directories of killed merges, packs and objects of killed gcs).
#
# Every version's message is "crash:TAG"; gen TAG rebuilds the tree it was pushed from, so a
# pulled version is compared with what it must be (a SHA-256 of each file), not with another
# pull. After a kill, the versions pulled are the ones not pulled before (whatever the
# killed command committed, among others) and one other at random (3 after a gc); at the
# end, every one of both stores. Pulling every version after every kill would cost minutes;
# each time, verify checks every manifest and pack, and the objects on disk are counted
# against the database's rows (fewer is damage, more are orphans).
. "$TESTS_SRCDIR/cli/lib.sh"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
setup
. "$TESTS_SRCDIR/cli/srv.sh"
XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME
unset MVMS_REMOTE MVMS_TOKEN 2>/dev/null || :

POINTS=${CRASH_POINTS:-30}
STEPS=${CRASH_STEPS:-10}
SEED=${CRASH_SEED:-$(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 1000000000))}
case $POINTS$STEPS$SEED in *[!0-9]*) bail "CRASH_POINTS, CRASH_STEPS and CRASH_SEED must be numbers" ;; esac
CRASHAT=${CRASHAT:-}
[ -z "$CRASHAT" ] || [ -f "$CRASHAT" ] || CRASHAT=
diag "seed $SEED: CRASH_SEED=$SEED CRASH_POINTS=$POINTS CRASH_STEPS=$STEPS repeats this run"

# A killed push leaves its lease behind, and gc keeps everything written after the start of
# a live lease: short leases (renewed every second by a running push) let the last gc below
# reclaim what the kills left once they have expired.
MVMS_LEASE_TTL=4
export MVMS_LEASE_TTL
L=$WORK/L   # the local store (models p and mg)
R=$WORK/R   # the server's store (model r)

# ---- seeded randomness ----
# Park and Miller's generator (x = 16807 x mod 2^31-1, exact in an awk double), not awk's
# rand(): mawk's srand() makes a poor sequence of a large seed, and awks differ.
awk -v s="$SEED" 'BEGIN { x = s % 2147483646 + 1
	for (i = -20; i < 50000; i++) { x = (x * 16807) % 2147483647; if (i >= 0) printf "%.6f\n", x / 2147483647 } }' \
	>"$WORK/rand" || bail "awk"
RAND_I=0
# rnd: sets RND to the next number in [0, 1)
rnd() {
	RAND_I=$((RAND_I + 1))
	RND=$(sed -n "${RAND_I}p" "$WORK/rand")
}
# rint N: sets RINT to a number from 0 to N-1
rint() {
	rnd
	RINT=$(awk -v r="$RND" -v n="$1" 'BEGIN { printf "%d", r * n }')
}

# now_ms: milliseconds since the epoch (GNU date), or empty when date has no %N
now_ms() {
	_t=$(date +%s%N 2>/dev/null)
	case $_t in *[!0-9]* | '') ;; *) echo "$_t" | cut -c1-13 ;; esac
}

# ---- content ----
mkdir "$WORK/sums" || bail mkdir
mkmodel -q --size 2M --tensors 8 --seed 41 "$WORK/mgbase"

# sums DIR: every path under DIR, then the SHA-256 of every file
sums() {
	(cd "$1" && find . | sort && find . -type f | sort | xargs sha256sum)
}

# many DIR TAG N: N small files, each unique to TAG
many() {
	mkdir -p "$1" || bail "mkdir $1"
	awk -v d="$1" -v t="$2" -v n="$3" 'BEGIN {
		for (i = 1; i <= n; i++) { f = d "/f" i ".txt"; print "file " i " of " t > f; close(f) } }'
}

# gen TAG DIR: the tree that versions with the message crash:TAG were pushed from
#   p:K, r:K     a 2 MiB model (2 of its 8 tensors differ with K) and 60 small files
#   g:K          a 1 MiB model and 20 files that no other version shares (gc deletes them)
#   mg:merged:I  the merge base's model with tensors 1 and 5 set to A<I> and B<I>, notes 1..I
#   mg:main:I    main's side of merge I: A<I-1>, B<I>, notes 1..I
#   mg:side:I    the branch's side of merge I: A<I>, B<I-1>, notes 1..I-1
gen() {
	rm -rf "$2"
	case $1 in
	p:* | r:*)
		_s=7
		[ "${1%%:*}" = r ] && _s=8
		mkmodel -q --size 2M --tensors 8 --seed $_s --change 25 --change-seed $((${1#*:} + 3)) "$2"
		many "$2/many" "$1" 60
		;;
	g:*)
		mkmodel -q --size 1M --tensors 4 --seed $((1000 + ${1#g:})) "$2"
		many "$2/many" "$1" 20
		;;
	mg:*)
		_k=${1#mg:}
		_i=${_k#*:}
		_k=${_k%%:*}
		case $_k in
		merged) _a=$_i _b=$_i _n=$_i ;;
		main) _a=$((_i - 1)) _b=$_i _n=$_i ;;
		side) _a=$_i _b=$((_i - 1)) _n=$((_i - 1)) ;;
		*) bail "gen: bad tag $1" ;;
		esac
		cp -R "$WORK/mgbase" "$2" || bail "cp"
		poke "$2/model.safetensors" layers.1.weight "$(printf 'A%07d' $_a)"
		poke "$2/model.safetensors" layers.5.weight "$(printf 'B%07d' $_b)"
		if [ "$_n" -gt 0 ]; then
			mkdir "$2/notes" || bail mkdir
			_j=1
			while [ $_j -le $_n ]; do
				echo "note $_j" >"$2/notes/n$_j.txt"
				_j=$((_j + 1))
			done
		fi
		;;
	*) bail "gen: bad tag $1" ;;
	esac
	_f=$WORK/sums/$(echo "$1" | tr ':' '_')
	[ -s "$_f" ] || sums "$2" >"$_f" || bail "sums"
}

# ---- checks ----
# versions STORE: "MODEL@vN TAG" for every version of every model in STORE (TAG "?" when
# the message is not crash:TAG)
versions() {
	"$MVMS" --store "$1" models 2>/dev/null | awk '{ print $1 }' | while read -r _m; do
		"$MVMS" --store "$1" log "$_m" 2>/dev/null </dev/null | awk '/@v[0-9]/ && !/\[deleted\]$/ {
			t = "?"
			for (i = 2; i <= NF; i++) if ($i ~ /^crash:/) { t = substr($i, 7); break }
			print $1, t }'
	done
}

# head_tag STORE MODEL: the TAG of the version at the head of main
head_tag() {
	"$MVMS" --store "$1" log "$2" -b main 2>/dev/null | awk 'NR == 1 {
		for (i = 2; i <= NF; i++) if ($i ~ /^crash:/) { print substr($i, 7); exit } }'
}

# want_sums TAG: the sums of gen TAG's tree (gen keeps them in $WORK/sums), printed
want_sums() {
	_f=$WORK/sums/$(echo "$1" | tr ':' '_')
	[ -s "$_f" ] || gen "$1" "$WORK/want"
	cat "$_f"
}

# pull_check STORE SPEC TAG: SPEC pulls through STORE's server into the tree gen TAG makes.
# The client's cache starts empty, so that every manifest, chunk list and chunk comes from
# the store (a local pull reads no chunk list: a lost one would go unseen).
pull_check() {
	if [ "$3" = "?" ]; then
		diag "$2 has no crash:TAG message: a version nobody pushed"
		return 1
	fi
	want_sums "$3" >"$WORK/want.sums"
	rm -rf "$WORK/got" "$WORK/pullcache"
	if [ "$1" = "$L" ]; then
		set -- "$1" "$2" "$3" --remote "$LURL"
	else
		set -- "$1" "$2" "$3" --remote "$URL" --token "$TOK"
	fi
	if ! XDG_CACHE_HOME=$WORK/pullcache "$MVMS" "$4" "$5" ${6:+"$6"} ${7:+"$7"} \
		pull "$2" -o "$WORK/got" -q >/dev/null 2>"$WORK/pull.err"; then
		diag "pull $2 from $1 failed: $(cat "$WORK/pull.err")"
		san_scan "pull $2" "$WORK/pull.err"
		return 1
	fi
	san_scan "pull $2" "$WORK/pull.err" || return 1
	sums "$WORK/got" >"$WORK/got.sums"
	if ! cmp -s "$WORK/want.sums" "$WORK/got.sums"; then
		diag "pull $2 from $1 is not the tree of crash:$3:"
		diff "$WORK/want.sums" "$WORK/got.sums" | head -n 10 | sed 's/^/#   /'
		return 1
	fi
}

# nfiles DIR: how many files there are under DIR
nfiles() {
	find "$1" -type f 2>/dev/null | wc -l | tr -d ' '
}

# nlisted DIR: how many chunk lists the list packs under DIR hold (each pack's u32 count at
# byte 12, docs/formats.md)
nlisted() {
	_n=0
	for _lp in $(find "$1" -type f 2>/dev/null); do
		_n=$((_n + $(od -An -t u4 -j 12 -N 4 "$_lp" | tr -d ' ')))
	done
	echo "$_n"
}

# objects STORE: compares the objects on disk with the database's rows (stats --json): one
# pack file per pack row, one chunk list per file contents row (objects/files, or one held
# in a list pack, objects/lists), one manifest
# per version. Sets JUNK to what is on disk with no row (packs, chunk lists and manifests
# beyond the rows, temporary files, tmp-merge-* directories), MISSING to the rows beyond
# what is on disk, and OBJ to a summary.
objects() {
	run "$MVMS" --store "$1" stats --json
	_pk=$(($(nfiles "$1/objects/packs") - $(json_get packs)))
	_fl=$(($(nfiles "$1/objects/files") + $(nlisted "$1/objects/lists") - $(json_get unique_files)))
	_mf=$(($(nfiles "$1/objects/manifests") - $(json_get versions)))
	_tmp=$(nfiles "$1/objects/tmp")
	_mg=$(find "$1" -maxdepth 1 -name 'tmp-merge-*' | wc -l | tr -d ' ')
	JUNK=$_tmp
	MISSING=0
	for _x in $_pk $_fl $_mf; do
		if [ "$_x" -gt 0 ]; then JUNK=$((JUNK + _x)); else MISSING=$((MISSING - _x)); fi
	done
	JUNK=$((JUNK + _mg))
	OBJ="beyond the rows: $_pk packs, $_fl chunk lists, $_mf manifests; $_tmp temporary files, $_mg tmp-merge directories"
}

ORPHANS=0
# check_store STORE WHAT [all | N]: verify STORE (no damage, no object of a row missing;
# orphans are counted), then pull the versions not pulled before and N others at random
# (default 1; every one with "all"); one test each
check_store() {
	objects "$1"
	run "$MVMS" --store "$1" verify
	if [ "$RC" = 0 ] && [ "$MISSING" = 0 ]; then
		ok "$2: verify finds no damage"
	else
		not_ok "$2: verify finds no damage"
		_show_last
		diag "objects on disk against the database's rows: $OBJ"
	fi
	if [ "$JUNK" -gt 0 ]; then
		ORPHANS=$((ORPHANS + 1))
		diag "orphans (allowed until the end): $OBJ"
	fi
	_seen=$WORK/seen.$(basename "$1")
	touch "$_seen"
	versions "$1" >"$WORK/vers"
	: >"$WORK/pick"
	_old=0
	while read -r _spec _tag; do
		if [ "${3:-}" = all ] || ! grep -qx "$_spec" "$_seen"; then
			echo "$_spec $_tag" >>"$WORK/pick"
			echo "$_spec" >>"$_seen"
		else
			_old=$((_old + 1))
		fi
	done <"$WORK/vers"
	if [ "${3:-}" != all ]; then
		_r=${3:-1}
		while [ "$_r" -gt 0 ] && [ $_old -gt 0 ]; do
			rint $_old
			awk -v n=$((RINT + 1)) 'FILENAME == ARGV[1] { seen[$1] = 1; next }
				!($1 in seen) { if (++c == n) print }' "$WORK/pick" "$WORK/vers" >"$WORK/pick1"
			cat "$WORK/pick1" >>"$WORK/pick"
			_r=$((_r - 1))
			_old=$((_old - 1))
		done
	fi
	_cn=0
	_bad=
	while read -r _spec _tag; do
		_cn=$((_cn + 1))
		pull_check "$1" "$_spec" "$_tag" </dev/null || _bad="$_bad $_spec"
	done <"$WORK/pick"
	if [ -z "$_bad" ]; then
		ok "$2: $_cn of $(wc -l <"$WORK/vers" | tr -d ' ') versions pull byte-identical"
	else
		not_ok "$2: $_cn of $(wc -l <"$WORK/vers" | tr -d ' ') versions pull byte-identical"
		diag "wrong or failed:$_bad"
	fi
}

# ---- killing ----
KILLED=0
FINISHED=0
# kill_it CMD...: runs CMD and kills it the way MODE says: "time", SIGKILL $DELAY seconds
# after the start; "step", SIGKILL (by crashat.so) just before its step $STEP. KRC is its
# status, KWHAT says whether the kill caught it.
kill_it() {
	if [ "$MODE" = step ]; then
		# ASan wants to come first in the library list: it is told not to check. (The
		# outer 2>/dev/null takes the shell's "Killed".)
		{ env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
			MVMS_CRASH_AT="$STEP" "$@" >"$WORK/k.out" 2>"$WORK/k.err" </dev/null; } 2>/dev/null
		KRC=$?
		_at="before step $STEP"
	else
		"$@" >"$WORK/k.out" 2>"$WORK/k.err" </dev/null &
		_kp=$!
		sleep "$DELAY"
		kill -KILL "$_kp" 2>/dev/null
		{ wait "$_kp"; } 2>/dev/null
		KRC=$?
		_at="after $DELAY s"
	fi
	if [ "$KRC" = 137 ]; then
		KILLED=$((KILLED + 1))
		KWHAT="killed $_at"
	else
		FINISHED=$((FINISHED + 1))
		KWHAT="finished before the kill $_at (exit $KRC)"
		if [ "$KRC" != 0 ]; then
			diag "an uncrashed $1 ... failed (exit $KRC): $(head -c 300 "$WORK/k.err")"
		fi
	fi
	san_scan "$*" "$WORK/k.err"
}

# moment KIND: sets DELAY to a random moment within KIND's measured duration, or (MODE step)
# STEP to a random step among the ones KIND took
moment() {
	rnd
	if [ "$MODE" = step ]; then
		eval "_n=\$STEPS_$1"
		STEP=$(awk -v r="$RND" -v n="$_n" 'BEGIN { printf "%d", 1 + r * n }')
	else
		eval "_dur=\$DUR_$1"
		DELAY=$(awk -v r="$RND" -v d="$_dur" 'BEGIN { printf "%.3f", r * d / 1000 }')
	fi
}

# timed KIND CMD...: run CMD (with crashat.so counting its steps), measure it into DUR_KIND
# (ms, at least 30) and STEPS_KIND
timed() {
	_k=$1
	shift
	rm -f "$WORK/steps"
	_t0=$(now_ms)
	if [ -n "$CRASHAT" ]; then
		run env LD_PRELOAD="$CRASHAT" ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
			MVMS_CRASH_COUNT="$WORK/steps" "$@"
	else
		run "$@"
	fi
	_t1=$(now_ms)
	if [ -n "$_t0" ] && [ -n "$_t1" ]; then
		_ms=$((_t1 - _t0))
	else
		_ms=500
	fi
	[ $_ms -ge 30 ] || _ms=30
	_st=$(cat "$WORK/steps" 2>/dev/null)
	[ -n "$_st" ] || _st=0
	eval "DUR_$_k=\$_ms STEPS_$_k=\$_st"
	diag "$_k takes $_ms ms and $_st steps uncrashed"
}

# must DESC CMD...: set-up step; not ok (and return 1) when it fails
must() {
	_desc=$1
	shift
	run "$@"
	if [ "$RC" != 0 ]; then
		not_ok "set-up: $_desc"
		_show_last
		return 1
	fi
}

ML="$MVMS --store $L"
# rerun_is DESC WANT_TAG STORE MODEL: the re-run (the last run) succeeded and STORE's MODEL
# has the tree of WANT_TAG at the head of main
rerun_is() {
	if [ "$RC" != 0 ]; then
		not_ok "$1"
		_show_last
		return 1
	fi
	is "$(head_tag "$3" "$4")" "$2" "$1"
}

# ---- the servers ----
# L's, read-only, serves the pulls that check L's versions; R's takes the remote pushes
# (and is killed). SRV_PID and URL are R's server's.
# shellcheck disable=SC2086
must "init" $ML init || bail "init L"
SRV_STORE=$L
srv_start lsrv --read-only --allow-anonymous-read
LURL=$URL
must "init the server's store" "$MVMS" --store "$R" init || bail "init R"
"$MVMS" --store "$R" token create --scope write >"$WORK/token" 2>/dev/null || bail "token create"
TOK=$(cat "$WORK/token")
SRV_STORE=$R
srv_start r
RM="$MVMS --token $TOK"

# ---- calibration: one uncrashed run of each kind ----
# the first push of a model stores every tensor: the second is the one to time
gen p:0 "$WORK/src"
# shellcheck disable=SC2086
must "push p:0" $ML push p "$WORK/src" -m crash:p:0 -q || bail "push failed"
gen p:1 "$WORK/src"
# shellcheck disable=SC2086
timed push $ML push p "$WORK/src" -m crash:p:1 -q
is_rc 0 "an uncrashed push" || bail "push failed"
gen r:0 "$WORK/src"
# shellcheck disable=SC2086
must "remote push r:0" $RM --remote "$URL" push r "$WORK/src" -m crash:r:0 -q || bail "remote push failed"
gen r:1 "$WORK/src"
# shellcheck disable=SC2086
timed rpush $RM --remote "$URL" push r "$WORK/src" -m crash:r:1 -q
is_rc 0 "an uncrashed remote push" || bail "remote push failed"
DUR_srv=$DUR_rpush
gen mg:merged:0 "$WORK/src"
must "push mg's first version" $ML push mg "$WORK/src" -m crash:mg:merged:0 -q || bail "push mg"
MG=0
# merge_setup: branch side<I> and push both sides of merge I (I = MG + 1)
merge_setup() {
	MG=$((MG + 1))
	# shellcheck disable=SC2086
	must "branch side$MG" $ML branch mg side$MG &&
		gen mg:side:$MG "$WORK/src" &&
		must "push mg side $MG" $ML push mg "$WORK/src" -b side$MG -m crash:mg:side:$MG -q &&
		gen mg:main:$MG "$WORK/src" &&
		must "push mg main $MG" $ML push mg "$WORK/src" -m crash:mg:main:$MG -q
}
merge_setup || bail "merge set-up"
# shellcheck disable=SC2086
timed merge $ML merge mg side$MG -m crash:mg:merged:$MG
rerun_is "an uncrashed merge makes the merged tree" mg:merged:$MG "$L" mg || bail "merge failed"
GC=0
# gc_setup: a version on a branch of its own, then neither: gc has a pack to delete
gc_setup() {
	GC=$((GC + 1))
	# shellcheck disable=SC2086
	must "branch g$GC" $ML branch p g$GC &&
		gen g:$GC "$WORK/src" &&
		must "push g:$GC" $ML push p "$WORK/src" -b g$GC -m crash:g:$GC -q &&
		_gv=$(printf '%s\n' "$OUT" | sed -n '1s/ .*//p') &&
		must "branch -d g$GC" $ML branch -d p g$GC &&
		must "delete $_gv" $ML delete "$_gv"
}
gc_setup || bail "gc set-up"
# shellcheck disable=SC2086
timed gc $ML gc --grace 0
is_rc 0 "an uncrashed gc"
like "$OUT" "removed 1 pack" "it removes the deleted version's pack"
# shellcheck disable=SC2086
timed tag $ML tag p@v1 t0
is_rc 0 "an uncrashed tag"
# shellcheck disable=SC2086
timed branch $ML branch p b0 p@v1
is_rc 0 "an uncrashed branch"
# shellcheck disable=SC2086
timed branchdel $ML branch -d p b0
is_rc 0 "an uncrashed branch -d"
check_store "$L" "calibration (local store)"
check_store "$R" "calibration (server's store)"

# ---- the points, in a seeded random order ----
# plan N MODE KINDS WEIGHTS: N points of MODE, shared among KINDS by WEIGHTS
plan() {
	awk -v n="$1" -v m="$2" -v ks="$3" -v ws="$4" 'BEGIN {
		nk = split(ks, k, " ")
		split(ws, w, " ")
		for (i = 1; i <= nk; i++) tw += w[i]
		for (i = 1; i <= nk; i++) { c[i] = int(n * w[i] / tw); t += c[i] }
		c[1] += n - t
		for (i = 1; i <= nk; i++) for (j = 0; j < c[i]; j++) print k[i] ":" m }'
}
plan "$POINTS" time "push rpush srv merge gc tag branch branchdel" "7 5 5 5 4 2 1 1" >"$WORK/kinds"
if [ -n "$CRASHAT" ]; then
	plan "$STEPS" step "push rpush merge gc tag branch branchdel" "2 1 2 2 1 1 1" >>"$WORK/kinds"
else
	skip "$STEPS crash points at a step: tests/crashat.so is not built (CRASHAT)"
fi
# shuffled by the seeded numbers from the end of $WORK/rand
_np=$(wc -l <"$WORK/kinds" | tr -d ' ')
tail -n "$_np" "$WORK/rand" | paste - "$WORK/kinds" | sort -n | cut -f2 >"$WORK/plan"
_want=$POINTS
[ -z "$CRASHAT" ] || _want=$((POINTS + STEPS))
is "$_np" "$_want" "$_want crash points planned"

P=1       # push points (p:K)
RP=1      # remote pushes (r:K)
NB=0      # branches b<K> made
BRANCHES= # those still there
N=0
# a version of p to point refs at: sets PV (p@vN)
pick_p() {
	"$MVMS" --store "$L" log p 2>/dev/null | awk '/@v[0-9]/ && !/\[deleted\]$/ { print $1 }' >"$WORK/pv"
	rint "$(wc -l <"$WORK/pv")"
	PV=$(sed -n "$((RINT + 1))p" "$WORK/pv")
}
# ref_at KIND NAME: the version (vN) tag or branch NAME of p is at, empty when none
ref_at() {
	"$MVMS" --store "$L" "$1" p 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}

while read -r KIND <&3; do
	N=$((N + 1))
	MODE=${KIND#*:}
	KIND=${KIND%:*}
	moment "$KIND"
	case $KIND in
	push)
		P=$((P + 1))
		gen p:$P "$WORK/src"
		# shellcheck disable=SC2086
		kill_it $ML push p "$WORK/src" -m crash:p:$P -q
		W="point $N: push p:$P, $KWHAT"
		check_store "$L" "$W"
		# shellcheck disable=SC2086
		run $ML push p "$WORK/src" -m crash:p:$P -q
		rerun_is "$W: the push again succeeds, p's head is p:$P" p:$P "$L" p
		;;
	rpush | srv)
		RP=$((RP + 1))
		gen r:$RP "$WORK/src"
		if [ "$KIND" = rpush ]; then
			# shellcheck disable=SC2086
			kill_it $RM --remote "$URL" push r "$WORK/src" -m crash:r:$RP -q
			W="point $N: remote push r:$RP, client $KWHAT"
		else
			# shellcheck disable=SC2086
			$RM --remote "$URL" push r "$WORK/src" -m crash:r:$RP -q \
				>"$WORK/c.out" 2>"$WORK/c.err" </dev/null &
			CP=$!
			sleep "$DELAY"
			srv_kill "$SRV_PID"
			WAITED=0
			while kill -0 "$CP" 2>/dev/null && [ $WAITED -lt 600 ]; do
				sleep 0.1
				WAITED=$((WAITED + 1))
			done
			kill -KILL "$CP" 2>/dev/null && diag "the client hung for 60 s after the server died"
			{ wait "$CP"; } 2>/dev/null
			CRC=$?
			W="point $N: remote push r:$RP, server killed after $DELAY s (client exit $CRC)"
			if [ $WAITED -lt 600 ]; then
				ok "$W: the client ends"
			else
				not_ok "$W: the client ends"
			fi
			san_scan "the client of a killed server" "$WORK/c.err"
			if [ "$SRV_RC" = 137 ]; then
				KILLED=$((KILLED + 1))
			else
				FINISHED=$((FINISHED + 1))
				diag "the server had exited (status $SRV_RC)"
			fi
			srv_start r
		fi
		check_store "$R" "$W"
		# shellcheck disable=SC2086
		run $RM --remote "$URL" push r "$WORK/src" -m crash:r:$RP -q
		rerun_is "$W: the remote push again succeeds, r's head is r:$RP" r:$RP "$R" r
		;;
	merge)
		merge_setup || continue
		# shellcheck disable=SC2086
		kill_it $ML merge mg side$MG -m crash:mg:merged:$MG
		W="point $N: merge $MG, $KWHAT"
		check_store "$L" "$W"
		# shellcheck disable=SC2086
		run $ML merge mg side$MG -m crash:mg:merged:$MG
		rerun_is "$W: the merge again succeeds, mg's head is the merged tree" mg:merged:$MG "$L" mg
		;;
	gc)
		gc_setup || continue
		# shellcheck disable=SC2086
		kill_it $ML gc --grace 0
		W="point $N: gc, $KWHAT"
		check_store "$L" "$W" 3
		# shellcheck disable=SC2086
		run $ML gc --grace 0
		is_rc 0 "$W: gc again succeeds"
		;;
	tag)
		pick_p
		# shellcheck disable=SC2086
		kill_it $ML tag "$PV" t$N
		W="point $N: tag $PV t$N, $KWHAT"
		REFAT=$(ref_at tags t$N)
		check_store "$L" "$W"
		# shellcheck disable=SC2086
		run $ML tag "$PV" t$N
		if { [ "$RC" = 0 ] || { [ "$RC" = 4 ] && [ -n "$REFAT" ]; }; } && [ "$(ref_at tags t$N)" = "${PV#p@}" ]; then
			ok "$W: tagging again succeeds (or finds the tag made), at ${PV#p@}"
		else
			not_ok "$W: tagging again succeeds (or finds the tag made), at ${PV#p@}"
			diag "after the kill: '${REFAT}'; now: '$(ref_at tags t$N)'"
			_show_last
		fi
		;;
	branch)
		pick_p
		NB=$((NB + 1))
		# shellcheck disable=SC2086
		kill_it $ML branch p b$NB "$PV"
		W="point $N: branch p b$NB $PV, $KWHAT"
		REFAT=$(ref_at branches b$NB)
		check_store "$L" "$W"
		# shellcheck disable=SC2086
		run $ML branch p b$NB "$PV"
		if { [ "$RC" = 0 ] || { [ "$RC" = 4 ] && [ -n "$REFAT" ]; }; } && [ "$(ref_at branches b$NB)" = "${PV#p@}" ]; then
			ok "$W: branching again succeeds (or finds the branch made), at ${PV#p@}"
		else
			not_ok "$W: branching again succeeds (or finds the branch made), at ${PV#p@}"
			diag "after the kill: '${REFAT}'; now: '$(ref_at branches b$NB)'"
			_show_last
		fi
		BRANCHES="$BRANCHES b$NB"
		;;
	branchdel)
		BD=$(echo $BRANCHES | awk '{ print $1 }')
		if [ -z "$BD" ]; then
			pick_p
			NB=$((NB + 1))
			BD=b$NB
			# shellcheck disable=SC2086
			must "branch $BD" $ML branch p $BD "$PV" || continue
		fi
		BRANCHES=$(echo $BRANCHES | awk '{ $1 = ""; print }')
		# shellcheck disable=SC2086
		kill_it $ML branch -d p $BD
		W="point $N: branch -d p $BD, $KWHAT"
		check_store "$L" "$W"
		# shellcheck disable=SC2086
		run $ML branch -d p $BD
		if { [ "$RC" = 0 ] || [ "$RC" = 3 ]; } && [ -z "$(ref_at branches $BD)" ]; then
			ok "$W: deleting again succeeds (or finds it gone)"
		else
			not_ok "$W: deleting again succeeds (or finds it gone)"
			_show_last
		fi
		;;
	esac
done 3<"$WORK/plan"
is "$N" "$_want" "every planned point ran"
diag "$KILLED commands killed while running, $FINISHED finished before their kill;" \
	"orphans on disk after $ORPHANS of them"

# ---- at the end: whatever the kills left, gc reclaims, and every version pulls ----
sleep 6   # the leases of killed pushes expire (MVMS_LEASE_TTL above, plus gc's clock margin)
for _s in "$L" "$R"; do
	_w=$(basename "$_s")
	run "$MVMS" --store "$_s" gc --grace 0
	is_rc 0 "a last gc of $_w"
	objects "$_s"
	if [ "$JUNK" = 0 ]; then
		ok "after it, nothing on disk in $_w lacks a row"
	else
		not_ok "after it, nothing on disk in $_w lacks a row ($OBJ)"
	fi
	check_store "$_s" "the end ($_w)" all
done
for _c in "$XDG_CACHE_HOME"/mvms-store/*/; do
	[ -d "$_c" ] || continue
	run "$MVMS" --store "$_c" verify
	is_rc 0 "the client cache $(basename "$_c") verifies"
done

done_testing
