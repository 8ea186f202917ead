#!/bin/sh
# SPDX-License-Identifier: MIT
# The HTTP server's main flows, with the system curl against the real server on
# 127.0.0.1 (port 0, --port-file): health and metrics, models, versions by every kind of
# ref, file downloads (byte-identical, ETag, If-None-Match, Range, HEAD, nested paths),
# one-request CI uploads (a file, a second file, POST, a tar), model names with '/',
# diff and lineage, tokens and scopes (none, bad, read-only scope, model glob, expired),
# --allow-anonymous-read and --read-only servers; `verify` is clean at the end.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"

setup

. "$TESTS_SRCDIR/cli/srv.sh"

# ---- the store, tokens and models ----
mvms init
is_rc 0 "init" || bail "cannot create a store"

token() { # token SCOPE [options...]: prints the new token
	"$MVMS" --store "$MVMS_STORE" token create --scope "$@" 2>"$WORK/token.err"
}
W=$(token write) || bail "token create --scope write: $(cat "$WORK/token.err")"
R=$(token read) || bail "token create --scope read"
WA=$(token write --model 'a*') || bail "token create --model 'a*'"
EXP=$(token read --expires 1s) || bail "token create --expires 1s"
EXP_T0=$(date +%s)
[ -n "$W" ] && [ -n "$R" ] && [ -n "$WA" ] && [ -n "$EXP" ] || bail "token create printed nothing"
case $W in *[[:space:]]*) bail "token has spaces: '$W'" ;; esac
AW="Authorization: Bearer $W"
AR="Authorization: Bearer $R"

mkmodel -q --size 1M --tensors 8 --seed 5 "$WORK/m1"
mkmodel -q --size 1M --tensors 8 --seed 5 --change 25 --change-seed 3 "$WORK/m2"
for d in m1 m2; do
	mkdir -p "$WORK/$d/sub"
	printf 'read me, %s\n' "$d" >"$WORK/$d/sub/readme.txt"
done
MF=$WORK/m1/model.safetensors
MSIZE=$(file_size "$MF")

mvms push alpha "$WORK/m1" -m one
is_rc 0 "CLI push alpha@v1 (before serving)" || bail "push failed"
ID1=$(push_id)
FID=$(file_id alpha@v1 model.safetensors)
RID=$(file_id alpha@v1 sub/readme.txt)
[ -n "$FID" ] && [ -n "$RID" ] || bail "no file ids from show --json"

srv_start main --threads 2

# ---- operations ----
req GET "$URL/healthz"
is_code 200 "GET /healthz"
like "$BODY" '"status":"ok"' "/healthz says ok"

# ---- models ----
req POST "$URL/v1/models" -H "$AW" -H 'Content-Type: application/json' \
	-d '{"name":"gamma","description":"a small test model"}'
is_code 201 "POST /v1/models creates gamma"
is "$(jstr model)" gamma "the reply names the model"
is "$(jnum versions)" 0 "a new model has 0 versions"
check "the uid is 32 hex digits" sh -c 'printf "%s" "$1" | grep -qx "[0-9a-f]\{32\}"' sh "$(jstr uid)"
req POST "$URL/v1/models" -H "$AW" -H 'Content-Type: application/json' -d '{"name":"gamma"}'
is_code 409 "registering gamma again is 409"
like "$BODY" '"code":"exists"' "with code exists"

req GET "$URL/v1/models" -H "$AW"
is_code 200 "GET /v1/models"
like "$BODY" '"model":"alpha"' "the list has alpha (pushed with the CLI)"
like "$BODY" '"model":"gamma"' "the list has gamma"
req GET "$URL/v1/models/gamma" -H "$AR"
is_code 200 "GET /v1/models/gamma with a read token"
like "$BODY" '"description":"a small test model"' "its description"

# ---- versions by every kind of ref ----
req GET "$URL/v1/models/alpha/versions" -H "$AR"
is_code 200 "GET versions of alpha"
is "$(jcount message)" 1 "one version"
like "$BODY" "\"id\":\"$ID1\"" "it is the CLI-pushed version"

