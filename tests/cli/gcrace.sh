#!/bin/sh
# SPDX-License-Identifier: MIT
# gc against running pushes (issue 10, finding 1): rounds in which a push of many small
# files (every third one a remote push through `serve`, whose lease the server holds) runs
# in the background while `gc --grace 0` runs again and again in the foreground, with garbage for gc to take (a scratch version, deleted just before, whose
# files the push reuses, and temp files of a "killed" push). Nothing about timing is
# assumed: however the two interleave, every push must commit, the store must verify, and
# each committed version must come back byte-identical through `serve` to a remote client
# with an empty cache (so every manifest, chunk list and pack is fetched from the server).
# At the end every version is pulled again, and a last gc leaves no orphan behind.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

ROUNDS=${MVMS_GCRACE_ROUNDS:-22}
FILES=30
T0=$(date +%s)

mvms init -q
is_rc 0 "init" || bail "cannot create a store"
R=$("$MVMS" token create --scope read 2>/dev/null) || bail "read token"
W=$("$MVMS" token create --scope write 2>/dev/null) || bail "write token"
srv_start srv --threads 2 --no-access-log

# The lease endpoints a remote push uses (docs/http-api.md, "Leases").
req POST "$URL/v1/leases" -H "Authorization: Bearer $W"
is_code 201 "POST /v1/leases"
L=$(jstr lease)
is "${#L}" 32 "a lease id of 32 hex digits"
req POST "$URL/v1/leases/$L" -H "Authorization: Bearer $W"
is_code 200 "renewing it"
req POST "$URL/v1/chunks/missing" -H "Authorization: Bearer $W" -H "Mvms-Lease: $L" -d '{"ids":[]}'
is_code 200 "a request naming it with Mvms-Lease"
req DELETE "$URL/v1/leases/$L" -H "Authorization: Bearer $W"
is_code 200 "releasing it"
req POST "$URL/v1/leases/$L" -H "Authorization: Bearer $W"
is_code 409 "renewing a released lease: 409"
is "$(jstr code)" lease_expired "  lease_expired"
req POST "$URL/v1/chunks/missing" -H "Authorization: Bearer $W" -H "Mvms-Lease: $L" -d '{"ids":[]}'
is_code 409 "a request naming a lease that is gone: 409 lease_expired"
req POST "$URL/v1/chunks/missing" -H "Authorization: Bearer $W" -H "Mvms-Lease: nope" -d '{"ids":[]}'
is_code 400 "a malformed lease id: 400"
req POST "$URL/v1/leases" -H "Authorization: Bearer $R"
is_code 403 "a read token cannot take a lease"

# tree DIR ROUND: FILES small files (a third shared with the scratch version of the round,
# a third with the previous round, a third new) and one 200 KB binary file
tree() {
	mkdir -p "$1/sub"
	_f=1
	while [ $_f -le $FILES ]; do
		case $((_f % 3)) in
		0) printf 'scratch %s %s\n' "$2" "$_f" >"$1/f$_f.txt" ;;
		1) printf 'previous %s %s\n' "$(($2 - 1))" "$_f" >"$1/sub/g$_f.txt" ;;
		*) printf 'new %s %s\n' "$2" "$_f" >"$1/h$_f.txt" ;;
		esac
		_f=$((_f + 1))
	done
	head -c 204800 /dev/urandom >"$1/blob.bin"
}

# scratch DIR ROUND: the files of the round's tree that the scratch version shares, and one
# of its own
scratch() {
	mkdir -p "$1"
	_f=3
	while [ $_f -le $FILES ]; do
		printf 'scratch %s %s\n' "$2" "$_f" >"$1/f$_f.txt"
		_f=$((_f + 3))
	done
	head -c 65536 /dev/urandom >"$1/own.bin"
}

# rpull SPEC DIR: a remote pull through the server with an empty cache
NCACHE=0
rpull() {
	NCACHE=$((NCACHE + 1))
	XDG_CACHE_HOME=$WORK/cache-$NCACHE run "$MVMS" --remote "$URL" --token "$R" pull "$1" -o "$2"
}

mkdir -p "$WORK/t0"
printf 'first\n' >"$WORK/t0/first.txt"
mvms push m "$WORK/t0"
is_rc 0 "push m@v1" || bail "first push failed"

