#!/bin/sh
# SPDX-License-Identifier: MIT
# GGUF and ONNX models (tests/cli/tfmodels.py writes them): show lists their tensors (an ONNX
# model's external data file too); a v2 that changes one tensor of each file stores exactly
# those tensors' bytes new (chunks are cut at tensor boundaries) and diff --tensors names
# exactly them; pulls are byte-identical; malformed files are plain bytes; files changed on
# both sides in different tensors merge tensor by tensor, the same tensor is a conflict, a
# changed header a whole-file conflict; a store written before these formats were known
# still pulls byte-identical; the same through a server.
. "$TESTS_SRCDIR/cli/lib.sh"
setup
find_py
[ -n "$PY" ] || skip_all "python3 not installed"
GEN=$TESTS_SRCDIR/cli/tfmodels.py
CHANGE=blk.0.ffn_up.weight,fc.weight,layer2.weight

gen() { # gen DIR [--small] [--change NAMES]: model.gguf and onnx/model.onnx{,.data}
	_d=$1
	shift
	mkdir -p "$_d/onnx" || bail "mkdir $_d"
	"$PY" "$GEN" gguf "$_d/model.gguf" "$@" >"$_d.gguf.lst" || bail "tfmodels.py gguf"
	"$PY" "$GEN" onnx "$_d/onnx" "$@" >"$_d.onnx.lst" || bail "tfmodels.py onnx"
	printf '{"arch": "test"}\n' >"$_d/config.json"
}
gen "$WORK/v1"
gen "$WORK/v2" --change "$CHANGE"
# Bytes of the three changed tensors, from the writer's listing (name dtype offset length).
CHANGED=$(cat "$WORK/v1.gguf.lst" "$WORK/v1.onnx.lst" |
	awk -v names=",$CHANGE," 'index(names, "," $1 ",") { s += $4 } END { print s + 0 }')
[ "$CHANGED" -gt 0 ] || bail "no changed bytes in the listing"
diag "the three changed tensors hold $CHANGED bytes"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mvms push --json m "$WORK/v1"
is_rc 0 "push v1 (GGUF, ONNX with external data, a JSON file)"
is "$(json_get tensors)" 16 "push counts 16 tensors (8 GGUF, 4 in the ONNX model, 4 in its data file)"
mvms show m@v1
is_rc 0 "show m@v1"
like "$OUT" "model.gguf  [gguf, 8 tensors]" "show: the GGUF file and its 8 tensors"
like "$OUT" "onnx/model.onnx  [onnx, 4 tensors]" "show: the ONNX model and its 4 raw tensors"
like "$OUT" "onnx/model.onnx.data  [onnx-data, 4 tensors]" "show: the external data file and its 4 tensors"
unlike "$OUT" "config.json  [" "show: the JSON file has no format"
mvms ls m@v1 -t
is_rc 0 "ls -t m@v1"
like "$OUT" "blk.0.attn_q.weight" "ls -t: a GGUF tensor"
like "$OUT" "Q4_K  [1024,200]" "ls -t: its ggml type and dims"
like "$OUT" "fc.bias" "ls -t: a tensor of the ONNX model"
like "$OUT" "layer3.weight" "ls -t: a tensor of the external data file"

mvms push --json m "$WORK/v2"
is_rc 0 "push v2 (one tensor changed in each tensor file)"
NEW=$(json_get new_raw_bytes)
diag "v2 new_raw_bytes $NEW"
num_ge "$NEW" "$CHANGED" "v2 stores the changed tensors ($NEW >= $CHANGED bytes)"
num_le "$NEW" "$((CHANGED + 4096))" "v2 stores nothing else: chunks end at tensor boundaries ($NEW <= $CHANGED + 4096)"

mvms diff m@v1 m@v2 --tensors
is_rc 0 "diff --tensors"
TL=$(printf '%s\n' "$OUT" | grep '^       [AMDS]  ')
is "$(printf '%s\n' "$TL" | wc -l | tr -d ' ')" 3 "diff --tensors lists exactly three tensors"
like "$TL" "M  blk.0.ffn_up.weight  BF16[512,160]" "diff: the GGUF tensor, its ggml type and dims"
like "$TL" "M  fc.weight  FLOAT16[256,256]" "diff: the ONNX model's tensor"
like "$TL" "M  layer2.weight  FLOAT16[256,256]" "diff: the external data file's tensor"
like "$OUT" "model.gguf: 1 of 8 tensors changed" "diff: 1 of 8 GGUF tensors changed"
like "$OUT" "onnx/model.onnx.data: 1 of 4 tensors changed" "diff: 1 of 4 external tensors changed"
mvms diff --json m@v1 m@v2 --tensors
cp "$WORK/out" "$WORK/diff.json"
jq_is "$WORK/diff.json" \
	"sorted(t['name'] for f in d['files'] for t in f.get('tensors', {}).get('list', []))" \
	"['blk.0.ffn_up.weight', 'fc.weight', 'layer2.weight']" "diff --json: the same three tensors"

