#!/bin/sh
# SPDX-License-Identifier: MIT
# Several servers on one bucket (docs/backends.md, "Several servers on one bucket"), on Ceph
# radosgw, the local S3 server that enforces If-None-Match: *. Three `serve` processes, each
# with its own database on one bucket prefix: a token made through one store works on all,
# concurrent pushes to one branch through all three make one linear chain with no version
# lost (losers get 409/exit 4 and push again), pulls through each are byte-identical, a
# server killed during pushes loses nothing, and a fourth database rebuilt from the bucket
# (reindex) renders log, branches, tags and lineage byte for byte as the others.
# MVMS_TEST_S3=0 or MVMS_TEST_S3_RGW=0 skips it.
. "$TESTS_SRCDIR/cli/lib.sh"
[ "${MVMS_TEST_S3:-1}" = 0 ] && s3_skip_all "MVMS_TEST_S3=0"
[ "${MVMS_TEST_S3_RGW:-1}" = 0 ] && s3_skip_all "MVMS_TEST_S3_RGW=0"
s3_setup
. "$TESTS_SRCDIR/cli/srv.sh"
BUCKET=mvms-test
MVMS_S3_BUCKET=$BUCKET
export MVMS_S3_BUCKET
DONE_HOOK=srv_stop_all
trap 'srv_stop_all; s3_stop_started; rm -rf "$WORK"' EXIT
s3_start ceph "Ceph radosgw" 40 || s3_skip_all "$S3_WHY"
eval "$("$S3/ceph.sh" env)" || s3_skip_all "ceph.sh env failed"
MVMS_S3_BACKOFF_MS=50
export MVMS_S3_BACKOFF_MS
B="s3://$BUCKET/t$$-multi"

mkmodel -q --size 2M --tensors 4 --seed 61 "$WORK/v1"
for k in 1 2 3; do
	"$MVMS" --store "$WORK/db$k" init --pack-size 1M --backend "$B" >/dev/null 2>"$WORK/init$k.err"
	is "$?" 0 "init of database $k on the one bucket" || bail "init: $(cat "$WORK/init$k.err")"
done
T=$("$MVMS" --store "$WORK/db1" token create --scope write 2>/dev/null) || bail "token"
for k in 1 2 3; do
	SRV_STORE=$WORK/db$k srv_start s$k --refresh 0.2
	eval "URL$k=\$URL PID$k=\$SRV_PID"
done
rem() { # rem K ARGS: the CLI through server K with the token made on database 1
	eval "_u=\$URL$1"
	shift
	XDG_CACHE_HOME=$WORK/cache run "$MVMS" --remote "$_u" --token "$T" "$@"
}
for k in 1 2 3; do
	rem $k push m "$WORK/v1" -m "base" -q
	is_rc 0 "server $k accepts the token made through database 1 (push)"
done

