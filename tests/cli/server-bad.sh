#!/bin/sh
# SPDX-License-Identifier: MIT
# The HTTP server and bad input: malformed JSON, unknown routes, methods, models and refs,
# bad hex ids, garbage and corrupt packs, a pack under the wrong id, an upload cut off
# mid-body, path traversal in upload paths and tar members, symlinks and FIFOs in tars,
# oversized bodies, manifests for another model and stale expected heads. Each: a clear
# 4xx with a JSON error {"error":{"code","message"}}, the server keeps serving, nothing
# is committed; `verify` is clean at the end.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"

setup

# requests that hang must fail well before the harness gives up
REQ_MAX_TIME=30
. "$TESTS_SRCDIR/cli/srv.sh"

# raw DATA [--close]: DATA (Python escapes: \\r\\n) sent as is to 127.0.0.1:$PORT by
# tests/cli/rawhttp.py; RAW is what came back. With --close the client leaves right after
# sending; RAW_PIECE=N sends N bytes at a time.
raw() {
	RAW=$(python3 "$TESTS_SRCDIR/cli/rawhttp.py" ${RAW_PIECE:+--piece "$RAW_PIECE"} $2 "$PORT" "$1" 2>&1)
}

# raw_err STATUS CODE DESC: the first reply in RAW has HTTP STATUS and a JSON error CODE,
# not libevent's HTML page, and the server still answers /healthz. Four TAP lines.
raw_err() {
	like "$(printf '%s\n' "$RAW" | head -n 1)" "HTTP/1.1 $1 " "$3: HTTP $1"
	like "$RAW" "{\"error\":{\"code\":\"$2\",\"message\":\"" "$3: JSON error $2"
	unlike "$RAW" "<HTML>" "$3: not libevent's HTML page"
	check "$3: the server still answers /healthz" healthy
}

# is_err STATUS CODES DESC: the last reply has HTTP STATUS and a JSON error whose code is
# one of CODES ("" for any), and the server still answers /healthz. Three TAP lines.
is_err() {
	is_code "$1" "$3: HTTP $1"
	_code=$(sed -n 's/^{"error":{"code":"\([a-z_]*\)","message":"[^"]\{1,\}.*}}$/\1/p' "$WORK/body")
	_msg=$(sed -n 's/^{"error":{"code":"[a-z_]*","message":"\(.*\)"}}$/\1/p' "$WORK/body")
	if [ -z "$_code" ]; then
		not_ok "$3: a JSON error {\"error\":{\"code\",\"message\"}}"
		diag "body: $(head -c 300 "$WORK/body")" "Content-Type: $(hdr Content-Type)"
	elif [ "$_msg" = error ]; then
		not_ok "$3: the error message says what went wrong"
		diag "body: $(head -c 300 "$WORK/body")"
	elif [ -n "$2" ] && ! printf ' %s ' "$2" | grep -q " $_code "; then
		not_ok "$3: error code in {$2}"
		diag "got code '$_code'"
	else
		ok "$3: JSON error ($_code)"
	fi
	check "$3: the server still answers /healthz" healthy
}

packs_on_disk() {
	find "$MVMS_STORE/objects/packs" -type f 2>/dev/null | wc -l | tr -d ' '
}

stat_of() { # stat_of KEY: a number from `stats --json`
	"$MVMS" --json stats 2>/dev/null | sed -n "s/^${TAB}\"$1\":[[:space:]]*\([0-9.]*\).*/\1/p"
}

# ---- the store ----
mvms init
is_rc 0 "init" || bail "cannot create a store"
W=$("$MVMS" token create --scope write 2>"$WORK/token.err") ||
	bail "token create: $(cat "$WORK/token.err")"
AW="Authorization: Bearer $W"
JSON='Content-Type: application/json'

mkmodel -q --size 512K --tensors 4 --seed 7 "$WORK/m1"
mkmodel -q --size 512K --tensors 4 --seed 8 "$WORK/m2"
mvms push alpha "$WORK/m1" -m one
is_rc 0 "CLI push alpha@v1" || bail "push failed"
ID1=$(push_id)

