#!/bin/sh
# SPDX-License-Identifier: MIT
# The command line's surroundings: the configuration file (store, remote, token, author;
# flags > environment > file; a bad line is FILE:LINE, exit 1), `remote add|list|remove`
# (tokens 0600 and never printed; --remote NAME against a real server), the author chain
# (--author, $MVMS_AUTHOR, the config, git, the login name), a missing store (exit 3 and
# nothing created: only init and push make one), init and serve refusing --remote (exit 2),
# and one JSON error document on stdout for each kind of failure.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"
find_py

HOME=$WORK/home
mkdir -p "$HOME"
export HOME
unset MVMS_AUTHOR MVMS_TOKEN 2>/dev/null || :
# git's own settings come from the fake HOME only.
GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_NOSYSTEM
CFG=$XDG_CONFIG_HOME/mvms-store/config
printf 'weights\n' >"$WORK/f.bin"

# ---- a missing store: exit 3, nothing created ----
NS=$WORK/nostore
for c in "models" "log m" "show m@v1" "tags m" "branches m" "verify" "stats" "gc" \
	"lineage m@v1" "diff m@v1 v2" "merge-base m@v1 m@v2" "tag m@v1 t" "branch m b" \
	"delete m@v1" "deployments m" "deploy-log m prod" "rollback m prod" "deploy m@v1 prod" \
	"register m" "token list" "merge m b"; do
	# shellcheck disable=SC2086
	mvms --store "$NS" $c
	is_rc 3 "$c with no store: not found (exit 3)"
	like "$ERR" "no store at $NS (mvms-store init creates one)" "$c: says there is no store and how to make one"
	if [ -e "$NS" ]; then not_ok "$c created $NS"; rm -rf "$NS"; else ok "$c created nothing"; fi
done
# serve too: it would otherwise serve a new empty store a typo named (bounded in case it runs).
run timeout 60 "$MVMS" --store "$NS" serve --listen 127.0.0.1:0 --no-access-log
is_rc 3 "serve with no store: not found (exit 3)"
like "$ERR" "no store at $NS (mvms-store init creates one)" "serve: says there is no store"
check "serve created nothing" test ! -e "$NS"
env -u MVMS_STORE "$MVMS" models >"$WORK/out" 2>"$WORK/err"
is "$?" 3 "with neither --store nor \$MVMS_STORE, the default store missing: exit 3"
like "$(cat "$WORK/err")" "no store at $XDG_DATA_HOME/mvms-store" "the default store is named"
check "and is not created" test ! -e "$XDG_DATA_HOME/mvms-store"

mvms --store "$NS" push m "$WORK/f.bin"
is_rc 0 "push makes the store it needs"
check "the store exists after the push" test -f "$NS/store.db"
mvms --store "$NS" models
is_rc 0 "and reads work on it"
like "$OUT" "m" "it has model m"

# ---- init and serve do not run remotely ----
mvms --remote http://127.0.0.1:9 --store "$WORK/r1" init
is_rc 2 "init --remote: exit 2"
like "$ERR" "init cannot run remotely" "init says it cannot run remotely"
check "init --remote created nothing" test ! -e "$WORK/r1"
run env MVMS_REMOTE=http://127.0.0.1:9 "$MVMS" --store "$WORK/r1" serve --listen 127.0.0.1:0
is_rc 2 "serve with \$MVMS_REMOTE: exit 2"
like "$ERR" "serve cannot run remotely" "serve says it cannot run remotely"
check "serve with \$MVMS_REMOTE created nothing" test ! -e "$WORK/r1"