# Concurrent pushes to main through all three servers: every loser retries.
NP=9
PIDS=
i=1
while [ $i -le $NP ]; do
	mkdir -p "$WORK/c$i" && cp "$WORK/v1"/* "$WORK/c$i"/ && printf 'p%s\n' $i > "$WORK/c$i/who"
	(
		k=$(( (i % 3) + 1 )); eval "u=\$URL$k"; t=0; rc=1
		while [ $t -lt 30 ]; do
			XDG_CACHE_HOME=$WORK/cache$i "$MVMS" --remote "$u" --token "$T" -q push m \
				"$WORK/c$i" -m "c$i" >/dev/null 2>>"$WORK/c$i.err"
			rc=$?
			[ $rc -eq 4 ] || break
			t=$((t + 1))
		done
		echo $rc > "$WORK/c$i.rc"
	) &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $PIDS # not the servers
is "$(cat "$WORK"/c*.rc | sort -u | tr '\n' ' ')" "0 " "all $NP concurrent pushes got in"
# A plain read through server 1 may be up to its --refresh (0.2 s) behind the bucket's log,
# which the pushes through servers 2 and 3 just wrote (a fresh clone's run once saw 8 of 9
# here, and 11 versions later on): wait up to 10 s for it. A lost version never shows.
w=0
while :; do
	rem 1 log m
	nv=$(printf '%s\n' "$OUT" | grep -cE ' c[0-9]+( |$)')
	if [ "$nv" -ge $NP ] || [ $w -ge 50 ]; then break; fi
	w=$((w + 1))
	sleep 0.2
done
is "$nv" $NP "no version lost"
is "$(printf '%s\n' "$OUT" | awk '{ print $1 }' | sort -u | wc -l | tr -d ' ')" \
	"$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "every version number once"

snap() { # snap K FILE: the renderings through server K (after its refresh)
	: > "$2"
	for _c in "log m" "branches m" "tags m" "lineage m"; do
		# shellcheck disable=SC2086
		rem "$1" --json $_c
		printf '== %s\n%s\n' "$_c" "$OUT" >> "$2"
	done
}
sleep 1
rem 2 tag m@main t1
is_rc 0 "tag through server 2"
sleep 1
for k in 1 2 3; do snap $k "$WORK/snap$k"; done
check "servers 1 and 2 render the same log, branches, tags, lineage" cmp -s "$WORK/snap1" "$WORK/snap2"
check "servers 1 and 3 too" cmp -s "$WORK/snap1" "$WORK/snap3"
for k in 1 2 3; do
	rem $k pull m@main -o "$WORK/out$k"
	is_rc 0 "pull through server $k"
done
check "pulls through servers 1 and 2 are byte-identical" diff -r "$WORK/out1" "$WORK/out2"
check "pulls through servers 1 and 3 are byte-identical" diff -r "$WORK/out1" "$WORK/out3"

# Server 3 killed (-9) at several points of pushes through it, then started again on its
# database: a push it answered with success is in the log, nothing else is half-made.
for d in 0.1 0.3 0.6 1.0; do
	mkdir -p "$WORK/k$d" && cp "$WORK/v1"/* "$WORK/k$d"/ && printf 'k%s\n' "$d" > "$WORK/k$d/who"
	( XDG_CACHE_HOME=$WORK/cachek "$MVMS" --remote "$URL3" --token "$T" -q push m "$WORK/k$d" \
		-m "k$d" >/dev/null 2>&1; echo $? > "$WORK/k$d.rc" ) &
	KP=$!
	sleep "$d"
	kill -9 "$PID3" 2>/dev/null
	wait "$KP"
	SRV_STORE=$WORK/db3 srv_start s3 --refresh 0.2
	URL3=$URL PID3=$SRV_PID
done
rem 1 log m
for d in 0.1 0.3 0.6 1.0; do
	if [ "$(cat "$WORK/k$d.rc")" = 0 ]; then
		like "$OUT" " k$d" "the push answered with success before the kill at ${d}s is in the log"
	else
		diag "the push killed at ${d}s failed (exit $(cat "$WORK/k$d.rc")): not committed"
	fi
done
rem 3 push m "$WORK/v1" -m "after the kills" -q
is_rc 0 "the restarted server takes pushes"
rem 1 log m
BEFORE=$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')
mvms --store "$WORK/db4" init --pack-size 1M --backend "$B"
is_rc 0 "a fourth database on the bucket"
mvms --store "$WORK/db4" reindex
is_rc 0 "reindex of the fourth from the bucket alone"
: > "$WORK/snap4"
for _c in "log m" "branches m" "tags m" "lineage m"; do
	# shellcheck disable=SC2086
	run "$MVMS" --store "$WORK/db4" --json $_c
	printf '== %s\n%s\n' "$_c" "$OUT" >> "$WORK/snap4"
done
sleep 1
snap 1 "$WORK/snap1b"
check "the rebuilt fourth renders exactly what server 1 does (after the kill)" cmp -s "$WORK/snap1b" "$WORK/snap4"
mvms --store "$WORK/db4" verify --quick
is_rc 0 "verify of the fourth: every version's objects are in the bucket"
diag "versions after the kill: $BEFORE"

# A server whose reads may be an hour old (--refresh 3600) still gives a remote push the
# newest head: the push asks for it with "Cache-Control: no-cache", and the server catches
# up first. Without that, a push through it right after one through another server would
# name a stale parent and be refused with 409.
SRV_STORE=$WORK/db4 srv_start s4 --refresh 3600
URL4=$URL
head_of() { # head_of URL [CURL ARGS]: the id of m@main as that server says
	_h=$1
	shift
	req GET "$_h/v1/models/m/versions/main" -H "Authorization: Bearer $T" "$@"
	jstr id
}
OLD=$(head_of "$URL4")
mkdir -p "$WORK/f1" && cp "$WORK/v1"/* "$WORK/f1"/ && printf 'f1\n' > "$WORK/f1/who"
rem 1 push m "$WORK/f1" -m "fresh 1" -q
is_rc 0 "a push through server 1"
NEW=$(head_of "$URL1")
check "  moved m@main" [ -n "$NEW" ] && [ "$NEW" != "$OLD" ]
is "$(head_of "$URL4")" "$OLD" "a plain read through the fourth server still sees the old head"
is "$(head_of "$URL4" -H "Cache-Control: no-cache")" "$NEW" \
	"with Cache-Control: no-cache it catches up and sees the new one"
mkdir -p "$WORK/f2" && cp "$WORK/v1"/* "$WORK/f2"/ && printf 'f2\n' > "$WORK/f2/who"
rem 1 push m "$WORK/f2" -m "fresh 2" -q
is_rc 0 "another push through server 1"
mkdir -p "$WORK/f3" && cp "$WORK/v1"/* "$WORK/f3"/ && printf 'f3\n' > "$WORK/f3/who"
rem 4 push m "$WORK/f3" -m "fresh 3" -q
is_rc 0 "a remote push through the fourth right after it lands at the first try"
rem 4 --json log m
like "$OUT" "fresh 3" "  it is in the log"
done_testing