# A second store, pushed locally: its packs are real packs this server has never seen.
S2=$WORK/store2
"$MVMS" --store "$S2" init >/dev/null 2>&1 || bail "init store2"
"$MVMS" --store "$S2" push other "$WORK/m2" >/dev/null 2>&1 || bail "push into store2"
PACK=$(find "$S2/objects/packs" -type f | head -n 1)
[ -n "$PACK" ] || bail "store2 has no pack"
PACK_ID=$(basename "$PACK")
printf '%s' "$PACK_ID" | grep -qx '[0-9a-f]\{64\}' || bail "pack name '$PACK_ID' is not a hex id"
PACK_SIZE=$(file_size "$PACK")

VERSIONS0=$(stat_of versions)
MODELS0=$(stat_of models)
PACKS0=$(packs_on_disk)
[ -n "$VERSIONS0" ] && [ -n "$MODELS0" ] || bail "stats --json gave no versions/models"

srv_start main --threads 2
check "the server answers /healthz" healthy || bail "no /healthz"

# ---- malformed JSON bodies ----
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{'
is_err 400 "bad_json" "POST /v1/models with '{'"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '["name","x"]'
is_err 400 "bad_json" "POST /v1/models with a JSON array"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '"just a string"'
is_err 400 "bad_json" "POST /v1/models with a JSON string"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" --data-binary ''
is_err 400 "bad_json" "POST /v1/models with an empty body"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":5}'
is_err 400 "bad_field" "POST /v1/models with a number for name"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"x1","description":["a"]}'
is_err 400 "bad_field" "POST /v1/models with an array for description"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"x2","colour":"red"}'
is_err 400 "bad_field" "POST /v1/models with an unknown field"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"description":"no name"}'
is_err 400 "bad_field" "POST /v1/models without name"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"../evil"}'
is_err 400 "invalid" "POST /v1/models with a bad model name"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"x3"} trailing'
is_err 400 "bad_json" "POST /v1/models with trailing garbage after the object"
# cJSON cuts a string at an escaped NUL: {"name":"a\u0000b"} would register model "a".
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"a\u0000b"}'
is_err 400 "bad_json" "POST /v1/models with a NUL (\\u0000) inside the name"
like "$BODY" "NUL" "the message says the NUL is the trouble"
req GET "$URL/v1/models/a" -H "$AW"
is_code 404 "no model 'a' was made from 'a\\u0000b'"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"nk","desc\u0000ription":"x"}'
is_err 400 "bad_json" "POST /v1/models with a NUL (\\u0000) inside a key"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" -d '{"name":"a\\u0000b"}'
is_err 400 "invalid" "an escaped backslash before u0000 is no NUL: the name is refused as a name"
req POST "$URL/v1/models/alpha/branches" -H "$AW" -H "$JSON" -d '{"name":true}'
is_err 400 "bad_field" "POST branches with a boolean name"
req POST "$URL/v1/models/alpha/tags" -H "$AW" -H "$JSON" -d '{"name":"t"}'
is_err 400 "bad_field" "POST tags without ref"
req POST "$URL/v1/chunks/missing" -H "$AW" -H "$JSON" -d '{"ids":"abc"}'
is_err 400 "" "POST /v1/chunks/missing with ids not an array"
req POST "$URL/v1/chunks/missing" -H "$AW" -H "$JSON" -d '{"ids":["zz"]}'
is_err 400 "" "POST /v1/chunks/missing with a non-hex id"
req POST "$URL/v1/chunks/missing" -H "$AW" -H "$JSON" -d '{"ids":[12]}'
is_err 400 "" "POST /v1/chunks/missing with a number id"
req POST "$URL/v1/chunks" -H "$AW" -H "$JSON" -d '{"ids":[]}'
is_err 400 "" "POST /v1/chunks with no ids"
req POST "$URL/v1/chunks" -H "$AW" -H "$JSON" \
	-d '{"ids":["0000000000000000000000000000000000000000000000000000000000000000"]}'
is_err 404 "not_found" "POST /v1/chunks with an unknown chunk"

# ---- unknown routes, wrong methods, unknown models and refs ----
for p in /v2/models /v1 /v1/nothing /v1/models/alpha/versions/v1/nothing /nope; do
	req GET "$URL$p" -H "$AW"
	is_err 404 "no_route" "GET $p"
