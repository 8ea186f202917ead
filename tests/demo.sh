#!/bin/sh
# The README's main job: a local store (a directory plus SQLite), a generated sample model
# pushed twice (the second with some tensors changed), version 1 pulled back, log and stats.
set -e
MVMS=${MVMS:-./mvms-store}
MKMODEL=${MKMODEL:-./tests/mkmodel}
rm -rf demo
mkdir demo
MVMS_STORE=$(pwd)/demo/store
export MVMS_STORE
echo "== store: $MVMS_STORE"
$MVMS init
$MKMODEL --size 64M --tensors 24 --extras demo/model-v1
$MKMODEL --size 64M --tensors 24 --change 10 --extras demo/model-v2
echo "== push v1 and v2"
$MVMS push demo-model demo/model-v1 -m "first training run" --meta lr=3e-4
$MVMS push demo-model demo/model-v2 -m "continued training: 10% of tensors changed" --meta lr=1e-4
echo "== pull v1"
$MVMS pull demo-model@v1 -o demo/pulled-v1
diff -r demo/model-v1 demo/pulled-v1 && echo "v1 came back byte-identical"
echo "== log"
$MVMS log demo-model
echo "== stats"
$MVMS stats
