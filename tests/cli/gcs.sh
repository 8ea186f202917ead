#!/bin/sh
# SPDX-License-Identifier: MIT
# The gs:// (Google Cloud Storage XML API) backend, two ways (issue 5):
#
# 1. OAuth bearer token against tests/s3/gcsrecorder.py, a local in-memory object store
#    that records every request and accepts only "Authorization: Bearer ya29.test-token":
#    the exact request shape (bearer header, no SigV4 headers, path-style and
#    virtual-host URLs under the prefix, multipart, ranged GETs, LIST pagination in gc), the
#    endpoint variables (STORAGE_EMULATOR_HOST, MVMS_GCS_ENDPOINT first), a round trip,
#    and a wrong token -> an auth error naming the bucket, without the token.
# 2. HMAC keys (GOOGLE_HMAC_ACCESS_ID / GOOGLE_HMAC_SECRET, the AWS_* variables unset)
#    against OpenStack Swift + s3api (tests/s3/swift.sh), which checks SigV4 strictly.
#    GCS signs with region "auto"; Swift's s3api refuses a scope other than its
#    `location`, so the round trip runs against a second Swift proxy on the same
#    storage, configured with `location = auto` (the "GCS stand-in"), and the stock proxy
#    (location us-east-1) is tried too: issue 5 asks for gs:// pointed at the local S3
#    servers.
#
# MVMS_TEST_S3=0 skips it all. When Swift cannot be installed or started, part 2 is
# skipped, unless CI=true: then the script bails out. MVMS_S3_BASE (default: inside the
# test's temp dir) holds the server; a Swift already running there is reused and left
# running.
. "$TESTS_SRCDIR/cli/lib.sh"

[ "${MVMS_TEST_S3:-1}" = 0 ] && s3_skip_all "MVMS_TEST_S3=0"
command -v python3 >/dev/null 2>&1 || s3_skip_all "python3 is needed for tests/s3/gcsrecorder.py"

s3_setup
SWIFT_BUCKET=mvms-test
MVMS_S3_BUCKET=$SWIFT_BUCKET
MVMS_S3_BACKOFF_MS=20
export MVMS_S3_BUCKET MVMS_S3_BACKOFF_MS

REC_PID=
GCSPROXY_PID=
cleanup() {
	[ -n "$REC_PID" ] && kill "$REC_PID" 2>/dev/null
	[ -n "$GCSPROXY_PID" ] && kill "$GCSPROXY_PID" 2>/dev/null
	s3_stop_started
	rm -rf "$WORK"
}
trap cleanup EXIT

# every variable that chooses credentials or the endpoint: unset for each gs:// command,
# which then sets only what it tests
CLEAN="env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_REGION
 -u AWS_DEFAULT_REGION -u AWS_ENDPOINT_URL -u GOOGLE_HMAC_ACCESS_ID -u GOOGLE_HMAC_SECRET
 -u GOOGLE_OAUTH_ACCESS_TOKEN -u STORAGE_EMULATOR_HOST -u MVMS_GCS_ENDPOINT -u MVMS_S3_PATH_STYLE
 -u MVMS_S3_RESOLVE -u MVMS_S3_LIST_PAGE -u MVMS_S3_MULTIPART_THRESHOLD"
# Neither the GCS emulator nor Swift (behind the XML API below) honours preconditions: the
# stores here have one writer and keep no log (docs/backends.md).
MVMS_SINGLE_WRITER=1
export MVMS_SINGLE_WRITER
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if ! "$MVMS" help init 2>&1 | grep -q -- '--backend'; then
	s3_skip_all "mvms-store has no 'init --backend' (object-store backends not wired into the CLI)"
fi

# ======================= 1. bearer token against the recorder =======================

TOKEN=ya29.test-token
REC_LOG=$WORK/rec.log
REC_KEYS=$WORK/rec.keys
python3 "$S3/gcsrecorder.py" --port-file "$WORK/rec.port" --log "$REC_LOG" --keys "$REC_KEYS" \
	--bucket bkt --token "$TOKEN" 2>"$WORK/rec.err" &
