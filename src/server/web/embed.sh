#!/bin/sh
# Turns the web page's files (src/server/web/*) into a C header for src/server/h_web.c: one
# byte array per file and a table of {name, content type, bytes, length}. Bytes, not string
# literals, so that no character of a file (quotes, backslashes, "??" trigraphs) needs care.
# Usage: embed.sh FILE... > web_assets.h
set -e
echo "/* Generated from src/server/web by src/server/web/embed.sh: do not edit. */"
i=0
for f in "$@"; do
	echo "static const unsigned char web_asset_$i[] = {"
	od -An -v -tu1 "$f" | sed -e 's/[0-9][0-9]*/&,/g' -e 's/^ */\t/'
	echo "};"
	i=$((i + 1))
done
echo "static const struct web_asset { const char *name, *type; const unsigned char *data; size_t len; } web_assets[] = {"
i=0
for f in "$@"; do
	name=$(basename "$f")
	case "$name" in
	*.html) type="text/html; charset=utf-8" ;;
	*.js) type="text/javascript; charset=utf-8" ;;
	*.css) type="text/css; charset=utf-8" ;;
	*.svg) type="image/svg+xml" ;;
	*) echo "embed.sh: no content type for $name" >&2; exit 1 ;;
	esac
	printf '\t{ "%s", "%s", web_asset_%d, sizeof(web_asset_%d) },\n' "$name" "$type" "$i" "$i"
	i=$((i + 1))
done
echo "};"
