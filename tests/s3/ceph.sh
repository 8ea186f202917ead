#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/s3/ceph.sh: a 1-mon / 1-OSD Ceph cluster (bluestore on a sparse file) with
# radosgw on 127.0.0.1, the S3 server that enforces conditional PUT
# (If-None-Match: * -> 412). See ../shared/S3-TEST-SERVERS.md section 5.2.
#
#   tests/s3/ceph.sh install|setup|start|stop|env|status   (as tests/s3/swift.sh)
#
# Environment: MVMS_S3_BASE (base dir; Ceph uses $MVMS_S3_BASE/ceph), MVMS_S3_CEPH_PORT
# (radosgw's port, default 17480; the monitor takes the next port and the OSD binds in
# the 20 ports from +10; if the variable is unset and a port is taken, the next free
# range 100 ports up is used), MVMS_S3_BUCKET (default mvms-test). Credentials: key
# TESTAK, secret TESTSK, region us-east-1. Needs about 150 MB of disk (a sparse 10 GiB
# block file) and 125 MiB of RAM.

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

CB=$S3_BASE/ceph
CONF=$CB/ceph.conf
BUCKET=${MVMS_S3_BUCKET:-mvms-test}
KEY=TESTAK
SECRET=TESTSK
S3_NETRC=$CB/netrc
PKGS="ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl"

load_ports() { s3_load_ports "$CB"; }

ceph_cli() { timeout 30 ceph -c "$CONF" "$@"; }

do_install() { s3_install $PKGS; }

do_setup() {
	do_install
	if [ -s "$CB/setup-done" ] && load_ports; then
		return 0
	fi
	_t0=$(s3_now_ms)
	rm -rf "$CB"
	mkdir -p "$CB/run" "$CB/log" "$CB/mon.a" "$CB/osd.0" "$CB/rgw" "$CB/crash" ||
		s3_die "cannot create $CB"
	s3_pick_ports PORT "${MVMS_S3_CEPH_PORT:-17480}" 30 "${MVMS_S3_CEPH_PORT:-}"
	MON=$((PORT + 1)) MSMIN=$((PORT + 10)) MSMAX=$((PORT + 29))
	printf 'PORT=%s\nMON=%s\nMSMIN=%s\nMSMAX=%s\n' $PORT $MON $MSMIN $MSMAX >"$CB/ports"
	load_ports
	FSID=$(uuidgen) || s3_die "uuidgen failed"
	cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON
mon initial members = a
public network = 127.0.0.0/8
ms bind msgr2 = false
ms bind port min = $MSMIN
ms bind port max = $MSMAX
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon data avail warn = 5
mon data avail crit = 1
keyring = $CB/keyring
run dir = $CB/run
pid file = $CB/run/\$name.pid
log file = $CB/log/\$name.log
admin socket = $CB/run/\$cluster-\$name.asok
mon cluster log file = $CB/log/cluster.log
crash dir = $CB/crash
log to syslog = false
err to syslog = false

[mon]
mon data = $CB/mon.\$id

[osd]
osd data = $CB/osd.\$id
osd objectstore = bluestore
bluestore block path = $CB/osd.\$id/block.file
bluestore block create = true
bluestore block size = 10737418240
osd memory target = 939524096
# the OSD's own "osd crush create-or-move" at boot is refused here ('wrong fsid': it
# is sent before the OSD has the monitor's map); ceph.sh adds it to the CRUSH map itself
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = s3.localhost
rgw data = $CB/rgw
CONF
	{
		ceph-authtool --create-keyring "$CB/keyring" --gen-key -n mon. --cap mon 'allow *' &&
			monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON]" "$CB/monmap" &&
			ceph-mon -c "$CONF" --mkfs -i a --monmap "$CB/monmap" --keyring "$CB/keyring"
	} >>"$CB/log/setup.log" 2>&1 || { tail -n 5 "$CB/log/setup.log" >&2; s3_die "ceph-mon --mkfs failed"; }
	s3_netrc "$S3_NETRC" "$KEY" "$SECRET"
	date >"$CB/setup-done"
	s3_say "setup done in $(s3_secs_since "$_t0") s ($CB, S3 endpoint $ENDPOINT)"
}

