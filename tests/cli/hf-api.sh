#!/bin/sh
# SPDX-License-Identifier: MIT
# The Hugging Face Hub read API of `serve` (docs/hf-compat.md) with curl: every route, its
# statuses and the headers clients read. Model info (/api/models/{repo}[/revision/{rev}],
# blobs, expand, safetensors), revisions (HEAD, branch, tag, vN, id, prefix, refs/tags/X),
# refs, tree (recursive, a directory, a file, directory oids), the list of models, resolve
# (GET, HEAD, ETag, X-Linked-*, X-Repo-Commit, Range 206/416, If-None-Match 304, an empty
# file), the X-Error-Code of each kind of miss, tokens (hf_ prefix, a model the token does
# not cover answers byte for byte as a missing one), and a corrupt chunk is never served.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

mvms init -q
is_rc 0 "init"
mkmodel -q --size 1M --tensors 4 --extras "$WORK/m1"
: >"$WORK/m1/empty.txt"
mvms push org/net "$WORK/m1" -m one -q
is_rc 0 "push org/net v1"
V1=$(push_id)
mvms tag org/net@v1 release
mvms branch org/net dev
is_rc 0 "branch dev at v1"
mkmodel -q --size 1M --tensors 4 --extras --change 50 "$WORK/m2"
: >"$WORK/m2/empty.txt"
mvms push org/net "$WORK/m2" -m two -q
is_rc 0 "push org/net v2"
V2=$(push_id)
echo "changed" >>"$WORK/m2/sub/readme.txt"
mvms push org/net "$WORK/m2" -m three --branch dev -q
is_rc 0 "push org/net v3 on dev"
V3=$(push_id)
printf 'solo\n' >"$WORK/solo.txt"
mvms push solo "$WORK/solo.txt" -q
is_rc 0 "push solo (a one-segment name)"
mvms token create --scope read
is_rc 0 "token create"
TOK=$OUT
like "$ERR" "hf_" "token create says how to write it for Hugging Face clients"
mvms token create --scope read --model 'other/*'
OTHER=$OUT
mvms token create --scope read --model 'org/*'
ORG=$OUT

srv_start hf
A="Authorization: Bearer $TOK"

# ---- model info ----
req GET "$URL/api/models/org/net" -H "$A"
is_code 200 "model info of org/net"
is "$(jstr id)" "org/net" "id is the model's name"
is "$(jstr sha)" "$V2" "sha is the version id of the default branch's head"
is "$(hdr X-Repo-Commit)" "$V2" "and so is X-Repo-Commit"
is "$(jcount rfilename)" 5 "five siblings"
like "$BODY" '"rfilename":"sub/readme.txt"' "with nested paths"
like "$BODY" '"private":true' "private: reads need a token"
like "$BODY" '"author":"org"' "author is the org"
check "lastModified in the Hub's time format" \
	grep -q '"lastModified":"[0-9-]*T[0-9:]*\.000Z"' "$WORK/body"
like "$BODY" '"safetensors":{"parameters":{"BF16":524288},"total":524288}' \
	"safetensors: parameters per dtype from the tensor index"
unlike "$BODY" '"size":' "no sizes without blobs"
req GET "$URL/api/models/org/net?blobs=true" -H "$A"
is_code 200 "model info with blobs=true"
FID=$(file_id org/net@v2 model.safetensors)
like "$BODY" "\"rfilename\":\"model.safetensors\",\"size\":$(file_size "$WORK/m2/model.safetensors"),\"blobId\":\"$FID\"" \
	"siblings have size and blobId (the file id)"
