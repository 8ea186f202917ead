/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the S3 backend parts that need no server: options from the environment
 * (s3:// and gs:// URLs, bad URLs), URL building and key encoding (path-style and virtual
 * host, store prefix, path style by itself for IP/localhost endpoints and buckets that
 * cannot be a host label), the canonical query order, ListObjectsV2 parsing (continuation
 * token, entities, prefix stripping), retry and auth classification, what each refusal
 * means (naming the key id), and error messages against a closed port (names the bucket
 * and key, never the secret; the access check names the endpoint), and a header too long
 * for its line refused before anything is sent.
 * Servers are tested by tests/s3/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <curl/curl.h>
#include "tap.h"
#include "s3.h"

static void clear_env(void)
{
	static const char *vars[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
				      "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
				      "MVMS_S3_PATH_STYLE", "GOOGLE_HMAC_ACCESS_ID", "GOOGLE_HMAC_SECRET",
				      "GOOGLE_OAUTH_ACCESS_TOKEN", "STORAGE_EMULATOR_HOST",
				      "MVMS_GCS_ENDPOINT", "MVMS_S3_RESOLVE" };
	size_t i;

	for (i = 0; i < MVMS_ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
}

static void test_options(void)
{
	mvms_backend_s3_options o;
	char buf[256], tiny[4];

	clear_env();
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://bkt/models/team"), 0,
	       "s3://bkt/models/team parses");
	is_str(o.bucket, "bkt", "  bucket");
	is_str(o.prefix, "models/team", "  prefix (the backend adds the final '/')");
	is_str(o.access_key, "AKID", "  access key from AWS_ACCESS_KEY_ID");
	is_str(o.secret_key, "SECRET", "  secret from AWS_SECRET_ACCESS_KEY");
	is_str(o.region, "eu-west-3", "  AWS_DEFAULT_REGION when AWS_REGION is unset");
	ok(o.endpoint == NULL && o.gcs == 0 && o.path_style == 0 && o.session_token == NULL,
	   "  no endpoint (AWS default), not GCS, virtual host, no token");
	setenv("AWS_REGION", "us-west-2", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8080", 1);
	setenv("MVMS_S3_PATH_STYLE", "1", 1);
	setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://bkt"), 0, "s3://bkt parses");
	is_str(o.prefix, "", "  empty prefix");
	is_str(o.region, "us-west-2", "  AWS_REGION wins");
	is_str(o.endpoint, "http://127.0.0.1:8080", "  AWS_ENDPOINT_URL");
	ok(o.path_style == 1, "  MVMS_S3_PATH_STYLE=1");
	is_str(o.session_token, "TOKEN", "  AWS_SESSION_TOKEN");

	setenv("MVMS_S3_PATH_STYLE", "0", 1);
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://bkt"), 0,
	       "MVMS_S3_PATH_STYLE=0 parses");
	ok(o.path_style == -1, "  MVMS_S3_PATH_STYLE=0: virtual host, even for an IP endpoint");
	setenv("MVMS_S3_PATH_STYLE", "yes", 1);
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://bkt"), MVMS_EINVALID,
	       "MVMS_S3_PATH_STYLE=yes is refused");
	ok(strstr(mvms_error_last(), "MVMS_S3_PATH_STYLE") != NULL, "  the error names the variable");
	setenv("MVMS_S3_PATH_STYLE", "1", 1);

	setenv("GOOGLE_HMAC_ACCESS_ID", "GOOG1", 1);
	setenv("GOOGLE_HMAC_SECRET", "GSECRET", 1);
	setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.x", 1);
	setenv("STORAGE_EMULATOR_HOST", "http://localhost:9023", 1);
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "gs://gbkt/p/"), 0,
	       "gs://gbkt/p/ parses");
	ok(o.gcs == 1, "  gcs");
	is_str(o.bucket, "gbkt", "  bucket");
	is_str(o.prefix, "p/", "  prefix");
	is_str(o.access_key, "GOOG1", "  GOOGLE_HMAC_ACCESS_ID before the AWS variables");
	is_str(o.secret_key, "GSECRET", "  GOOGLE_HMAC_SECRET");
	is_str(o.bearer_token, "ya29.x", "  GOOGLE_OAUTH_ACCESS_TOKEN");
	is_str(o.region, "auto", "  region auto");
	is_str(o.endpoint, "http://localhost:9023", "  STORAGE_EMULATOR_HOST");
	setenv("MVMS_GCS_ENDPOINT", "http://127.0.0.1:4443", 1);
	unsetenv("GOOGLE_HMAC_ACCESS_ID");
	mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "gs://gbkt");
	is_str(o.endpoint, "http://127.0.0.1:4443", "  MVMS_GCS_ENDPOINT wins");
	is_str(o.access_key, "AKID", "  the AWS variables without GOOGLE_HMAC_ACCESS_ID");

	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "http://bkt/x"), MVMS_EINVALID,
	       "http:// is not a bucket URL");
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "/srv/store"), MVMS_EINVALID,
	       "a path is not a bucket URL");
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://"), MVMS_EINVALID,
	       "s3:// without a bucket");
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3:///p"), MVMS_EINVALID,
	       "s3:///p: empty bucket");
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://b//p"), MVMS_EINVALID,
	       "s3://b//p: empty prefix component");
	is_int(mvms_backend_s3_options_from_env(&o, buf, sizeof(buf), "s3://user@b"), MVMS_EINVALID,
	       "s3://user@b: no credentials in URLs");
	is_int(mvms_backend_s3_options_from_env(&o, tiny, sizeof(tiny), "s3://bucket"), MVMS_EINVALID,
	       "buffer too small");
	clear_env();
}