mon_up() { ceph_cli -s >/dev/null 2>&1; }
osd_up() { ceph_cli osd stat 2>/dev/null | grep -q '1 up'; }
rgw_up() { [ "$(s3_http_code "$ENDPOINT/")" != 000 ]; }
running() { s3_pid_alive "$CB/run/client.rgw.a.pid"; }

show_logs() { s3_show_logs "$CB/log"; }

do_start() {
	s3_lock
	do_setup
	load_ports
	_t0=$(s3_now_ms)
	if ! running; then
		s3_stop_pidfiles KILL "$CB"/run/*.pid 2>/dev/null
		for p in $PORT $MON; do
			s3_port_busy "$p" && s3_die "port $p is in use by another program (set MVMS_S3_CEPH_PORT, or remove $CB to choose new ports)"
		done
		# the daemons fork; their PIDs go to $CB/run/NAME.pid
		ceph-mon -c "$CONF" -i a >>"$CB/log/start.log" 2>&1 || { show_logs; s3_die "ceph-mon failed"; }
		s3_wait_for "the monitor on :$MON" 60 mon_up || { show_logs; do_stop; s3_die "the monitor did not start"; }
		if ! [ -s "$CB/osd.0/fsid" ]; then
			uuid=$(uuidgen)
			# A monitor just created can refuse the first commands (EPERM "problem getting
			# command descriptions", seen under load): retry; the same uuid gives the same id.
			n=0
			until id=$(ceph_cli osd new "$uuid" 2>>"$CB/log/start.log"); do
				n=$((n + 1))
				[ "$n" -lt 10 ] || { show_logs; do_stop; s3_die "ceph osd new failed"; }
				sleep 1
			done
			[ "$id" = 0 ] || { do_stop; s3_die "ceph osd new gave id '$id', want 0"; }
			ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$CB/log/start.log" 2>&1 ||
				{ show_logs; do_stop; s3_die "ceph-osd --mkfs failed"; }
			# The same refusal, seen here too (the monitor logged the command with a zero
			# fsid: sent before the client had its map): retry; adding osd.0 again at the
			# same weight changes nothing.
			n=0
			until ceph_cli osd crush add osd.0 1.0 root=default >>"$CB/log/start.log" 2>&1; do
				n=$((n + 1))
				[ "$n" -lt 10 ] || { show_logs; do_stop; s3_die "ceph osd crush add failed"; }
				sleep 1
			done
		fi
		ceph-osd -c "$CONF" -i 0 >>"$CB/log/start.log" 2>&1 || { show_logs; do_stop; s3_die "ceph-osd failed"; }
		s3_wait_for "the OSD to be up" 90 osd_up || { show_logs; do_stop; s3_die "the OSD did not come up"; }
		radosgw -c "$CONF" -n client.rgw.a >>"$CB/log/start.log" 2>&1 || { show_logs; do_stop; s3_die "radosgw failed"; }
	fi
	s3_wait_for "radosgw on $ENDPOINT" 120 rgw_up || { show_logs; do_stop; s3_die "radosgw did not start"; }
	s3_unlock   # every port is bound now
	if ! [ -s "$CB/user-done" ]; then
		n=0
		until timeout 60 radosgw-admin -c "$CONF" user create --uid=tester --display-name=tester \
			--access-key="$KEY" --secret-key="$SECRET" >>"$CB/log/start.log" 2>&1; do
			n=$((n + 1))
			[ "$n" -lt 5 ] || { show_logs; do_stop; s3_die "radosgw-admin user create failed"; }
			sleep 1
		done
		date >"$CB/user-done"
	fi
	s3_bucket_ready 50 || { do_stop; s3_die "cannot create bucket $BUCKET at $ENDPOINT"; }
	s3_say "Ceph radosgw ready in $(s3_secs_since "$_t0") s: $ENDPOINT bucket $BUCKET"
}

do_stop() {
	s3_stop_pidfiles "${SIG:-TERM}" "$CB/run/client.rgw.a.pid" "$CB/run/osd.0.pid" "$CB/run/mon.a.pid"
}

case ${1:-} in
install) do_install ;;
setup) do_setup ;;
start) do_start ;;
stop) do_stop ;;
env) s3_env "$CB" ;;
status) load_ports && running && rgw_up ;;
*) echo "usage: $0 install|setup|start|stop|env|status" >&2; exit 2 ;;
esac
