#!/bin/sh
# SPDX-License-Identifier: MIT
# The real Hugging Face JavaScript client, @huggingface/hub from npm (tests/hf/package.json,
# installed by .ci/install-deps with `npm ci`), against `serve`: tests/hf/client.mjs calls
# modelInfo, listFiles, fileDownloadInfo and downloadFile with hubUrl set to a server here,
# for a branch, a tag and a version id, with an hf_ token and anonymously (a second server
# with --allow-anonymous-read), and compares every download with the bytes pushed. Then
# transformers.js (@huggingface/transformers) loads a tiny ONNX model made here
# (tests/hf/mktiny.mjs) from the store with env.remoteHost and runs it (transformers.mjs).
# Skips when node or tests/hf/node_modules is not installed, except under CI=true in a git
# checkout (lib.sh's need).
. "$TESTS_SRCDIR/cli/lib.sh"
setup
. "$TESTS_SRCDIR/cli/srv.sh"

HF=$TESTS_SRCDIR/hf
command -v node >/dev/null 2>&1 || need "node is not installed (.ci/install-deps installs it)"
[ -f "$HF/node_modules/@huggingface/hub/package.json" ] ||
	need "tests/hf/node_modules is not installed (run npm ci in tests/hf, as .ci/install-deps does)"

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
    {"label": "branch", "revision": "main", "sha": "$V2", "files": $(files "$WORK/m2"),
     "commits": [["$V2", "two"], ["$V1", "one"]]},
    {"label": "tag", "revision": "release", "sha": "$V1", "files": $(files "$WORK/m1"),
     "commits": [["$V1", "one"]]},
    {"label": "id", "revision": "$V1", "sha": "$V1", "files": $(files "$WORK/m1"),
     "commits": [["$V1", "one"]]}
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

# ---- transformers.js: a tiny model made here, loaded through env.remoteHost and run ----
if [ -f "$HF/node_modules/@huggingface/transformers/package.json" ]; then
	run node "$HF/mktiny.mjs" "$WORK/tiny"
	is_rc 0 "mktiny.mjs wrote a tiny ONNX model, its config and tokenizer"
	mvms push org/tiny "$WORK/tiny" -q
	is_rc 0 "push org/tiny"
	TINY=$(push_id)
	mvms tag org/tiny@v1 onnx-1
	: >"$WORK/tjs.out"
	for args in "$U2 - main" "$U1 hf_$TOK onnx-1" "$U1 $TOK $TINY"; do
		set -- $args
		run node "$HF/transformers.mjs" "$1" "$2" org/tiny "$3" "$WORK/tjs-cache-$3"
		[ "$RC" = 0 ] || not_ok "transformers.mjs $3 exited $RC: $(printf '%s\n' "$ERR" | tail -n 5)"
		cat "$WORK/out" >>"$WORK/tjs.out"
	done
	N=0
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "transformers.js ${line#PASS }"; N=$((N + 1)) ;;
		"FAIL "*) not_ok "transformers.js ${line#FAIL }"; N=$((N + 1)) ;;
		esac
	done <"$WORK/tjs.out"
	is "$N" 12 "transformers.js made its 4 checks for each of 3 revisions"
else
	skip "@huggingface/transformers is not in tests/hf/node_modules (npm ci there installs it)"
fi

done_testing