req GET "$URL/v1/models/alpha/versions/v1" -H "$AR"
is_code 200 "GET version v1"
is "$(jnum version)" 1 "version number 1"
is "$(jstr id)" "$ID1" "its id"
is "$(jstr message)" one "its message"
like "$BODY" '"file_list":[' "it carries the file list"
like "$BODY" "\"path\":\"sub/readme.txt\"" "with the nested file"
like "$BODY" "\"id\":\"$FID\"" "with model.safetensors's id"
is "$(hdr X-Mvms-Version-Id)" "$ID1" "X-Mvms-Version-Id header"

req GET "$URL/v1/models/alpha/versions/main" -H "$AR"
is_code 200 "GET version by branch (main)"
is "$(jstr id)" "$ID1" "main is v1"
req GET "$URL/v1/models/alpha/versions/latest" -H "$AR"
is_code 200 "GET version latest"
is "$(jstr id)" "$ID1" "latest is v1"
req GET "$URL/v1/models/alpha/versions/$(printf '%s' "$ID1" | cut -c1-12)" -H "$AR"
is_code 200 "GET version by a 12-hex id prefix"
is "$(jstr id)" "$ID1" "the prefix resolves to v1"
req GET "$URL/v1/models/alpha/versions/v9" -H "$AR"
is_code 404 "an unknown version is 404"
like "$BODY" '"code":"not_found"' "with code not_found"

# ---- file downloads ----
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR"
is_code 200 "GET file model.safetensors"
check "the download is byte-identical to the pushed file" cmp -s "$WORK/body" "$MF"
is "$(hdr ETag)" "\"$FID\"" "ETag is the file id (quoted)"
is "$(hdr Content-Length)" "$MSIZE" "Content-Length is the file size"
like "$(hdr Accept-Ranges)" bytes "Accept-Ranges: bytes"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" \
	-H "If-None-Match: \"$FID\""
is_code 304 "If-None-Match with the ETag gives 304"
is "$(file_size "$WORK/body")" 0 "a 304 has no body"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" \
	-H 'If-None-Match: "0000000000000000000000000000000000000000000000000000000000000000"'
is_code 200 "If-None-Match with another ETag gives 200"

# Range reads
dd if="$MF" of="$WORK/first100" bs=100 count=1 2>/dev/null
tail -c 100 "$MF" >"$WORK/last100"
tail -c +101 "$MF" >"$WORK/from100"
dd if="$MF" of="$WORK/mid" bs=1 skip=500000 count=70000 2>/dev/null
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" -H 'Range: bytes=0-99'
is_code 206 "Range bytes=0-99 gives 206"
check "and exactly the first 100 bytes" cmp -s "$WORK/body" "$WORK/first100"
is "$(hdr Content-Range)" "bytes 0-99/$MSIZE" "Content-Range bytes 0-99/SIZE"
is "$(hdr Content-Length)" 100 "Content-Length 100"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" -H 'Range: bytes=-100'
is_code 206 "Range bytes=-100 gives 206"
check "and exactly the last 100 bytes" cmp -s "$WORK/body" "$WORK/last100"
is "$(hdr Content-Range)" "bytes $((MSIZE - 100))-$((MSIZE - 1))/$MSIZE" "its Content-Range"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" -H 'Range: bytes=100-'
is_code 206 "Range bytes=100- gives 206"
check "and everything from byte 100" cmp -s "$WORK/body" "$WORK/from100"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" \
	-H 'Range: bytes=500000-569999'
is_code 206 "a range across chunk boundaries in the middle"
check "matches the source bytes" cmp -s "$WORK/body" "$WORK/mid"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" \
	-H "Range: bytes=$MSIZE-"
is_code 416 "a range starting at the file size is 416"
is "$(hdr Content-Range)" "bytes */$MSIZE" "416 carries Content-Range: bytes */SIZE"
like "$BODY" '"error":{' "416 has a JSON error"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR" \
	-H 'Range: bytes=5000000-6000000'
