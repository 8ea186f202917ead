#!/bin/sh
# SPDX-License-Identifier: MIT
# Finding 2 of issue 10, tried as an attacker would: team/y is pushed with --parent alpha@v1,
# and a token scoped --model 'team/*' walks from team/y's lineage to alpha's manifest, chunk
# lists and chunks. None of alpha's versions, messages or metadata show (a redacted stub with
# the id is all), every read by hash of alpha's objects answers 404 exactly as a missing
# object, so alpha's weights do not rebuild; a 'team/*' write token cannot commit team/z with
# a parent in alpha (403, nothing committed). The scoped tokens still pull (streamed and from a
# warm cache) and push their own models byte for byte. The same reads with a '*' token work,
# so the refusals are the tokens', not bad ids.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

command -v curl >/dev/null 2>&1 || skip_all "curl not installed"

mvms init -q
is_rc 0 "init"
mkmodel -q --size 2M --tensors 8 "$WORK/a1"
printf 'alpha private notes\n' >"$WORK/a1/notes.txt"
# team/y: a fine-tune of alpha (70% of the tensors the same, so chunks are shared)
mkmodel -q --size 2M --tensors 8 --change 30 "$WORK/y1"
mkmodel -q --size 2M --tensors 8 --change 30 --change-seed 9 "$WORK/y2"
mvms push alpha "$WORK/a1" -m "alpha secret message" --meta owner=alpha-secret-team
is_rc 0 "push alpha"
mvms push team/y "$WORK/y1" --parent alpha@v1 -m "team y fine-tune"
is_rc 0 "push team/y --parent alpha@v1"
mvms show --json alpha@v1
AID=$(json_get id)
[ ${#AID} -eq 64 ] || bail "no id for alpha@v1"
mvms show --json team/y@v1
YID=$(json_get id)
token() {
	"$MVMS" token create "$@" 2>"$WORK/token.err" || bail "token create $*: $(cat "$WORK/token.err")"
}
RT=$(token --scope read --model 'team/*')
WT=$(token --scope write --model 'team/*')
RS=$(token --scope read)
srv_start srv --threads 2 --no-access-log
ART="Authorization: Bearer $RT"
AWT="Authorization: Bearer $WT"
ARS="Authorization: Bearer $RS"

# secrets: none of alpha's may reach a team/* token
no_alpha() {
	unlike "$BODY" '"model":"alpha"' "$1: no alpha model"
	unlike "$BODY" "alpha secret message" "$1: no alpha message"
	unlike "$BODY" "alpha-secret-team" "$1: no alpha metadata"
}

# ---- 1. team/y's lineage, log and manifest show alpha as a stub ----
req GET "$URL/v1/models/team%2Fy/versions/v1/lineage" -H "$ART"
is_code 200 "team/* token: GET team/y@v1's lineage"
no_alpha "lineage"
like "$BODY" "{\"id\":\"$AID\",\"depth\":1,\"redacted\":true}" \
	"alpha@v1 is a redacted stub with its id only (the id is in team/y's manifest anyway)"
like "$BODY" "\"parent\":\"$AID\"" "the edge to it stays"
for f in text dot mermaid; do
	req GET "$URL/v1/models/team%2Fy/versions/v1/lineage?format=$f&direction=both" -H "$ART"
	is_code 200 "lineage ?format=$f"
	unlike "$BODY" "alpha" "lineage ?format=$f names no alpha"
	like "$BODY" "(redacted)" "lineage ?format=$f shows the stub"
done
req GET "$URL/v1/models/team%2Fy/versions?branch=main" -H "$ART"
is_code 200 "team/y's log of main (it crosses into alpha)"
no_alpha "log --branch"
like "$BODY" "{\"id\":\"$AID\",\"redacted\":true}]" "alpha@v1 is listed as a stub, last"
is "$(jcount redacted)" 2 "and nothing else of alpha (the other stub is team/y@v1's parent)"
req GET "$URL/v1/models/team%2Fy/versions/v1" -H "$ART"
is_code 200 "team/y@v1 itself"
no_alpha "show"
like "$BODY" "\"parents\":[{\"id\":\"$AID\",\"redacted\":true}]" "its parent is a stub"
mvms --remote "$URL" --token "$RT" log team/y --branch main
is_rc 0 "log --remote --branch main with the team/* token"
like "$OUT" "(redacted)" "the CLI shows the stub"
unlike "$OUT" "alpha" "and no alpha"
req GET "$URL/v1/models/team%2Fy/versions/v1/lineage" -H "$ARS"
like "$BODY" "alpha secret message" "a '*' token sees alpha in the same lineage"
# two fine-tunes of alpha@v1 in team/: their merge base, alpha@v1, is a stub without its id
mvms push team/q "$WORK/y2" --parent alpha@v1 -m "team q"
is_rc 0 "push team/q --parent alpha@v1"
req GET "$URL/v1/models/team%2Fy/merge-base?a=v1&b=team/q@v1" -H "$ART"
is_code 200 "merge-base of team/y@v1 and team/q@v1 with the team/* token"
is "$BODY" '{"merge_bases":[{"redacted":true}]}' "it is alpha@v1: a stub without model, message or id"

# ---- 2. alpha's manifest by hash: 404, exactly as a missing one ----
FAKE=$(printf '%s' "$AID" | sed 's/.$/0/')
[ "$FAKE" != "$AID" ] || FAKE=$(printf '%s' "$AID" | sed 's/.$/1/')
req GET "$URL/v1/objects/manifests/$AID" -H "$ART"
is_code 404 "team/* token: GET alpha's manifest by id is 404"
GOT=$(printf '%s' "$BODY" | sed "s/$AID/ID/g")
req GET "$URL/v1/objects/manifests/$FAKE" -H "$ART"
is_code 404 "a manifest that does not exist is 404 too"
is "$(printf '%s' "$BODY" | sed "s/$FAKE/ID/g")" "$GOT" "and the two answers are the same, word for word"
req GET "$URL/v1/objects/manifests/$AID" -H "$ARS"
is_code 200 "a '*' token gets alpha's manifest (so the id is right)"
MANIFEST=$BODY

# ---- 3. alpha's chunk lists and chunks: refused, so the weights do not rebuild ----
# chunk_ids FILE: the chunk ids of a chunk list (32-byte header, 40 bytes a chunk)
chunk_ids() {
	tail -c +33 "$1" | od -An -v -tx1 | tr -d ' \n' | fold -w 80 | cut -c1-64
}
: >"$WORK/alpha-chunks"
FILES=0
REFUSED=0
for FID in $(printf '%s' "$MANIFEST" | grep -o '"id":"[0-9a-f]\{64\}"' | sed 's/.*:"//; s/"//'); do
	FILES=$((FILES + 1))
	req GET "$URL/v1/objects/files/$FID" -H "$ART"
	[ "$CODE" = 404 ] && REFUSED=$((REFUSED + 1))
	rm -f "$WORK/fm"
	curl -sf -o "$WORK/fm" -H "$ARS" "$URL/v1/objects/files/$FID" || bail "GET files/$FID with '*'"
	chunk_ids "$WORK/fm" >>"$WORK/alpha-chunks"
done
is "$FILES" 2 "alpha@v1 has 2 files"
is "$REFUSED" 2 "team/* token: both of alpha's chunk lists are 404"
mvms show --json team/y@v1
for FID in $(grep -o '"id":[[:space:]]*"[0-9a-f]\{64\}"' "$WORK/out" | sed 's/.*"\([0-9a-f]\{64\}\)"/\1/'); do
	rm -f "$WORK/fm"
	# the version's own id matches too: it is no chunk list (404), skipped
	curl -sf -o "$WORK/fm" -H "$ARS" "$URL/v1/objects/files/$FID" && chunk_ids "$WORK/fm"
done | sort -u >"$WORK/y-chunks"
sort -u "$WORK/alpha-chunks" >"$WORK/a-sorted"
comm -23 "$WORK/a-sorted" "$WORK/y-chunks" >"$WORK/alpha-only"
comm -12 "$WORK/a-sorted" "$WORK/y-chunks" >"$WORK/shared"
NA=$(wc -l <"$WORK/alpha-only" | tr -d ' ')
NS=$(wc -l <"$WORK/shared" | tr -d ' ')
num_gt "$NA" 0 "alpha has chunks of its own ($NA)"
num_gt "$NS" 0 "and chunks it shares with team/y ($NS)"
OK=0
NO=0
while read -r C; do
	req POST "$URL/v1/chunks" -H "$ART" -H 'Content-Type: application/json' -d "{\"ids\":[\"$C\"]}"
	if [ "$CODE" = 404 ]; then NO=$((NO + 1)); else OK=$((OK + 1)); fi
done <"$WORK/alpha-only"
is "$NO/$OK" "$NA/0" "team/* token: every one of alpha's own chunks is 404: its weights do not rebuild"
req POST "$URL/v1/chunks" -H "$ART" -H 'Content-Type: application/json' \
	-d "{\"ids\":[\"$(head -n 1 "$WORK/shared")\",\"$(head -n 1 "$WORK/alpha-only")\"]}"
is_code 404 "a fetch mixing a shared chunk with one of alpha's own is 404 as a whole"
req POST "$URL/v1/chunks" -H "$ART" -H 'Content-Type: application/json' \
	-d "{\"ids\":[\"$(head -n 1 "$WORK/shared")\"]}"
is_code 200 "a chunk team/y holds too is team/y's to read"
req POST "$URL/v1/chunks" -H "$ARS" -H 'Content-Type: application/json' \
	-d "{\"ids\":[\"$(head -n 1 "$WORK/alpha-only")\"]}"
is_code 200 "a '*' token gets that chunk (so the id is right)"
mvms --remote "$URL" --token "$RT" pull alpha@v1 -o "$WORK/stolen"
is_rc 1 "pull --remote alpha@v1 with the team/* token fails"
like "$ERR" "HTTP 403" "with 403"
check "and wrote nothing" test ! -e "$WORK/stolen/model.safetensors"

# ---- 4. a team/* writer cannot build on alpha ----
XDG_CACHE_HOME=$WORK/cache-w
export XDG_CACHE_HOME
mvms --remote "$URL" --token "$WT" push team/z "$WORK/y1" --parent alpha@v1
is_rc 1 "push --remote team/z --parent alpha@v1 with the team/* write token fails"
req GET "$URL/v1/models/team%2Fz" -H "$AWT"
UIDZ=$(jstr uid)
if [ -z "$UIDZ" ]; then
	req POST "$URL/v1/models" -H "$AWT" -H 'Content-Type: application/json' -d '{"name":"team/z"}'
	is_code 201 "team/z can be registered by the team/* token"
	UIDZ=$(jstr uid)
fi
# commit_z PARENT: a commit of an empty team/z version on main whose parent is PARENT
commit_z() {
	_m="{\\\"format\\\":1,\\\"model\\\":{\\\"uid\\\":\\\"$UIDZ\\\",\\\"name\\\":\\\"team/z\\\"},"
	_m="$_m\\\"parents\\\":[\\\"$1\\\"],\\\"author\\\":\\\"x\\\",\\\"time\\\":1700000000,"
	_m="$_m\\\"message\\\":\\\"z\\\",\\\"meta\\\":{},\\\"files\\\":[]}\\n"
	req POST "$URL/v1/models/team%2Fz/versions" -H "$AWT" -H 'Content-Type: application/json' \
		-d "{\"manifest\":\"$_m\",\"filemaps\":{},\"branch\":\"main\",\"expected_head\":\"\"}"
}
commit_z "$AID"
is_code 403 "a commit of team/z whose parent is alpha@v1 (named by id) is 403"
like "$BODY" '"code":"forbidden"' "code forbidden"
like "$BODY" "nothing was committed" "and says nothing was committed"
req GET "$URL/v1/models/team%2Fz/versions" -H "$AWT"
is "$(jcount id)" 0 "team/z has no version"
commit_z "$FAKE"
is_code 403 "a parent that does not exist is refused the same way (existence does not show)"
commit_z "$YID"
is_code 201 "the same commit on team/y@v1 (covered) is accepted"

# ---- 5. the scoped tokens still work on their own models ----
XDG_CACHE_HOME=$WORK/cache-r
mvms --remote "$URL" --token "$RT" pull team/y@v1 -o "$WORK/p1"
is_rc 0 "team/* token: pull --remote team/y@v1 (fresh cache: streamed)"
check "team/y@v1 came back byte-identical" same_tree "$WORK/y1" "$WORK/p1"
XDG_CACHE_HOME=$WORK/cache-w
mvms --remote "$URL" --token "$WT" push team/y "$WORK/y2" -m "v2"
is_rc 0 "team/* write token: push --remote team/y v2"
# chunk_fetches: POST /v1/chunks answered 200 so far (/metrics)
chunk_fetches() {
	curl -s -H "$ARS" "$URL/metrics" |
		sed -n 's/^mvms_http_requests_total{route="\/v1\/chunks",method="POST",status="200"} //p'
}
F0=$(chunk_fetches)
XDG_CACHE_HOME=$WORK/cache-r
mvms --remote "$URL" --token "$RT" pull team/y@v2 -o "$WORK/p2"
is_rc 0 "team/* token: pull --remote team/y@v2 (warm cache: chunks fetched by id)"
check "team/y@v2 came back byte-identical" same_tree "$WORK/y2" "$WORK/p2"
num_gt "$(chunk_fetches)" "$F0" "that pull fetched chunks by id (POST /v1/chunks)"

done_testing