done
req DELETE "$URL/v1/models" -H "$AW"
is_err 405 "method_not_allowed" "DELETE /v1/models"
req PUT "$URL/v1/models/alpha" -H "$AW" -d 'x'
is_err 405 "method_not_allowed" "PUT /v1/models/alpha"
req POST "$URL/healthz" -d 'x'
is_err 405 "method_not_allowed" "POST /healthz"
req GET "$URL/v1/packs/$PACK_ID" -H "$AW"
is_err 405 "method_not_allowed" "GET /v1/packs/{id}"
req PUT "$URL/v1/models/alpha/versions/v1" -H "$AW"
is_err 405 "method_not_allowed" "PUT a version"
req DELETE "$URL/v1/models/alpha/versions/v1" -H "$AW"
is_err 409 "conflict" "DELETE the version main has no other to move to"
req GET "$URL/v1/models/nosuch" -H "$AW"
is_err 404 "not_found" "GET an unknown model"
req GET "$URL/v1/models/nosuch/versions" -H "$AW"
is_err 404 "not_found" "GET versions of an unknown model"
req GET "$URL/v1/models/alpha/versions/nobranch" -H "$AW"
is_err 404 "not_found" "GET an unknown ref"
req GET "$URL/v1/models/alpha/versions/v99/files/model.safetensors" -H "$AW"
is_err 404 "not_found" "GET a file of an unknown version"
req GET "$URL/v1/models/alpha/versions/x@y" -H "$AW"
is_err 400 "bad_ref" "GET a ref with '@'"
req GET "$URL/v1/models/alpha/versions/v1/lineage?depth=-3" -H "$AW"
is_err 400 "bad_query" "lineage with a negative depth"
req GET "$URL/v1/models/alpha/versions?limit=zero" -H "$AW"
is_err 400 "bad_query" "versions with limit=zero"
req GET "$URL/v1/models/alpha/diff?from=v1&to=v77" -H "$AW"
is_err 404 "not_found" "diff to an unknown version"
req POST "$URL/v1/models/alpha/branches" -H "$AW" -H "Content-Type: application/json" \
	-d '{"name": "other"}'
req DELETE "$URL/v1/models/alpha/branches/main" -H "$AW"
is_err 400 "invalid" "deleting the default branch (main) while another exists"
req DELETE "$URL/v1/models/alpha/branches/other" -H "$AW"
req GET "$URL/v1/models/al%00pha" -H "$AW"
is_err 400 "bad_path" "a model segment with %00"
req GET "$URL/v1/objects/blobs/$PACK_ID" -H "$AW"
is_err 404 "not_found" "GET an unknown object kind"
req GET "$URL/v1/objects/manifests/zz" -H "$AW"
is_err 400 "" "GET an object with a bad hex id"
req GET "$URL/v1/objects/manifests/$PACK_ID" -H "$AW"
is_err 404 "not_found" "GET an object that is not here"

# ---- packs: bad ids, garbage, corrupt, wrong id, cut off ----
req PUT "$URL/v1/packs/zz" -H "$AW" --data-binary 'garbage'
is_err 400 "" "PUT /v1/packs/zz"
req PUT "$URL/v1/packs/$(printf '%s' "$PACK_ID" | cut -c1-63)" -H "$AW" --data-binary "@$PACK"
is_err 400 "" "PUT /v1/packs with a 63-digit id"
req PUT "$URL/v1/packs/$(printf '%s' "$PACK_ID" | cut -c1-63)g" -H "$AW" --data-binary "@$PACK"
is_err 400 "" "PUT /v1/packs with a non-hex digit"
head -c 5000 /dev/urandom >"$WORK/garbage"
GID=$(printf 'garbage' | sha256sum | cut -c1-64)
req PUT "$URL/v1/packs/$GID" -H "$AW" --data-binary "@$WORK/garbage"
is_err 400 "" "PUT /v1/packs/{id} with a garbage body"
req PUT "$URL/v1/packs/$GID" -H "$AW" --data-binary ''
is_err 400 "" "PUT /v1/packs/{id} with an empty body"
is "$(packs_on_disk)" "$PACKS0" "no new file under objects/packs"