# ---- one JSON error document per failure ----
# json_err RC CODE DESC: stdout is exactly one JSON document {"error":{"code":CODE,"message"}}
json_err() {
	is_rc "$1" "$3: exit $1"
	if [ -z "$PY" ]; then
		skip "python3 not installed: $3"
		return 0
	fi
	_j=$("$PY" -c 'import json, sys
d = json.loads(open(sys.argv[1]).read())
e = d["error"]
assert isinstance(e["message"], str) and e["message"], "no message"
print(e["code"])' "$WORK/out" 2>&1)
	is "$_j" "$2" "$3: stdout is one error document, code $2"
}
mvms --json --store "$NS" show m@v9
json_err 3 not_found "an unknown version"
mvms --json --store "$WORK/none" models
json_err 3 not_found "a missing store"
mvms --json push
json_err 2 usage "push without arguments"
mvms --json push m "$WORK/f.bin" --bogus
json_err 2 usage "an unknown option"
mvms --json frobnicate
json_err 2 usage "an unknown command"
mvms --json --store "$NS" tag m@v1 rel
is_rc 0 "tag m@v1 rel"
mvms --json --store "$NS" tag m@v1 rel
json_err 4 exists "a tag that exists"
mvms --json --store "$NS" branch m main
json_err 4 exists "a branch that exists"
mvms --json --store "$NS" init
json_err 4 exists "init over a store"
mvms --json --store "$NS" lineage m@v1 --depth -1
json_err 2 usage "a bad option value"
mvms --json --remote http://127.0.0.1:9 init
json_err 2 usage "init --remote"
mvms --json --remote nosuchremote models
json_err 2 usage "an unknown remote name"
mvms --json --store "$WORK/none" status m prod
json_err 2 usage "status without --remote"

# ---- remotes ----
"$MVMS" --store "$WORK/server" init -q >/dev/null 2>&1 || bail "init the server's store"
W=$("$MVMS" --store "$WORK/server" token create --scope write 2>/dev/null) || bail "token"
SRV_STORE=$WORK/server
srv_start srv --no-access-log
printf '%s\n' "$W" >"$WORK/tok"

mvms remote list
is_rc 0 "remote list with no config"
is "$OUT" "" "lists nothing"
mvms remote add team "$URL" --token-file "$WORK/tok"
is_rc 0 "remote add team URL --token-file F"
check "the config is written" test -f "$CFG"
is "$(mode_of "$CFG")" -rw------- "a config holding a token is mode 0600"
mvms remote add team "$URL"
is_rc 4 "adding a remote that exists: exit 4"
mvms remote add "bad name" "$URL"
is_rc 2 "a bad remote name: exit 2"
mvms remote add other ftp://x
is_rc 2 "a URL that is not http(s): exit 2"
mvms remote add other "$URL/" --token-file "$WORK/missing"
is_rc 3 "a missing token file: exit 3"
mvms remote add nt http://127.0.0.1:9
is_rc 0 "remote add nt (no token)"
mvms remote list
is_rc 0 "remote list"
like "$OUT" "team" "lists team"
like "$OUT" "$URL" "with its URL"
unlike "$OUT" "$W" "never prints the token"
mvms --json remote list
is_rc 0 "remote list --json"
unlike "$OUT" "$W" "--json never prints the token"
if [ -n "$PY" ]; then
	jq_is "$WORK/out" '[(r["name"], r["token"]) for r in d]' "[('team', True), ('nt', False)]" \
		"--json: names, and whether each has a token"
else
	skip "python3 not installed"
fi

mvms --remote team push m "$WORK/f.bin" -m via-name
is_rc 0 "--remote NAME pushes with the remote's URL and token"
mvms --json --remote team log m
is_rc 0 "--remote NAME log"
like "$OUT" "via-name" "the server has the version"
run "$MVMS" --remote nt log m
is_rc 1 "--remote NAME of another server fails (nothing listens)"
mvms --remote team --token wrong log m
is_rc 1 "--token wins over the remote's token (a bad one is refused)"
run env MVMS_TOKEN=wrong "$MVMS" --remote team log m
is_rc 1 "\$MVMS_TOKEN wins over the remote's token"

# The config's default remote applies when no store is chosen.
printf 'remote = team\n' | cat - "$CFG" >"$WORK/cfg.new" && mv "$WORK/cfg.new" "$CFG"
chmod 600 "$CFG"
run env -u MVMS_STORE "$MVMS" log m
is_rc 0 "the config's default remote is used when nothing else is chosen"
like "$OUT" "via-name" "and it is the server"
mvms log m
is_rc 3 "\$MVMS_STORE (a local store) wins over the config's remote"
mvms remote list
like "$OUT" "* team" "remote list marks the default"
mvms remote remove team
is_rc 0 "remote remove team"
like "$OUT" "default" "says it was the default"
mvms remote remove team
is_rc 3 "removing it again: exit 3"
mvms remote list
unlike "$OUT" "team" "team is gone"
like "$OUT" "nt" "nt stays"
if grep -q "^remote" "$CFG" || grep -q "$W" "$CFG"; then
	not_ok "the default remote and the token went with the remote"
else
	ok "the default remote and the token went with the remote"
fi
is "$(mode_of "$CFG")" -rw------- "the mode stays 0600 after a rewrite"
ls "$XDG_CONFIG_HOME/mvms-store" >"$WORK/ls"
is "$(cat "$WORK/ls")" config "no temp file is left beside the config"

# ---- a bad configuration file ----
cp "$CFG" "$WORK/cfg.good"
printf '# mine\n\nstore = /x\nthis is not a key\n' >"$CFG"
mvms models
is_rc 1 "a bad config line: exit 1"
like "$ERR" "$CFG:4:" "the message names the file and the line"
mvms --json models
json_err 1 invalid "a bad config line"
printf '[remote x]\nurl = http://h\ncolour = red\n' >"$CFG"
mvms models
is_rc 1 "an unknown key in a remote"
like "$ERR" "$CFG:3:" "names line 3"
printf 'remote = ghost\n' >"$CFG"
mvms models
is_rc 1 "a default remote that names nothing"
like "$ERR" "$CFG:1:" "names line 1"
printf '[remote y]\ntoken = t\n' >"$CFG"
mvms models
is_rc 1 "a remote without url"
like "$ERR" "$CFG:1:" "names the remote's line"

# ---- store precedence: --store > $MVMS_STORE > config ----
printf '# stores\nstore = %s\n' "$WORK/cstore" >"$CFG"
run env -u MVMS_STORE "$MVMS" push cm "$WORK/f.bin"
is_rc 0 "push with the config's store"
check "it went to the config's store" test -f "$WORK/cstore/store.db"
run env MVMS_STORE="$WORK/estore" "$MVMS" push em "$WORK/f.bin"
check "\$MVMS_STORE wins over the config" test -f "$WORK/estore/store.db"
run env MVMS_STORE="$WORK/estore" "$MVMS" --store "$WORK/cstore" models
like "$OUT" "cm" "--store wins over \$MVMS_STORE"
unlike "$OUT" "em" "(and only that store is read)"

# ---- the author chain ----
S=$WORK/astore
author_of() {
	run "$MVMS" --store "$S" --json show "$1"
	json_get author
}
if command -v git >/dev/null 2>&1; then
	printf '[user]\n\tname = Git Person\n\temail = gp@example.com\n' >"$HOME/.gitconfig"
	mvms --store "$S" push a "$WORK/f.bin" -m 1
	is "$(author_of a@v1)" "Git Person <gp@example.com>" "with only git set: git's user.name <user.email>"
	printf '[user]\n\temail = only@example.com\n' >"$HOME/.gitconfig"
	printf 'x1\n' >"$WORK/f.bin"
	mvms --store "$S" push a "$WORK/f.bin" -m 2
	is "$(author_of a@v2)" "only@example.com" "git with an email only: the email"
	rm -f "$HOME/.gitconfig"
else
	skip "git not installed: the git step of the author chain"
	skip "git not installed"
	printf 'x1\n' >"$WORK/f.bin"
	mvms --store "$S" push a "$WORK/f.bin" -m 2
fi
printf 'x2\n' >"$WORK/f.bin"
mvms --store "$S" push a "$WORK/f.bin" -m 3
LOGIN=$(id -un)
is "$(author_of a@v3)" "$LOGIN" "no git identity: the login name ($LOGIN)"
printf 'author = Conf Author <ca@example.com>\n' >"$CFG"
printf 'x3\n' >"$WORK/f.bin"
mvms --store "$S" push a "$WORK/f.bin"
is "$(author_of a@v4)" "Conf Author <ca@example.com>" "the config's author"
printf 'x4\n' >"$WORK/f.bin"
run env MVMS_AUTHOR=envy "$MVMS" --store "$S" push a "$WORK/f.bin"
is "$(author_of a@v5)" envy "\$MVMS_AUTHOR wins over the config"
printf 'x5\n' >"$WORK/f.bin"
run env MVMS_AUTHOR=envy "$MVMS" --store "$S" push a "$WORK/f.bin" --author flagged
is "$(author_of a@v6)" flagged "--author wins over \$MVMS_AUTHOR"
mvms --store "$S" deploy a@v6 prod
is_rc 0 "deploy"
mvms --store "$S" --json deploy-log a prod
like "$OUT" "Conf Author" "a deployment's author comes from the same chain"
mvms --store "$S" log a
unlike "$OUT" "unknown" "no version's author is 'unknown'"

done_testing