REC_PID=$!
n=0
while [ ! -s "$WORK/rec.port" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || bail "gcsrecorder.py did not start: $(tail -n 3 "$WORK/rec.err")"
	sleep 0.05
done
RPORT=$(cat "$WORK/rec.port")
REC=127.0.0.1:$RPORT

# gsb ARGS...: mvms-store with only the bearer token and the path-style emulator endpoint,
# and a multipart threshold under the pack of the push below (24 MiB of bf16 weights make about
# 16 MiB of records; the default threshold, 100 MiB, is above a default pack) so that
# multipart requests get recorded
gsb() {
	run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 \
		MVMS_S3_MULTIPART_THRESHOLD=8M "$MVMS" "$@"
}
# recq [-f FROM] [-t TO] EXPR: how many recorded requests (numbers FROM..TO, default all)
# satisfy the Python expression EXPR over r (the record: method, path, query, args,
# status, body_len) and h (header name, lowercased -> list of values)
recq() {
	_from=0 _to=1000000000
	while :; do
		case $1 in
		-f) _from=$2; shift 2 ;;
		-t) _to=$2; shift 2 ;;
		*) break ;;
		esac
	done
	python3 - "$REC_LOG" "$_from" "$_to" "$1" <<'PY'
import json, sys
log, lo, hi, expr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
n = 0
for line in open(log):
    r = json.loads(line)
    if not lo <= r["n"] <= hi:
        continue
    h = {}
    for k, v in r["headers"]:
        h.setdefault(k.lower(), []).append(v)
    if eval(expr):
        n += 1
print(n)
PY
}
rec_last() { # the number of the last recorded request (0 if none)
	if [ -s "$REC_LOG" ]; then tail -n 1 "$REC_LOG" | sed 's/.*"n": \([0-9]*\).*/\1/'; else echo 0; fi
}

mkmodel -q --size 24M --tensors 6 --seed 51 "$WORK/b1"
mkmodel -q --size 24M --tensors 6 --seed 51 --change 20 --change-seed 3 "$WORK/b2"
SB=$WORK/stb
gsb --store "$SB" init --backend gs://bkt/pfx
is_rc 0 "init --backend gs://bkt/pfx (bearer token, STORAGE_EMULATOR_HOST=$REC)" ||
	bail "cannot create a gs:// store"
gsb --store "$SB" --json push m "$WORK/b1" -m one
is_rc 0 "push v1 (24 MiB, ~16 MiB stored: one pack above MVMS_S3_MULTIPART_THRESHOLD=8M) with the bearer token"
B1_ID=$(json_get id)
# MVMS_GCS_ENDPOINT wins over STORAGE_EMULATOR_HOST (here a port nothing listens on)
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN STORAGE_EMULATOR_HOST=127.0.0.1:1 \
	MVMS_GCS_ENDPOINT=http://$REC MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$SB" --json push m "$WORK/b2" -m two
is_rc 0 "push v2 (--change 20) with MVMS_GCS_ENDPOINT set (it wins over STORAGE_EMULATOR_HOST)"
B2_ID=$(json_get id)
PUSHED=$(rec_last)
gsb --store "$SB" pull m@v1 -o "$WORK/ob1"
is_rc 0 "pull v1 with the bearer token"
check "pulled v1 is byte-identical" cmp "$WORK/b1/model.safetensors" "$WORK/ob1/model.safetensors"
gsb --store "$SB" pull m@v2 -o "$WORK/ob2"
check "pulled v2 is byte-identical" cmp "$WORK/b2/model.safetensors" "$WORK/ob2/model.safetensors"
PULLED=$(rec_last)
# both a token and HMAC keys: the token is used, nothing is signed (the recorder answers
# 401 to anything but the bearer token)
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN GOOGLE_HMAC_ACCESS_ID=GOOG1EXAMPLE \
	GOOGLE_HMAC_SECRET=hmac-secret AWS_ACCESS_KEY_ID=AKIAEXAMPLE AWS_SECRET_ACCESS_KEY=aws-secret \
	STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$SB" pull m@v1 -o "$WORK/ob3"
is_rc 0 "pull with a token and HMAC and AWS keys set: the token is used"
check "byte-identical" cmp "$WORK/b1/model.safetensors" "$WORK/ob3/model.safetensors"
gsb --store "$SB" --json verify
is_rc 0 "verify (HEAD and ranged GETs of every pack) with the bearer token"
is "$(json_get ok)" true "verify: no problems"
LIST1=$(rec_last)
# LIST (ListObjectsV2) is used by gc (verify reads the packs it knows): pages of 1 key
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 \
	MVMS_S3_LIST_PAGE=1 "$MVMS" --store "$SB" --json gc --dry-run
