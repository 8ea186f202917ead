# SPDX-License-Identifier: MIT
# The mvms-store of the remote transport (MVMS_TEST_TRANSPORT=remote, lib.sh): in that mode
# $MVMS is a two-line script that runs this one, so every way a test runs the binary ("$MVMS"
# in a helper, under env, in a pipe, in the background) goes through here. It runs the
# command through a server instead of on the store directly:
#
#   - the store is the one the command names: --store DIR (anywhere, as main.c takes it),
#     else $MVMS_STORE, else $XDG_DATA_HOME/mvms-store;
#   - when that store exists (store.db), one `serve` on 127.0.0.1 (port 0) runs over it,
#     started by the first command that needs it, with an admin token created locally;
#     the command runs as `--remote URL --token T` (its --store dropped);
#   - otherwise the command runs as given, on the real binary ($MVMS_BIN), unchanged: when
#     the store does not exist yet (a first push creates it), when the command already says
#     --remote or $MVMS_REMOTE is set, for init, serve, help and --version (which cannot run
#     remotely), and for the commands in MVMS_REMOTE_TODO (lib.sh: those with no remote
#     implementation yet), each of which is noted in $MVMS_VIA/todo for lib.sh's
#     "# TODO remote: CMD" lines.
#
# State, under $MVMS_VIA (lib.sh): srv-KEY/ per store (store, pid, port, token, ino, log),
# behind a mkdir lock since tests run commands in parallel. lib.sh's remote_stop_all stops
# the servers at the end of the test and looks at their logs for sanitizer reports. A server
# whose store.db was replaced (the test removed and recreated the store) is stopped and a new
# one started; a server found dead otherwise is noted in $MVMS_VIA/problems (a "not ok").
# Not executed directly: sh viaserver.sh ARGS... (no exec bit needed in a tarball).

real=${MVMS_BIN:?MVMS_BIN is not set}
via=${MVMS_VIA:?MVMS_VIA is not set}

die() {
	printf 'viaserver: %s\n' "$*" >&2
	printf '%s\n' "$*" >>"$via/problems"
	exit 125
}

# ---- the command line, parsed as main.c's extract_globals does ----
store=
cmd=
remote=${MVMS_REMOTE:-}
dd=
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	if [ -n "$dd" ]; then
		set -- "$@" "$a"
		continue
	fi
	case $a in
	--)
		dd=1
		[ -n "$cmd" ] || cmd=--
		set -- "$@" "$a"
		;;
	--store)
		if [ "$n" -gt 0 ]; then
			store=$1
			shift
			n=$((n - 1))
		else
			set -- "$@" "$a"
		fi
		;;
	--store=*)
		store=${a#--store=}
		;;
	--remote | --token)
		[ "$a" = --token ] || remote=1
		set -- "$@" "$a"
		if [ "$n" -gt 0 ]; then
			set -- "$@" "$1"
			shift
			n=$((n - 1))
		fi
		;;
	--remote=*)
		remote=1
		set -- "$@" "$a"
		;;
	--json | -q | --quiet | --token=*)
		set -- "$@" "$a"
		;;
	*)
		[ -n "$cmd" ] || cmd=$a
		set -- "$@" "$a"
		;;
	esac
done

local_run() {
	if [ -n "$store" ]; then
		exec "$real" --store "$store" "$@"
	fi
	exec "$real" "$@"
}

[ -z "$remote" ] || local_run "$@"
case $cmd in
"" | -- | init | serve | help | version | --version | --help | -h)
	local_run "$@"
	;;
esac
for t in ${MVMS_REMOTE_TODO:-}; do
	if [ "$cmd" = "$t" ]; then
		printf '%s\n' "$cmd" >>"$via/todo"
		local_run "$@"
	fi
done

dir=$store
[ -n "$dir" ] || dir=${MVMS_STORE:-}
[ -n "$dir" ] || dir=${XDG_DATA_HOME:-$HOME/.local/share}/mvms-store
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac
if [ ! -f "$dir/store.db" ]; then
	printf '%s\n' "$cmd" >>"$via/nostore"
	local_run "$@"
fi

# ---- the store's server: reuse it, or start it ----
key=$(printf '%s' "$dir" | cksum | cut -d ' ' -f 1)
s=$via/srv-$key
# a parallel command may be starting it: wait for the lock (60 s at most)
w=0
until mkdir "$s.lock" 2>/dev/null; do
	w=$((w + 1))
	[ "$w" -le 1200 ] || die "no lock on $s.lock within 60 s"
	sleep 0.05
done
trap 'rmdir "$s.lock" 2>/dev/null' EXIT
ino=$(ls -i "$dir/store.db" | awk '{ print $1 }')
pid=$(cat "$s/pid" 2>/dev/null)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "$s/ino")" = "$ino" ]; then
	:
else
	if [ -n "$pid" ]; then
		if kill -0 "$pid" 2>/dev/null; then
			# the test replaced the store: its old server goes (its log stays for the scan)
			kill -TERM "$pid" 2>/dev/null
			w=0
			while kill -0 "$pid" 2>/dev/null && [ "$w" -lt 150 ]; do
				sleep 0.1
				w=$((w + 1))
			done
			kill -KILL "$pid" 2>/dev/null
		else
			printf 'the server on %s (pid %s) died; see %s\n' "$dir" "$pid" "$s/log.$pid" \
				>>"$via/problems"
		fi
		mv "$s/log" "$s/log.$pid"
		rm -f "$s/pid"
	fi
	mkdir -p "$s" || die "mkdir $s"
	printf '%s\n' "$dir" >"$s/store"
	tok=$("$real" --store "$dir" token create --scope admin -d "test harness (viaserver.sh)" \
		2>"$s/token.err") || die "token create on $dir: $(cat "$s/token.err")"
	printf '%s\n' "$tok" >"$s/token"
	rm -f "$s/port"
	# every descriptor goes elsewhere: a test capturing this command's output must not wait
	# for the server's end
	"$real" --store "$dir" serve --listen 127.0.0.1:0 --port-file "$s/port" \
		>"$s/out" 2>"$s/log" </dev/null &
	pid=$!
	printf '%s\n' "$pid" >"$s/pid"
	printf '%s\n' "$ino" >"$s/ino"
	w=0
	while ! grep -q '^[0-9][0-9]*$' "$s/port" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || die "the server on $dir exited before listening: $(tail -n 5 "$s/log")"
		w=$((w + 1))
		[ "$w" -le 200 ] || die "the server on $dir wrote no port file within 20 s"
		sleep 0.1
	done
fi
port=$(cat "$s/port")
tok=$(cat "$s/token")
rmdir "$s.lock"
trap - EXIT
exec "$real" --remote "http://127.0.0.1:$port" --token "$tok" "$@"
