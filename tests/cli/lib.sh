# SPDX-License-Identifier: MIT
# Shared helpers for the command-line tests (POSIX sh; sourced, not run).
#
# The harness sets MVMS (the mvms-store binary), MKMODEL (tests/mkmodel) and
# TESTS_SRCDIR (the tests/ source directory). Each script calls `setup`, which makes a
# private temp dir $WORK (removed on exit) and points MVMS_STORE inside it, then runs
# tests with the helpers below and ends with `done_testing` (prints the TAP plan and
# exits 0: the TAP driver counts the "not ok" lines).
#
#   run CMD ARGS...       run a command; sets RC, OUT (stdout), ERR (stderr) and leaves
#                         them in "$WORK/out" and "$WORK/err" as well
#   mvms ARGS...          run "$MVMS" ARGS... the same way
#   ok DESC / not_ok DESC print one TAP line
#   check DESC CMD...     ok if CMD succeeds
#   is GOT WANT DESC      string equality
#   is_rc WANT DESC       $RC equals WANT (prints the command's stderr on failure)
#   like TEXT PATTERN DESC   TEXT contains the fixed string PATTERN
#   unlike TEXT PATTERN DESC
#   num_le A B DESC / num_lt / num_gt   numeric comparisons (floats allowed, via awk)
#   json_get KEY [FILE]   value of the top-level KEY in cJSON's pretty output (FILE
#                         defaults to "$WORK/out"), quotes and trailing comma removed
#   bail REASON           "Bail out!" and exit 1 (for setup failures)
#   skip DESC             one skipped test; skip_all REASON: the whole script (1..0 # SKIP)
#   find_py / jq_is FILE EXPR WANT DESC   a Python 3 in PY; a check of a JSON file with it
#   poke, branch_at, wait_lines, same_tree, mode_of, file_size: see each one
#   san_scan WHAT [FILE]  a "not ok" for each new sanitizer report (see "Sanitizer reports")
#   REMOTE                set (1) when the script runs through a server: see "the two
#                         transports"
#
# The object-store tests (s3.sh, s3-rgw.sh, gcs.sh) use the s3_* helpers at the end.

umask 022
LC_ALL=C
export LC_ALL

test_n=0
fail_n=0
TAB=$(printf '\t')

bail() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

ok() {
	test_n=$((test_n + 1))
	printf 'ok %d - %s\n' "$test_n" "$*"
}

not_ok() {
	test_n=$((test_n + 1))
	fail_n=$((fail_n + 1))
	printf 'not ok %d - %s\n' "$test_n" "$*"
}

# skip DESC: one test that does not run ("ok N # SKIP DESC")
skip() {
	test_n=$((test_n + 1))
	printf 'ok %d # SKIP %s\n' "$test_n" "$*"
}

# skip_all REASON: nothing here can run: an empty plan ("1..0 # SKIP REASON"), exit 0
skip_all() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

# need WHAT: a tool or package the test needs is missing: the whole test skips, except under
# CI=true in a git checkout, where .ci/install-deps installs everything and a skip would hide
# a broken install (a distcheck's unpacked tarball has no node_modules, so it skips there).
need() {
	if [ "${CI:-}" = true ] && [ -d "$TESTS_SRCDIR/../.git" ]; then
		bail "$1 (CI=true: this test must run; .ci/install-deps installs it)"
	fi
	skip_all "$1"
}

# ---- sanitizer reports: none may hide ----
# The harness (Makefile.am) gives ASan and LeakSanitizer exit code 86 and UBSan 87, codes no
# command uses (docs/user-guide.md: 0 to 4). A report fails a test whatever the exit code:
# a command expected to fail with 1 may have tripped a sanitizer on its error path, a server
# may trip one while its client gets its answer, and tests discard the stderr of many
# set-up commands. So:
# - setup (san_env) sends the ASan and LSan reports of every process the test starts to
#   files in $SAN_DIR (log_path); san_scan turns each new one into a "not ok". run, check,
#   srv_stop (srv.sh) and done_testing call it, so a report is caught even when nobody
#   looked at the command that made it;
# - UBSan in a GCC build (libubsan next to libasan) ignores log_path and writes to stderr:
#   run checks the command's stderr, srv_stop the process's log;
# - is_rc, rc_in and rc_nonzero fail when the command they judge left a report.
SAN_PAT='==ERROR: [A-Za-z]*Sanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: |SUMMARY: [A-Za-z]*Sanitizer'
# the harness's options, before san_env adds its log_path
SAN_ASAN_BASE=${ASAN_OPTIONS-}
SAN_DIR=
SAN_LAST=