cp "$PACK" "$WORK/flipped"
MID=$((PACK_SIZE / 2))
B=$(od -An -tu1 -j "$MID" -N1 "$WORK/flipped" | tr -d ' ')
NB=$(( (B + 1) % 256 ))
# shellcheck disable=SC2059
printf "\\$(printf '%03o' "$NB")" | dd of="$WORK/flipped" bs=1 seek="$MID" conv=notrunc 2>/dev/null
check "the copy differs in one byte" sh -c '[ "$(cmp -l "$1" "$2" | wc -l)" = 1 ]' sh "$PACK" "$WORK/flipped"
req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$WORK/flipped"
is_err 400 "corrupt corrupt_pack" "a real pack with one flipped byte, under its name"
FLIPPED_ID=$(sha256sum "$WORK/flipped" | cut -c1-64)
req PUT "$URL/v1/packs/$FLIPPED_ID" -H "$AW" --data-binary "@$WORK/flipped"
is_err 400 "corrupt corrupt_pack" "the same flipped pack under the name of its bytes"
cp "$PACK" "$WORK/flipped2"
B=$(od -An -tu1 -j 100 -N1 "$WORK/flipped2" | tr -d ' ')
printf "\\$(printf '%03o' $(( (B + 1) % 256 )))" | dd of="$WORK/flipped2" bs=1 seek=100 conv=notrunc 2>/dev/null
req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$WORK/flipped2"
is_err 400 "corrupt corrupt_pack" "a real pack with a flipped byte near its start"
head -c $((PACK_SIZE - 1)) "$PACK" >"$WORK/short"
req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$WORK/short"
is_err 400 "corrupt corrupt_pack" "a real pack missing its last byte"
OTHER_ID=$(printf 'other' | sha256sum | cut -c1-64)
req PUT "$URL/v1/packs/$OTHER_ID" -H "$AW" --data-binary "@$PACK"
is_err 400 "" "a real pack under an id that does not match its body"
is "$(packs_on_disk)" "$PACKS0" "none of them left a file under objects/packs"
check "the real pack's name is not in the store" test ! -e "$MVMS_STORE/objects/packs/$(printf '%s' "$PACK_ID" | cut -c1-2)/$PACK_ID"

# An internal error (500): the reply names no file of the server's, the log has the detail
# under the id the reply gives. objects/tmp as a plain file stops even root from writing.
if [ -d "$MVMS_STORE/objects/tmp" ] && rmdir "$MVMS_STORE/objects/tmp" 2>/dev/null; then
	: >"$MVMS_STORE/objects/tmp"
	req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$PACK"
	rm -f "$MVMS_STORE/objects/tmp"
	mkdir "$MVMS_STORE/objects/tmp"
	is_err 500 "error" "PUT a pack when the store cannot write a temp file"
	unlike "$BODY" "$MVMS_STORE" "the 500 reply does not name the store's directory"
	unlike "$BODY" "objects/tmp" "the 500 reply does not name the store's files"
	EID=$(printf '%s' "$BODY" | sed -n 's/.*details under \(E[0-9-]*\).*/\1/p')
	if [ -n "$EID" ]; then
		like "$(grep -F "error $EID:" "$WORK/main.log")" "$MVMS_STORE/objects/tmp" \
			"the server's log has the detail under the reply's id $EID"
	else
		not_ok "the 500 reply gives an error id"
		diag "body: $BODY"
	fi
else
	skip "objects/tmp is not an empty directory: the 500 test"
fi

# Cut off mid-body: Content-Length says the whole pack, half of it is sent, then the
# client goes away (curl gives up after 2 s).
head -c $((PACK_SIZE / 2)) "$PACK" >"$WORK/half"
curl -s -o /dev/null --max-time 2 -X PUT -H "$AW" -H "Content-Length: $PACK_SIZE" \
	-H 'Expect:' --data-binary "@$WORK/half" "$URL/v1/packs/$PACK_ID" 2>/dev/null
