#!/bin/sh
# SPDX-License-Identifier: MIT
# The web page in a real browser: headless Chromium (Debian's chromium) driven by
# tests/web/check.js through puppeteer-core (pinned in tests/web/package-lock.json), against
# a server over a store with two branches, a merge, a tag, a deployment of two versions, a
# parent in another model, tensors, and a message and metadata full of HTML. Checks what
# each page shows against the CLI's --json (graph nodes and edges as lineage, tensor rows as
# ls -t, diff rows as diff --tensors), that the HTML is shown as text, that the rollback
# button is there for an admin token and not for a read token (and works), the CSP header,
# and that no page logs an error. Screenshots: $BUILDDIR/tests/web-shots/*.png.
# Skips when chromium, node or tests/web/node_modules are missing, except under CI=true in a
# git checkout, where .ci/install-deps installs them (a distcheck's unpacked tarball has no
# node_modules, so it skips there).
. "$TESTS_SRCDIR/cli/lib.sh"

WEBDIR=$TESTS_SRCDIR/web
command -v curl >/dev/null 2>&1 || need "curl not installed"
NODE=$(command -v node 2>/dev/null || command -v nodejs 2>/dev/null) || need "node not installed"
CHROMIUM=${CHROMIUM:-$(command -v chromium 2>/dev/null)} || need "chromium not installed"
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || need "chromium not installed"
[ -d "$WEBDIR/node_modules/puppeteer-core" ] ||
	need "tests/web/node_modules missing (cd tests/web && npm ci)"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || need "UPSTREAM (tests/upstream) is not set or not built"
PY=$(command -v python3 2>/dev/null) || need "python3 not installed"

setup
. "$TESTS_SRCDIR/cli/srv.sh"
SHOTS=${BUILDDIR:-$WORK}/tests/web-shots
mkdir -p "$SHOTS" || bail "mkdir $SHOTS"

# ---- the store ----
EVIL_MSG='first <script>alert(1)</script><img src=x onerror=alert(2)>'
EVIL_META='<b>bold</b> & "q" <iframe src=/>'
"$MVMS" init -q || bail "init"
mkmodel -q --size 256K --tensors 4 --seed 7 "$WORK/base"
"$MVMS" push -q org/base "$WORK/base" -m "base model" || bail "push org/base"
# The store holds org/base@v1 alone: its packs less their framing are its stored bytes.
"$MVMS" stats --json >"$WORK/stats1.json" || bail "stats"
mkmodel -q --size 256K --tensors 6 --seed 1 "$WORK/d1"
"$MVMS" push -q demo "$WORK/d1" -m "$EVIL_MSG" --meta "note=$EVIL_META" --parent org/base@v1 ||
	bail "push demo v1"
"$MVMS" branch -q demo exp demo@v1 || bail "branch exp"
cp -R "$WORK/d1" "$WORK/d2" && echo hello >"$WORK/d2/notes.txt"
"$MVMS" push -q demo "$WORK/d2" -b exp -m "add notes" || bail "push demo v2"
mkmodel -q --size 256K --tensors 6 --seed 1 --change 34 "$WORK/d3"
"$MVMS" push -q demo "$WORK/d3" -m "retrain" || bail "push demo v3"
"$MVMS" merge -q demo exp -m "merge exp" || bail "merge"
"$MVMS" tag -q demo@v3 rel-1 || bail "tag"
# Two targets behind a stand-in inference server, so the charts have traffic.
rm -f "$WORK/up.port"
"$UPSTREAM" --name up --port-file "$WORK/up.port" >/dev/null 2>"$WORK/up.log" </dev/null &
UP_PID=$!
srv_track "$UP_PID" "$WORK/up.log"
wait_port "$WORK/up.port" "$UP_PID" "upstream" "$WORK/up.log"
UP_URL="http://127.0.0.1:$PORT"
"$MVMS" deploy -q demo@v3 prod --endpoint "$UP_URL" || bail "deploy v3"
"$MVMS" deploy -q demo@v4 prod --weight 10 --endpoint "$UP_URL" -m canary || bail "deploy v4"
ADMIN=$("$MVMS" token create --scope admin -q 2>/dev/null) || bail "token create admin"
READ=$("$MVMS" token create --scope read -q 2>/dev/null) || bail "token create read"

# What the page must show, from the CLI's own --json.
"$MVMS" lineage --json demo@main >"$WORK/l-main.json" && "$MVMS" lineage --json demo@exp >"$WORK/l-exp.json" ||
	bail "lineage"
"$MVMS" ls -t --json demo@v4 >"$WORK/ls.json" || bail "ls -t"
"$MVMS" diff --json --tensors demo@v1 demo@v4 >"$WORK/diff.json" || bail "diff"
"$MVMS" diff --json demo@v3 demo@v4 >"$WORK/diff34.json" || bail "diff v3 v4"

