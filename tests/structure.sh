#!/bin/sh
# SPDX-License-Identifier: MIT
# The structure test: the layers of libmvms stay layers and its public boundary stays public.
#  1. src/cli, src/server and src/common include only public headers (mvms/..., mvms.h), their
#     own folder's headers, src/common's, or (the command line starts the server) src/server's.
#  2. A library file includes no header from a higher layer (core < storage < meta < transfer
#     < ops < client), and its object calls no function defined in a higher layer.
#  3. libmvms.so exports exactly the functions that include/mvms/*.h declare.
# TAP output; needs the build tree (for the objects and the shared library).
set -u
top=${TESTS_SRCDIR:-$(cd "$(dirname "$0")" && pwd)}/..
top=$(cd "$top" && pwd)
build=${BUILDDIR:-$(pwd)}
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

rank() {
	case $1 in
	core) echo 0 ;; storage) echo 1 ;; meta) echo 2 ;; transfer) echo 3 ;; ops) echo 4 ;; client) echo 5 ;; *) echo 9 ;;
	esac
}

# 1. Front ends use the public API only.
bad=""
for f in "$top"/src/cli/*.[ch] "$top"/src/server/*.[ch] "$top"/src/common/*.[ch]; do
	dir=$(dirname "$f")
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		case $h in mvms/*|mvms.h) continue ;; esac
		[ -f "$dir/$h" ] && continue
		[ -f "$top/src/common/$h" ] && continue
		[ -f "$top/src/server/$h" ] && continue
		# made in the build tree from src/server/web by its embed.sh: the page's bytes only
		[ "$h" = web_assets.h ] && [ -f "$top/src/server/web/embed.sh" ] && continue
		bad="$bad${f#"$top"/}: includes \"$h\"
"
	done
done
[ -z "$bad" ] && ok "src/cli, src/server and src/common include public headers only" ||
	not_ok "a front end includes a library-internal header" "$bad"

# 2a. Includes point down.
bad=""
for f in "$top"/src/lib/*/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	r=$(rank "$layer")
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		case $h in mvms/*|mvms.h|schema_sql.h) continue ;; esac
		hf=$(ls "$top"/src/lib/*/"$h" 2>/dev/null | head -n 1)
		if [ -z "$hf" ]; then
			bad="$bad${f#"$top"/}: includes \"$h\", which is in no layer folder
"
			continue
		fi
		hl=$(basename "$(dirname "$hf")")
		[ "$(rank "$hl")" -le "$r" ] ||
			bad="$bad${f#"$top"/} ($layer) includes $hl/$h, a higher layer
"
	done
done
[ -z "$bad" ] && ok "library files include headers of their own or lower layers only" ||
	not_ok "a library file includes a header from a higher layer" "$bad"

# 2b. Calls point down: every mvms_ symbol an object needs is defined in its layer or below.
objs=$(find "$build/src/lib" -path '*/.libs/*.o' 2>/dev/null)
if [ -z "$objs" ] || ! command -v nm >/dev/null; then
	skip "no library objects under $build/src/lib (or no nm): build first"
else
	defs=$(mktemp)
	trap 'rm -f "$defs"' EXIT
	for src in "$top"/src/lib/*/*.c; do
		layer=$(basename "$(dirname "$src")")
		base=$(basename "$src" .c)
		o=$(printf '%s\n' $objs | grep "/libmvms_core_la-$base\.o\$" | head -n 1)
		[ -n "$o" ] || continue
		nm --defined-only "$o" | awk -v l="$layer" -v b="$base" '$2 ~ /^[TDBR]$/ { print $3, l, b }'
	done > "$defs"
	bad=""
	for src in "$top"/src/lib/*/*.c; do
		layer=$(basename "$(dirname "$src")")
		base=$(basename "$src" .c)
		o=$(printf '%s\n' $objs | grep "/libmvms_core_la-$base\.o\$" | head -n 1)
		[ -n "$o" ] || continue
		r=$(rank "$layer")
		for s in $(nm -u "$o" | awk '$2 ~ /^mvms_/ { print $2 }'); do
			line=$(awk -v s="$s" '$1 == s { print $2, $3; exit }' "$defs")
			[ -n "$line" ] || continue
			dl=${line% *}
			[ "$(rank "$dl")" -le "$r" ] ||
				bad="$bad$layer/$base.c calls $s of $dl/${line#* }.c, a higher layer
"
		done
	done
	[ -z "$bad" ] && ok "library files call functions of their own or lower layers only" ||
		not_ok "a library file calls upward" "$bad"
fi

# 2c. SQL lives in meta/: no other layer prepares a statement or calls SQLite (they may only
# open and end the transactions meta/db.h offers, which is where a unit of work is decided).
bad=$(grep -ln 'sqlite3_\|mvms_db_stmt\|mvms_db_step_row' "$top"/src/lib/core/*.c "$top"/src/lib/storage/*.c \
	"$top"/src/lib/transfer/*.c "$top"/src/lib/ops/*.c "$top"/src/lib/client/*.c 2>/dev/null | sed "s|$top/||")
[ -z "$bad" ] && ok "SQL is written in meta/ only" || not_ok "files outside meta/ run SQL" "$bad"

# 3. Exports are the public API.
so=$(ls "$build"/src/.libs/libmvms.so 2>/dev/null | head -n 1)
if [ -z "$so" ]; then
	skip "no shared libmvms in $build/src/.libs (built with --disable-shared?)"
else
	pub=$(mktemp)
	exp=$(mktemp)
	sed -n 's/.*\b\(mvms_[a-z0-9_]*\)[[:space:]]*(.*/\1/p' "$top"/include/mvms.h "$top"/include/mvms/*.h \
		"$top"/include/mvms/*/*.h 2>/dev/null | sort -u > "$pub"
	nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' | sort -u > "$exp"
	extra=$(comm -13 "$pub" "$exp")
	missing=$(comm -23 "$pub" "$exp")
	[ -z "$extra" ] && ok "libmvms exports no symbol that a public header does not declare" ||
		not_ok "libmvms exports $(printf '%s\n' "$extra" | wc -l) symbols no public header declares" "$extra"
	[ -z "$missing" ] && ok "every function a public header declares is exported" ||
		not_ok "public functions not exported" "$missing"
	rm -f "$pub" "$exp"
fi
echo "1..$n"
[ "$fail" -eq 0 ]