# san_report FILE: FILE holds a sanitizer report
san_report() {
	grep -Eq "$SAN_PAT" "$1" 2>/dev/null
}

# san_env DIR: ASan and LSan reports go to files DIR/asan.PID from now on
san_env() {
	SAN_DIR=$1
	mkdir -p "$SAN_DIR/seen" || bail "mkdir $SAN_DIR/seen"
	ASAN_OPTIONS="${SAN_ASAN_BASE:+$SAN_ASAN_BASE:}log_path=$SAN_DIR/asan"
	export ASAN_OPTIONS
}

_san_fail() {
	_san_hit=1
	not_ok "no sanitizer report ($1)"
	diag "sanitizer report in $2:"
	grep -v '^[[:space:]]*$' "$2" | head -n 40 | sed 's/^/#   /'
}

# san_scan WHAT [FILE]: one "not ok" for each report that appeared in $SAN_DIR since the
# last scan (each is then moved to $SAN_DIR/seen) and for FILE (a stderr or a log) when it
# holds one; WHAT says where it was found. Returns 1 when there was any.
san_scan() {
	_san_hit=
	if [ -n "$SAN_DIR" ]; then
		for _sf in "$SAN_DIR"/asan.*; do
			[ -f "$_sf" ] || continue
			if san_report "$_sf"; then
				_san_fail "found after: $1" "$_sf"
			elif [ -s "$_sf" ]; then
				diag "sanitizer output (no error) in $_sf:"
				head -n 10 "$_sf" | sed 's/^/#   /'
			fi
			mv "$_sf" "$SAN_DIR/seen/" 2>/dev/null || rm -f "$_sf"
		done
	fi
	if [ -n "${2:-}" ] && san_report "$2"; then
		_san_fail "$1" "$2"
	fi
	[ -z "$_san_hit" ]
}

# _rc_san DESC: when the last command left a sanitizer report, DESC fails (returns 0)
_rc_san() {
	[ -n "$SAN_LAST" ] || return 1
	not_ok "$1"
	diag "the command left a sanitizer report (above); exit code $RC"
	_show_last
}

# check DESC CMD...: ok if CMD succeeds and no sanitizer report appeared meanwhile
check() {
	_desc=$1
	shift
	if "$@"; then
		_cr=0
	else
		_cr=1
	fi
	san_scan "check: $_desc" || _cr=1
	if [ $_cr = 0 ]; then
		ok "$_desc"
	else
		not_ok "$_desc"
		return 1
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:  '$1'" "want: '$2'"
		return 1
	fi
}

# on a failed expectation, show what the last command said
_show_last() {
	diag "command: $LAST_CMD" "exit code: $RC"
	if [ -s "$WORK/out" ]; then
		diag "stdout:"
		head -n 20 "$WORK/out" | sed 's/^/#   /'
	fi
	if [ -s "$WORK/err" ]; then
		diag "stderr:"
		head -n 20 "$WORK/err" | sed 's/^/#   /'
	fi
}

is_rc() {
	_rc_san "$2" && return 1
	if [ "$RC" = "$1" ]; then
		ok "$2"
	else
		not_ok "$2"
		diag "want exit code $1"
		_show_last
		return 1
	fi
}

# rc_in "1 2" DESC: $RC is one of the listed codes
rc_in() {
	_rc_san "$2" && return 1
	for _c in $1; do
		if [ "$RC" = "$_c" ]; then
			ok "$2"
			return 0
		fi
	done
	not_ok "$2"
	diag "want exit code in {$1}"
	_show_last
	return 1
}

# rc_nonzero DESC: failed, but neither crashed (signal, sanitizer) nor timed out. Where the
# documented exit code is known, use is_rc with it instead.
rc_nonzero() {
	_rc_san "$1" && return 1
	if [ "$RC" -ge 1 ] && [ "$RC" -le 3 ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "want exit code 1, 2 or 3"
		_show_last
		return 1
	fi
}

like() {
	case $1 in
	*"$2"*)
		ok "$3"
		;;
	*)
		not_ok "$3"
		diag "text does not contain '$2':"
		printf '%s\n' "$1" | head -n 20 | sed 's/^/#   /'
		return 1
		;;
	esac
}