is_code 416 "a range far past the end is 416"

# The records stream the CLI pulls with: the chunks as stored, checked here by records.py
# (headers against the chunk list, zstd -d, BLAKE2b; python3 and zstd come with
# .ci/install-deps) and put back together.
req GET "$URL/v1/objects/files/$FID" -H "$AR"
is_code 200 "GET the chunk list of model.safetensors"
cp "$WORK/body" "$WORK/fmap"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors?format=records" -H "$AR"
is_code 200 "GET file ?format=records"
is "$(hdr Content-Type)" "application/vnd.mvms.records" "its Content-Type"
is "$(hdr Content-Length)" "$(file_size "$WORK/body")" "its Content-Length is the stream's length"
is "$(hdr ETag)" "\"$FID.r\"" "its ETag is not the bytes' ETag"
run python3 "$TESTS_SRCDIR/cli/records.py" "$WORK/body" "$WORK/fmap" "$WORK/fromrec"
is_rc 0 "every record names the next chunk and decodes to it ($OUT)"
check "the records put together are the file" cmp -s "$WORK/fromrec" "$MF"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors?format=records" -H "$AR" \
	-H 'Range: bytes=0-99'
is_code 400 "a Range on a records stream is 400"
like "$BODY" '"code":"bad_range"' "with code bad_range"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors?format=zip" -H "$AR"
is_code 400 "an unknown format is 400"
like "$BODY" '"code":"bad_format"' "with code bad_format"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors?format=bytes" -H "$AR"
is_code 200 "format=bytes is the default"
check "the same bytes" cmp -s "$WORK/body" "$MF"

req HEAD "$URL/v1/models/alpha/versions/v1/files/model.safetensors" -H "$AR"
is_code 200 "HEAD on a file"
is "$(hdr Content-Length)" "$MSIZE" "HEAD gives Content-Length"
is "$(hdr ETag)" "\"$FID\"" "HEAD gives the ETag"

req GET "$URL/v1/models/alpha/versions/v1/files/sub/readme.txt" -H "$AR"
is_code 200 "GET a nested path files/sub/readme.txt"
check "its bytes" cmp -s "$WORK/body" "$WORK/m1/sub/readme.txt"
is "$(hdr ETag)" "\"$RID\"" "its ETag"
req GET "$URL/v1/models/alpha/versions/v1/files/sub%2Freadme.txt" -H "$AR"
is_code 200 "the same path with %2F"
req GET "$URL/v1/models/alpha/versions/v1/files/nope.bin" -H "$AR"
is_code 404 "an unknown file is 404"
req GET "$URL/v1/models/alpha/versions/main/files/model.safetensors" -H "$AR"
is_code 200 "a file by branch"
check "same bytes" cmp -s "$WORK/body" "$MF"

# ---- a second CLI push while serving; diff and lineage ----
mvms push alpha "$WORK/m2" -m two
is_rc 0 "CLI push alpha@v2 while the server runs"
ID2=$(push_id)
req GET "$URL/v1/models/alpha/versions/main" -H "$AR"
is "$(jstr id)" "$ID2" "the server sees main move to v2"
req GET "$URL/v1/models/alpha/versions" -H "$AR"
is "$(jcount message)" 2 "and lists two versions"
req GET "$URL/v1/models/alpha/versions?limit=1" -H "$AR"
is "$(jcount message)" 1 "limit=1 lists one"
req GET "$URL/v1/models/alpha/versions/v2/files/model.safetensors" -H "$AR"
check "v2's file downloads byte-identical" cmp -s "$WORK/body" "$WORK/m2/model.safetensors"