for v in 1 2; do
	mvms pull "m@v$v" -o "$WORK/p$v"
	is_rc 0 "pull m@v$v"
	check "m@v$v pulls byte-identical" diff -r "$WORK/v$v" "$WORK/p$v"
done
mvms verify
is_rc 0 "verify"

# Malformed files are plain bytes: a GGUF cut short, junk named .onnx, a model whose
# external data points past its side file.
mkdir -p "$WORK/bad"
head -c 100000 "$WORK/v1/model.gguf" >"$WORK/bad/cut.gguf"
head -c 5000 /dev/urandom >"$WORK/bad/junk.onnx"
mkdir -p "$WORK/bad/o"
cp "$WORK/v1/onnx/model.onnx" "$WORK/bad/o/"
head -c 1000 "$WORK/v1/onnx/model.onnx.data" >"$WORK/bad/o/model.onnx.data"
mvms push bad "$WORK/bad"
is_rc 0 "push malformed tensor files"
mvms show bad@v1
like "$OUT" "cut.gguf" "the cut GGUF is stored"
unlike "$OUT" "cut.gguf  [" "a GGUF cut short is plain bytes"
unlike "$OUT" "junk.onnx  [" "junk named .onnx is plain bytes"
like "$OUT" "o/model.onnx  [onnx, 4 tensors]" "the ONNX model still has its own tensors"
unlike "$OUT" "model.onnx.data  [" "a data file too short for its tensors is plain bytes"
mvms pull bad@v1 -o "$WORK/pbad"
check "malformed files pull byte-identical" diff -r "$WORK/bad" "$WORK/pbad"

# Both sides change different tensors of each file: merged tensor by tensor (same layout),
# the result is the file that has both changes.
gen "$WORK/b1" --change output.weight,conv1.bias,layer1.weight
gen "$WORK/b2" --change token_embd.weight,fc.weight,layer3.weight
gen "$WORK/b12" --change output.weight,conv1.bias,layer1.weight,token_embd.weight,fc.weight,layer3.weight
mvms branch m exp m@v1
mvms push m "$WORK/b1" --branch exp
is_rc 0 "push on branch exp"
mvms branch m main2 m@v1
mvms push m "$WORK/b2" --branch main2
is_rc 0 "push on branch main2"
mvms merge m exp --into main2
is_rc 0 "merge exp into main2: different tensors changed in each file"
like "$OUT$ERR" "tensor by tensor" "the merge says files were merged tensor by tensor"
mvms pull m@main2 -o "$WORK/pm"
is_rc 0 "pull the merge"
check "the merged GGUF has both sides' tensors" cmp "$WORK/b12/model.gguf" "$WORK/pm/model.gguf"
check "the merged ONNX model has both sides' tensors" cmp "$WORK/b12/onnx/model.onnx" "$WORK/pm/onnx/model.onnx"
check "the merged ONNX data file has both sides' tensors" \
	cmp "$WORK/b12/onnx/model.onnx.data" "$WORK/pm/onnx/model.onnx.data"
mvms verify
is_rc 0 "verify after the merge"

# The same tensor changed differently on both sides: a tensor conflict; --theirs takes it.
gen "$WORK/c1" --change blk.0.attn_k.weight --salt one
gen "$WORK/c2" --change blk.0.attn_k.weight --salt two
mvms branch m c1 m@v1
mvms push m "$WORK/c1" --branch c1
mvms branch m c2 m@v1
mvms push m "$WORK/c2" --branch c2
mvms merge m c1 --into c2
is_rc 4 "merge: one GGUF tensor changed differently on both sides"
like "$OUT$ERR" "blk.0.attn_k.weight" "the conflict names the tensor"
mvms merge m c1 --into c2 --theirs
is_rc 0 "merge --theirs"
mvms pull m@c2 -o "$WORK/pc"
check "--theirs takes the source's tensor" cmp "$WORK/c1/model.gguf" "$WORK/pc/model.gguf"

