#!/bin/sh
# SPDX-License-Identifier: MIT
# A full disk: on a 2 MiB tmpfs filled to a few KiB (at the database's open, at a pack's
# write), push, tag and a remote push through `serve` fail with a message that says the
# disk is full, says each thing once ("db: disk I/O error: disk I/O error" did not) and,
# from the server, names none of its files; nothing is committed, and with space again the
# push succeeds and verify is clean. Needs root (mount); skipped otherwise.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"

setup
REQ_MAX_TIME=30
. "$TESTS_SRCDIR/cli/srv.sh"

FULL=$WORK/full
mkdir -p "$FULL" || bail "mkdir $FULL"
if ! mount -t tmpfs -o size=2m tmpfs "$FULL" 2>"$WORK/mount.err"; then
	skip_all "cannot mount a 2 MiB tmpfs (needs root): $(head -n 1 "$WORK/mount.err")"
fi
trap 'cleanup_full' EXIT
cleanup_full() {
	for _p in $SRV_PIDS; do
		srv_stop "$_p"
	done
	umount "$FULL" 2>/dev/null || umount -l "$FULL" 2>/dev/null
	rm -rf "$WORK"
}
MVMS_STORE=$FULL/store
XDG_CACHE_HOME=$WORK/cache
export MVMS_STORE XDG_CACHE_HOME

# fill KIB: leave about KIB KiB free on the tmpfs (the filler is $FULL/fill)
fill() {
	rm -f "$FULL/fill"
	_avail=$(df -k -P "$FULL" | awk 'NR == 2 { print $4 }')
	[ "$_avail" -gt "$1" ] || return 0
	dd if=/dev/zero of="$FULL/fill" bs=1024 count=$((_avail - $1)) 2>/dev/null
	:
}

# says_once TEXT DESC: no part of TEXT between ": " separators comes twice
says_once() {
	_rep=$(printf '%s\n' "$1" | awk -F': ' '{
		for (i = 1; i <= NF; i++) { s = $i; gsub(/^ +| +$/, "", s)
			if (length(s) > 3 && seen[s]++) { print s; exit } } }')
	if [ -z "$_rep" ]; then
		ok "$2"
	else
		not_ok "$2"
		diag "'$_rep' comes twice in: $1"
	fi
}

# full_msg TEXT DESC: TEXT says the disk is full, each thing once. Two TAP lines.
full_msg() {
	case $1 in
	*"No space left on device"* | *"disk is full"* | *"out of disk space"*)
		ok "$2: says the disk is full" ;;
	*)
		not_ok "$2: says the disk is full"
		diag "message: $1" ;;
	esac
	says_once "$1" "$2: says each thing once"
}

mvms init
is_rc 0 "init on the tmpfs" || bail "cannot create a store on the tmpfs"
mkmodel -q --size 600K --tensors 4 --seed 3 "$WORK/m"
for i in 1 2 3 4 5 6 7 8; do
	echo "file $i" >"$WORK/m/f$i.txt"
done

# 4 and 16 KiB: the database cannot grow its journal; 200 KiB: the pack does not fit
for left in 4 16 200; do
	fill $left
	mvms push big "$WORK/m"
	rc_nonzero "push with $left KiB free fails"
	full_msg "$ERR" "push with $left KiB free"
done
fill 4
mvms tag big@v1 t1
rc_nonzero "tag with 4 KiB free fails"
full_msg "$ERR" "tag with 4 KiB free"
rm -f "$FULL/fill"

# ---- through the server: the client learns the disk is full, not where ----
W=$("$MVMS" token create --scope write 2>"$WORK/token.err") ||
	bail "token create: $(cat "$WORK/token.err")"
srv_start full --threads 1
for left in 4 200; do
	fill $left
	mvms --remote "$URL" --token "$W" push "remote$left" "$WORK/m"
	rc_nonzero "a remote push with $left KiB free on the server fails"
	full_msg "$ERR" "a remote push with $left KiB free on the server"
	unlike "$ERR" "$FULL" "a remote push with $left KiB free: the message names no file of the server's"
	EID=$(printf '%s' "$ERR" | sed -n 's/.*details under \(E[0-9-]*\).*/\1/p')
	if [ -n "$EID" ]; then
		_line=$(grep -F "error $EID:" "$WORK/full.log")
		full_msg "$_line" "the server's log line $EID"
	else
		not_ok "a remote push with $left KiB free: the message gives the server's error id"
		diag "message: $ERR"
	fi
done
rm -f "$FULL/fill"
srv_stop "$SRV_PID"

# ---- with space again: nothing was half done ----
mvms verify
is_rc 0 "verify is clean after the failed pushes"
mvms push big "$WORK/m"
is_rc 0 "with space again, the push succeeds"
like "$OUT" "big@v1 " "and it is the model's first version"
mvms verify
is_rc 0 "verify is clean"

done_testing
