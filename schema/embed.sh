#!/bin/sh
# Turns schema/NNN_name.sql files into a C header: an array of {level, sql} in order.
# The level of a file is its number; the database records the highest applied one in
# PRAGMA user_version.
set -e
echo "/* Generated from the schema directory by schema/embed.sh: do not edit. */"
echo "static const struct { int level; const char *name; const char *sql; } mvms_schema[] = {"
for f in "$@"; do
	base=$(basename "$f" .sql)
	level=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
	printf '\t{ %s, "%s",\n' "$level" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo "};"