unlike "$BODY" '"lfs"' "no lfs field: the store keeps no sha256"
req GET "$URL/api/models/org/net?blobs=True" -H "$A"
is_code 200 "blobs=True (as Python sends it)"
req GET "$URL/api/models/org/net?blobs=maybe" -H "$A"
is_code 400 "blobs=maybe is 400"
req GET "$URL/api/models/org/net/revision/HEAD?expand=sha&expand=private&expand=downloads" -H "$A"
is_code 200 "revision/HEAD with expand="
is "$BODY" "{\"_id\":\"$(jstr _id)\",\"id\":\"org/net\",\"private\":true,\"sha\":\"$V2\"}" \
	"expand= gives _id, id and the asked fields the store has (no downloads)"
for rev in main release v1 "$V1" "$(printf %.10s "$V1")" refs%2Ftags%2Frelease dev refs%2Fheads%2Fdev; do
	req GET "$URL/api/models/org/net/revision/$rev?expand=sha" -H "$A"
	case $rev in dev | refs%2Fheads%2Fdev) want=$V3 ;; main) want=$V2 ;; *) want=$V1 ;; esac
	is "$CODE $(jstr sha)" "200 $want" "revision $rev"
done
req GET "$URL/api/models/org/net/revision/nope" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "an unknown revision: 404 RevisionNotFound"
like "$BODY" '"error":"Invalid rev id: nope' "with the Hub's error text"
mvms --json show solo@v1
req GET "$URL/api/models/org/net/revision/$(json_get id)" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "another model's version id is no revision of this one"
req GET "$URL/api/models/org/net/revision/solo@v1" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "MODEL@REF is no revision"
req GET "$URL/api/models/solo" -H "$A"
is "$CODE $(jstr id)" "200 solo" "a one-segment name"
unlike "$BODY" '"author"' "has no author"

# ---- a missing model, and a model the token does not cover ----
req GET "$URL/api/models/org/nope" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "a missing model: 404 RepoNotFound"
cp "$WORK/body" "$WORK/missing.body"
req GET "$URL/api/models/org/nope" -H "Authorization: Bearer $OTHER"
cp "$WORK/body" "$WORK/missing2.body"
req GET "$URL/api/models/org/net" -H "Authorization: Bearer $OTHER"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "a model the token does not cover: the same"
check "byte for byte the answer for a missing one" cmp -s "$WORK/body" "$WORK/missing2.body"
req GET "$URL/org/net/resolve/main/config.json" -H "Authorization: Bearer $OTHER"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "resolve of an uncovered model: RepoNotFound"
check "and its body is that of a missing one" cmp -s "$WORK/body" "$WORK/missing.body"
req GET "$URL/api/models/org/net/tree/main" -H "Authorization: Bearer $ORG"
is_code 200 "a token for org/* reads org/net"
req GET "$URL/api/models/solo" -H "Authorization: Bearer $ORG"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "but not solo"
req GET "$URL/api/models/org/net"
is "$CODE $(hdr X-Error-Code)" "401 RepoNotFound" "no token: 401 RepoNotFound, as the Hub for a private repo"
like "$BODY" '{"error":"a token is needed' "with the Hub's error shape (a string)"
like "$(hdr WWW-Authenticate)" "Bearer" "and WWW-Authenticate"
req HEAD "$URL/org/net/resolve/main/config.json"
is "$CODE $(hdr X-Error-Code)" "401 RepoNotFound" "HEAD on resolve without a token: the code is in the headers"
req GET "$URL/api/models/org/net" -H "Authorization: Bearer hf_$TOK"
is "$CODE $(jstr sha)" "200 $V2" "the token written hf_mvms_... works"
req GET "$URL/api/models/org/net" -H "Authorization: Bearer hf_${TOK}x"
is "$CODE $(hdr X-Error-Code)" "401 RepoNotFound" "hf_ and a wrong token: 401"
req GET "$URL/v1/models/org/net" -H "Authorization: Bearer hf_$TOK"
is_code 200 "the hf_ form works on /v1 too"