# A layout that differs (GGUF metadata changed on one side): merged as a whole file.
gen "$WORK/d1" --change output.weight --arch gpt2x
gen "$WORK/d2" --change token_embd.weight
mvms branch m d1 m@v1
mvms push m "$WORK/d1" --branch d1
mvms branch m d2 m@v1
mvms push m "$WORK/d2" --branch d2
mvms merge m d1 --into d2
is_rc 4 "merge: GGUF metadata changed on one side, tensors on both"
like "$OUT$ERR" "both-modified" "a whole-file conflict"
like "$OUT$ERR" "model.gguf" "the conflict names model.gguf"

# A store written before GGUF and ONNX were known (tests/data/tformats-old-store.tar.gz:
# m@v1 and m@v2 of the small models, pushed by the code of the commit before this one).
mkdir -p "$WORK/old" && tar -xzf "$TESTS_SRCDIR/data/tformats-old-store.tar.gz" -C "$WORK/old" ||
	bail "cannot unpack the old store"
gen "$WORK/s1" --small
gen "$WORK/s2" --small --change output.weight,layer1.weight
rm -f "$WORK/s1/config.json" "$WORK/s2/config.json"
for v in 1 2; do
	run "$MVMS" --store "$WORK/old/store" pull "m@v$v" -o "$WORK/op$v"
	is_rc 0 "old store: pull m@v$v"
	check "old store: m@v$v is byte-identical" diff -r "$WORK/s$v" "$WORK/op$v"
done
run "$MVMS" --store "$WORK/old/store" verify
is_rc 0 "old store: verify"
run "$MVMS" --store "$WORK/old/store" push m "$WORK/s2"
is_rc 0 "old store: push v2's files again"
run "$MVMS" --store "$WORK/old/store" show m@v3
like "$OUT" "model.gguf  [gguf, 8 tensors]" "old store: the new push records the GGUF tensors"
like "$OUT" "onnx/model.onnx.data  [onnx-data, 4 tensors]" "old store: and the external ones"

# Through a server: the server reads the tensors from the stored chunks itself.
. "$TESTS_SRCDIR/cli/srv.sh"
"$MVMS" --store "$WORK/server" init -q >/dev/null 2>&1 || bail "init the server's store"
W=$("$MVMS" --store "$WORK/server" token create --scope write 2>/dev/null) || bail "token"
SRV_STORE=$WORK/server
srv_start srv --threads 2 --no-access-log
XDG_CACHE_HOME=$WORK/cache
export XDG_CACHE_HOME
for v in 1 2; do
	run "$MVMS" --remote "$URL" --token "$W" push m "$WORK/v$v"
	is_rc 0 "remote push of v$v"
done
run "$MVMS" --store "$WORK/server" show m@v1
like "$OUT" "model.gguf  [gguf, 8 tensors]" "server: the GGUF tensors"
like "$OUT" "onnx/model.onnx  [onnx, 4 tensors]" "server: the ONNX model's tensors"
like "$OUT" "onnx/model.onnx.data  [onnx-data, 4 tensors]" "server: the external data file's tensors"
run "$MVMS" --remote "$URL" --token "$W" diff m@v1 m@v2 --tensors
is_rc 0 "remote diff --tensors"
TL=$(printf '%s\n' "$OUT" | grep '^       [AMDS]  ')
is "$(printf '%s\n' "$TL" | wc -l | tr -d ' ')" 3 "remote diff --tensors lists exactly three tensors"
like "$TL" "M  layer2.weight  FLOAT16[256,256]" "remote diff: the external data file's tensor"
run "$MVMS" --remote "$URL" --token "$W" pull m@v2 -o "$WORK/rp2"
is_rc 0 "remote pull of v2"
check "remote pull is byte-identical" diff -r "$WORK/v2" "$WORK/rp2"

# A one-request upload of only the data file: the model the server has says where to cut it.
gen "$WORK/v3" --change "$CHANGE,layer3.weight"
req PUT "$URL/v1/models/m/upload?path=onnx/model.onnx.data&message=new+weights" \
	-H "Authorization: Bearer $W" -T "$WORK/v3/onnx/model.onnx.data"
is_code 201 "curl upload of the ONNX data file alone"
run "$MVMS" --store "$WORK/server" show m@v3
like "$OUT" "onnx/model.onnx.data  [onnx-data, 4 tensors]" "the uploaded data file is cut at the stored model's tensors"
run "$MVMS" --store "$WORK/server" diff m@v2 m@v3 --tensors
TL=$(printf '%s\n' "$OUT" | grep '^       [AMDS]  ')
is "$TL" "       M  layer3.weight  BFLOAT16[300,200]" "diff names the one changed external tensor"

done_testing
