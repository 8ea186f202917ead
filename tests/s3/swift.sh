#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/s3/swift.sh: a one-node OpenStack Swift with the s3api middleware on 127.0.0.1,
# the main S3 server of the test suite (it checks SigV4 strictly). See
# ../shared/S3-TEST-SERVERS.md section 5.1 and tests/s3/README.md.
#
#   tests/s3/swift.sh install   apt-get the Debian packages that are missing (root)
#   tests/s3/swift.sh setup     install, then write configs and rings under the base dir
#   tests/s3/swift.sh start     setup if needed, start the daemons, wait until ready,
#                               create the bucket
#   tests/s3/swift.sh stop      stop the daemons (SIG=KILL for a crash test)
#   tests/s3/swift.sh env       print export lines for AWS_* (eval "$(... env)")
#   tests/s3/swift.sh status    exit 0 if the proxy answers
#
# Environment: MVMS_S3_BASE (base dir, default ${TMPDIR:-/tmp}/mvms-s3.UID; Swift uses
# $MVMS_S3_BASE/swift), MVMS_S3_SWIFT_PORT (the S3 endpoint's port, default 18080;
# memcached, object, container and account servers take the next four ports; if the
# variable is unset and a port is taken, the next free range 100 ports up is used),
# MVMS_S3_BUCKET (default mvms-test). Credentials: tempauth key test:tester, secret
# testing, region us-east-1.

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SB=$S3_BASE/swift
ETC=$SB/etc
RUN=$SB/run
LOG=$SB/log
BUCKET=${MVMS_S3_BUCKET:-mvms-test}
KEY=test:tester
SECRET=testing
S3_NETRC=$SB/netrc
# awscli: the independent client the tests cross-check with (and bench/s3 compares to)
PKGS="swift swift-proxy swift-object swift-container swift-account memcached curl awscli"

load_ports() { s3_load_ports "$SB"; }

do_install() { s3_install $PKGS; }

do_setup() {
	do_install
	if [ -s "$SB/setup-done" ] && load_ports; then
		return 0
	fi
	_t0=$(s3_now_ms)
	rm -rf "$SB"
	mkdir -p "$ETC" "$RUN" "$LOG" "$SB/data/sdb1" || s3_die "cannot create $SB"
	s3_pick_ports PORT "${MVMS_S3_SWIFT_PORT:-18080}" 5 "${MVMS_S3_SWIFT_PORT:-}"
	echo "PORT=$PORT" >"$SB/ports"
	load_ports
	MEMC=$((PORT + 1)) OBJ=$((PORT + 2)) CONT=$((PORT + 3)) ACCT=$((PORT + 4))
	printf 'MEMC=%s\nOBJ=%s\nCONT=%s\nACCT=%s\n' $MEMC $OBJ $CONT $ACCT >>"$SB/ports"

	for s in object:$OBJ container:$CONT account:$ACCT; do
		name=${s%%:*} port=${s#*:}
		cat >"$ETC/$name-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
devices = $SB/data
mount_check = false
swift_dir = $ETC
log_name = $name-server

[pipeline:main]
pipeline = $name-server

[app:$name-server]
use = egg:swift#$name

[${name}-replicator]
[${name}-updater]
[${name}-auditor]
CONF
	done
	cat >"$ETC/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 0
swift_dir = $ETC
log_name = proxy-server

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMC

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:s3api]
use = egg:swift#s3api
location = $S3_REGION
storage_domain = s3.localhost

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
CONF
	for r in object:$OBJ container:$CONT account:$ACCT; do
		name=${r%%:*} port=${r#*:}
		(cd "$ETC" &&
			swift-ring-builder "$name.builder" create 6 1 1 &&
			swift-ring-builder "$name.builder" add "r1z1-127.0.0.1:$port/sdb1" 1 &&
			swift-ring-builder "$name.builder" rebalance) >>"$LOG/setup.log" 2>&1 ||
			{ tail -n 5 "$LOG/setup.log" >&2; s3_die "swift-ring-builder failed for $name"; }
	done
	[ -f /etc/swift/swift.conf ] || s3_die "/etc/swift/swift.conf is missing (Debian's swift package ships it)"
	s3_netrc "$S3_NETRC" "$KEY" "$SECRET"
	date >"$SB/setup-done"
	s3_say "setup done in $(s3_secs_since "$_t0") s ($SB, S3 endpoint $ENDPOINT)"
}

backend_up() { # any answer (not 000) from each backend's /healthcheck
	for p in $OBJ $CONT $ACCT; do
		[ "$(s3_http_code "http://127.0.0.1:$p/healthcheck")" != 000 ] || return 1
	done
}
proxy_up() { [ "$(s3_http_code "$ENDPOINT/healthcheck")" = 200 ]; }
memcached_up() { s3_port_busy "$MEMC"; }

running() { s3_pid_alive "$RUN/proxy.pid"; }

do_start() {
	s3_lock
	do_setup
	load_ports
	_t0=$(s3_now_ms)
	if ! running; then
		# a previous run may have been killed: stop leftovers before checking the ports
		s3_stop_pidfiles KILL "$RUN"/*.pid 2>/dev/null
		for p in $PORT $MEMC $OBJ $CONT $ACCT; do
			s3_port_busy "$p" && s3_die "port $p is in use by another program (set MVMS_S3_SWIFT_PORT, or remove $SB to choose new ports)"
		done
		memc_user=
		[ "$(id -u)" = 0 ] && memc_user="-u root"
		# shellcheck disable=SC2086
		nohup memcached -l 127.0.0.1 -p "$MEMC" -U 0 $memc_user >"$LOG/memcached.log" 2>&1 &
		echo $! >"$RUN/memcached.pid"
		for s in account container object proxy; do
			nohup "/usr/bin/swift-$s-server" "$ETC/$s-server.conf" -v >"$LOG/$s.log" 2>&1 &
			echo $! >"$RUN/$s.pid"
		done
	fi
	if ! s3_wait_for "memcached on :$MEMC" 30 memcached_up ||
		! s3_wait_for "the object/container/account servers on :$OBJ-$ACCT" 60 backend_up ||
		! s3_wait_for "the proxy's /healthcheck on $ENDPOINT" 60 proxy_up; then
		s3_show_logs "$LOG"
		do_stop
		s3_die "Swift did not start"
	fi
	s3_unlock   # every port is bound now
	s3_bucket_ready 25 || s3_die "cannot create bucket $BUCKET at $ENDPOINT"
	s3_say "Swift ready in $(s3_secs_since "$_t0") s: $ENDPOINT bucket $BUCKET"
}

do_stop() {
	load_ports 2>/dev/null
	s3_stop_pidfiles "${SIG:-TERM}" "$RUN/proxy.pid" "$RUN/object.pid" "$RUN/container.pid" \
		"$RUN/account.pid" "$RUN/memcached.pid"
}

case ${1:-} in
install) do_install ;;
setup) do_setup ;;
start) do_start ;;
stop) do_stop ;;
env) s3_env "$SB" ;;
status) load_ports && running && proxy_up ;;
*) echo "usage: $0 install|setup|start|stop|env|status" >&2; exit 2 ;;
esac