# ---- list ----
req GET "$URL/api/models" -H "Authorization: Bearer $ORG"
is_code 200 "the list of models"
like "$BODY" '"id":"org/net"' "shows org/net"
unlike "$BODY" '"id":"solo"' "and not solo to a token for org/*"
like "$BODY" "\"sha\":\"$V2\"" "with its head's id"
req GET "$URL/api/models?author=org" -H "$A"
is "$CODE $(jcount modelId)" "200 1" "author=org"
req GET "$URL/api/models?search=sol&limit=5" -H "$A"
is "$CODE $(jstr id)" "200 solo" "search="
req GET "$URL/api/models?limit=0" -H "$A"
is_code 400 "limit=0 is 400"
req GET "$URL/api/models"
is "$CODE $(hdr X-Error-Code)" "401 " "the list without a token: 401 (no RepoNotFound: no repository was named)"
like "$BODY" '{"error":"a token is needed' "in the Hub's error shape"

# ---- refs ----
req GET "$URL/api/models/org/net/refs" -H "$A"
is_code 200 "refs"
like "$BODY" "{\"name\":\"main\",\"ref\":\"refs/heads/main\",\"targetCommit\":\"$V2\"}" "branch main"
like "$BODY" "{\"name\":\"dev\",\"ref\":\"refs/heads/dev\",\"targetCommit\":\"$V3\"}" "branch dev"
like "$BODY" "\"tags\":[{\"name\":\"release\",\"ref\":\"refs/tags/release\",\"targetCommit\":\"$V1\"}]" "tag release"
like "$BODY" '"converts":[]' "no converts"
req GET "$URL/api/models/org/nope/refs" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "refs of a missing model"

# ---- commits ----
req GET "$URL/api/models/org/net/commits/main?limit=1" -H "$A"
is "$CODE $(grep -o '"id":"[0-9a-f]*"' "$WORK/body" | tr '\n' ' ')" "200 \"id\":\"$V2\" \"id\":\"$V1\" " \
	"commits of main: v2 then v1, all in one page"
like "$BODY" '"title":"two","message":"two","authors":[{"user":"' "with title, message and authors"
req GET "$URL/api/models/org/net/commits/dev" -H "$A"
is "$(grep -o '"id":"[0-9a-f]*"' "$WORK/body" | tr '\n' ' ')" "\"id\":\"$V3\" \"id\":\"$V1\" " \
	"commits of dev: v3 and v1, not main's v2"
req GET "$URL/api/models/org/net/commits/nope" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "commits of a missing revision"