check "a pack upload cut off mid-body: the server survives" healthy
PORT=$(cat "$WORK/main.port")
raw "PUT /v1/packs/$PACK_ID HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer $W\\r\\nContent-Length: 100000\\r\\n\\r\\nabc" --close
check "a raw request cut off after 3 body bytes: the server survives" healthy
head -c 100000 "$WORK/m1/model.safetensors" >"$WORK/ci-part"
curl -s -o /dev/null --max-time 2 -X PUT -H "$AW" -H 'Content-Length: 400000' -H 'Expect:' \
	--data-binary "@$WORK/ci-part" "$URL/v1/models/cut/upload?path=x.bin" 2>/dev/null
check "a one-request upload cut off mid-body: the server survives" healthy
is "$(packs_on_disk)" "$PACKS0" "nothing was stored from the cut-off uploads"
req GET "$URL/v1/models/cut" -H "$AW"
is_code 404 "the cut-off upload registered no model"
req GET "$URL/metrics"
is "$(sed -n 's/^mvms_uploads_in_flight \([0-9]*\).*/\1/p' "$WORK/body")" 0 "no upload is left in flight"

# ---- upload paths ----
printf 'x\n' >"$WORK/x.txt"
for p in '../x' 'a/../../x' '..' '/etc/x' '%2Fetc%2Fx' 'a%00b' '%00' 'a/./b' 'a//b' './x' 'a\b' ''; do
	req PUT "$URL/v1/models/paths/upload?path=$p" -H "$AW" -T "$WORK/x.txt"
	is_err 400 "" "upload with path=$p"
done
req PUT "$URL/v1/models/paths/upload" -H "$AW" -T "$WORK/x.txt"
is_err 400 "" "upload without a path (and not a tar)"
req PUT "$URL/v1/models/paths/upload?path=x.txt&branch=bad..branch" -H "$AW" -T "$WORK/x.txt"
is_err 400 "" "upload to a badly named branch"
req PUT "$URL/v1/models/.hidden%2F..%2Fx/upload?path=x.txt" -H "$AW" -T "$WORK/x.txt"
is_err 400 "" "upload to a bad model name"
req GET "$URL/v1/models/paths" -H "$AW"
is_err 404 "not_found" "no model 'paths' was made by the refused uploads"

# ---- tars: symlinks, FIFOs, traversal ----
mkdir -p "$WORK/t-link" "$WORK/t-fifo" "$WORK/t-evil"
printf 'a\n' >"$WORK/t-link/a.txt"
ln -s /etc/passwd "$WORK/t-link/link"
printf 'a\n' >"$WORK/t-fifo/a.txt"
mkfifo "$WORK/t-fifo/pipe" || bail "mkfifo"
printf 'evil\n' >"$WORK/t-evil/evil.txt"
(cd "$WORK/t-link" && tar -cf "$WORK/link.tar" a.txt link) || bail "tar link"
(cd "$WORK/t-fifo" && tar -cf "$WORK/fifo.tar" a.txt pipe) || bail "tar fifo"
(cd "$WORK/t-evil" && tar -P --transform 's,^,../../,' -cf "$WORK/dotdot.tar" evil.txt) 2>/dev/null
(cd "$WORK/t-evil" && tar -P -cf "$WORK/abs.tar" "$WORK/t-evil/evil.txt") 2>/dev/null
for t in link fifo dotdot abs; do
	req PUT "$URL/v1/models/tars/upload?message=$t" -H "$AW" -H 'Content-Type: application/x-tar' \
		-T "$WORK/$t.tar"
	is_err 400 "" "a tar with a $t member"
done
if [ "$(id -u)" = 0 ] && command -v mknod >/dev/null 2>&1; then
	mkdir -p "$WORK/t-dev"
	printf 'a\n' >"$WORK/t-dev/a.txt"
	if mknod "$WORK/t-dev/null" c 1 3 2>/dev/null; then
		(cd "$WORK/t-dev" && tar -cf "$WORK/dev.tar" a.txt null) || bail "tar dev"
		req PUT "$URL/v1/models/tars/upload" -H "$AW" -H 'Content-Type: application/x-tar' \
			-T "$WORK/dev.tar"
		is_err 400 "" "a tar with a character device"
	fi
