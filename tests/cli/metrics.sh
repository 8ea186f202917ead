#!/bin/sh
# SPDX-License-Identifier: MIT
# /metrics read by real Prometheus parsers: `promtool check metrics` (Debian's prometheus
# package) and python3's prometheus_client (python3-prometheus-client), on a server with two
# models, deployments in two environments and /predict traffic, so every family has samples.
# Each family's # HELP and # TYPE must sit directly above its own samples: when
# mvms_deployment_revision and mvms_deployment_weight were split (both headers, then the
# samples interleaved), prometheus_client read two empty gauges and an "unknown" family.
# Without the tools the test skips, except under CI=true (.ci/install-deps installs them),
# where a missing parser fails it.
. "$TESTS_SRCDIR/cli/lib.sh"

command -v curl >/dev/null 2>&1 || need "curl not installed"
[ -n "$UPSTREAM" ] && [ -x "$UPSTREAM" ] || need "UPSTREAM (tests/upstream) is not set or not built"
PROMTOOL=$(command -v promtool 2>/dev/null) || need "promtool not installed (Debian package prometheus)"
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	need "python3's prometheus_client not installed (Debian package python3-prometheus-client)"

setup
. "$TESTS_SRCDIR/cli/srv.sh"

mvms init
is_rc 0 "init" || bail "cannot create a store"
mkdir -p "$WORK/tree"
for v in v1 v2; do
	printf 'weights of %s\n' "$v" >"$WORK/tree/model.bin"
	mvms push m "$WORK/tree" -m "$v"
	is_rc 0 "push m $v" || bail "push failed"
	mvms push team/n "$WORK/tree" -m "$v"
	is_rc 0 "push team/n $v" || bail "push failed"
done
srv_start srv --threads 2 --no-access-log --allow-anonymous-read
upstream v1
mvms deploy m@v1 prod --endpoint "$UP_URL"
mvms deploy m@v2 prod --weight 10 --endpoint "$UP_URL"
mvms deploy m@v2 staging
mvms deploy team/n@v1 prod --endpoint "$UP_URL"
is_rc 0 "deployments: m prod (v1 + v2), m staging, team/n prod"
req POST "$URL/predict/m/prod" -d x
is_code 200 "a prediction, so the predict families have samples"
req POST "$URL/predict/team%2Fn/prod" -d x
is_code 200 "and one for team/n"

req GET "$URL/metrics"
is_code 200 "GET /metrics"
cp "$WORK/body" "$WORK/metrics.txt"

# ---- promtool ----
run "$PROMTOOL" check metrics <"$WORK/metrics.txt"
is_rc 0 "promtool check metrics accepts the page"
[ "$RC" = 0 ] || diag "promtool: $OUT $ERR"

# ---- prometheus_client: every family typed, with its own samples ----
cat >"$WORK/parse.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
for f in fams:
    print("%s %s %d" % (f.name, f.type, len(f.samples)))
EOF
run "$PY" "$WORK/parse.py" "$WORK/metrics.txt"
is_rc 0 "prometheus_client parses the page"
cp "$WORK/out" "$WORK/families"
unlike "$(cat "$WORK/families")" " unknown " "no family of type unknown"
# fam NAME: "TYPE SAMPLES" of family NAME as prometheus_client read it ("" when absent)
fam() {
	awk -v n="$1" '$1 == n { print $2, $3 }' "$WORK/families"
}
is "$(fam mvms_deployment_revision)" "gauge 3" "mvms_deployment_revision: a gauge with its 3 samples"
is "$(fam mvms_deployment_weight)" "gauge 4" "mvms_deployment_weight: a gauge with its 4 samples"
is "$(fam mvms_predict_requests)" "counter 2" "mvms_predict_requests_total: a counter, 2 samples"
like "$(fam mvms_predict_duration_seconds)" "histogram " "mvms_predict_duration_seconds: a histogram"
like "$(fam mvms_http_requests)" "counter " "mvms_http_requests_total: a counter"
is "$(fam mvms_store_models)" "gauge 1" "mvms_store_models: a gauge"
# a family with no samples is a header away from its samples
empty=$(awk '$3 == 0 { print $1 }' "$WORK/families" | tr '\n' ' ')
is "$empty" "" "no family without samples"
# the same, read off the text: each sample follows its own family's TYPE line
run awk '
	/^# TYPE / { fam = $3; next }
	/^#/ || NF == 0 { next }
	{ name = $0; sub(/[{ ].*/, "", name)
	  if (name != fam && name != fam "_bucket" && name != fam "_sum" && name != fam "_count")
		print "sample " name " under # TYPE " fam }' "$WORK/metrics.txt"
is "$OUT" "" "every sample sits under its own family's # TYPE"

done_testing