unlike() {
	case $1 in
	*"$2"*)
		not_ok "$3"
		diag "text contains '$2':"
		printf '%s\n' "$1" | head -n 20 | sed 's/^/#   /'
		return 1
		;;
	*)
		ok "$3"
		;;
	esac
}

_num_cmp() {
	awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN {
		if (a !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || b !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) exit 1
		if (op == "le") exit !(a + 0 <= b + 0)
		if (op == "lt") exit !(a + 0 < b + 0)
		if (op == "gt") exit !(a + 0 > b + 0)
		if (op == "ge") exit !(a + 0 >= b + 0)
		exit 1 }'
}

_num_test() {
	if _num_cmp "$1" "$2" "$3"; then
		ok "$4"
	else
		not_ok "$4"
		diag "want $1 $3 $2"
		return 1
	fi
}
num_le() { _num_test "$1" "$2" le "$3"; }
num_lt() { _num_test "$1" "$2" lt "$3"; }
num_gt() { _num_test "$1" "$2" gt "$3"; }
num_ge() { _num_test "$1" "$2" ge "$3"; }

# A hung command (say, a push reading a FIFO) must not hang the suite.
if command -v timeout >/dev/null 2>&1; then
	_TIMEOUT="timeout 120"
else
	_TIMEOUT=
fi

# run also fails the test (a "not ok" of its own) when the command, or anything else the
# test started, left a sanitizer report; SAN_LAST is then set for the status helpers.
run() {
	LAST_CMD=$*
	# shellcheck disable=SC2086
	$_TIMEOUT "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	if [ "$RC" = 124 ] && [ -n "$_TIMEOUT" ]; then
		diag "TIMED OUT: $*"
	fi
	SAN_LAST=
	san_scan "$*" "$WORK/err" || SAN_LAST=1
	return 0
}

mvms() {
	run "$MVMS" "$@"
}

# json_get KEY [FILE]: top-level keys are indented by exactly one tab in cJSON's
# formatted output ("\t"key":\tvalue,").
json_get() {
	sed -n "s/^${TAB}\"$1\":[[:space:]]*//p" "${2:-$WORK/out}" | head -n 1 |
		sed 's/,$//; s/^"//; s/"$//'
}

# json_count KEY [FILE]: how many times "KEY": occurs at any depth
json_count() {
	grep -c "^[[:space:]]*\"$1\":" "${2:-$WORK/out}"
}

# the first field of the first line of $OUT after a push ("MODEL@vN ID")
push_id() {
	printf '%s\n' "$OUT" | sed -n '1s/^[^ ]* \([0-9a-f]\{64\}\).*/\1/p'
}

# same_tree A B: identical file lists (including empty dirs and files) and contents
same_tree() {
	(cd "$1" && find . | sort) >"$WORK/tree.a" || return 1
	(cd "$2" && find . | sort) >"$WORK/tree.b" || return 1
	if ! cmp -s "$WORK/tree.a" "$WORK/tree.b"; then
		diag "file lists differ:"
		diff "$WORK/tree.a" "$WORK/tree.b" | head -n 20 | sed 's/^/#   /'
		return 1
	fi
	diff -r "$1" "$2" >/dev/null
}

# mode_of FILE: "-rwxr-xr-x" style
mode_of() {
	ls -ld "$1" | cut -c1-10
}

file_size() {
	wc -c <"$1" | tr -d ' '
}

# ---- the two transports ----
# make check runs each command-line script about commands twice (Makefile.am:
# CLI_REMOTE_TESTS; tests/README.md): as it is, on a local store, and with
# MVMS_TEST_TRANSPORT=remote, where setup points $MVMS at a script that runs viaserver.sh:
# each command then runs through an `mvms-store serve` over the store it names, started on
# first use and stopped at the end (remote_stop_all). The expectations are the same; where
# a remote run legitimately differs, the script says so with `[ -n "$REMOTE" ]`. MVMS_BIN
# is the real binary in both modes (for what must run on the store itself).
#
# MVMS_REMOTE_TODO: the commands with no remote implementation yet. In remote mode they run
# on the store directly and each one used gets a "# TODO remote: CMD" line at the end of the
# test. It is the one list to shrink as commands learn --remote (the environment may set it:
# MVMS_REMOTE_TODO= shows what still fails remotely).
MVMS_REMOTE_TODO=${MVMS_REMOTE_TODO-}
REMOTE=
MVMS_VIA=

