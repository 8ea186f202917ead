# SPDX-License-Identifier: MIT
# Shared helpers for tests/s3/swift.sh and tests/s3/ceph.sh (POSIX sh; sourced).
#
# Everything lives under $MVMS_S3_BASE (default ${TMPDIR:-/tmp}/mvms-s3.UID): each
# server in its own subdirectory. Every daemon binds 127.0.0.1 only.

umask 022

s3_prog=${0##*/}
s3_die() { printf '%s: %s\n' "$s3_prog" "$*" >&2; s3_unlock; exit 1; }
s3_say() { printf '%s: %s\n' "$s3_prog" "$*" >&2; }

S3_BASE=${MVMS_S3_BASE:-${TMPDIR:-/tmp}/mvms-s3.$(id -u)}

# Test scripts may start servers at the same time (make -j check): a machine-wide lock
# (an atomic mkdir, so no file descriptor leaks into the daemons) makes picking ports and
# binding them one starter at a time; the next starter then sees those ports taken. A
# lock whose holder died is taken over.
S3_LOCK=${TMPDIR:-/tmp}/mvms-s3-start.lock
S3_LOCKED=
s3_lock() {
	_n=0
	until mkdir "$S3_LOCK" 2>/dev/null; do
		_holder=$(cat "$S3_LOCK/pid" 2>/dev/null || :)
		if [ -n "$_holder" ] && ! kill -0 "$_holder" 2>/dev/null; then
			rm -rf "$S3_LOCK"
			continue
		fi
		_n=$((_n + 1))
		[ "$_n" -lt 3000 ] || { printf '%s: %s\n' "$s3_prog" "another server start has held $S3_LOCK for 10 minutes" >&2; exit 1; }
		sleep 0.2
	done
	echo $$ >"$S3_LOCK/pid"
	S3_LOCKED=1
}
s3_unlock() {
	if [ -n "$S3_LOCKED" ]; then
		rm -rf "$S3_LOCK"
	fi
	S3_LOCKED=
}
S3_REGION=us-east-1

s3_now_ms() {
	_t=$(date +%s%N 2>/dev/null)
	case $_t in *N* | '') echo $(($(date +%s) * 1000)) ;; *) echo $((_t / 1000000)) ;; esac
}
s3_secs_since() { # START_MS -> "1.234"
	awk -v a="$1" -v b="$(s3_now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'
}

# s3_install PKG...: create $S3_BASE, then apt-get install the packages that are missing
# (root only, quiet).
s3_install() {
	mkdir -p "$S3_BASE" || s3_die "cannot create $S3_BASE"
	_missing=
	for _p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$_p" 2>/dev/null | grep -q 'install ok installed' ||
			_missing="$_missing $_p"
	done
	[ -z "$_missing" ] && return 0
	[ "$(id -u)" = 0 ] || s3_die "missing packages:$_missing (install them as root: apt-get install$_missing)"
	command -v apt-get >/dev/null 2>&1 || s3_die "missing packages:$_missing and no apt-get"
	_t0=$(s3_now_ms)
	s3_say "installing$_missing ..."
	# another apt-get may hold the lock (parallel test runs): wait for it
	if ! DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 install -y \
		--no-install-recommends $_missing >"$S3_BASE/apt.log" 2>&1; then
		s3_say "apt-get install failed, retrying after apt-get update"
		apt-get -qq -o DPkg::Lock::Timeout=300 update >>"$S3_BASE/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 install -y \
			--no-install-recommends $_missing >>"$S3_BASE/apt.log" 2>&1 ||
			{ tail -n 5 "$S3_BASE/apt.log" >&2; s3_die "apt-get install$_missing failed (log: $S3_BASE/apt.log)"; }
	fi
	s3_say "installed$_missing in $(s3_secs_since "$_t0") s"
}

# s3_load_ports DIR: read DIR/ports (PORT=... and the server's other ports, written by its
# setup) and set ENDPOINT; false when DIR is not set up
s3_load_ports() {
	[ -s "$1/ports" ] || return 1
	. "$1/ports"
	ENDPOINT=http://127.0.0.1:$PORT
}

# s3_env DIR: the `env` command: s3_load_ports DIR, then s3_print_env
s3_env() {
	s3_load_ports "$1" || s3_die "not set up (run: $0 start)"
	s3_print_env
}