srv_start web
"$PY" - "$WORK" "$URL" "$CHROMIUM" "$SHOTS" "$ADMIN" "$READ" "$EVIL_MSG" "$EVIL_META" <<'PYEOF' >"$WORK/cfg.json" || bail "config"
import json, sys
work, url, chromium, shots, admin, read, msg, meta = sys.argv[1:9]
nodes, edges = set(), set()
for f in ("l-main.json", "l-exp.json"):
    d = json.load(open(work + "/" + f))
    nodes |= {n["id"] for n in d["nodes"]}
    edges |= {(e["child"], e["parent"]) for e in d["edges"]}
ls = json.load(open(work + "/ls.json"))
diff = json.load(open(work + "/diff.json"))
diff34 = json.load(open(work + "/diff34.json"))
st = json.load(open(work + "/stats1.json"))
# pack framing (docs/formats.md): 41 B record header + 49 B index entry per chunk, 16 B
# header + 56 B trailer per pack
stored_first = st["stored_bytes"] - 90 * st["chunks"] - 72 * st["packs"]
json.dump({
    "url": url, "chromium": chromium, "shots": shots, "admin": admin, "read": read,
    "models": ["demo", "org/base"], "model": "demo", "base_model": "org/base", "latest": "v4",
    "graph_nodes": len(nodes), "graph_edges": len(edges),
    "labels": ["main", "exp", "rel-1", "prod"], "evil_message": msg, "evil_meta": meta,
    "tensors": sum(len(f.get("tensors", [])) for f in ls["files"]), "files": len(ls["files"]),
    "diff_files": len(diff["files"]),
    "diff_tensors": sum(len(f.get("tensors", {}).get("list", [])) for f in diff["files"]),
    "diff_added": "notes.txt", "env": "prod", "targets": 2, "revisions": 2,
    "stored_latest": diff34["stored_bytes"], "new_stored_latest": diff34["new_stored_bytes"],
    "stored_first": stored_first,
}, sys.stdout)
PYEOF

# Traffic while the deployments page polls (bounded: 300 requests at most).
(i=0; while [ $i -lt 300 ]; do
	curl -s -o /dev/null --max-time 5 -H "Authorization: Bearer $READ" -d '{}' "$URL/predict/demo/prod" || :
	sleep 0.05; i=$((i + 1)); done) &
TRAFFIC=$!
"$NODE" "$WEBDIR/check.js" "$WORK/cfg.json" >"$WORK/check.out" 2>"$WORK/check.err"
NODE_RC=$?
kill "$TRAFFIC" 2>/dev/null; wait "$TRAFFIC" 2>/dev/null
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not_ok "*) not_ok "${line#not_ok }" ;;
	"diag "*) diag "${line#diag }" ;;
	*) diag "$line" ;;
	esac
done <"$WORK/check.out"
is "$NODE_RC" 0 "the browser driver exited cleanly"
[ ! -s "$WORK/check.err" ] || diag "check.js stderr:" "$(tail -n 20 "$WORK/check.err")"
is "$(grep -c '^ok ' "$WORK/check.out")" 38 "every browser check ran"
for p in models graph version diff deploy; do
	check "screenshot web-$p.png" test -s "$SHOTS/web-$p.png"
done

# The files and whoami without a browser: what the page relies on.
req GET "$URL/"
is_code 200 "GET / answers the page"
like "$(hdr Content-Security-Policy)" "script-src 'self'" "GET / has the CSP header"
unlike "$(hdr Content-Security-Policy)" "unsafe" "the CSP allows nothing unsafe"
is "$(hdr X-Content-Type-Options)" nosniff "GET / says nosniff"
req GET "$URL/ui/app.js"
is "$(hdr Content-Type)" "text/javascript; charset=utf-8" "app.js is served as JavaScript"
req GET "$URL/ui/nope.js"
is_code 404 "an unknown file of the page is a 404"
req GET "$URL/ui/index.html"
is_code 404 "the page is only at /"
req GET "$URL/v1/whoami"
is_code 200 "whoami without a token"
like "$BODY" '"scope":"none"' "whoami: no token, no scope"
req GET "$URL/v1/whoami?model=demo" -H "Authorization: Bearer $READ"
like "$BODY" '"may":{"read":true,"write":false,"admin":false}' "whoami: a read token may read, not write"
req GET "$URL/v1/whoami?model=demo" -H "Authorization: Bearer $ADMIN"
like "$BODY" '"write":true' "whoami: an admin token may write"
req GET "$URL/v1/whoami" -H "Authorization: Bearer mvms_0000000000000000_nope"
is_code 401 "whoami with a bad token is a 401"
done_testing