req GET "$URL/v1/models/alpha/diff?from=v1&to=v2&tensors=1" -H "$AR"
is_code 200 "GET diff v1..v2"
like "$BODY" '"status":"modified"' "model.safetensors is modified"
like "$BODY" '"path":"sub/readme.txt"' "the readme changed too"
like "$BODY" '"tensors":{' "with a tensor diff"
like "$BODY" '"list":[' "and the tensor list (tensors=1)"
check "new_bytes is a number" sh -c 'printf "%s" "$1" | grep -q "\"new_bytes\":[0-9]"' sh "$BODY"
req GET "$URL/v1/models/alpha/diff?from=v1" -H "$AR"
is_code 400 "diff without to is 400"
like "$BODY" '"code":"bad_query"' "bad_query"

req GET "$URL/v1/models/alpha/versions/v2/lineage" -H "$AR"
is_code 200 "GET lineage of v2"
is "$(jstr start)" "$ID2" "start is v2"
like "$BODY" "\"parent\":\"$ID1\"" "an edge to v1"
req GET "$URL/v1/models/alpha/versions/v1/lineage?direction=descendants&format=dot" -H "$AR"
is_code 200 "lineage as dot"
like "$BODY" "digraph lineage" "is a digraph"
like "$(hdr Content-Type)" graphviz "Content-Type text/vnd.graphviz"
req GET "$URL/v1/models/alpha/versions/v1/lineage?direction=sideways" -H "$AR"
is_code 400 "a bad direction is 400"
req GET "$URL/v1/models/alpha/merge-base?a=v1&b=v2" -H "$AR"
is_code 200 "merge-base v1 v2"
like "$BODY" "\"id\":\"$ID1\"" "is v1"
req GET "$URL/v1/models/alpha/branches" -H "$AR"
is_code 200 "branches"
like "$BODY" '"name":"main"' "has main"

# ---- CI uploads in one request ----
printf 'notes for build 2\n' >"$WORK/notes.txt"
head -c 70000 "$WORK/m2/model.safetensors" >"$WORK/other.bin"
req PUT "$URL/v1/models/ci/upload?path=model.safetensors&branch=main&message=build+1" \
	-H "$AW" -T "$MF"
is_code 201 "curl -T upload of model.safetensors to a new model (201)"
is "$(jnum version)" 1 "the reply has version 1"
CI1=$(jstr id)
check "and a 64-hex id" sh -c 'printf "%s" "$1" | grep -qx "[0-9a-f]\{64\}"' sh "$CI1"
req GET "$URL/v1/models/ci/versions/v1" -H "$AR"
is_code 200 "the uploaded version is there"
is "$(jstr message)" "build 1" "its message ('+' is a space in a query)"
is "$(jstr id)" "$CI1" "with the id of the reply"
req GET "$URL/v1/models/ci/versions/v1/files/model.safetensors" -H "$AR"
check "the uploaded file downloads byte-identical" cmp -s "$WORK/body" "$MF"
is "$(hdr ETag)" "\"$FID\"" "same content, same file id as the CLI push"

req PUT "$URL/v1/models/ci/upload?path=notes.txt&message=build+2" -H "$AW" -T "$WORK/notes.txt"
is_code 201 "a second upload of another path"
is "$(jnum version)" 2 "is version 2"
CI2=$(jstr id)
req GET "$URL/v1/models/ci/versions/v2" -H "$AR"
is "$(jstr id)" "$CI2" "v2 has the id of the reply"
is "$(jnum files)" 2 "v2 has 2 files"
like "$BODY" '"path":"model.safetensors"' "v2 keeps the first file"
like "$BODY" '"path":"notes.txt"' "and has the new one"
like "$BODY" "\"parents\":[{\"model\":\"ci\",\"version\":1,\"id\":\"$CI1\"}]" "v2's parent is v1"

req POST "$URL/v1/models/ci/upload?path=dir/other.bin&message=build+3" -H "$AW" \
	--data-binary "@$WORK/other.bin"
is_code 201 "POST .../upload with the body works too"
is "$(jnum version)" 3 "is version 3"
req GET "$URL/v1/models/ci/versions/v3/files/dir/other.bin" -H "$AR"
check "its nested file downloads byte-identical" cmp -s "$WORK/body" "$WORK/other.bin"
req GET "$URL/v1/models/ci/versions/v3" -H "$AR"
is "$(jnum files)" 3 "v3 has 3 files"

