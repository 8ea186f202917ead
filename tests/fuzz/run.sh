#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) straight from the
# library sources and runs each for SECONDS (default 20) on a copy of its seed corpus.
# Exits non-zero when a target crashes, leaks, times out or runs out of memory, printing
# the reproducer and the start of the report. Without clang/libFuzzer it says so and exits
# 0, or 1 when CI=true (CI must not skip silently).
#   usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#   env:   FUZZ_KEEP=1 keeps the work directory; CC (default clang); FUZZ_JOBS (build -j)
set -u

secs=${1:-20}
[ $# -gt 0 ] && shift
case $secs in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;; esac
all_targets="safetensors gguf onnx manifest filemap pack tar gate codec sig delta"
targets=${*:-$all_targets}
for t in $targets; do
	case " $all_targets " in *" $t "*) ;; *) echo "run.sh: unknown target '$t' (known: $all_targets)" >&2; exit 2 ;; esac
done

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac

skip() {
	echo "run.sh: $1" >&2
	echo "run.sh: on Debian 12: apt-get install -y clang libclang-rt-14-dev (or run .ci/fuzz as root)" >&2
	if [ "${CI:-}" = true ]; then
		echo "run.sh: CI=true: failing rather than skipping the fuzz targets" >&2
		exit 1
	fi
	echo "run.sh: fuzzing skipped" >&2
	exit 0
}

work=$(mktemp -d "${TMPDIR:-/tmp}/mvms-fuzz.XXXXXX") || exit 2
keep=${FUZZ_KEEP:-0}
# shellcheck disable=SC2317
cleanup() {
	if [ "$keep" = 1 ]; then
		echo "run.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- is there a clang with libFuzzer? ----
command -v "$cc" >/dev/null 2>&1 || skip "$cc not found"
cat > "$work/probe.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
PROBE
"$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1 ||
	{ sed -n '1,5p' "$work/probe.log" >&2; skip "$cc cannot build a libFuzzer target (-fsanitize=fuzzer)"; }

# ---- build: the library sources, then one binary per target ----
inc=$work/include
mkdir -p "$inc" "$work/obj" "$work/bin" "$work/tmp"
sh "$top/schema/embed.sh" "$top"/schema/*.sql > "$inc/schema_sql.h" || { echo "run.sh: schema/embed.sh failed" >&2; exit 2; }
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
cat > "$inc/config.h" <<CONF
/* Stands in for configure's config.h in the fuzz build. */
#define _GNU_SOURCE 1
#define PACKAGE "mvms-store"
#define PACKAGE_NAME "mvms-store"
#define PACKAGE_VERSION "${version:-0.0.0}"
#define VERSION PACKAGE_VERSION
CONF
dep_cflags=$(pkg-config --cflags libcjson libsodium libzstd sqlite3 libcurl 2>/dev/null || true)
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
-I$top/include -I$top/src/lib/core -I$top/src/lib/storage -I$top/src/lib/meta -I$top/src/lib/transfer -I$top/src/lib/ops -I$top/src/server -I$inc -include $inc/config.h $dep_cflags"
libs="-lsqlite3 -lsodium -lzstd -lcjson -lcurl -lpthread -lm"
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

echo "run.sh: building with $("$cc" --version | sed -n 1p) in $work" >&2
# -fsanitize=fuzzer-no-link: library code gets coverage and sanitizers, no main().
# The library's sources as Makefile.am lists them (every src_libmvms_core_la_SOURCES = and
# += line), else every src/lib/*/*.c; they go into a static archive, so a target links only
# what it uses.
lib_srcs=$(awk '/^src_libmvms_core_la_SOURCES/ { on = 1 } on { print; if ($0 !~ /\\$/) on = 0 }' \
	"$top/Makefile.am" | sed 's/\\//g' | tr '\t' ' ' | tr ' ' '\n' | grep '^src/lib/.*\.c$')
[ -n "$lib_srcs" ] || lib_srcs=$(cd "$top" && ls src/lib/*/*.c)
# shellcheck disable=SC2016,SC2086
printf '%s\n' $lib_srcs | xargs -P "$jobs" -I{} sh -c \
	'o="$1/obj/$(basename "$2" .c).o"; $3 $4 -fsanitize=fuzzer-no-link,address,undefined -c "$5/$2" -o "$o" 2>"$o.log" || { cat "$o.log" >&2; exit 255; }' \
	sh "$work" {} "$cc" "$cflags" "$top" || { echo "run.sh: building the library failed" >&2; exit 2; }
ar rcs "$work/libmvms_fuzz.a" "$work"/obj/*.o || { echo "run.sh: ar failed" >&2; exit 2; }
for t in $targets; do
	if [ "$t" = tar ]; then
		srcs="$top/src/server/tar.c"
		objs=
		tlibs=
	elif [ "$t" = sig ]; then
		# signed releases are a later block of the library's sources than lib_srcs reads
		srcs="$top/src/lib/core/sig.c"
		objs=$work/libmvms_fuzz.a
		tlibs=$libs
	elif [ "$t" = gate ]; then
		srcs="$top/src/server/gate.c"
		objs=$work/libmvms_fuzz.a
		tlibs="$libs -levent"
	else
		srcs=
		objs=$work/libmvms_fuzz.a
		tlibs=$libs
	fi
	# shellcheck disable=SC2086
	"$cc" $cflags -fsanitize=fuzzer,address,undefined -o "$work/bin/fuzz_$t" \
		"$here/fuzz_$t.c" $srcs $objs $tlibs >"$work/bin/fuzz_$t.log" 2>&1 ||
		{ cat "$work/bin/fuzz_$t.log" >&2; echo "run.sh: building fuzz_$t failed" >&2; exit 2; }
done

# ---- run ----
fail=0
summary=
export TMPDIR="$work/tmp"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1:exitcode=86}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}"
for t in $targets; do
	corpus=$work/corpus/$t
	art=$work/artifacts/$t
	mkdir -p "$corpus" "$art"
	cp "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
	log=$work/fuzz_$t.log
	echo "run.sh: fuzz_$t for ${secs}s" >&2
	limit=$((secs + 300))
	guard=
	command -v timeout >/dev/null 2>&1 && guard="timeout -k 10 $limit"
	$guard "$work/bin/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$art/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	if [ "$rc" -eq 0 ]; then
		status=ok
	else
		status="FAILED (exit $rc)"
		fail=1
		keep=1
		echo "run.sh: fuzz_$t FAILED (exit $rc)" >&2
		for a in "$art"/*; do
			[ -e "$a" ] || continue
			echo "run.sh: reproducer: $a" >&2
			echo "run.sh:   reproduce: $work/bin/fuzz_$t $a" >&2
			echo "run.sh:   input (hex, first 256 bytes): $(od -An -tx1 -v "$a" | tr -d ' \n' | cut -c1-512)" >&2
		done
		echo "run.sh: report (from $log):" >&2
		sed -n '/^==[0-9]*==\|runtime error\|^INFO: libFuzzer: timeout\|ERROR: libFuzzer\|deadly signal/,$p' "$log" | sed -n '1,40p' >&2
	fi
	summary="$summary$(printf '%-12s %-18s %12s execs %8s exec/s  cov %s' "$t" "$status" "${execs:-?}" "${rate:-?}" "${cov:-?}")
"
done
echo "run.sh: results (${secs}s per target):" >&2
printf '%s' "$summary" >&2
exit $fail