# remote_setup: for setup; MVMS_BIN, and in remote mode REMOTE=1 and the wrapper as $MVMS
remote_setup() {
	MVMS_BIN=$MVMS
	export MVMS_BIN
	case ${MVMS_TEST_TRANSPORT:-local} in
	local)
		return 0
		;;
	remote) ;;
	*)
		bail "MVMS_TEST_TRANSPORT=$MVMS_TEST_TRANSPORT: want local or remote"
		;;
	esac
	[ -n "${TESTS_SRCDIR:-}" ] || bail "TESTS_SRCDIR is not set (the remote transport needs it)"
	REMOTE=1
	MVMS_VIA=$WORK/via
	MVMS_VIA_SH=$TESTS_SRCDIR/cli/viaserver.sh
	mkdir -p "$MVMS_VIA" || bail "mkdir $MVMS_VIA"
	# shellcheck disable=SC2016
	printf '#!/bin/sh\nexec sh "$MVMS_VIA_SH" "$@"\n' >"$MVMS_VIA/mvms-store" &&
		chmod +x "$MVMS_VIA/mvms-store" || bail "cannot write $MVMS_VIA/mvms-store"
	MVMS=$MVMS_VIA/mvms-store
	# the remote client's chunk cache: inside the test, not in ~/.cache
	XDG_CACHE_HOME=$WORK/cache
	export MVMS MVMS_VIA MVMS_VIA_SH MVMS_REMOTE_TODO XDG_CACHE_HOME
	diag "transport: remote (each command through a server on its store: tests/cli/viaserver.sh)"
}

# cold_cache: in remote mode, empty the remote client's cache ($XDG_CACHE_HOME), so that
# the next pull reads from the server's store (one a test damaged, say), not from the copy
# the client kept of what it pushed or pulled; nothing in local mode, which has no cache
cold_cache() {
	[ -z "$REMOTE" ] || rm -rf "$XDG_CACHE_HOME"
}

# remote_stop_all: in remote mode, stop the servers viaserver.sh started (a "not ok" for
# one that died on its own, and for each sanitizer report in a server's log), report the
# harness's own problems, and print the "# TODO remote: CMD" lines. Runs again harmlessly.
remote_stop_all() {
	[ -n "$REMOTE" ] && [ -d "$MVMS_VIA" ] || return 0
	# all of them at once: each takes a moment to go
	_sps=
	for _pf in "$MVMS_VIA"/srv-*/pid; do
		[ -f "$_pf" ] || continue
		_sd=${_pf%/pid}
		_sp=$(cat "$_pf")
		rm -f "$_pf"
		mv "$_sd/log" "$_sd/log.$_sp"
		if kill -TERM "$_sp" 2>/dev/null; then
			_sps="$_sps $_sp"
		else
			printf 'the server on %s (pid %s) died before the end of the test\n' \
				"$(cat "$_sd/store")" "$_sp" >>"$MVMS_VIA/problems"
		fi
	done
	for _sp in $_sps; do
		_w=0
		while kill -0 "$_sp" 2>/dev/null && [ $_w -lt 150 ]; do
			sleep 0.1
			_w=$((_w + 1))
		done
		if kill -0 "$_sp" 2>/dev/null; then
			printf 'the server with pid %s stops on SIGTERM (killed after 15 s)\n' "$_sp" \
				>>"$MVMS_VIA/problems"
			kill -KILL "$_sp" 2>/dev/null
		fi
	done
	for _sl in "$MVMS_VIA"/srv-*/log.*; do
		[ -f "$_sl" ] || continue
		san_scan "the server on $(cat "${_sl%/log.*}/store") ($_sl)" "$_sl"
		mv "$_sl" "$_sl.seen"
	done
	if [ -s "$MVMS_VIA/problems" ]; then
		while IFS= read -r _pl; do
			not_ok "remote transport: $_pl"
		done <"$MVMS_VIA/problems"
		for _sl in "$MVMS_VIA"/srv-*/log.*.seen; do
			[ -s "$_sl" ] || continue
			diag "$_sl (last lines):"
			tail -n 20 "$_sl" | sed 's/^/#   /'
		done
	fi
	rm -f "$MVMS_VIA/problems"
	if [ -s "$MVMS_VIA/todo" ]; then
		sort "$MVMS_VIA/todo" | uniq -c | while read -r _n _c; do
			printf '# TODO remote: %s (ran on the store directly %s times)\n' "$_c" "$_n"
		done
	fi
	if [ -s "$MVMS_VIA/nostore" ]; then
		diag "ran on the store directly as there was no store yet: $(sort "$MVMS_VIA/nostore" |
			uniq -c | awk '{ printf "%s%s (%s)", sep, $2, $1; sep = ", " }')"
	fi
	rm -f "$MVMS_VIA/todo" "$MVMS_VIA/nostore"
}