req PUT "$URL/v1/models/ci/upload?path=notes.txt&message=same" -H "$AW" -T "$WORK/notes.txt"
if [ "$CODE" = 200 ] || [ "$CODE" = 201 ]; then ok "re-uploading an identical file is accepted"; else not_ok "re-uploading an identical file is accepted"; diag "got $CODE: $BODY"; fi
# Like a CLI push of an unchanged tree, this should make no version ("created":false).
test_n=$((test_n + 1))
case $BODY in
*'"created":false'*) printf 'ok %d - an identical re-upload makes no new version\n' "$test_n" ;;
*) printf 'not ok %d - an identical re-upload makes no new version # TODO uploads make a version identical to the head, unlike a CLI push\n' "$test_n" ;;
esac
req GET "$URL/v1/models/ci/versions" -H "$AR"
CI_N=$(jcount message)

mkdir -p "$WORK/tarsrc/sub"
printf 'alpha file\n' >"$WORK/tarsrc/a.txt"
head -c 200000 "$MF" >"$WORK/tarsrc/sub/b.bin"
(cd "$WORK/tarsrc" && tar -cf "$WORK/up.tar" a.txt sub) || bail "tar -cf"
req PUT "$URL/v1/models/ci/upload?message=tree" -H "$AW" -H 'Content-Type: application/x-tar' \
	-T "$WORK/up.tar"
is_code 201 "a tar upload (Content-Type: application/x-tar)"
is "$(jnum version)" $((CI_N + 1)) "is the next version"
req GET "$URL/v1/models/ci/versions/v$((CI_N + 1))" -H "$AR"
is "$(jnum files)" 2 "it has exactly the tar's 2 files"
like "$BODY" '"path":"a.txt"' "a.txt"
like "$BODY" '"path":"sub/b.bin"' "sub/b.bin"
unlike "$BODY" '"path":"model.safetensors"' "not the earlier files"
req GET "$URL/v1/models/ci/versions/v$((CI_N + 1))/files/sub/b.bin" -H "$AR"
check "sub/b.bin downloads byte-identical" cmp -s "$WORK/body" "$WORK/tarsrc/sub/b.bin"

(cd "$WORK/tarsrc" && tar -cf "$WORK/dot.tar" .) || bail "tar -cf ."
req PUT "$URL/v1/models/citar/upload" -H "$AW" -H 'Content-Type: application/x-tar' \
	-T "$WORK/dot.tar"
is_code 201 "a tar made with 'tar -cf x.tar .' (./ prefixes)"
req GET "$URL/v1/models/citar/versions/v1" -H "$AR"
like "$BODY" '"path":"a.txt"' "./a.txt is stored as a.txt"
like "$BODY" '"path":"sub/b.bin"' "./sub/b.bin is stored as sub/b.bin"

# ---- model names with '/' ----
req POST "$URL/v1/models" -H "$AW" -H 'Content-Type: application/json' -d '{"name":"org/beta"}'
is_code 201 "POST /v1/models creates org/beta"
req PUT "$URL/v1/models/org%2Fbeta/upload?path=notes.txt" -H "$AW" -T "$WORK/notes.txt"
is_code 201 "upload to org%2Fbeta"
req GET "$URL/v1/models/org%2Fbeta" -H "$AR"
is_code 200 "GET /v1/models/org%2Fbeta"
is "$(jstr model)" "org/beta" "the model is org/beta"
is "$(jnum versions)" 1 "with one version"
req GET "$URL/v1/models/org%2Fbeta/versions/v1/files/notes.txt" -H "$AR"
check "its file downloads" cmp -s "$WORK/body" "$WORK/notes.txt"
mvms push org/delta "$WORK/m1" -m cli
is_rc 0 "CLI push org/delta"
req GET "$URL/v1/models/org%2Fdelta/versions/latest" -H "$AR"
is_code 200 "GET org%2Fdelta versions/latest"
is "$(jstr model)" "org/delta" "names org/delta"
req GET "$URL/v1/models/org/delta" -H "$AR"
is_code 200 "an org/name model name without %2F is read as one name (orgpaths.sh)"
is "$(jstr model)" "org/delta" "names org/delta"