static mvms_backend *make(const char *endpoint, int path_style, const char *prefix)
{
	mvms_backend_s3_options o = { 0 };
	mvms_backend *be = NULL;

	o.version = 1;
	o.bucket = "bkt";
	o.prefix = prefix;
	o.endpoint = endpoint;
	o.path_style = path_style;
	o.access_key = "AKIDTEST";
	o.secret_key = "sEcReT/do-not-print+me";
	o.max_retries = 2;
	if (mvms_backend_s3(&be, &o) < 0)
		diag("%s", mvms_error_last());
	return be;
}

static void test_urls(void)
{
	mvms_backend *be;
	mvms_buf url = MVMS_BUF_INIT, host = MVMS_BUF_INIT;
	static const mvms_sigv4_pair q[] = { { "uploadId", "a/b c" }, { "partNumber", "3" } };
	static const mvms_sigv4_pair up[] = { { "uploads", "" } };
	static const mvms_sigv4_pair lq[] = { { "prefix", "st/packs/" }, { "max-keys", "2" },
					      { "list-type", "2" } };

	be = make("http://127.0.0.1:8080", 1, "st");
	ok(be != NULL, "path-style backend");
	mvms_s3_build_url(&url, &host, be, "packs/ab/ab12", NULL, 0);
	is_str(url.ptr, "http://127.0.0.1:8080/bkt/st/packs/ab/ab12", "path-style URL with prefix");
	is_str(host.ptr, "127.0.0.1:8080", "  Host with the port");
	mvms_buf_clear(&url);
	mvms_buf_clear(&host);
	mvms_s3_build_url(&url, &host, be, "odd key/é+&=?#%~()*'", q, 2);
	is_str(url.ptr,
	       "http://127.0.0.1:8080/bkt/st/odd%20key/%C3%A9%2B%26%3D%3F%23%25~%28%29%2A%27"
	       "?partNumber=3&uploadId=a%2Fb%20c",
	       "odd key encoded once, '/' kept; UploadPart query sorted");
	mvms_buf_clear(&url);
	mvms_buf_clear(&host);
	mvms_s3_build_url(&url, &host, be, "k", up, 1);
	is_str(url.ptr, "http://127.0.0.1:8080/bkt/st/k?uploads=", "?uploads= (with '=')");
	mvms_buf_clear(&url);
	mvms_buf_clear(&host);
	mvms_s3_build_url(&url, &host, be, NULL, lq, 3);
	is_str(url.ptr, "http://127.0.0.1:8080/bkt?list-type=2&max-keys=2&prefix=st%2Fpacks%2F",
	       "bucket URL for a list, sorted query");
	mvms_backend_free(be);

	mvms_buf_clear(&url);
	mvms_buf_clear(&host);
	be = make("https://s3.localhost:7480/", 0, "/a/b/");
	mvms_s3_build_url(&url, &host, be, "manifests/cd/cd34", NULL, 0);
	is_str(url.ptr, "https://bkt.s3.localhost:7480/a/b/manifests/cd/cd34",
	       "virtual-host URL, prefix normalised");
	is_str(host.ptr, "bkt.s3.localhost:7480", "  Host is bucket.endpoint");
	is_str(be->name, "s3", "  name s3");
	mvms_backend_free(be);

	mvms_buf_clear(&url);
	mvms_buf_clear(&host);
	be = make(NULL, 0, NULL);
	mvms_s3_build_url(&url, &host, be, "k", NULL, 0);
	is_str(url.ptr, "https://bkt.s3.us-east-1.amazonaws.com/k", "default AWS endpoint");
	mvms_backend_free(be);

	{
		mvms_backend_s3_options o = { 0 };
		mvms_backend *g = NULL;
		o.version = 1;
		o.bucket = "gb";
		o.gcs = 1;
		o.bearer_token = "ya29.tok";
		is_int(mvms_backend_s3(&g, &o), 0, "GCS with a bearer token");
		mvms_buf_clear(&url);
		mvms_buf_clear(&host);
		mvms_s3_build_url(&url, &host, g, "k", NULL, 0);
		is_str(url.ptr, "https://gb.storage.googleapis.com/k", "  default GCS endpoint");
		is_str(g->name, "gcs", "  name gcs");
		mvms_backend_free(g);
		o.endpoint = "ftp://x";
		is_int(mvms_backend_s3(&g, &o), MVMS_EINVALID, "ftp:// endpoint refused");
		o.endpoint = "http://h:1/path";
		is_int(mvms_backend_s3(&g, &o), MVMS_EINVALID, "endpoint with a path refused");
		o.bucket = "";
		is_int(mvms_backend_s3(&g, &o), MVMS_EINVALID, "empty bucket refused");
	}
	mvms_buf_dispose(&url);
	mvms_buf_dispose(&host);
}