is_rc 0 "gc --dry-run (LIST) with MVMS_S3_LIST_PAGE=1"
is "$(json_get objects)" 0 "gc finds no orphan object"
LISTED=$(rec_last)
num_gt "$(recq -f $((LIST1 + 1)) -t "$LISTED" "r['method'] == 'GET' and r['args'].get('list-type') == ['2'] and r['args'].get('max-keys') == ['1']")" 2 \
	"gc listed with list-type=2&max-keys=1"
num_gt "$(recq -f $((LIST1 + 1)) -t "$LISTED" "r['method'] == 'GET' and 'continuation-token' in r['args']")" 0 \
	"gc followed the continuation tokens over several pages"

# virtual-host addressing (MVMS_S3_PATH_STYLE=0: an IP endpoint would take path style by
# itself): Host: bkt.127.0.0.1:PORT, path /pfx/...
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN MVMS_GCS_ENDPOINT=http://$REC MVMS_S3_PATH_STYLE=0 \
	MVMS_S3_RESOLVE="bkt.127.0.0.1:$RPORT:127.0.0.1" "$MVMS" --store "$SB" pull m@v2 -o "$WORK/ob4"
is_rc 0 "pull v2 with virtual-host addressing (MVMS_S3_RESOLVE pins bkt.127.0.0.1)"
check "byte-identical" cmp "$WORK/b2/model.safetensors" "$WORK/ob4/model.safetensors"
VHOST=$(rec_last)

# ---- the request shape, from the recording ----
ALL=$(rec_last)
diag "recorded $ALL requests: $(recq "r['method'] == 'PUT'") PUT, $(recq "r['method'] == 'POST'") POST," \
	"$(recq "r['method'] == 'GET'") GET, $(recq "r['method'] == 'HEAD'") HEAD, $(recq "r['method'] == 'DELETE'") DELETE"
num_gt "$ALL" 10 "requests were recorded ($ALL)"
is "$(recq "h.get('authorization') == ['Bearer $TOKEN']")" "$ALL" \
	"every request has exactly one header 'Authorization: Bearer $TOKEN'"
is "$(recq "any(k in h for k in ('x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'))")" 0 \
	"no request has x-amz-date, x-amz-content-sha256 or x-amz-security-token"
is "$(recq "any('AWS4-HMAC-SHA256' in v or 'GOOG1EXAMPLE' in v or 'AKIAEXAMPLE' in v for vs in h.values() for v in vs)")" 0 \
	"no AWS4-HMAC-SHA256 signature and no access key anywhere in the headers"
is "$(recq "any(k.startswith('x-amz-') or k.startswith('x-goog-') for k in h)")" 0 \
	"no x-amz-* or x-goog-* header at all"
is "$(recq -t "$LISTED" "r['path'].startswith('/bkt/pfx/') or (r['path'] == '/bkt' and r['args'].get('prefix', [''])[0].startswith('pfx/'))")" \
	"$LISTED" "path style: every URL is /bkt/pfx/... (LIST: /bkt?prefix=pfx/...)"
is "$(recq -t "$LISTED" "h.get('host') == ['$REC']")" "$LISTED" "path style: Host is the endpoint, $REC"
is "$(recq -f $((LISTED + 1)) -t "$VHOST" "h.get('host') == ['bkt.$REC'] and r['path'].startswith('/pfx/')")" \
	"$((VHOST - LISTED))" "virtual host: Host: bkt.$REC and paths /pfx/..."
is "$(recq "r['status'] >= 400 and not (r['method'] == 'HEAD' and r['status'] == 404)")" 0 \
	"the recorder refused nothing (only HEADs of absent keys got 404)"
num_gt "$(recq -t "$PUSHED" "r['method'] == 'POST' and r['query'] == 'uploads='")" 0 "multipart: POST ?uploads="
num_gt "$(recq -t "$PUSHED" "r['method'] == 'PUT' and 'partNumber' in r['args'] and 'uploadId' in r['args']")" 1 \
	"multipart: several PUT ?partNumber=N&uploadId=U"
num_gt "$(recq -t "$PUSHED" "r['method'] == 'POST' and list(r['args']) == ['uploadId']")" 0 \
	"multipart: POST ?uploadId=U (complete)"