# s3_show_logs DIR: the last lines of each DIR/*.log, on stderr (a start that failed)
s3_show_logs() {
	for _f in "$1"/*.log; do
		printf '== %s\n' "$_f" >&2
		tail -n 5 "$_f" >&2
	done
}

# s3_port_busy PORT: true if something listens on 127.0.0.1:PORT
s3_port_busy() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null ||
			python3 -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1',$1))==0 else 1)"
	fi
}

# s3_pick_ports VAR DEFAULT SPAN EXPLICIT: sets VAR to a base port P such that the ports
# P .. P+SPAN-1 are all free; DEFAULT first, then upwards in steps of 100. If EXPLICIT
# is non-empty (the user set the port) only DEFAULT is tried.
s3_pick_ports() {
	_p=$2
	_tries=0
	while :; do
		_i=0 _busy=
		while [ "$_i" -lt "$3" ]; do
			if s3_port_busy $((_p + _i)); then _busy=$((_p + _i)); break; fi
			_i=$((_i + 1))
		done
		if [ -z "$_busy" ]; then eval "$1=\$_p"; return 0; fi
		[ -n "$4" ] && s3_die "port $_busy (needed from base port $2) is in use; choose another base port"
		_tries=$((_tries + 1))
		[ "$_tries" -lt 50 ] || s3_die "no free range of $3 ports found from $2"
		_p=$((_p + 100))
	done
}

# s3_http_code URL: the HTTP status curl gets (000 when nothing answers)
s3_http_code() {
	curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || :
}

# s3_wait_for DESC SECONDS CMD...: poll CMD every 0.2 s until it succeeds
s3_wait_for() {
	_desc=$1 _secs=$2
	shift 2
	_n=$((_secs * 5))
	while ! "$@"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || { s3_say "timed out after ${_secs} s waiting for $_desc"; return 1; }
		sleep 0.2
	done
}

# s3_pid_alive PIDFILE
s3_pid_alive() {
	[ -s "$1" ] || return 1
	_pid=$(tr -dc '0-9' <"$1")
	[ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null
}

# s3_stop_pidfiles SIG PIDFILE...: signal each live pid, wait up to 10 s, then KILL
s3_stop_pidfiles() {
	_sig=$1
	shift
	_pids=
	for _f in "$@"; do
		[ -s "$_f" ] || continue
		_pid=$(tr -dc '0-9' <"$_f")
		if [ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null; then
			kill -s "$_sig" "$_pid" 2>/dev/null && _pids="$_pids $_pid"
		fi
	done
	_n=50
	for _pid in $_pids; do
		while kill -0 "$_pid" 2>/dev/null; do
			_n=$((_n - 1))
			if [ "$_n" -le 0 ]; then
				kill -s KILL "$_pid" 2>/dev/null
				sleep 0.1
				break
			fi
			sleep 0.2
		done
	done
	for _f in "$@"; do rm -f "$_f"; done
}

# s3_netrc FILE KEY SECRET: a netrc for curl (the curl CLI splits --user at the first
# colon, and Swift's key is test:tester)
s3_netrc() {
	(umask 077 && printf 'default login %s password %s\n' "$2" "$3" >"$1")
}

# s3_signed CURLARGS...: a SigV4-signed curl request with $S3_NETRC; prints the status
s3_signed() {
	curl -s -o "$S3_BASE/last-response" -w '%{http_code}' -m 20 --netrc-file "$S3_NETRC" \
		--aws-sigv4 "aws:amz:$S3_REGION:s3" \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		"$@" 2>/dev/null || :
}

# s3_make_bucket ENDPOINT BUCKET: create BUCKET (an existing one owned by us is fine)
s3_make_bucket() {
	_code=$(s3_signed -X PUT "$1/$2")
	case $_code in
	200) return 0 ;;
	409) grep -q 'BucketAlreadyOwnedByYou' "$S3_BASE/last-response" 2>/dev/null && return 0 ;;
	esac
	s3_say "creating bucket $2 at $1: HTTP $_code $(head -c 300 "$S3_BASE/last-response" 2>/dev/null)"
	return 1
}

# s3_bucket_ok ENDPOINT BUCKET: a signed HEAD of the bucket answers 200
s3_bucket_ok() {
	[ "$(s3_signed -I "$1/$2")" = 200 ]
}

# s3_bucket_ready TRIES: create $BUCKET at $ENDPOINT until a signed HEAD finds it, every
# 0.2 s (a server can still answer 503 for a moment after everything listens). After
# TRIES failed attempts it tries once more to show the server's answer, and returns 1.
s3_bucket_ready() {
	_n=0
	until s3_make_bucket "$ENDPOINT" "$BUCKET" 2>/dev/null && s3_bucket_ok "$ENDPOINT" "$BUCKET"; do
		_n=$((_n + 1))
		if [ "$_n" -ge "$1" ]; then
			s3_make_bucket "$ENDPOINT" "$BUCKET"
			return 1
		fi
		sleep 0.2
	done
}

# s3_print_env: the export lines a client needs for the server whose ENDPOINT, KEY, SECRET
# and BUCKET the calling script has loaded (`SCRIPT env`, for eval)
s3_print_env() {
	cat <<ENV
export AWS_ENDPOINT_URL='$ENDPOINT'
export AWS_ACCESS_KEY_ID='$KEY'
export AWS_SECRET_ACCESS_KEY='$SECRET'
export AWS_REGION='$S3_REGION'
export AWS_DEFAULT_REGION='$S3_REGION'
export MVMS_S3_PATH_STYLE=1
export MVMS_S3_TEST_BUCKET='$BUCKET'
ENV
}