/* Path style where a virtual host cannot work, as the AWS SDKs' endpoint rules. */
static void test_path_style(void)
{
	static const struct {
		const char *endpoint;
		int path_style;
		const char *url;
	} cases[] = {
		{ "http://127.0.0.1:9000", 0, "http://127.0.0.1:9000/bkt/k" },
		{ "http://10.1.2.3", 0, "http://10.1.2.3/bkt/k" },
		{ "http://[::1]:9000", 0, "http://[::1]:9000/bkt/k" },
		{ "http://localhost:9000", 0, "http://localhost:9000/bkt/k" },
		{ "https://LocalHost", 0, "https://LocalHost/bkt/k" },
		{ "http://minio.example:9000", 0, "http://bkt.minio.example:9000/k" },
		{ "http://s3.localhost:9000", 0, "http://bkt.s3.localhost:9000/k" },
		{ "http://127.0.0.1:9000", -1, "http://bkt.127.0.0.1:9000/k" },
		{ "http://minio.example:9000", 1, "http://minio.example:9000/bkt/k" },
	};
	mvms_buf url = MVMS_BUF_INIT, host = MVMS_BUF_INIT;
	size_t i;

	for (i = 0; i < MVMS_ARRAY_SIZE(cases); i++) {
		mvms_backend *be = make(cases[i].endpoint, cases[i].path_style, NULL);
		mvms_buf_clear(&url);
		mvms_buf_clear(&host);
		if (be)
			mvms_s3_build_url(&url, &host, be, "k", NULL, 0);
		is_str(url.ptr, cases[i].url, cases[i].url);
		mvms_backend_free(be);
	}
	mvms_buf_dispose(&url);
	mvms_buf_dispose(&host);

	ok(mvms_s3_needs_path_style("s3.example.com", "my.models", 1), "a dotted bucket over https: path style");
	ok(!mvms_s3_needs_path_style("s3.example.com", "my.models", 0), "a dotted bucket over http: virtual host");
	ok(mvms_s3_needs_path_style("s3.example.com", "My_Models", 0), "upper case or '_' in the bucket: path style");
	ok(mvms_s3_needs_path_style("s3.example.com", "a..b", 0), "an empty label in the bucket: path style");
	ok(!mvms_s3_needs_path_style("s3.us-east-1.amazonaws.com", "models-1", 1), "a plain bucket on AWS: virtual host");
	ok(mvms_s3_needs_path_style("192.168.0.10", "models", 1), "an IPv4 host without a port: path style");
	ok(!mvms_s3_needs_path_style("1.2.3.4.nip.io:80", "models", 0), "a name that starts like an address: virtual host");
}