num_gt "$(recq -f $((PUSHED + 1)) -t "$PULLED" "r['method'] == 'GET' and 'range' in h")" 0 \
	"the pulls read packs with ranged GETs"
# objects written: keys under pfx/ in packs/, lists/ (chunk lists, level 14), manifests/ or
# files/, XX/ then 64 hex
cut -d' ' -f1 "$REC_KEYS" >"$WORK/rec.keylist"
is "$(grep -cv '^bkt/pfx/\(packs\|lists\|manifests\|files\)/[0-9a-f][0-9a-f]/[0-9a-f]\{64\}$' "$WORK/rec.keylist")" 0 \
	"every object written is bkt/pfx/{packs,lists,manifests,files}/XX/<64 hex>"
is "$(grep -c '^bkt/pfx/manifests/' "$WORK/rec.keylist")" 2 "two manifests in the bucket"
check "the manifests are named by the version ids" \
	grep -q "manifests/../$B1_ID\$" "$WORK/rec.keylist"
check "... v2's too" grep -q "manifests/../$B2_ID\$" "$WORK/rec.keylist"
num_gt "$(grep -c '^bkt/pfx/packs/' "$WORK/rec.keylist")" 1 "packs of both versions in the bucket"
is "$(recq "r['method'] in ('PUT', 'POST') and not r['path'].startswith('/bkt/pfx/')")" 0 \
	"nothing was written outside bkt/pfx/"

# ---- a wrong token, no token ----
BEFORE=$(rec_last)
BADTOK=ya29.wrong-token-Zq81
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$BADTOK STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 \
	"$MVMS" --store "$SB" pull m@v1 -o "$WORK/obad"
is_rc 1 "pull with a wrong token fails (exit 1)"
like "$ERR" "bkt" "the error names the bucket"
like "$ERR" "401" "the error says HTTP 401"
unlike "$ERR$OUT" "$BADTOK" "the error does not show the token"
unlike "$ERR$OUT" "wrong-token" "... nor a part of it"
check "no file was written" test ! -e "$WORK/obad/model.safetensors"
num_gt "$(recq -f $((BEFORE + 1)) "h.get('authorization') == ['Bearer $BADTOK']")" 0 \
	"the refused requests carried the wrong token as a bearer token"
mkmodel -q --size 1M --tensors 2 --seed 52 "$WORK/b3"
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$BADTOK STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 \
	"$MVMS" --store "$SB" push m "$WORK/b3" -m three
is_rc 1 "push with a wrong token fails (exit 1)"
like "$ERR" "bkt" "push's error names the bucket"
unlike "$ERR$OUT" "$BADTOK" "push's error does not show the token"
run $CLEAN STORAGE_EMULATOR_HOST=$REC MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$SB" pull m@v1 -o "$WORK/obad2"
is_rc 1 "pull with no credentials at all fails (exit 1)"
like "$ERR" "401" "the error says HTTP 401"
diag "no credentials: $ERR"

# ---- init checks the bucket and the token before it creates anything ----
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$TOKEN STORAGE_EMULATOR_HOST=$REC \
	"$MVMS" --store "$WORK/st-gnob" init --backend gs://nobkt/pfx
is_rc 3 "gs:// init with a bucket that does not exist: exit 3 (an IP endpoint: path style by itself)"
like "$ERR" "no such bucket 'nobkt'" "and says so"
check "no store is left behind" test ! -e "$WORK/st-gnob"
run $CLEAN GOOGLE_OAUTH_ACCESS_TOKEN=$BADTOK STORAGE_EMULATOR_HOST=$REC \
	"$MVMS" --store "$WORK/st-gbad" init --backend gs://bkt/pfx2
is_rc 1 "gs:// init with a wrong token fails"
like "$ERR" "the OAuth access token (GOOGLE_OAUTH_ACCESS_TOKEN) was refused" "and says the token was refused"
unlike "$ERR$OUT" "wrong-token" "without the token"
check "no store is left behind" test ! -e "$WORK/st-gbad"
kill "$REC_PID" 2>/dev/null
wait "$REC_PID" 2>/dev/null
REC_PID=

# ======================= 2. HMAC keys against Swift (strict SigV4) =======================

if ! s3_start swift Swift; then
	s3_ci_bail "$S3_WHY"
	skip "gs:// with HMAC keys against Swift: $S3_WHY"
	done_testing