# ---- tokens and scopes ----
for p in /v1/models /v1/models/alpha /v1/models/alpha/versions /v1/models/alpha/versions/v1 \
	/v1/models/alpha/versions/v1/files/model.safetensors /v1/store; do
	req GET "$URL$p"
	is_code 401 "no token: GET $p is 401"
done
like "$BODY" '"code":"unauthorized"' "code unauthorized"
like "$(hdr WWW-Authenticate)" Bearer "WWW-Authenticate: Bearer"
req POST "$URL/v1/models" -H 'Content-Type: application/json' -d '{"name":"zeta"}'
is_code 401 "no token: POST /v1/models is 401"
req PUT "$URL/v1/models/zeta/upload?path=x" -T "$WORK/notes.txt"
is_code 401 "no token: upload is 401"
req POST "$URL/v1/chunks/missing" -H 'Content-Type: application/json' -d '{"ids":[]}'
is_code 401 "no token: POST /v1/chunks/missing is 401"
req GET "$URL/v1/models" -H 'Authorization: Bearer not-a-real-token'
is_code 401 "a bad token is 401"
req GET "$URL/v1/models" -H "Authorization: Bearer ${W}x"
is_code 401 "a token with an extra character is 401"
req GET "$URL/v1/models" -H "Authorization: Basic dXNlcjpwYXNz"
is_code 401 "a Basic authorization is 401"
req GET "$URL/metrics"
is_code 200 "/metrics needs no token"

req POST "$URL/v1/models" -H "$AR" -H 'Content-Type: application/json' -d '{"name":"zeta"}'
is_code 403 "a read token registering a model is 403"
like "$BODY" '"code":"forbidden"' "code forbidden"
req PUT "$URL/v1/models/ci/upload?path=x.txt" -H "$AR" -T "$WORK/notes.txt"
is_code 403 "a read token uploading is 403"
req POST "$URL/v1/models/alpha/tags" -H "$AR" -H 'Content-Type: application/json' \
	-d '{"name":"t1","ref":"v1"}'
is_code 403 "a read token tagging is 403"

AWA="Authorization: Bearer $WA"
req GET "$URL/v1/models/alpha" -H "$AWA"
is_code 200 "a token for 'a*' reads alpha"
req GET "$URL/v1/models/gamma" -H "$AWA"
is_code 403 "a token for 'a*' on gamma is 403"
req PUT "$URL/v1/models/beta/upload?path=x.txt" -H "$AWA" -T "$WORK/notes.txt"
is_code 403 "a token for 'a*' uploading to model beta is 403"
req POST "$URL/v1/models" -H "$AWA" -H 'Content-Type: application/json' -d '{"name":"beta"}'
is_code 403 "a token for 'a*' registering beta is 403"
req POST "$URL/v1/models" -H "$AWA" -H 'Content-Type: application/json' -d '{"name":"alpha2"}'
is_code 201 "a token for 'a*' registers alpha2"
req GET "$URL/v1/models" -H "$AWA"
is_code 200 "a token for 'a*' lists models"
like "$BODY" '"model":"alpha"' "it sees alpha"
unlike "$BODY" '"model":"gamma"' "it does not see gamma"
req GET "$URL/v1/models/alpha/diff?from=v1&to=gamma@v1" -H "$AWA"
is_code 403 "a cross-model diff outside the glob is 403"

while [ $(($(date +%s) - EXP_T0)) -lt 2 ]; do sleep 1; done
req GET "$URL/v1/models" -H "Authorization: Bearer $EXP"
is_code 401 "an expired token (--expires 1s, 2 s later) is 401"