/* What a 401/403 means, naming the key id, never the secret (the reason never sees it). */
static void test_auth_reason(void)
{
	static const struct {
		long status;
		const char *code, *message, *key, *want;
		int bearer;
	} cases[] = {
		{ 403, "SignatureDoesNotMatch", "The request signature we calculated does not match",
		  "AKIDX", "bad signature: the secret key does not match access key id 'AKIDX'", 0 },
		{ 403, "InvalidAccessKeyId", NULL, "AKIDX",
		  "bad credentials: the server does not know access key id 'AKIDX'", 0 },
		{ 403, "AccessDenied", "Access Denied", "AKIDX",
		  "access denied to access key id 'AKIDX': the credentials are valid but lack a "
		  "permission on this bucket or prefix (server: \"Access Denied\")", 0 },
		{ 400, "ExpiredToken", NULL, "ASIAX",
		  "expired or invalid session token of access key id 'ASIAX' (renew AWS_SESSION_TOKEN)", 0 },
		{ 403, "RequestTimeTooSkewed", NULL, "AKIDX",
		  "this machine's clock is too far from the server's", 0 },
		{ 403, NULL, NULL, "AKIDX", "access refused for access key id 'AKIDX' (a wrong secret, "
		  "an unknown key id or a missing permission)", 0 },
		{ 403, NULL, NULL, NULL, "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", 0 },
		{ 401, "AuthenticationRequired", NULL, NULL, "the OAuth access token "
		  "(GOOGLE_OAUTH_ACCESS_TOKEN) was refused (expired? get a new one)", 1 },
		{ 403, "SomethingNew", "line\none", "AKIDX", "access refused for access key id 'AKIDX' "
		  "(server: \"line one\")", 0 },
	};
	mvms_buf out = MVMS_BUF_INIT;
	size_t i;

	for (i = 0; i < MVMS_ARRAY_SIZE(cases); i++) {
		mvms_buf_clear(&out);
		is_int(mvms_s3_auth_reason(&out, cases[i].status, cases[i].code, cases[i].message,
					   cases[i].key, cases[i].bearer), 0, "auth reason formats");
		is_str(out.ptr, cases[i].want, cases[i].code ? cases[i].code : "no code");
	}
	mvms_buf_dispose(&out);
	ok(mvms_s3_is_auth_error(400, "ExpiredToken"), "ExpiredToken (400) is auth");
}

typedef struct {
	mvms_buf seen;
	int n;
	uint64_t total;
	int stop_at;
} list_state;

static int on_key(const char *key, uint64_t size, void *payload)
{
	list_state *st = payload;

	mvms_buf_printf(&st->seen, "%s=%llu;", key, (unsigned long long)size);
	st->n++;
	st->total += size;
	return st->stop_at && st->n == st->stop_at ? 42 : 0;
}

static const char list_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>bkt</Name><Prefix>st/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
	"<IsTruncated>true</IsTruncated>"
	"<Contents><Key>st/packs/ab/ab12</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
	"<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>67108864</Size>"
	"<StorageClass>STANDARD</StorageClass></Contents>\n"
	"<Contents>\n  <Key>st/odd &amp; &lt;key&gt; &quot;q&quot; &apos;a&apos; &#233;&#x41;</Key>\n"
	"  <Size>0</Size>\n</Contents>"
	"<Contents><Key>other/x</Key><Size>5</Size></Contents>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;</NextContinuationToken>"
	"<ContinuationToken>abc</ContinuationToken>"
	"</ListBucketResult>";

