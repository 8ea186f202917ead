#!/bin/sh
# SPDX-License-Identifier: MIT
# Help, the man page and the shell completions come from the option tables the parser is
# built from (src/cli/options.c): no command file has a getopt table of its own; for every
# command, `help CMD` and `CMD --help` agree, and every option they list is accepted by the
# parser and appears in the man page and in the bash and zsh completions; those three are
# built and `make install` puts them in man1, bash-completion and zsh site-functions.
. "$TESTS_SRCDIR/cli/lib.sh"
setup

SRC=$TESTS_SRCDIR/../src/cli
B=${BUILDDIR:-$(dirname "$MVMS")}
MAN=$B/mvms-store.1
BASHC=$B/completions/mvms-store
ZSHC=$B/completions/_mvms-store

# ---- one parser for all: the tables ----
if grep -l -e 'getopt_long' -e 'struct option' "$SRC"/cmd_*.c "$SRC"/main.c >"$WORK/own" 2>/dev/null; then
	not_ok "no command parses with a getopt table of its own: $(tr '\n' ' ' <"$WORK/own")"
else
	ok "no command parses with a getopt table of its own (all use cli_getopt)"
fi
for f in "$MAN" "$BASHC" "$ZSHC"; do
	check "the build made $(basename "$f")" test -s "$f"
done

# ---- the known misses of the hand-written help ----
mvms help serve
for o in --listen --threads --read-only --allow-anonymous-read --port-file --max-body \
	--max-uploads --timeout --no-access-log; do
	like "$OUT" "$o" "help serve lists $o"
done
mvms help rollback
like "$OUT" "--expect-revision" "help rollback lists --expect-revision"

# ---- every command, every option ----
mvms --help
is_rc 0 "--help"
printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p' >"$WORK/cmds"
N=$(wc -l <"$WORK/cmds")
num_gt "$N" 20 "--help lists the commands ($N)"

# The block of the zsh script for command $1 (from "CMD) _arguments" to ";;").
zsh_block() {
	sed -n "/^$TAB$TAB$1) _arguments/,/;;\$/p" "$ZSHC"
}

# The man page's section of command $1 (from its .SS line to the next .SS or .SH).
man_sect() {
	H=".SS \"mvms\\-store $(printf '%s' "$1" | sed 's/-/\\-/g')" awk '
		BEGIN { h = ENVIRON["H"] }
		index($0, h " ") == 1 || index($0, h "\"") == 1 { p = 1; print; next }
		/^\.S[SH]/ { p = 0 }
		p' "$MAN"
}

# man_has TEXT OPTION: TEXT has OPTION in bold as roff writes it (\fB\-\-name\fR)
man_has() {
	_mo=$(printf '%s' "$2" | sed 's/-/\\-/g')
	printf '%s\n' "$1" | grep -qF -- "\\fB$_mo\\fR"
}

