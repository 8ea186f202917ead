#!/bin/sh
# SPDX-License-Identifier: MIT
# The test helpers cannot hide a sanitizer report. tests/sanhit trips ASan (a heap
# overflow), LeakSanitizer and UBSan on purpose; each case runs lib.sh's and srv.sh's
# helpers on it in a subshell with its own TAP numbering and its own report directory, and
# the case passes when the helpers said "not ok" (and, for the controls, when they did not).
# The exit code a command is expected to have is given to the helpers on purpose (1, 86, 0):
# a report must fail the test whatever the code. Also: the harness's exit codes (86 for ASan
# and its leak check, 87 for UBSan) are the ones a trip exits with.
. "$TESTS_SRCDIR/cli/lib.sh"
[ -n "${SANHIT:-}" ] && [ -x "$SANHIT" ] || skip_all "SANHIT (tests/sanhit) is not set or not built"
[ "$("$SANHIT" probe)" = asan ] || skip_all "built without sanitizers (configure --enable-sanitizers)"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

# rc1 CMD...: CMD with exit code 1 for every sanitizer, what the issue found (a report that
# looks like an ordinary error); run_rc1 CMD...: lib.sh's run of rc1 CMD...
rc1() {
	env "ASAN_OPTIONS=$ASAN_OPTIONS:exitcode=1" LSAN_OPTIONS=exitcode=1 \
		"UBSAN_OPTIONS=$UBSAN_OPTIONS:exitcode=1" "$@"
}
run_rc1() {
	run env "ASAN_OPTIONS=$ASAN_OPTIONS:exitcode=1" LSAN_OPTIONS=exitcode=1 \
		"UBSAN_OPTIONS=$UBSAN_OPTIONS:exitcode=1" "$@"
}

# inner KIND NAME: runs the function NAME in a subshell as a test of its own (numbering,
# report directory $WORK/NAME.san; KIND "stderr" leaves ASan writing to stderr, as without
# setup); its TAP output is in $WORK/NAME.tap and INNER_FAILS is its count of "not ok"
inner() {
	(
		test_n=0
		fail_n=0
		SRV_PIDS=
		if [ "$1" = stderr ]; then
			SAN_DIR=
			ASAN_OPTIONS=$SAN_ASAN_BASE
			export ASAN_OPTIONS
		else
			san_env "$WORK/$2.san"
		fi
		"$2"
		done_testing
	) >"$WORK/$2.tap" 2>"$WORK/$2.stderr"
	INNER_FAILS=$(grep -c '^not ok' "$WORK/$2.tap")
}

# caught KIND NAME DESC: the helpers in NAME failed the inner test, and said why
caught() {
	inner "$1" "$2"
	if [ "$INNER_FAILS" -gt 0 ] && grep -q 'sanitizer report' "$WORK/$2.tap"; then
		ok "$3"
	else
		not_ok "$3"
		diag "the helpers did not fail on the report; their output:"
		sed 's/^/#   /' "$WORK/$2.tap" | head -n 40
	fi
}

# clean KIND NAME DESC: the helpers in NAME passed (no false alarm)
clean() {
	inner "$1" "$2"
	if [ "$INNER_FAILS" = 0 ] && grep -q '^ok ' "$WORK/$2.tap"; then
		ok "$3"
	else
		not_ok "$3"
		sed 's/^/#   /' "$WORK/$2.tap" | head -n 40
	fi
}

# ---- the harness's exit codes ----
t_codes() {
	run "$SANHIT" heap
	echo "$RC" >"$WORK/rc.heap"
	run "$SANHIT" leak
	echo "$RC" >"$WORK/rc.leak"
	run "$SANHIT" ub
	echo "$RC" >"$WORK/rc.ub"
}
inner logs t_codes
is "$(cat "$WORK/rc.heap")" 86 "a heap overflow exits 86 (ASAN_OPTIONS exitcode)"
is "$(cat "$WORK/rc.leak")" 86 "a leak exits 86 (LeakSanitizer uses ASan's code)"
is "$(cat "$WORK/rc.ub")" 87 "undefined behaviour exits 87 (UBSAN_OPTIONS exitcode)"
for _c in 86 87; do
	if grep -q "\`$_c\`" "$TESTS_SRCDIR/../docs/user-guide.md"; then
		not_ok "exit code $_c is not one the user guide documents"
	else
		ok "exit code $_c is not one the user guide documents"
	fi
