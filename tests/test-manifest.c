/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the canonical manifest (core/manifest.c): the exact bytes of an encoding
 * (field order, escaping, sorting), the encode/decode round trip, and refusal of anything
 * that is not byte-for-byte canonical or names an unsafe path, a bad mode or a bad id.
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "manifest.h"

#define ID_A "4e58b21d361f2ec3392ce5f13995616834a6003376470af174f6a2c698c8775b"
#define ID_B "d46c79d9c103c38d3f1f56655732e7f48f81074c1edf74ba667b7840fc11cc0b"
#define P1 "b0e929af38f3c498f19ae69a9eb69218d76ff28b4a9947c0df372398bf6c22c6"
#define P2 "23c7855c1fe17883367b89296ce53d453214119aabe41198c11d91090a6dbd98"
#define UID "0123456789abcdef0123456789abcdef"

/* What the manifest built by make_manifest must encode to, byte for byte (docs/formats.md):
 * fixed key order, no spaces, files by path, meta by key, control bytes as \u00XX. */
static const char canonical[] =
	"{\"format\":1,\"model\":{\"uid\":\"" UID "\",\"name\":\"resnet\"},"
	"\"parents\":[\"" P1 "\",\"" P2 "\"],"
	"\"author\":\"Ann \\\"a\\\" <a@x>\",\"time\":1700000500,"
	"\"message\":\"merge\\u000a\\u0009tab \\\\ and \\u0001\","
	"\"meta\":{\"dataset\":\"imagenet\",\"lr\":\"0.1\"},"
	"\"files\":[{\"path\":\"bin/run.sh\",\"mode\":493,\"size\":10,\"id\":\"" ID_B "\"},"
	"{\"path\":\"weights/a.safetensors\",\"mode\":420,\"size\":0,\"id\":\"" ID_A "\"}]}\n";

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

/* The manifest of `canonical`, with files and metadata given out of order. */
static mvms_manifest *make_manifest(void)
{
	mvms_manifest *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	memcpy(m->model_uid, UID, 33);
	m->model_name = xstrdup("resnet");
	m->author = xstrdup("Ann \"a\" <a@x>");
	m->message = xstrdup("merge\n\ttab \\ and \x01");
	m->time = 1700000500;
	m->parent_count = 2;
	m->parents = calloc(2, sizeof(*m->parents));
	m->meta_count = 2;
	m->meta_keys = calloc(2, sizeof(char *));
	m->meta_values = calloc(2, sizeof(char *));
	m->file_count = 2;
	m->files = calloc(2, sizeof(*m->files));
	if (!m->parents || !m->meta_keys || !m->meta_values || !m->files ||
	    mvms_oid_parse(&m->parents[0], P1) < 0 || mvms_oid_parse(&m->parents[1], P2) < 0 ||
	    mvms_oid_parse(&m->files[0].id, ID_A) < 0 || mvms_oid_parse(&m->files[1].id, ID_B) < 0)
		abort();
	m->meta_keys[0] = xstrdup("lr");
	m->meta_values[0] = xstrdup("0.1");
	m->meta_keys[1] = xstrdup("dataset");
	m->meta_values[1] = xstrdup("imagenet");
	m->files[0].path = xstrdup("weights/a.safetensors");
	m->files[0].mode = 0644;
	m->files[0].size = 0;
	m->files[1].path = xstrdup("bin/run.sh");
	m->files[1].mode = 0755;
	m->files[1].size = 10;
	return m;
}

static void test_encode(void)
{
	mvms_manifest *m = make_manifest();
	mvms_buf b = MVMS_BUF_INIT;

	is_int(mvms_manifest_sort(m), 0, "sort: files by path, meta by key");
	ok(strcmp(m->files[0].path, "bin/run.sh") == 0 && strcmp(m->meta_keys[0], "dataset") == 0,
	   "sorted in place");
	is_int(mvms_manifest_encode(&b, m), 0, "encode");
	ok(b.size == sizeof(canonical) - 1 && memcmp(b.ptr, canonical, b.size) == 0,
	   "the canonical bytes, exactly");
	if (b.ptr && strcmp(b.ptr, canonical))
		diag("got  %s", b.ptr);
	mvms_buf_dispose(&b);
	mvms_manifest_free(m);

	m = make_manifest();
	free(m->files[0].path);
	m->files[0].path = xstrdup("bin/run.sh");
	is_int(mvms_manifest_sort(m), MVMS_EINVALID, "sort: a duplicate path is refused");
	mvms_manifest_free(m);
	m = make_manifest();
	free(m->meta_keys[0]);
	m->meta_keys[0] = xstrdup("dataset");
	is_int(mvms_manifest_sort(m), MVMS_EINVALID, "sort: a duplicate metadata key is refused");
	mvms_manifest_free(m);
	mvms_manifest_free(NULL);
}

