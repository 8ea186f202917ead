#!/bin/sh
# SPDX-License-Identifier: MIT
# Commits validated in full (issue 10, finding 4): the commit endpoint used to take
# manifests that do not add up (201, then `verify` said 0 problems and pulls failed). Each
# bad commit below, built by tests/cli/commitbody.py, must get a JSON 400
# `invalid_manifest` naming the problem and leave the store exactly as it was (no version,
# branch, content row or object); a good commit built the same way is the control. A
# one-request upload that would make a path both a file and a directory is refused too.
. "$TESTS_SRCDIR/cli/lib.sh"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
find_py
[ -n "$PY" ] || skip_all "python3 not installed"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

mkmodel -q --size 1M --tensors 4 --seed 41 "$WORK/m1"
head -c 8000 /dev/urandom >"$WORK/m1/small.bin"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push m "$WORK/m1" -m one
is_rc 0 "push m v1" || bail "push failed"
ID1=$(push_id)
BIG_ID=$(file_id m@v1 model.safetensors)
[ -n "$BIG_ID" ] || bail "no file id for model.safetensors"

W=$("$MVMS" token create --scope write 2>/dev/null) || bail "token"
AW="Authorization: Bearer $W"
JSON='Content-Type: application/json'
srv_start srv --threads 2 --no-access-log

req GET "$URL/v1/objects/manifests/$ID1" -H "$AW"
is_code 200 "GET v1's manifest" || bail "no manifest"
cp "$WORK/body" "$WORK/manifest"
req GET "$URL/v1/objects/files/$BIG_ID" -H "$AW"
is_code 200 "GET model.safetensors's chunk list" || bail "no chunk list"
cp "$WORK/body" "$WORK/filemap"

# state: everything a commit could change (rows through stats, refs, versions, objects)
state() {
	{
		"$MVMS" stats --json
		"$MVMS" branches m
		"$MVMS" tags m
		"$MVMS" log m
		find "$MVMS_STORE/objects" -type f ! -path '*/tmp/*' | sort
	} 2>&1
}

# commit CASE: POST the body commitbody.py builds for CASE, on branch c-CASE
commit() {
	"$PY" "$TESTS_SRCDIR/cli/commitbody.py" "$1" "$WORK/manifest" "$WORK/filemap" "c-$1" \
		>"$WORK/c-$1.json" || bail "commitbody.py $1"
	req POST "$URL/v1/models/m/versions" -H "$AW" -H "$JSON" --data-binary "@$WORK/c-$1.json"
}

# refused CASE WHAT DESC: a JSON 400 invalid_manifest whose message has WHAT, and no change
refused() {
	state >"$WORK/before"
	commit "$1"
	is_code 400 "$3: HTTP 400"
	like "$BODY" '{"error":{"code":"invalid_manifest","message":"' "$3: JSON error invalid_manifest"
	like "$BODY" "$2" "$3: the message says '$2'"
	diag "$BODY"
	state >"$WORK/after"
	if cmp -s "$WORK/before" "$WORK/after"; then
		ok "$3: the store is unchanged"
	else
		not_ok "$3: the store is unchanged"
		diff "$WORK/before" "$WORK/after" | head -n 10 | sed 's/^/# /'
	fi
}

refused size "declared size" "a file declared 123456 bytes longer than its content"
refused small "123456" "a manifest size of 123456 over 8000 bytes of content"
refused lens "chunk" "chunk lengths that add up but are not the chunks' lengths"
refused sum "add up" "a chunk list whose lengths do not sum to the file size"
refused dirfile "'a'" "both 'a' and 'a/b' as files"
refused partial "zz-ghost.bin" "a valid new file, then a bad one: nothing of the first is kept"
refused chunk "not" "a chunk the server does not have"
refused fileid "not sent" "a chunk list sent under another file id"

commit ok
is_code 201 "the control: a good commit built the same way is 201"
like "$BODY" '"version":2' "it made m@v2"

# A one-request upload that makes 'x.txt' a directory of the head's file 'x.txt'.
printf 'x\n' >"$WORK/x.txt"
req PUT "$URL/v1/models/up/upload?path=x.txt" -H "$AW" -T "$WORK/x.txt"
is_code 201 "upload x.txt"
state >"$WORK/before"
head -c 100000 /dev/urandom >"$WORK/y.bin"
req PUT "$URL/v1/models/up/upload?path=x.txt/y.bin" -H "$AW" -T "$WORK/y.bin"
is_code 400 "uploading x.txt/y.bin next to the file x.txt: 400"
like "$BODY" "'x.txt'" "the message names the path"
state >"$WORK/after"
check "and nothing changed (no pack of y.bin either)" cmp -s "$WORK/before" "$WORK/after"

mvms verify
is_rc 0 "verify is clean"
mvms pull m@c-ok -o "$WORK/pulled"
is_rc 0 "the good commit pulls"
check "byte-identical" same_tree "$WORK/m1" "$WORK/pulled"

done_testing