fi

eval "$("$S3/swift.sh" env)" || bail "swift.sh env failed"
SWIFT=$AWS_ENDPOINT_URL
KEY_ID=$AWS_ACCESS_KEY_ID
SECRET=$AWS_SECRET_ACCESS_KEY
s3_aws_cli || bail "aws (Debian's awscli, installed by swift.sh) is missing"

# The GCS stand-in: a second Swift proxy on the same storage (rings, memcached, object
# servers) whose s3api has `location = auto`, the region GCS signs with.
CONF=$MVMS_S3_BASE/swift/etc/proxy-server.conf
[ -s "$CONF" ] || bail "no $CONF"
GPORT=$(free_port)
sed -e "s/^bind_port = .*/bind_port = $GPORT/" -e 's/^location = .*/location = auto/' \
	-e 's/^log_name = .*/log_name = gcs-proxy-server/' "$CONF" >"$WORK/gcs-proxy.conf"
grep -q '^location = auto' "$WORK/gcs-proxy.conf" || bail "cannot set location = auto in a copy of $CONF"
/usr/bin/swift-proxy-server "$WORK/gcs-proxy.conf" -v >"$WORK/gcs-proxy.log" 2>&1 &
GCSPROXY_PID=$!
GCSEP=http://127.0.0.1:$GPORT
n=0
until python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
	"$GCSEP/healthcheck" 2>/dev/null; do
	n=$((n + 1))
	kill -0 "$GCSPROXY_PID" 2>/dev/null && [ "$n" -lt 150 ] ||
		bail "the location=auto Swift proxy did not start: $(tail -n 3 "$WORK/gcs-proxy.log")"
	sleep 0.1
done

if [ -n "$S3_STARTED" ]; then GP=gcs-prefix; else GP=gcs-prefix/t$$; fi
# gsh ENDPOINT ARGS...: mvms-store with the GOOGLE_HMAC_* keys only (AWS_* unset)
gsh() {
	_ep=$1
	shift
	run $CLEAN MVMS_GCS_ENDPOINT=$_ep GOOGLE_HMAC_ACCESS_ID=$KEY_ID GOOGLE_HMAC_SECRET=$SECRET \
		MVMS_S3_PATH_STYLE=1 "$MVMS" "$@"
}
awsq() {
	"$AWSBIN" --endpoint-url "$SWIFT" --region us-east-1 "$@"
}

mkmodel -q --size 3M --tensors 6 --seed 61 "$WORK/g1"
mkmodel -q --size 3M --tensors 6 --seed 61 --change 20 --change-seed 4 "$WORK/g2"

# issue 5: "pointing a gs:// store at the local S3 servers": the stock Swift signs in
# us-east-1; gs:// signs with "auto" unless MVMS_GCS_REGION says otherwise (AWS_REGION is
# ignored for gs://, as it is often set for AWS work)
ST0=$WORK/st0
run $CLEAN MVMS_GCS_REGION=us-east-1 MVMS_GCS_ENDPOINT=$SWIFT GOOGLE_HMAC_ACCESS_ID=$KEY_ID \
	GOOGLE_HMAC_SECRET=$SECRET MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$ST0" init \
	--backend "gs://$SWIFT_BUCKET/$GP-stock"
run $CLEAN MVMS_GCS_REGION=us-east-1 MVMS_GCS_ENDPOINT=$SWIFT GOOGLE_HMAC_ACCESS_ID=$KEY_ID \
	GOOGLE_HMAC_SECRET=$SECRET MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$ST0" push m "$WORK/g1" -m one
is_rc 0 "gs:// with HMAC keys and MVMS_GCS_REGION=us-east-1 pushes to the stock Swift (location us-east-1)"

ST=$WORK/stg
gsh "$GCSEP" --store "$ST" init --backend "gs://$SWIFT_BUCKET/$GP"
is_rc 0 "init --backend gs://$SWIFT_BUCKET/$GP (GOOGLE_HMAC_* keys, no AWS_* variables)" ||
	bail "cannot create a gs:// store on Swift"