static void test_round_trip(void)
{
	mvms_manifest *m = NULL;
	mvms_buf b = MVMS_BUF_INIT;
	char hex[MVMS_OID_HEXSZ + 1];

	is_int(mvms_manifest_decode(&m, canonical, sizeof(canonical) - 1), 0, "decode");
	if (!m)
		return;
	ok(strcmp(m->model_uid, UID) == 0 && strcmp(m->model_name, "resnet") == 0,
	   "decode: model uid and name");
	ok(strcmp(m->author, "Ann \"a\" <a@x>") == 0 && m->time == 1700000500,
	   "decode: author and time");
	is_str(m->message, "merge\n\ttab \\ and \x01", "decode: escapes in the message");
	mvms_oid_fmt(hex, &m->parents[1]);
	ok(m->parent_count == 2 && strcmp(hex, P2) == 0, "decode: both parents, in order");
	ok(m->meta_count == 2 && strcmp(m->meta_keys[1], "lr") == 0 &&
	   strcmp(m->meta_values[1], "0.1") == 0, "decode: metadata");
	mvms_oid_fmt(hex, &m->files[1].id);
	ok(m->file_count == 2 && strcmp(m->files[0].path, "bin/run.sh") == 0 &&
	   m->files[0].mode == 0755 && m->files[0].size == 10 && m->files[1].mode == 0644 &&
	   strcmp(hex, ID_A) == 0, "decode: files with mode, size and id");
	is_int(mvms_manifest_encode(&b, m), 0, "re-encode");
	ok(b.size == sizeof(canonical) - 1 && memcmp(b.ptr, canonical, b.size) == 0,
	   "re-encoding gives the same bytes");
	mvms_buf_dispose(&b);
	mvms_manifest_free(m);
}

/* `canonical` with its first @from replaced by @to, then decoded: must be refused. */
static void refused(const char *from, const char *to, const char *name)
{
	const char *at = strstr(canonical, from);
	size_t pre, len;
	char *doc;
	mvms_manifest *m = NULL;
	int rc;

	if (!at) {
		ok(0, "refused: %s (test text not found)", name);
		return;
	}
	pre = (size_t)(at - canonical);
	len = sizeof(canonical) - 1 - strlen(from) + strlen(to);
	doc = malloc(len + 1);
	if (!doc)
		abort();
	memcpy(doc, canonical, pre);
	memcpy(doc + pre, to, strlen(to));
	strcpy(doc + pre + strlen(to), at + strlen(from));
	rc = mvms_manifest_decode(&m, doc, len);
	ok(rc == MVMS_EMISMATCH && m == NULL, "refused: %s", name);
	if (rc != MVMS_EMISMATCH)
		diag("rc %d for %s", rc, doc);
	mvms_manifest_free(m);
	free(doc);
}

static void test_malformed(void)
{
	mvms_manifest *m = NULL;

	refused("\"format\":1,", "\"format\": 1,", "a space after a colon");
	refused("}]}\n", "}]}", "no final newline");
	refused("}]}\n", "}]}\n\n", "a second newline");
	refused("}]}\n", "}]} ", "trailing space instead of the newline");
	refused("{\"format\":1,\"model\":{\"uid\":\"" UID "\",\"name\":\"resnet\"}",
		"{\"format\":1,\"model\":{\"name\":\"resnet\",\"uid\":\"" UID "\"}", "keys out of order");
	refused("\"bin/run.sh\"", "\"z/run.sh\"", "files not sorted by path");
	refused("\"weights/a.safetensors\"", "\"bin/run.sh\"", "a duplicate path");
	refused("\"dataset\"", "\"zz\"", "metadata not sorted by key");
	refused("\"bin/run.sh\"", "\"../run.sh\"", "a path with ..");
	refused("\"bin/run.sh\"", "\"/bin/run.sh\"", "an absolute path");
	refused("\"mode\":493", "\"mode\":384", "mode 0600");
	refused("\"size\":10", "\"size\":10.5", "a fractional size");
	refused("\"size\":10", "\"size\":-1", "a negative size");
	refused("\"time\":1700000500", "\"time\":\"1700000500\"", "time as a string");
	refused(ID_B, "D46C79D9C103C38D3F1F56655732E7F48F81074C1EDF74BA667B7840FC11CC0B",
		"an upper-case file id (not canonical)");
	refused(ID_B, "d46c79d9", "a short file id");
	refused(P1, "x0e929af38f3c498f19ae69a9eb69218d76ff28b4a9947c0df372398bf6c22c6",
		"a parent id that is not hex");
	refused(UID, "0123456789abcdef", "a short model uid");
	refused("\\u000a", "\\n", "a newline escaped as \\n instead of \\u000a");
	refused("\"meta\":{", "\"meta\":[", "meta that is not an object");
	is_int(mvms_manifest_decode(&m, canonical, sizeof(canonical) - 10), MVMS_EMISMATCH,
	       "refused: truncated");
	is_int(mvms_manifest_decode(&m, "not json", 8), MVMS_EMISMATCH, "refused: not JSON");
	is_int(mvms_manifest_decode(&m, "", 0), MVMS_EMISMATCH, "refused: empty");
	ok(m == NULL, "nothing is returned for refused input");
}