# ---- metrics ----
req GET "$URL/metrics"
is_code 200 "GET /metrics"
like "$BODY" 'mvms_http_requests_total{' "has mvms_http_requests_total"
like "$BODY" 'route="/healthz",method="GET",status="200"' "counts GET /healthz 200"
like "$BODY" 'route="/v1/models/{m}/upload",method="PUT",status="201"' "counts the uploads by route pattern"
like "$BODY" 'mvms_http_bytes_received_total ' "has mvms_http_bytes_received_total"
like "$BODY" 'mvms_store_dedup_ratio ' "has mvms_store_dedup_ratio"
like "$(hdr Content-Type)" 'text/plain' "Content-Type text/plain"
RECV=$(sed -n 's/^mvms_http_bytes_received_total \([0-9.e+]*\).*/\1/p' "$WORK/body")
num_ge "$RECV" $((MSIZE + 200000)) "bytes received count the uploads"
check "the access log has one JSON line per request" grep -q '"route":"/v1/models/{m}/upload","status":201' "$WORK/main.log"

# ---- --allow-anonymous-read ----
MAIN_PID=$SRV_PID
MAIN_URL=$URL
srv_start anon --allow-anonymous-read --threads 1
req GET "$URL/v1/models"
is_code 200 "anonymous-read server: GET /v1/models without a token"
req GET "$URL/v1/models/alpha/versions/v1/files/model.safetensors"
is_code 200 "anonymous-read server: a file download without a token"
check "byte-identical" cmp -s "$WORK/body" "$MF"
req POST "$URL/v1/models" -H 'Content-Type: application/json' -d '{"name":"anon"}'
is_code 401 "anonymous-read server: a write without a token is 401"
req PUT "$URL/v1/models/ci/upload?path=x.txt" -T "$WORK/notes.txt"
is_code 401 "anonymous-read server: an upload without a token is 401"
req GET "$URL/v1/models" -H 'Authorization: Bearer wrong'
is_code 401 "anonymous-read server: a bad token is still 401"
req POST "$URL/v1/models" -H "$AW" -H 'Content-Type: application/json' -d '{"name":"anon2"}'
is_code 201 "anonymous-read server: a write token writes"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the anonymous-read server exits 0 on SIGTERM"

# ---- --read-only ----
srv_start ro --read-only --threads 1
req GET "$URL/v1/models/alpha/versions/v1" -H "$AR"
is_code 200 "read-only server: reads work"
req POST "$URL/v1/models" -H "$AW" -H 'Content-Type: application/json' -d '{"name":"ro"}'
is_code 403 "read-only server: POST /v1/models is 403"
like "$BODY" '"code":"read_only"' "code read_only"
req PUT "$URL/v1/models/ci/upload?path=ro.txt" -H "$AW" -T "$WORK/notes.txt"
is_code 403 "read-only server: an upload is 403"
req POST "$URL/v1/models/alpha/branches" -H "$AW" -H 'Content-Type: application/json' -d '{"name":"ro"}'
is_code 403 "read-only server: creating a branch is 403"
req DELETE "$URL/v1/models/alpha/branches/main" -H "$AW"
is_code 403 "read-only server: deleting a branch is 403"
req PUT "$URL/v1/packs/0000000000000000000000000000000000000000000000000000000000000000" -H "$AW" \
	--data-binary 'x'
is_code 403 "read-only server: a pack upload is 403"
srv_stop "$SRV_PID"
is "$SRV_RC" 0 "the read-only server exits 0 on SIGTERM"
req GET "$MAIN_URL/v1/models/ro" -H "$AR"
is_code 404 "nothing was registered through the read-only server"

URL=$MAIN_URL
check "the main server still answers /healthz" healthy
srv_stop "$MAIN_PID"
is "$SRV_RC" 0 "the main server exits 0 on SIGTERM"
if [ "$SRV_RC" != 0 ]; then
	diag "server log tail:" "$(grep -v '^{' "$WORK/main.log" | tail -n 20)"
fi

mvms verify
is_rc 0 "verify is clean after everything"

done_testing