setup() {
	[ -n "$MVMS" ] || bail "MVMS is not set (path of mvms-store)"
	[ -n "$MKMODEL" ] || bail "MKMODEL is not set (path of tests/mkmodel)"
	[ -x "$MVMS" ] || bail "MVMS=$MVMS is not executable"
	[ -x "$MKMODEL" ] || bail "MKMODEL=$MKMODEL is not executable"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/mvms-cli.XXXXXX") || bail "mktemp -d failed"
	trap 'remote_stop_all; rm -rf "$WORK"' EXIT
	trap 'exit 1' HUP INT TERM
	san_env "$WORK/san"
	MVMS_STORE=$WORK/store
	XDG_DATA_HOME=$WORK/xdg
	# The user's own configuration file (default remote, token, author) stays out of tests.
	XDG_CONFIG_HOME=$WORK/config
	# A remote client's cache is keyed by the server's URL: in ~/.cache, a later test (or
	# another build's) whose server got the same port would open a cache that is not its
	# own (seen: a database another build's schema had numbered past this one's tables).
	XDG_CACHE_HOME=$WORK/xdg-cache
	export MVMS_STORE XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME
	unset MVMS_REMOTE 2>/dev/null || :
	remote_setup
	# automake's harness may hand us a read-only or unrelated cwd
	cd "$WORK" || bail "cd $WORK"
}

# mkmodel ARGS...: generate a model dir, bail on failure; sets MK_OUT to its output
mkmodel() {
	MK_OUT=$("$MKMODEL" "$@" 2>&1) || bail "mkmodel $*: $MK_OUT"
}

# poke FILE TENSOR [BYTES]: overwrite 8 bytes inside TENSOR's data (numpy-free)
poke() {
	_hl=$(od -An -tu8 -N8 "$1" | tr -d ' ')
	_off=$(head -c $((8 + _hl)) "$1" | tail -c "$_hl" |
		sed -n "s/.*\"$2\":{[^}]*\"data_offsets\":\[\([0-9]*\),.*/\1/p")
	[ -n "$_off" ] || bail "poke: no tensor $2 in $1"
	printf '%s' "${3:-ZZZZZZZZ}" | dd of="$1" bs=1 seek=$((8 + _hl + _off + 64)) conv=notrunc 2>/dev/null ||
		bail "poke: dd failed"
}

# branch_at MODEL BRANCH: the version ("vN") BRANCH points at, empty if none
branch_at() {
	"$MVMS" branches "$1" 2>/dev/null | awk -v b="$2" '$1 == b { print $2 }'
}

# parts DIR: how many temporary files of pulls (part files, temp files) are under DIR
parts() {
	find "$1" -name '.mvms-part-*' -o -name '.mvms-tmp-*' 2>/dev/null | wc -l | tr -d ' '
}