static void test_list_parse(void)
{
	list_state st = { MVMS_BUF_INIT, 0, 0, 0 };
	mvms_buf tok = MVMS_BUF_INIT, code = MVMS_BUF_INIT;
	int truncated = -1, rc;
	static const char last[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>st/manifests/cd/cd34</Key><Size>12</Size></Contents></ListBucketResult>";
	static const char empty[] = "<ListBucketResult><KeyCount>0</KeyCount>"
				    "<IsTruncated>false</IsTruncated></ListBucketResult>";
	static const char err[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
				  "<Message>The request signature we calculated does not match"
				  "</Message></Error>";

	rc = mvms_s3_parse_list(list_xml, strlen(list_xml), "st/", on_key, &st, &truncated, &tok);
	is_int(rc, 0, "list page parses");
	is_str(st.seen.ptr, "packs/ab/ab12=67108864;odd & <key> \"q\" 'a' \xc3\xa9" "A=0;",
	       "  keys with the store prefix stripped, entities decoded, foreign keys skipped");
	ok(truncated == 1, "  IsTruncated");
	is_str(tok.ptr, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&", "  NextContinuationToken");

	mvms_buf_clear(&st.seen);
	rc = mvms_s3_parse_list(last, strlen(last), "st/", on_key, &st, &truncated, &tok);
	ok(rc == 0 && truncated == 0 && tok.size == 0, "last page: not truncated, no token");
	is_str(st.seen.ptr, "manifests/cd/cd34=12;", "  its key");
	mvms_buf_clear(&st.seen);
	st.n = 0;
	rc = mvms_s3_parse_list(empty, strlen(empty), "", on_key, &st, &truncated, &tok);
	ok(rc == 0 && st.n == 0 && truncated == 0, "empty listing");
	st.stop_at = 1;
	rc = mvms_s3_parse_list(list_xml, strlen(list_xml), "st/", on_key, &st, &truncated, &tok);
	is_int(rc, 42, "a callback's non-zero value stops the listing");
	rc = mvms_s3_parse_list(err, strlen(err), "", on_key, &st, &truncated, &tok);
	is_int(rc, MVMS_ERROR, "an <Error> document is not a listing");
	rc = mvms_s3_parse_list("<ListBucketResult><Contents><Key>a</Key>", 39, "", on_key, &st,
				&truncated, &tok);
	is_int(rc, MVMS_ERROR, "a cut document is an error");
	rc = mvms_s3_parse_list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
				68, "", on_key, &st, &truncated, &tok);
	is_int(rc, MVMS_ERROR, "truncated without a token is an error");

	is_int(mvms_s3_xml_text(&code, err, strlen(err), "Code"), 0, "error Code found");
	is_str(code.ptr, "SignatureDoesNotMatch", "  its text");
	mvms_buf_clear(&code);
	is_int(mvms_s3_xml_text(&code, "<R><UploadId>VXBsb2FkIElE&amp;x</UploadId></R>", 45,
				"UploadId"), 0, "UploadId found");
	is_str(code.ptr, "VXBsb2FkIElE&x", "  decoded");
	is_int(mvms_s3_xml_text(&code, err, strlen(err), "Nope"), MVMS_ENOTFOUND, "absent tag");
	mvms_buf_dispose(&code);
	mvms_buf_dispose(&tok);
	mvms_buf_dispose(&st.seen);
}

static void test_classification(void)
{
	ok(mvms_s3_retryable(CURLE_OK, 500, NULL), "500 retried");
	ok(mvms_s3_retryable(CURLE_OK, 503, "SlowDown"), "503 SlowDown retried");
	ok(mvms_s3_retryable(CURLE_OK, 429, NULL), "429 retried");
	ok(mvms_s3_retryable(CURLE_OK, 400, "RequestTimeout"), "400 RequestTimeout retried");
	ok(mvms_s3_retryable(CURLE_COULDNT_CONNECT, 0, NULL), "connection refused retried");
	ok(mvms_s3_retryable(CURLE_RECV_ERROR, 0, NULL), "reset on receive retried");
	ok(mvms_s3_retryable(CURLE_SEND_ERROR, 0, NULL), "reset on send retried");
	ok(mvms_s3_retryable(CURLE_OPERATION_TIMEDOUT, 0, NULL), "timeout retried");
	ok(mvms_s3_retryable(CURLE_GOT_NOTHING, 0, NULL), "empty reply retried");
	ok(mvms_s3_retryable(CURLE_PARTIAL_FILE, 0, NULL), "cut body retried");
	ok(!mvms_s3_retryable(CURLE_OK, 403, "SignatureDoesNotMatch"), "403 not retried");
	ok(!mvms_s3_retryable(CURLE_OK, 404, "NoSuchKey"), "404 not retried");
	ok(!mvms_s3_retryable(CURLE_OK, 400, "InvalidArgument"), "400 not retried");
	ok(!mvms_s3_retryable(CURLE_OK, 412, "PreconditionFailed"), "412 not retried");
	ok(!mvms_s3_retryable(CURLE_OK, 501, "NotImplemented"), "501 not retried");
	ok(!mvms_s3_retryable(CURLE_COULDNT_RESOLVE_HOST, 0, NULL), "unknown host not retried");
	ok(!mvms_s3_retryable(CURLE_SSL_CACERT_BADFILE, 0, NULL), "TLS setup error not retried");
	ok(mvms_s3_is_auth_error(403, "SignatureDoesNotMatch"), "SignatureDoesNotMatch is auth");
	ok(mvms_s3_is_auth_error(403, "InvalidAccessKeyId"), "InvalidAccessKeyId is auth");
	ok(mvms_s3_is_auth_error(403, "AccessDenied"), "AccessDenied is auth");
	ok(mvms_s3_is_auth_error(403, NULL), "a bare 403 (HEAD) is auth");
	ok(mvms_s3_is_auth_error(401, NULL), "401 is auth");
	ok(!mvms_s3_is_auth_error(404, "NoSuchKey"), "404 is not auth");
}

/* A closed port: retried, then an error naming bucket and key and no secret. */
static void test_error_message(void)
{
	mvms_backend *be;
	unsigned char b[4];
	const char *msg;
	uint64_t size;
	int rc;

	setenv("MVMS_S3_BACKOFF_MS", "1", 1);
	be = make("http://127.0.0.1:1", 1, "st");
	rc = be->get(be, "packs/ab/abcd", 0, b, 4);
	msg = mvms_error_last();
	ok(rc < 0, "GET against a closed port fails");
	ok(strstr(msg, "bkt/st/packs/ab/abcd") != NULL, "  the message names bucket and key");
	ok(strstr(msg, "3 attempts") != NULL, "  after 1 + max_retries attempts");
	ok(strstr(msg, "sEcReT") == NULL && strstr(msg, "do-not-print") == NULL,
	   "  the secret is not in the message");
	diag("%s", msg);
	rc = be->stat(&size, be, "manifests/x");
	ok(rc < 0 && strstr(mvms_error_last(), "sEcReT") == NULL, "HEAD fails without the secret");
	rc = mvms_backend_put(be, "packs/ab/abcd", "data", 4);
	ok(rc < 0 && strstr(mvms_error_last(), "PUT bkt/st/packs/ab/abcd") != NULL,
	   "PUT error names the method, bucket and key");
	rc = be->get(be, "", 0, b, 4);
	is_int(rc, MVMS_EINVALID, "empty key refused");
	rc = mvms_backend_s3_check(be);
	ok(rc < 0 && strstr(mvms_error_last(), "cannot connect to http://127.0.0.1:1") != NULL,
	   "the access check says it cannot connect, naming the endpoint");
	diag("%s", mvms_error_last());
	mvms_backend_free(be);
	unsetenv("MVMS_S3_BACKOFF_MS");
}

/* A session token longer than a header line: an error before anything is sent, never a
 * header cut short (a truncated x-amz-security-token or Authorization). */
static void test_long_header(void)
{
	mvms_backend_s3_options o = { 0 };
	mvms_backend *be = NULL;
	char *token = malloc(9000);
	unsigned char b[4];
	int rc;

	memset(token, 'T', 8999);
	token[8999] = '\0';
	setenv("MVMS_S3_BACKOFF_MS", "1", 1);
	o.version = 1;
	o.bucket = "bkt";
	o.endpoint = "http://127.0.0.1:1";
	o.path_style = 1;
	o.access_key = "AKIDTEST";
	o.secret_key = "secret";
	o.session_token = token;
	o.max_retries = 1;
	is_int(mvms_backend_s3(&be, &o), 0, "backend with a 9000-byte session token");
	rc = be ? mvms_backend_get(be, "packs/ab/abcd", 0, b, 4) : MVMS_ERROR;
	is_int(rc, MVMS_EINVALID, "  a GET is refused before it is sent");
	ok(strstr(mvms_error_last(), "header is too long") != NULL, "  the error says why");
	diag("%s", mvms_error_last());
	mvms_backend_free(be);
	free(token);
	unsetenv("MVMS_S3_BACKOFF_MS");
}

int main(void)
{
	test_options();
	test_urls();
	test_path_style();
	test_auth_reason();
	test_list_parse();
	test_classification();
	test_error_message();
	test_long_header();
	return done_testing();
}