fi
head -c 3000 /dev/urandom >"$WORK/notatar"
req PUT "$URL/v1/models/tars/upload" -H "$AW" -H 'Content-Type: application/x-tar' \
	-T "$WORK/notatar"
is_err 400 "" "random bytes sent as a tar"
head -c 700 "$WORK/link.tar" >"$WORK/trunc.tar"
req PUT "$URL/v1/models/tars/upload" -H "$AW" -H 'Content-Type: application/x-tar' \
	-T "$WORK/trunc.tar"
is_err 400 "" "a truncated tar"
req GET "$URL/v1/models/tars" -H "$AW"
is_err 404 "not_found" "no model 'tars' was made by the refused tars"
check "no evil.txt escaped next to the store" sh -c '! find "$1" -name evil.txt | grep -v "/t-evil/" | grep -q .' sh "$WORK"
check "no upload temp files are left in the store" sh -c '! find "$1" -name "upload-*" | grep -q .' sh "$MVMS_STORE"

# ---- commits: another model's manifest, a stale expected head, bad fields ----
req GET "$URL/v1/objects/manifests/$ID1" -H "$AW"
is_code 200 "GET alpha@v1's manifest object"
cp "$WORK/body" "$WORK/manifest"
# the manifest as a JSON string (it ends with a newline, which is part of its bytes)
MAN=$(awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print; print "\\n" }' "$WORK/manifest")
[ "$(tail -c 1 "$WORK/manifest" | od -An -tx1 | tr -d ' ')" = 0a ] || MAN=${MAN%\\n}
printf '{"manifest":"%s","filemaps":{},"branch":"main","expected_head":""}' "$MAN" >"$WORK/c-other.json"
req POST "$URL/v1/models/gamma/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-other.json"
is_err 400 "" "committing alpha's manifest to model gamma"
req GET "$URL/v1/models/gamma" -H "$AW"
is_code 404 "and gamma was not registered"
printf '{"manifest":"%s","filemaps":{},"branch":"main","expected_head":"%s"}' "$MAN" \
	"0000000000000000000000000000000000000000000000000000000000000000" >"$WORK/c-stale.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-stale.json"