done

# ---- a report under an expected exit code ----
t_is_rc1() {
	run_rc1 "$SANHIT" heap
	is_rc 1 "a heap overflow that exits 1"
}
caught logs t_is_rc1 "is_rc 1 fails on an ASan report (exit code 1)"
t_rc_nonzero() {
	run_rc1 "$SANHIT" heap
	rc_nonzero "a heap overflow that exits 1"
}
caught logs t_rc_nonzero "rc_nonzero fails on an ASan report (exit code 1)"
t_rc_in() {
	run_rc1 "$SANHIT" ub
	rc_in "1 2" "undefined behaviour that exits 1"
}
caught logs t_rc_in "rc_in '1 2' fails on a UBSan report (exit code 1)"
t_is_rc86() {
	run "$SANHIT" heap
	is_rc 86 "a heap overflow that exits 86"
}
caught logs t_is_rc86 "is_rc 86 fails on an ASan report (the code is not enough)"
t_leak0() {
	run env LSAN_OPTIONS=exitcode=0 ASAN_OPTIONS="$ASAN_OPTIONS:exitcode=0" "$SANHIT" leak
	is_rc 0 "a leak that exits 0"
}
caught logs t_leak0 "is_rc 0 fails on a leak report (exit code 0)"
t_stderr() {
	run_rc1 "$SANHIT" heap
	is_rc 1 "a heap overflow that exits 1, reported on stderr"
}
caught stderr t_stderr "is_rc 1 fails on an ASan report in the command's stderr"
t_run_only() {
	run_rc1 "$SANHIT" leak
	ok "nobody checks the status"
}
caught logs t_run_only "run alone fails on a report (nobody checks the status)"

# ---- a report from a command whose stderr the test threw away ----
t_hidden() {
	rc1 "$SANHIT" heap >/dev/null 2>&1 || :
	ok "something else"
}
caught logs t_hidden "done_testing fails on a report from a command run outside the helpers"
t_check() {
	check "a command that succeeds" sh -c '"$1" heap >/dev/null 2>&1; exit 0' sh "$SANHIT"
}
caught logs t_check "check fails on a report even when its command succeeds"

# ---- servers: a report at their exit ----
# srv_bad MODE: a stand-in server (srv_track'ed, like srv_start's) that leaks (term-leak) or
# overflows an int (term-ub) when SIGTERM stops it; sets SB_PID
srv_bad() {
	rm -f "$WORK/ready"
	"$SANHIT" "$1" "$WORK/ready" >/dev/null 2>"$WORK/sanhit-srv.log" </dev/null &
	SB_PID=$!
	srv_track "$SB_PID" "$WORK/sanhit-srv.log"
	_w=0
	while [ ! -e "$WORK/ready" ] && [ $_w -lt 100 ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
}
t_srv_leak() {
	srv_bad term-leak
	srv_stop "$SB_PID"
	is "$SRV_RC" 86 "the stand-in server exits 86"
}
caught logs t_srv_leak "srv_stop fails on a server's leak report"
caught stderr t_srv_leak "srv_stop fails on a server's leak report in its log"
t_srv_ub_log() {
	srv_bad term-ub
	srv_stop "$SB_PID"
	is "$SRV_RC" 87 "the stand-in server exits 87"
}
caught logs t_srv_ub_log "srv_stop fails on a UBSan report in a server's log"
t_srv_left() {
	srv_bad term-leak
	ok "the server is left running"
}
caught logs t_srv_left "done_testing stops the servers left running and fails on their reports"

# ---- no false alarm ----
t_clean() {
	run "$SANHIT" ok
	is_rc 0 "a clean run"
	run "$MVMS" --help
	is_rc 0 "mvms-store --help"
	check "a clean check" "$SANHIT" ok
}
clean logs t_clean "clean commands pass"
t_srv_clean() {
	# serve needs a store (only init and push make one)
	"$MVMS" init -q >/dev/null 2>&1
	srv_start clean
	srv_stop "$SRV_PID"
	is "$SRV_RC" 0 "a real server stops with 0"
}
clean logs t_srv_clean "a real server started and stopped with srv.sh passes"

done_testing