bad=0
while read -r c; do
	run "$MVMS" help "$c"
	[ "$RC" = 0 ] || { not_ok "help $c exits 0 ($RC)"; bad=1; continue; }
	cp "$WORK/out" "$WORK/help1"
	run "$MVMS" "$c" --help
	# The subcommand tables (token, remote) answer --help before a subcommand too.
	cmp -s "$WORK/out" "$WORK/help1" || { not_ok "help $c and $c --help differ"; bad=1; }
	# The command's own options: between "options:" and the global options.
	sed -n '/^options:/,/^global options/p' "$WORK/help1" | grep -e '^  -' >"$WORK/opts"
	grep -q -- '--help' "$WORK/opts" || { not_ok "help $c lists --help"; bad=1; }
	sub=
	case $c in
	token) sub=create ;;
	remote) sub=add ;;
	key) sub=generate ;;
	env) sub=policy ;;
	esac
	bline=$(grep "^$TAB$c) opts=" "$BASHC")
	zblock=$(zsh_block "$c")
	mansect=$(man_sect "$c")
	[ -n "$mansect" ] || { not_ok "the man page has a section for $c"; bad=1; }
	while read -r line; do
		o=$(printf '%s\n' "$line" | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p')
		arg=$(printf '%s\n' "$line" | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}--[a-z][a-z-]* \([A-Z@=|:]\{1,\}[^ ]*\) .*/\2/p')
		[ -n "$o" ] || { not_ok "$c: cannot read the option line '$line'"; bad=1; continue; }
		[ "$o" = --help ] && continue
		# The parser accepts it: it is parsed, then --help answers (or its value is refused
		# for what it is, never as an unknown option).
		# shellcheck disable=SC2086
		run "$MVMS" "$c" $sub "$o" ${arg:+1} --help
		if [ "$RC" != 0 ] && { [ "$RC" != 2 ] || printf '%s' "$ERR" | grep -q -e 'unknown option' -e 'no case'; }; then
			not_ok "$c $sub $o: the parser refuses an option its help lists (rc $RC: $ERR)"
			bad=1
		fi
		printf '%s\n' "$bline" | grep -q -- " $o " || printf '%s\n' "$bline" | grep -q -- " $o\"" ||
			{ not_ok "$c $o is in the bash completion"; bad=1; }
		printf '%s\n' "$zblock" | grep -q -e "$o\[" -e "$o}" ||
			{ not_ok "$c $o is in the zsh completion"; bad=1; }
		man_has "$mansect" "$o" || { not_ok "$c $o is in the man page"; bad=1; }
	done <"$WORK/opts"
	# And it refuses what no table has.
	# shellcheck disable=SC2086
	run "$MVMS" "$c" $sub --no-such-option
	[ "$RC" = 2 ] && printf '%s' "$ERR" | grep -q 'unknown option' ||
		{ not_ok "$c refuses an unknown option (rc $RC: $ERR)"; bad=1; }
done <"$WORK/cmds"
[ "$bad" = 0 ] && ok "every command: help CMD = CMD --help; each option it lists is parsed and is in the man page and both completions; an unknown option is refused"

# The global options, likewise.
HELP=$("$MVMS" --help)
for o in --store --remote --token --json --quiet; do
	like "$HELP" "$o" "--help lists the global $o"
	check "the man page has the global $o" man_has "$(cat "$MAN")" "$o"
	check "the bash completion has the global $o" grep -q -- "$o" "$BASHC"
	check "the zsh completion has the global $o" grep -q -e "'$o\[" -e ",$o}" "$ZSHC"
done

# ---- the scripts work ----
if command -v bash >/dev/null 2>&1; then
	check "bash -n accepts the bash completion" bash -n "$BASHC"
	R=$(bash -c '. "$1"; COMP_WORDS=(mvms-store push --me); COMP_CWORD=2; _mvms_store
		echo "${COMPREPLY[*]}"' sh "$BASHC")
	is "$R" "--message --meta" "bash completes 'push --me' to --message --meta"
	R=$(bash -c '. "$1"; COMP_WORDS=(mvms-store --store /s rollb); COMP_CWORD=3; _mvms_store
		echo "${COMPREPLY[*]}"' sh "$BASHC")
	is "$R" "rollback" "bash completes a command after a global option with a value"
else
	skip "bash not installed"
fi
if command -v zsh >/dev/null 2>&1; then
	check "zsh -n accepts the zsh completion" zsh -n "$ZSHC"
else
	skip "zsh not installed: zsh -n of the completion"
fi
head -n 1 "$ZSHC" >"$WORK/first"
is "$(cat "$WORK/first")" "#compdef mvms-store" "the zsh script starts with #compdef"
if command -v man >/dev/null 2>&1; then
	run env MANWIDTH=80 man -l "$MAN"
	is_rc 0 "man -l renders the man page"
	like "$OUT" "EXIT STATUS" "it has the exit status section"
else
	skip "man not installed"
fi

# ---- make install puts them where man, bash-completion and zsh look ----
if [ -f "$B/Makefile" ] && command -v make >/dev/null 2>&1; then
	run make -s -C "$B" install-man install-nodist_bashcompDATA install-nodist_zshcompDATA \
		DESTDIR="$WORK/inst"
	is_rc 0 "make install (the man page and completions) into DESTDIR"
	check "man1/mvms-store.1 installed" test -s "$(find "$WORK/inst" -path '*/share/man/man1/mvms-store.1' | head -n 1)"
	check "bash-completion/completions/mvms-store installed" \
		test -s "$(find "$WORK/inst" -path '*/share/bash-completion/completions/mvms-store' | head -n 1)"
	check "zsh/site-functions/_mvms-store installed" \
		test -s "$(find "$WORK/inst" -path '*/share/zsh/site-functions/_mvms-store' | head -n 1)"
	# And a plain `make install` runs those three targets (install-data-am's prerequisites).
	sed -n '/^install-data-am:/,/^$/p' "$B/Makefile" | tr -d '\\\n' >"$WORK/ida"
	for t in install-man install-nodist_bashcompDATA install-nodist_zshcompDATA; do
		check "make install runs $t" grep -q -- "[[:space:]]$t" "$WORK/ida"
	done
else
	skip "no build directory with a Makefile: make install not checked"
fi

done_testing