/* Modification times: encoded after the id when known, both fields; a manifest without
 * them (every one written before) is unchanged, and one with them round-trips. */
static void test_mtime(void)
{
	static const char with[] =
		"{\"format\":1,\"model\":{\"uid\":\"" UID "\",\"name\":\"m\"},\"parents\":[],"
		"\"author\":\"a\",\"time\":1,\"message\":\"\",\"meta\":{},"
		"\"files\":[{\"path\":\"a\",\"mode\":420,\"size\":0,\"id\":\"" ID_A "\","
		"\"mtime\":1614834367,\"mtime_ns\":123456789},"
		"{\"path\":\"b\",\"mode\":420,\"size\":0,\"id\":\"" ID_A "\"}]}\n";
	mvms_manifest *m = NULL;
	mvms_buf b = MVMS_BUF_INIT;
	char *doc;
	const char *at;

	is_int(mvms_manifest_decode(&m, with, sizeof(with) - 1), 0, "mtime: decoded");
	ok(m && m->files[0].mtime == 1614834367 && m->files[0].mtime_ns == 123456789,
	   "mtime: seconds and nanoseconds");
	ok(m && m->files[1].mtime == 0 && m->files[1].mtime_ns == 0, "mtime: none for a file without");
	if (m)
		mvms_manifest_encode(&b, m);
	ok(b.size == sizeof(with) - 1 && memcmp(b.ptr, with, b.size) == 0,
	   "mtime: re-encodes to the same bytes");
	mvms_buf_dispose(&b);
	mvms_manifest_free(m);
	m = NULL;
	/* Each refused: a field alone, zero written out, ns out of range, negative. */
	doc = strdup(with);
	if (!doc)
		abort();
	at = strstr(with, ",\"mtime_ns\":123456789");
	memmove(doc + (at - with), at + strlen(",\"mtime_ns\":123456789"),
		strlen(at + strlen(",\"mtime_ns\":123456789")) + 1);
	is_int(mvms_manifest_decode(&m, doc, strlen(doc)), MVMS_EMISMATCH, "mtime: refused without mtime_ns");
	free(doc);
	refused("\"size\":10,\"id\":\"" ID_B "\"",
		"\"size\":10,\"id\":\"" ID_B "\",\"mtime\":0,\"mtime_ns\":0", "mtime: 0, 0 written out");
	refused("\"size\":10,\"id\":\"" ID_B "\"",
		"\"size\":10,\"id\":\"" ID_B "\",\"mtime\":5,\"mtime_ns\":1000000000",
		"mtime: nanoseconds of a whole second");
	refused("\"size\":10,\"id\":\"" ID_B "\"",
		"\"size\":10,\"id\":\"" ID_B "\",\"mtime\":-5,\"mtime_ns\":0", "mtime: negative");
	refused("\"size\":10,\"id\":\"" ID_B "\"",
		"\"size\":10,\"id\":\"" ID_B "\",\"mtime_ns\":3,\"mtime\":5", "mtime: fields out of order");
}

static void test_paths(void)
{
	is_int(mvms_path_check("a/b.txt"), 0, "path: a/b.txt is fine");
	is_int(mvms_path_check(""), MVMS_EINVALID, "path: empty refused");
	is_int(mvms_path_check("a//b"), MVMS_EINVALID, "path: empty component refused");
	is_int(mvms_path_check("a/./b"), MVMS_EINVALID, "path: '.' component refused");
	is_int(mvms_path_check("a\\b"), MVMS_EINVALID, "path: backslash refused");
}

int main(void)
{
	test_encode();
	test_round_trip();
	test_malformed();
	test_mtime();
	test_paths();
	return done_testing();
}
