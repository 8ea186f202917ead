#!/bin/sh
# SPDX-License-Identifier: MIT
# The real Hugging Face JavaScript client, @huggingface/hub from npm (tests/hf/package.json,
# installed by .ci/install-deps with `npm ci`), against `serve`: tests/hf/client.mjs calls
# modelInfo, listFiles, fileDownloadInfo and downloadFile with hubUrl set to a server here,
# for a branch, a tag and a version id, with an hf_ token and anonymously (a second server
# with --allow-anonymous-read), and compares every download with the bytes pushed. Skips
# only when node or tests/hf/node_modules is not installed.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

HF=$TESTS_SRCDIR/hf
command -v node >/dev/null 2>&1 || skip_all "node is not installed (.ci/install-deps installs it)"
[ -f "$HF/node_modules/@huggingface/hub/package.json" ] ||
	skip_all "tests/hf/node_modules is not installed (run npm ci in tests/hf, as .ci/install-deps does)"

mvms init -q
is_rc 0 "init"
mkmodel -q --size 2M --tensors 4 --extras "$WORK/m1"
mvms push org/net "$WORK/m1" -m one -q
is_rc 0 "push v1"
V1=$(push_id)
mvms tag org/net@v1 release
mkmodel -q --size 2M --tensors 4 --extras --change 50 "$WORK/m2"
mvms push org/net "$WORK/m2" -m two -q
is_rc 0 "push v2"
V2=$(push_id)
mvms token create --scope read --model 'org/*'
TOK=$OUT
mvms token create --scope read --model 'other/*'
OTHER=$OUT

srv_start hf
U1=$URL
srv_start anon --allow-anonymous-read
U2=$URL

# files REV_DIR: the JSON object of each pushed file's path and local copy
files() {
	printf '{'
	_sep=
	for _p in config.json model.safetensors sub/readme.txt tokenizer.json; do
		printf '%s"%s":"%s"' "$_sep" "$_p" "$1/$_p"
		_sep=,
	done
	printf '}'
}
cat >"$WORK/spec.json" <<JSON
{
  "model": "org/net",
  "servers": [
    {"label": "hf_ token", "url": "$U1", "accessToken": "hf_$TOK"},
    {"label": "anonymous", "url": "$U2", "anonymous": true}
  ],
  "revisions": [
    {"label": "branch", "revision": "main", "sha": "$V2", "files": $(files "$WORK/m2")},
    {"label": "tag", "revision": "release", "sha": "$V1", "files": $(files "$WORK/m1")},
    {"label": "id", "revision": "$V1", "sha": "$V1", "files": $(files "$WORK/m1")}
  ],
  "otherToken": "hf_$OTHER",
  "plainToken": "$TOK"
}
JSON

run node "$HF/client.mjs" "$WORK/spec.json"
is_rc 0 "node client.mjs ran to its end"
[ "$RC" = 0 ] || diag "$(printf '%s\n' "$ERR" | tail -n 20)"
N=0
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "${line#PASS }"; N=$((N + 1)) ;;
	"FAIL "*) not_ok "${line#FAIL }"; N=$((N + 1)) ;;
	esac
done <"$WORK/out"
num_ge "$N" 60 "the client made all its checks ($N)"

done_testing