gsh "$GCSEP" --store "$ST" --json push m "$WORK/g1" -m one
is_rc 0 "push v1 over SigV4 with region auto (strictly checked by Swift)"
G1_ID=$(json_get id)
gsh "$GCSEP" --store "$ST" --json push m "$WORK/g2" -m two
is_rc 0 "push v2 (--change 20)"
G2_ID=$(json_get id)
gsh "$GCSEP" --store "$ST" pull m@v1 -o "$WORK/og1"
is_rc 0 "pull v1"
check "pulled v1 is byte-identical" cmp "$WORK/g1/model.safetensors" "$WORK/og1/model.safetensors"
gsh "$GCSEP" --store "$ST" pull m@v2 -o "$WORK/og2"
check "pulled v2 is byte-identical" cmp "$WORK/g2/model.safetensors" "$WORK/og2/model.safetensors"
gsh "$GCSEP" --store "$ST" --json verify
is_rc 0 "verify (LIST over SigV4)"
is "$(json_get ok)" true "verify: no problems"
is "$(json_get manifests)" 2 "verify sees both manifests"

# the objects, listed by aws s3 with the Swift credentials
awsq s3 ls --recursive "s3://$SWIFT_BUCKET/$GP/" 2>"$WORK/aws.err" | awk '{ print $4 }' | sort >"$WORK/g.keys"
num_gt "$(wc -l <"$WORK/g.keys" | tr -d ' ')" 2 "aws s3 ls lists the store's objects under $GP/"
is "$(grep -cv "^$GP/\(packs\|lists\|manifests\|files\)/[0-9a-f][0-9a-f]/[0-9a-f]\{64\}\$" "$WORK/g.keys")" 0 \
	"every object is $GP/{packs,lists,manifests,files}/XX/<64 hex>"
check "v1's manifest is there" grep -q "^$GP/manifests/../$G1_ID\$" "$WORK/g.keys"
check "v2's manifest is there" grep -q "^$GP/manifests/../$G2_ID\$" "$WORK/g.keys"
mkdir -p "$WORK/dl"
awsq s3 cp --quiet "s3://$SWIFT_BUCKET/$(grep "/$G2_ID\$" "$WORK/g.keys")" "$WORK/dl/m2" 2>/dev/null
is "$(b2sum -l 256 "$WORK/dl/m2" 2>/dev/null | cut -d' ' -f1)" "$G2_ID" \
	"v2's manifest downloaded by aws hashes (BLAKE2b-256) to its name"

# which credentials: GOOGLE_HMAC_* over AWS_*, the AWS_* ones when GOOGLE_HMAC_* are unset
run $CLEAN AWS_ACCESS_KEY_ID=AKIAWRONG AWS_SECRET_ACCESS_KEY=aws-wrong-secret MVMS_GCS_ENDPOINT=$GCSEP \
	GOOGLE_HMAC_ACCESS_ID=$KEY_ID GOOGLE_HMAC_SECRET=$SECRET MVMS_S3_PATH_STYLE=1 \
	"$MVMS" --store "$ST" pull m@v1 -o "$WORK/og3"
is_rc 0 "GOOGLE_HMAC_* are used over (wrong) AWS_* keys"
run $CLEAN AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET MVMS_GCS_ENDPOINT=$GCSEP \
	MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$ST" pull m@v2 -o "$WORK/og4"
is_rc 0 "without GOOGLE_HMAC_*, gs:// signs with the AWS_* keys"
check "byte-identical" cmp "$WORK/g2/model.safetensors" "$WORK/og4/model.safetensors"
BADSEC=WrongHmacSecret0123456789
run $CLEAN MVMS_GCS_ENDPOINT=$GCSEP GOOGLE_HMAC_ACCESS_ID=$KEY_ID GOOGLE_HMAC_SECRET=$BADSEC \
	MVMS_S3_PATH_STYLE=1 "$MVMS" --store "$ST" pull m@v1 -o "$WORK/og5"
is_rc 1 "a wrong GOOGLE_HMAC_SECRET fails, exit 1 (Swift checks the signature)"
like "$ERR" "$SWIFT_BUCKET" "the error names the bucket"
case $ERR in
*403* | *SignatureDoesNotMatch*) ok "the error says 403 / SignatureDoesNotMatch" ;;
*) not_ok "the error says 403 / SignatureDoesNotMatch"; diag "stderr: $ERR" ;;
esac
unlike "$ERR$OUT" "$BADSEC" "the error does not show the secret"
check "no file was written" test ! -e "$WORK/og5/model.safetensors"

done_testing