# ---- tree ----
req GET "$URL/api/models/org/net/tree/main" -H "$A"
is_code 200 "tree of main"
is "$(grep -o '"path":"[^"]*"' "$WORK/body" | tr '\n' ' ')" \
	'"path":"config.json" "path":"empty.txt" "path":"model.safetensors" "path":"sub" "path":"tokenizer.json" ' \
	"the root's children, in order"
like "$BODY" "{\"type\":\"file\",\"oid\":\"$FID\",\"size\":$(file_size "$WORK/m2/model.safetensors"),\"path\":\"model.safetensors\"}" \
	"a file entry: type, oid (the file id), size, path"
like "$BODY" '{"type":"directory","oid":"' "a directory entry"
SUB2=$(grep -o '"oid":"[0-9a-f]*","size":0,"path":"sub"' "$WORK/body")
req GET "$URL/api/models/org/net/tree/main?recursive=true&expand=false" -H "$A"
is "$CODE $(jcount path)" "200 6" "recursive: five files and one directory"
like "$BODY" '"path":"sub"},{"type":"file"' "the directory comes before its files"
req GET "$URL/api/models/org/net/tree/v1" -H "$A"
is "$(grep -o '"oid":"[0-9a-f]*","size":0,"path":"sub"' "$WORK/body")" "$SUB2" \
	"a directory's oid is the same where nothing under it changed"
req GET "$URL/api/models/org/net/tree/dev" -H "$A"
unlike "$(grep -o '"oid":"[0-9a-f]*","size":0,"path":"sub"' "$WORK/body")" "$SUB2" \
	"and changes where a file under it did"
req GET "$URL/api/models/org/net/tree/main/sub" -H "$A"
is "$CODE $(grep -o '"path":"[^"]*"' "$WORK/body" | tr '\n' ' ')" '200 "path":"sub/readme.txt" ' "tree of sub"
req GET "$URL/api/models/org/net/tree/main/sub/readme.txt" -H "$A"
is "$CODE $(jcount path)" "200 1" "tree of a file: that file"
req GET "$URL/api/models/org/net/tree/main/nope" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 EntryNotFound" "tree of a missing path: EntryNotFound"
req GET "$URL/api/models/org/net/tree/nope" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "tree of a missing revision"
req GET "$URL/api/models/org/net/tree/main?recursive=2" -H "$A"
is_code 400 "recursive=2 is 400"

# ---- paths-info ----
req POST "$URL/api/models/org/net/paths-info/main" -H "$A" -H "Content-Type: application/json" \
	-d '{"paths":["config.json","sub","nope","sub/"],"expand":true}'
is "$CODE $(grep -o '"path":"[^"]*"' "$WORK/body" | tr '\n' ' ')" '200 "path":"config.json" "path":"sub" "path":"sub" ' \
	"paths-info (JSON, as @huggingface/hub): a file and a directory; a missing path is left out"
like "$BODY" '{"type":"directory","oid":"' "with its type"
req POST "$URL/api/models/org/net/paths-info/release" -H "$A" -d 'paths=sub%2Freadme.txt&paths=x&expand=False'
is "$CODE $(jcount path) $(jstr path)" "200 1 sub/readme.txt" "paths-info (a form, as huggingface_hub)"
req POST "$URL/api/models/org/net/paths-info/main" -H "$A" -H "Content-Type: application/json" -d '{"paths":"x"}'
is_code 400 "paths-info: paths must be a list"
req POST "$URL/api/models/org/net/paths-info/nope" -H "$A" -d 'paths=x'
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "paths-info of a missing revision"
req POST "$URL/api/models/org/net/paths-info/main" -H "Authorization: Bearer $OTHER" -d 'paths=x'
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "paths-info of an uncovered model"

# ---- resolve ----
F=$WORK/m2/model.safetensors
SIZE=$(file_size "$F")
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A"
is_code 200 "resolve main"
check "the bytes are those pushed" cmp -s "$WORK/body" "$F"
is "$(hdr ETag)" "\"$FID\"" "ETag: the file id, quoted"
is "$(hdr X-Linked-Etag)" "\"$FID\"" "X-Linked-Etag: the same"
is "$(hdr X-Linked-Size)" "$SIZE" "X-Linked-Size"
is "$(hdr Content-Length)" "$SIZE" "Content-Length"
is "$(hdr X-Repo-Commit)" "$V2" "X-Repo-Commit: the version id"
is "$(hdr Accept-Ranges)" "bytes" "Accept-Ranges: bytes"
req HEAD "$URL/org/net/resolve/main/model.safetensors" -H "$A"
is "$CODE $(hdr Content-Length) $(hdr X-Repo-Commit)" "200 $SIZE $V2" "HEAD: the headers, no body"
req GET "$URL/org/net/resolve/release/sub/readme.txt" -H "$A"
is_code 200 "resolve by tag, a nested path"
check "the bytes of v1" cmp -s "$WORK/body" "$WORK/m1/sub/readme.txt"
is "$(hdr X-Repo-Commit)" "$V1" "X-Repo-Commit of v1"
req GET "$URL/org/net/resolve/$V3/sub/readme.txt" -H "$A"
check "resolve by id" cmp -s "$WORK/body" "$WORK/m2/sub/readme.txt"
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A" -H "Range: bytes=100-199"
is "$CODE $(hdr Content-Range) $(hdr Content-Length)" "206 bytes 100-199/$SIZE 100" "Range: 206"
dd if="$F" bs=1 skip=100 count=100 2>/dev/null >"$WORK/want"
check "the range's bytes" cmp -s "$WORK/body" "$WORK/want"
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A" -H "Range: bytes=0-0"
is "$CODE $(hdr Content-Range) $(hdr X-Linked-Size)" "206 bytes 0-0/$SIZE $SIZE" \
	"the clients' probe (bytes=0-0): Content-Range and X-Linked-Size give the size"
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A" -H "Range: bytes=-10"
tail -c 10 "$F" >"$WORK/want"
is_code 206 "a suffix range"
check "the last 10 bytes" cmp -s "$WORK/body" "$WORK/want"
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A" -H "Range: bytes=$SIZE-"
is "$CODE $(hdr Content-Range)" "416 bytes */$SIZE" "a range past the end: 416"
req GET "$URL/org/net/resolve/main/empty.txt" -H "$A" -H "Range: bytes=0-0"
is "$CODE $(hdr Content-Length) $(hdr X-Linked-Size)" "200 0 0" "an empty file: sent whole (200) to a range"
req GET "$URL/org/net/resolve/main/model.safetensors" -H "$A" -H "If-None-Match: \"$FID\""
is_code 304 "If-None-Match with the ETag: 304"
req GET "$URL/org/net/resolve/main/nope.bin" -H "$A"
is "$CODE $(hdr X-Error-Code) $(hdr X-Repo-Commit)" "404 EntryNotFound $V2" "a missing file: EntryNotFound"
req HEAD "$URL/org/net/resolve/main/nope.bin" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 EntryNotFound" "HEAD of a missing file: the code is in the headers"
req GET "$URL/org/net/resolve/main/sub" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 EntryNotFound" "a directory is no file"
req GET "$URL/org/net/resolve/nope/config.json" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RevisionNotFound" "a missing revision: RevisionNotFound"
req HEAD "$URL/org/nope/resolve/main/config.json" -H "$A"
is "$CODE $(hdr X-Error-Code)" "404 RepoNotFound" "a missing model: RepoNotFound"
req GET "$URL/solo/resolve/HEAD/solo.txt" -H "$A"
is "$CODE $BODY" "200 solo" "resolve of a one-segment model at HEAD"
req POST "$URL/org/net/resolve/main/config.json" -H "$A"
is_code 405 "resolve is read-only: POST is 405"

# ---- a corrupt chunk is never served ----
srv_stop "$SRV_PID"
find "$MVMS_STORE/objects/packs" -type f ! -name '*.tmp*' | sort >"$WORK/packs.before"
mkmodel -q --size 1M --tensors 4 --seed 7 "$WORK/m3"
mvms push org/bad "$WORK/m3" -q
is_rc 0 "push org/bad"
find "$MVMS_STORE/objects/packs" -type f ! -name '*.tmp*' | sort >"$WORK/packs.after"
PACK=$(comm -13 "$WORK/packs.before" "$WORK/packs.after")
if [ "$(printf '%s\n' "$PACK" | grep -c .)" = 1 ] && [ -f "$PACK" ]; then
	printf 'XXXXXXXXXXXXXXXX' | dd of="$PACK" bs=1 seek=$(( $(file_size "$PACK") / 2 )) conv=notrunc 2>/dev/null
	srv_start hf2
	req GET "$URL/org/bad/resolve/main/model.safetensors" -H "$A"
	if cmp -s "$WORK/body" "$WORK/m3/model.safetensors"; then
		not_ok "a corrupt pack: the file is not served as if whole"
	else
		ok "a corrupt pack: the file is not served as if whole (HTTP $CODE, $(file_size "$WORK/body") bytes)"
	fi
	unlike "$(cat "$WORK/body")" "XXXXXXXXXXXXXXXX" "and the corrupt bytes are not sent"
else
	not_ok "found the one pack of org/bad to corrupt ($PACK)"
fi

done_testing