# wait_parts DIR PID: until a pull's temporary file shows under DIR, or PID has ended (at
# most 5 s): the moment to kill a pull in the middle
wait_parts() {
	_w=0
	while [ $_w -lt 500 ] && [ "$(parts "$1")" = 0 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.01
		_w=$((_w + 1))
	done
}

# wait_lines FILE N SECONDS: until FILE has N lines; prints the tenths of a second waited
wait_lines() {
	_w=0
	while [ "$(cat "$1" 2>/dev/null | wc -l | tr -d ' ')" -lt "$2" ] && [ $_w -lt $(($3 * 10)) ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
	echo $_w
}

# find_py: sets PY to a Python 3 (/usr/bin/python3 first, then python3 in PATH), or to ""
# when there is none
find_py() {
	PY=
	for _p in /usr/bin/python3 python3; do
		if command -v "$_p" >/dev/null 2>&1; then
			PY=$_p
			break
		fi
	done
}

# jq_is FILE EXPR WANT DESC: python's str(eval(EXPR)) with d = the JSON document equals
# WANT (the standard library only). Needs find_py first; skips when there is no Python.
jq_is() {
	if [ -z "$PY" ]; then
		skip "python3 not installed: $4"
		return 0
	fi
	_got=$("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>&1)
	is "$_got" "$3" "$4"
}

# ---- the object-store tests (s3.sh, s3-rgw.sh, gcs.sh) ----
# The servers come from tests/s3/swift.sh and tests/s3/ceph.sh (SERVER below: swift, ceph).

# s3_ci_bail REASON: with CI=true these tests must run: bail out with REASON
s3_ci_bail() {
	[ "${CI:-}" != true ] || bail "$* (CI=true: S3 tests must run)"
}

# s3_skip_all REASON: skip_all, except under CI=true (s3_ci_bail)
s3_skip_all() {
	s3_ci_bail "$*"
	skip_all "$*"
}

# s3_setup: setup, then S3 (the tests/s3 directory) and MVMS_S3_BASE (the servers' base
# dir, default $WORK/s3; exported). No server is started yet: S3_STARTED is empty.
s3_setup() {
	setup
	S3=$TESTS_SRCDIR/s3
	MVMS_S3_BASE=${MVMS_S3_BASE:-$WORK/s3}
	export MVMS_S3_BASE
	S3_STARTED=
}

# s3_start SERVER NAME [LINES]: make sure SERVER's server runs. One already running is
# reused (and left running); otherwise this script starts it, sets S3_STARTED=SERVER (for
# s3_stop_started) and tells in diag how long it took. When it cannot start, its start
# log (the last LINES lines; all by default) goes out as TAP comments, S3_WHY says
# "cannot start NAME: <the log's last line>" and it returns 1.
s3_start() {
	"$S3/$1.sh" status 2>/dev/null && return 0
	S3_STARTED=$1
	_t0=$(date +%s)
	if ! "$S3/$1.sh" start >"$WORK/$1-start.log" 2>&1; then
		S3_WHY=$(grep -v '^==' "$WORK/$1-start.log" | tail -n 1)
		S3_WHY="cannot start $2: ${S3_WHY:-see log}"
		sed 's/^/# /' "$WORK/$1-start.log" | tail -n "${3:-+1}"
		return 1
	fi
	diag "$2 started in $(($(date +%s) - _t0)) s: $(tail -n 1 "$WORK/$1-start.log")"
}

# s3_stop_started: stop the server s3_start started (for the EXIT trap)
s3_stop_started() {
	[ -z "$S3_STARTED" ] || "$S3/$S3_STARTED.sh" stop >/dev/null 2>&1
}

# s3_aws_cli: the aws cli without any user configuration (exported AWS_CONFIG_FILE,
# AWS_SHARED_CREDENTIALS_FILE, AWS_PAGER, AWS_EC2_METADATA_DISABLED); sets AWSBIN to
# $MVMS_AWS, else Debian's awscli (/usr/bin/aws: another aws earlier in PATH may be a
# different one), else aws. Returns 1 when there is none.
s3_aws_cli() {
	AWS_CONFIG_FILE=/dev/null
	AWS_SHARED_CREDENTIALS_FILE=/dev/null
	AWS_PAGER=
	AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_PAGER AWS_EC2_METADATA_DISABLED
	AWSBIN=${MVMS_AWS:-aws}
	[ -z "${MVMS_AWS:-}" ] && [ -x /usr/bin/aws ] && AWSBIN=/usr/bin/aws
	command -v "$AWSBIN" >/dev/null 2>&1
}

# done_testing: DONE_HOOK first (srv.sh: stop the servers, whose leak reports come at exit),
# then the remote transport's servers, a last san_scan, then the plan
done_testing() {
	[ -z "${DONE_HOOK:-}" ] || $DONE_HOOK
	remote_stop_all
	san_scan "the end of the test"
	printf '1..%d\n' "$test_n"
	if [ "$fail_n" -gt 0 ]; then
		diag "$fail_n of $test_n tests failed"
	fi
	exit 0
}