i=1
GCS=0
DURING=0
RETRIES=0
FAILED=0
VERSIONS="1:t0"
# The scratch versions, one per round, made now so that by their round they are older than
# the lease margin: gc may take them while the round's push reuses their files.
while [ $i -le $ROUNDS ]; do
	scratch "$WORK/s$i" "$i"
	"$MVMS" branch m "s$i" m@v1 >/dev/null 2>&1 &&
		"$MVMS" push m "$WORK/s$i" -b "s$i" >"$WORK/s$i.out" 2>&1 ||
		bail "cannot make scratch version $i: $(cat "$WORK/s$i.out")"
	i=$((i + 1))
done
i=1
while [ $i -le $ROUNDS ]; do
	# Garbage: the round's scratch version, deleted, and the temp file of a killed push.
	"$MVMS" branch -d m "s$i" >/dev/null 2>&1 &&
		"$MVMS" delete "m@$(sed -n 's/^m@\(v[0-9]*\) .*/\1/p' "$WORK/s$i.out")" >/dev/null 2>&1 ||
		bail "round $i: cannot delete the scratch version"
	mkdir -p "$MVMS_STORE/objects/tmp"
	printf 'half a pack\n' >"$MVMS_STORE/objects/tmp/killed$i.tmp"

	tree "$WORK/t$i" "$i"
	rm -f "$WORK/push.rc"
	if [ $((i % 3)) = 0 ]; then
		HOW="remote push"
		set -- --remote "$URL" --token "$W"
	else
		HOW=push
		set --
	fi
	(
		XDG_CACHE_HOME=$WORK/push-cache "$MVMS" "$@" --json push m "$WORK/t$i" -m "round $i" \
			>"$WORK/push.out" 2>"$WORK/push.err" </dev/null
		echo $? >"$WORK/push.rc"
	) &
	PUSH=$!
	n=0
	while [ ! -s "$WORK/push.rc" ] && [ $n -lt 400 ]; do
		"$MVMS" gc --grace 0 >>"$WORK/gc.out" 2>>"$WORK/gc.err" || {
			diag "round $i: gc failed: $(tail -n 3 "$WORK/gc.err")"
			FAILED=$((FAILED + 1))
		}
		n=$((n + 1))
		[ -s "$WORK/push.rc" ] || DURING=$((DURING + 1))
	done
	wait $PUSH
	RC=$(cat "$WORK/push.rc" 2>/dev/null)
	GCS=$((GCS + n))
	if [ $RC != 0 ]; then
		not_ok "round $i: the $HOW racing gc commits"
		diag "exit $RC: $(cat "$WORK/push.err")"
		i=$((i + 1))
		continue
	fi
	V=$(json_get version "$WORK/push.out")
	RETRIES=$((RETRIES + $(json_get retries "$WORK/push.out")))
	VERSIONS="$VERSIONS $V:t$i"
	mvms gc --grace 0
	is_rc 0 "round $i: $HOW of m@v$V while gc ran $n times; gc after it" || FAILED=$((FAILED + 1))
	mvms verify
	is_rc 0 "round $i: verify" || FAILED=$((FAILED + 1))
	rpull "m@v$V" "$WORK/p$i"
	if [ "$RC" = 0 ] && same_tree "$WORK/t$i" "$WORK/p$i"; then
		ok "round $i: m@v$V pulls byte-identical through serve"
	else
		not_ok "round $i: m@v$V pulls byte-identical through serve"
		_show_last
	fi
	[ $FAILED -lt 3 ] || bail "too many failures"
	i=$((i + 1))
done
is "$FAILED" 0 "every gc and verify succeeded"
diag "$GCS gc runs, $DURING of them while a push ran, in $((i - 1)) rounds ($(($(date +%s) - T0)) s);" \
	"$RETRIES pushes started over once because a gc took what they reused"
num_gt "$DURING" 0 "some gc runs overlapped a push ($DURING)"

# Every version, again, now that all the rounds' gcs have run.
BAD=
for vt in $VERSIONS; do
	rpull "m@v${vt%%:*}" "$WORK/final-${vt%%:*}"
	{ [ "$RC" = 0 ] && same_tree "$WORK/${vt#*:}" "$WORK/final-${vt%%:*}"; } || BAD="$BAD m@v${vt%%:*}"
done
is "$BAD" "" "every committed version pulls byte-identical at the end"

# gc removed the garbage: nothing unreferenced is left (verify lists no orphan).
mvms gc --grace 0
mvms --json verify
is_rc 0 "verify at the end"
is "$(json_get orphan_bytes)" 0 "no orphan is left once gc ran"
mvms --json gc --grace 0 --dry-run
is "$(json_get temp_files)" 0 "the killed pushes' temp files were removed"
done_testing