is_err 409 "conflict" "a commit with a wrong expected_head"
printf '{"manifest":"%s","filemaps":{},"branch":"main","expected_head":""}' "$MAN" >"$WORK/c-empty.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-empty.json"
is_err 409 "conflict" "a commit expecting no head on a branch that has one"
printf '{"manifest":"%s","filemaps":{},"branch":"fresh","expected_head":"%s"}' "$MAN" "$ID1" >"$WORK/c-fresh.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-fresh.json"
is_err 409 "conflict" "a commit expecting a head on a branch that does not exist"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" \
	-d '{"manifest":"{not a manifest","filemaps":{},"branch":"main","expected_head":""}'
is_err 400 "" "a commit whose manifest is not JSON"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" \
	-d "{\"manifest\":5,\"branch\":\"main\",\"expected_head\":\"$ID1\"}"
is_err 400 "" "a commit with a number for manifest"
printf '{"manifest":"%s","filemaps":[],"branch":"main","expected_head":"%s"}' "$MAN" "$ID1" >"$WORK/c-arr.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-arr.json"
is_err 400 "" "a commit with an array for filemaps"
printf '{"manifest":"%s","filemaps":{"x":"%%%%%%"},"branch":"main","expected_head":"%s"}' "$MAN" "$ID1" >"$WORK/c-b64.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-b64.json"
is_err 400 "" "a commit with a filemap that is not base64"
printf '{"manifest":"%s","branch":"main"}' "$MAN" >"$WORK/c-nohead.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-nohead.json"
is_err 400 "" "a commit without expected_head"
printf '{"manifest":"%s","filemaps":{},"branch":"bad..name","expected_head":"%s"}' "$MAN" "$ID1" >"$WORK/c-br.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-br.json"
is_err 400 "" "a commit to a badly named branch"
MAN_SPACED=$(printf '%s' "$MAN" | sed 's/,/, /')
printf '{"manifest":"%s","filemaps":{},"branch":"main","expected_head":"%s"}' "$MAN_SPACED" "$ID1" >"$WORK/c-canon.json"
req POST "$URL/v1/models/alpha/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-canon.json"
is_err 400 "" "a commit of a manifest that is not canonical"
req GET "$URL/v1/models/alpha/branches" -H "$AW"
unlike "$BODY" '"name":"fresh"' "no branch 'fresh' was made"

# ---- oversized bodies ----
srv_start small --max-body 64K --threads 1
# Refused by the gate (src/server/gate.c) before libevent's parser: JSON, not HTML.
head -c 100000 "$WORK/m1/model.safetensors" >"$WORK/big"
req PUT "$URL/v1/models/big/upload?path=big.bin" -H "$AW" -T "$WORK/big"
is_err 413 "too_large" "an upload over --max-body 64K"
req PUT "$URL/v1/models/big/upload?path=big.bin" -H "$AW" -H 'Transfer-Encoding: chunked' \
	--data-binary "@$WORK/big"
is_err 413 "too_large" "a chunked upload over --max-body 64K"
awk 'BEGIN { printf "{\"name\":\"big\",\"description\":\""; for (i = 0; i < 70000; i++) printf "x"; printf "\"}" }' >"$WORK/big.json"
req POST "$URL/v1/models" -H "$AW" -H "$JSON" --data-binary "@$WORK/big.json"
is_err 413 "too_large" "a JSON body over --max-body 64K"
req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$PACK"
if [ "$PACK_SIZE" -gt 65536 ]; then
	is_err 413 "too_large" "a pack over --max-body 64K"
fi
head -c 40000 "$WORK/m1/model.safetensors" >"$WORK/small"
req PUT "$URL/v1/models/small/upload?path=small.bin" -H "$AW" -T "$WORK/small"
is_code 201 "an upload under --max-body 64K is fine"
req GET "$URL/v1/models/big" -H "$AW"
is_code 404 "no model 'big' was made"
awk 'BEGIN { for (i = 0; i < 70000; i++) printf "y" }' >"$WORK/bighdr"
req GET "$URL/healthz" -H "X-Big: $(cat "$WORK/bighdr")"
is_err 431 "header_too_large" "a 70 KB header"

# ---- raw requests that libevent 2.1 would answer with its own HTML page ----
raw 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
raw_err 501 not_implemented "an unknown method"
raw 'OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
raw_err 501 not_implemented "a method the server does not serve"
raw 'hello\r\n\r\n'
raw_err 400 bad_request "a request line that is one word"
raw '\r\nGET /healthz HTTP/1.1\r\n\r\n'
raw_err 400 bad_request "an empty line before the request line"
raw 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'
raw_err 505 http_version "HTTP/2.0 in the request line"
raw 'GET /healthz FTP/1.1\r\nHost: x\r\n\r\n'
raw_err 400 bad_request "no HTTP version"
raw 'GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n'
raw_err 400 bad_request "a header line without a colon"
raw 'GET /healthz HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n'
raw_err 400 bad_request "a folded header line"
raw 'GET /healthz HTTP/1.1\r\nX-A: a\x00b\r\n\r\n'
raw_err 400 bad_request "a NUL byte in a header"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n'
raw_err 400 bad_request "Content-Length that is not a number"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n'
raw_err 413 too_large "Content-Length past 2^64"
raw 'POST /v1/models HTTP/1.1\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}'
raw_err 417 expectation_failed "an Expect other than 100-continue"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
raw_err 400 bad_request "a chunk size that is not hex"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\nfff7\r\n'
raw_err 413 too_large "a 10-byte chunk, then one that takes the body past --max-body 64K"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n'
raw_err 413 too_large "one chunk over --max-body 64K"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nno colon\r\n\r\n'
raw_err 400 bad_request "a malformed trailer"
# Framing two readers could read two ways (RFC 9112 6.3): refused, and nothing after the
# head is taken for a request of its own.
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
raw_err 400 bad_request "Content-Length with Transfer-Encoding"
unlike "$RAW" '{"status":"ok"}' "Content-Length with Transfer-Encoding: no request smuggled in its body"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'
raw_err 400 bad_request "Transfer-Encoding, then Content-Length"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}GET /healthz HTTP/1.1\r\n\r\n'
raw_err 400 bad_request "two different Content-Lengths"
unlike "$RAW" '{"status":"ok"}' "two different Content-Lengths: no request smuggled"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}'
raw_err 400 bad_request "the same Content-Length twice"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}'
raw_err 400 bad_request "a Content-Length list"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}'
raw_err 400 bad_request "a Content-Length with a sign"
raw 'POST /v1/models HTTP/1.1\r\nContent-Length : 2\r\n\r\n{}'
raw_err 400 bad_request "white space between a header name and its colon"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
raw_err 400 bad_request "Transfer-Encoding twice"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
raw_err 501 not_implemented "a Transfer-Encoding other than chunked"
raw 'HEAD /healthz HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'
raw_err 400 bad_request "HEAD with Content-Length and Transfer-Encoding"
# The framing is kept exactly: bodies and pipelined requests land where libevent puts them,
# and a refusal hits the request it is about, not the one before it.
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
is "$(printf '%s' "$RAW" | grep -c 'HTTP/1.1 200 OK')" 2 "two pipelined GETs: two 200s"
raw 'GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /healthz HTTP/1.1\r\n\r\n'
is "$(printf '%s' "$RAW" | grep -c 'HTTP/1.1 200 OK')" 2 "a GET with a 5-byte body, then a GET: two 200s"
raw 'POST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
like "$RAW" '{"status":"ok"}' "a chunked POST, then a GET on the same connection: the GET is answered"
raw 'GET /healthz HTTP/1.1\r\n\r\nBREW / HTTP/1.1\r\n\r\n'
like "$(printf '%s\n' "$RAW" | head -n 1)" "HTTP/1.1 200 " "a good GET, then a bad method: the GET gets its 200"
like "$RAW" '"code":"not_implemented"' "and the bad one its 501"
raw 'GET /healthz HTTP/1.1\r\n\r\nPOST /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n1;x\r\n'
like "$(printf '%s\n' "$RAW" | head -n 1)" "HTTP/1.1 200 " "a good GET, then a chunked POST that goes bad: the GET gets its 200"
like "$RAW" '"code":"bad_request"' "and the POST its 400"
raw 'HEAD /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\n'
like "$RAW" 'Content-Length: 15' "HEAD gets the Content-Length a GET would"
unlike "$RAW" '{"status"' "and no body"
RAW_PIECE=1 raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n'
like "$RAW" '{"status":"ok"}' "a head sent one byte at a time is read whole"
RAW_PIECE=3 raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n'
like "$RAW" '{"status":"ok"}' "and three at a time"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the --max-body server exits 0 on SIGTERM"

skip "429 too_many_uploads: needs --max-uploads slots held open at once, which a shell test cannot time deterministically"

# ---- the valid pack after all: accepted (the refusals above were not vacuous) ----
URL="http://127.0.0.1:$(cat "$WORK/main.port")"
PACKS1=$(packs_on_disk)
req PUT "$URL/v1/packs/$PACK_ID" -H "$AW" --data-binary "@$PACK"
is_code 201 "the intact pack under its name is accepted after the cut-off attempt"
is "$(jstr pack)" "$PACK_ID" "the reply names it"
is "$(packs_on_disk)" $((PACKS1 + 1)) "and it is the one new file under objects/packs"

# ---- nothing committed ----
is "$(stat_of versions)" "$((VERSIONS0 + 1))" "one version committed (small, by the valid upload), none by any bad request"
MODELS1=$(stat_of models)
is "$MODELS1" "$((MODELS0 + 1))" "one model registered (small, by the valid upload), no other"
MAIN_PID=$(printf '%s' "$SRV_PIDS" | awk '{ print $1 }')
srv_stop "$MAIN_PID"
is "$SRV_RC" 0 "the server exits 0 on SIGTERM"
if [ "$SRV_RC" != 0 ]; then
	diag "server log tail:" "$(grep -v '^{' "$WORK/main.log" | tail -n 20)"
fi
mvms verify
is_rc 0 "verify is clean"

done_testing
