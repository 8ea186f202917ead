/* SPDX-License-Identifier: MIT */
/* Unit tests: object ids, hashing of chunk lists, buffers, canonical manifests, paths, pool. */
#include <stdatomic.h>
#include <stdlib.h>
#include "tap.h"
#include "common.h"
#include "hash.h"
#include "manifest.h"
#include "pool.h"
#include "oidset.h"
#include "tree.h"

static atomic_int hits[1000];

static void count_one(size_t i, unsigned worker, void *ctx)
{
	(void)worker;
	(void)ctx;
	atomic_fetch_add(&hits[i], 1);
}

static void test_oid(void)
{
	mvms_oid a, b;
	char hex[MVMS_OID_HEXSZ + 1];

	/* BLAKE2b-256("abc"), from the BLAKE2 reference implementation (b2sum -l 256). */
	mvms_oid_hash(&a, "abc", 3);
	mvms_oid_fmt(hex, &a);
	is_str(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
	       "BLAKE2b-256 known answer");
	ok(mvms_oid_parse(&b, hex) == 0 && mvms_oid_cmp(&a, &b) == 0, "hex round trip");
	ok(mvms_oid_parse(&b, "BDDD813C634239723171EF3FEE98579B94964E3BB1CB3E427262C8C068D52319") == 0 &&
	   mvms_oid_cmp(&a, &b) == 0, "upper-case hex accepted");
	is_int(mvms_oid_parse(&b, "abc"), MVMS_EINVALID, "short hex refused");
	is_int(mvms_oid_parse(&b, "zddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"),
	       MVMS_EINVALID, "non-hex refused");
	memset(&b, 0, sizeof(b));
	ok(mvms_oid_is_zero(&b) && !mvms_oid_is_zero(&a), "is_zero");
}

static void test_chunk_list_hash(void)
{
	mvms_hasher h;
	mvms_oid c1, c2, got, want;
	unsigned char rec[80];

	mvms_oid_hash(&c1, "one", 3);
	mvms_oid_hash(&c2, "two", 3);
	mvms_hasher_init(&h);
	mvms_hasher_add_chunk(&h, &c1, 3);
	mvms_hasher_add_chunk(&h, &c2, 70000);
	mvms_hasher_final(&h, &got);
	memcpy(rec, c1.id, 32);
	mvms_le64_put(rec + 32, 3);
	memcpy(rec + 40, c2.id, 32);
	mvms_le64_put(rec + 72, 70000);
	mvms_oid_hash(&want, rec, sizeof(rec));
	ok(mvms_oid_cmp(&got, &want) == 0, "file id = BLAKE2b-256 of (chunk id, u64 LE length) pairs");
}

static void test_buf(void)
{
	mvms_buf b = MVMS_BUF_INIT;

	mvms_buf_put_json_string(&b, "a\"b\\c\n\x01\xc3\xa9");
	is_str(b.ptr, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"", "canonical JSON escaping");
	mvms_buf_clear(&b);
	mvms_buf_printf(&b, "%d-%s", 42, "x");
	is_str(b.ptr, "42-x", "printf");
	mvms_buf_dispose(&b);
}

static void test_array_room(void)
{
	size_t cap = 0, n, i, grew = 0, kept = 1;
	int *a = NULL, *t;

	for (n = 0; n < 1000; n++) {
		size_t before = cap;
		if (!(t = mvms_array_room(a, &cap, n, sizeof(*t), 4)))
			break;
		grew += cap != before;
		a = t;
		a[n] = (int)n;
	}
	for (i = 0; i < n; i++)
		kept &= a[i] == (int)i;
	is_int((int)n, 1000, "array_room: 1000 elements appended");
	ok(kept, "array_room: elements kept across moves");
	is_int((int)cap, 1024, "array_room: capacity doubles from the first size (4 .. 1024)");
	is_int((int)grew, 9, "array_room: 9 reallocations for 1000 elements");
	cap = SIZE_MAX / 2 + 1;
	ok(mvms_array_room(a, &cap, cap, 16, 4) == NULL, "array_room: an overflowing size is refused");
	is_int((int)(cap == SIZE_MAX / 2 + 1), 1, "array_room: ... leaving the capacity as it was");
	free(a);
}

static void test_paths(void)
{
	is_int(mvms_path_check("a/b/c.bin"), 0, "nested path ok");
	is_int(mvms_path_check("a b/c"), 0, "space ok");
	is_int(mvms_path_check("../x"), MVMS_EINVALID, "'..' refused");
	is_int(mvms_path_check("a/../x"), MVMS_EINVALID, "inner '..' refused");
	is_int(mvms_path_check("/etc/passwd"), MVMS_EINVALID, "absolute refused");
	is_int(mvms_path_check("a//b"), MVMS_EINVALID, "empty component refused");
	is_int(mvms_path_check("a/./b"), MVMS_EINVALID, "'.' refused");
	is_int(mvms_path_check(""), MVMS_EINVALID, "empty refused");
	is_int(mvms_path_check("a\\b"), MVMS_EINVALID, "backslash refused");
	is_int(mvms_path_check("a/"), MVMS_EINVALID, "trailing slash refused");
}

static void test_manifest(void)
{
	mvms_manifest m, *d = NULL;
	mvms_manifest_file files[2];
	mvms_oid parent;
	char *keys[2] = { "z", "a" }, *vals[2] = { "last", "first" };
	mvms_buf enc = MVMS_BUF_INIT, enc2 = MVMS_BUF_INIT;
	const char *want =
		"{\"format\":1,\"model\":{\"uid\":\"00112233445566778899aabbccddeeff\",\"name\":\"acme/m\"},"
		"\"parents\":[\"bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319\"],"
		"\"author\":\"ann\",\"time\":1700000000,\"message\":\"hi \\\"there\\\"\","
		"\"meta\":{\"a\":\"first\",\"z\":\"last\"},\"files\":["
		"{\"path\":\"a.txt\",\"mode\":420,\"size\":3,\"id\":"
		"\"bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319\"},"
		"{\"path\":\"b/run.sh\",\"mode\":493,\"size\":0,\"id\":"
		"\"bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319\"}]}\n";

	/* Every field zero (a file with no recorded time), whatever the struct grows. */
	memset(files, 0, sizeof(files));
	memset(&m, 0, sizeof(m));
	mvms_oid_hash(&parent, "abc", 3);
	memcpy(m.model_uid, "00112233445566778899aabbccddeeff", 33);
	m.model_name = "acme/m";
	m.parents = &parent;
	m.parent_count = 1;
	m.author = "ann";
	m.message = "hi \"there\"";
	m.time = 1700000000;
	m.meta_keys = keys;
	m.meta_values = vals;
	m.meta_count = 2;
	files[0].path = "b/run.sh";
	files[0].mode = 0755;
	files[0].size = 0;
	files[0].id = parent;
	files[1].path = "a.txt";
	files[1].mode = 0644;
	files[1].size = 3;
	files[1].id = parent;
	m.files = files;
	m.file_count = 2;
	is_int(mvms_manifest_sort(&m), 0, "sort");
	mvms_manifest_encode(&enc, &m);
	is_str(enc.ptr, want, "canonical encoding is pinned");
	is_int(mvms_manifest_decode(&d, enc.ptr, enc.size), 0, "decode");
	if (d) {
		mvms_manifest_encode(&enc2, d);
		ok(enc2.size == enc.size && memcmp(enc.ptr, enc2.ptr, enc.size) == 0,
		   "decode then encode gives the same bytes");
		mvms_manifest_free(d);
		d = NULL;
	}
	is_int(mvms_manifest_decode(&d, "{\"format\":1 }", 13), MVMS_EMISMATCH, "garbage refused");
	{
		/* Same document, different whitespace: not canonical. */
		char *alt = malloc(enc.size + 2);
		memcpy(alt, enc.ptr, 1);
		alt[1] = ' ';
		memcpy(alt + 2, enc.ptr + 1, enc.size - 1);
		is_int(mvms_manifest_decode(&d, alt, enc.size + 1), MVMS_EMISMATCH,
		       "non-canonical whitespace refused");
		free(alt);
	}
	{
		/* Re-encoding keeps a misplaced or repeated entry as it came: still refused. */
		char *unsorted = strdup(enc.ptr);
		const char *two = "{\"format\":1,\"model\":{\"uid\":\"00112233445566778899aabbccddeeff\","
				  "\"name\":\"m\"},\"parents\":[],\"author\":\"a\",\"time\":1,"
				  "\"message\":\"\",\"meta\":{\"k\":\"1\",\"k\":\"2\"},\"files\":[]}\n";
		/* a.txt -> c.txt: the first file now sorts after the second (b/run.sh). */
		memcpy(strstr(unsorted, "\"path\":\"a.txt\"") + 8, "c", 1);
		is_int(mvms_manifest_decode(&d, unsorted, strlen(unsorted)), MVMS_EMISMATCH,
		       "files out of order refused");
		is_int(mvms_manifest_decode(&d, two, strlen(two)), MVMS_EMISMATCH,
		       "repeated metadata key refused");
		free(unsorted);
	}
	files[0].path = "b/run.sh"; /* sorted: files[0] was a.txt */
	is_int(mvms_manifest_sort(&m), MVMS_EINVALID, "duplicate paths refused");
	mvms_buf_dispose(&enc);
	mvms_buf_dispose(&enc2);
}

static void test_pool(void)
{
	mvms_pool *p = NULL;
	size_t i;
	int all = 1, round;

	ok(mvms_pool_new(&p, 3) == 0 && mvms_pool_size(p) >= 1, "pool created");
	for (round = 0; round < 20; round++)
		mvms_pool_run(p, 1000, count_one, NULL);
	for (i = 0; i < 1000; i++)
		if (atomic_load(&hits[i]) != 20)
			all = 0;
	ok(all, "every index ran exactly once per loop");
	mvms_pool_free(p);
	mvms_pool_free(NULL); /* a no-op: a crash here fails the program */
}

/* Push's set of pending chunk ids: it grows (rehashing) and keeps every id. */
static void test_oidset(void)
{
	mvms_oidset s = { NULL, NULL, 0, 0 };
	mvms_oid id;
	unsigned i, seed, missing = 0, extra = 0;

	for (i = 0; i < 5000; i++) {
		seed = i;
		mvms_oid_hash(&id, &seed, sizeof(seed));
		if (mvms_oidset_add(&s, &id) < 0)
			break;
	}
	seed = 7;
	mvms_oid_hash(&id, &seed, sizeof(seed));
	is_int(mvms_oidset_add(&s, &id), 0, "oidset: adding an id twice is fine");
	is_int((int)s.count, 5000, "oidset: 5000 ids, each counted once");
	for (i = 0; i < 10000; i++) {
		int has;
		seed = i;
		mvms_oid_hash(&id, &seed, sizeof(seed));
		has = mvms_oidset_has(&s, &id);
		missing += i < 5000 && !has;
		extra += i >= 5000 && has;
	}
	ok(missing == 0 && extra == 0, "oidset: has every id added and no other (%u, %u)",
	   missing, extra);
	mvms_oidset_clear(&s);
	ok(s.count == 0 && !mvms_oidset_has(&s, &id), "oidset: clear empties it");
	mvms_oidset_dispose(&s);
	ok(!mvms_oidset_has(&s, &id), "oidset: an empty set has nothing");
}

/* The one "identical to the head" rule. */
static void test_tree(void)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_tree_entry a[2], b[2];
	const char *meta[] = { "k=v" };

	memset(a, 0, sizeof(a));
	a[0].path = "a";
	a[0].mode = 0644;
	a[1].path = "b/c";
	a[1].mode = 0755;
	mvms_oid_hash(&a[1].id, "x", 1);
	memcpy(b, a, sizeof(b));
	ok(mvms_tree_same(a, 2, b, 2), "tree: same paths, modes and ids");
	ok(!mvms_tree_same(a, 2, b, 1), "tree: a file fewer differs");
	b[1].mode = 0644;
	ok(!mvms_tree_same(a, 2, b, 2), "tree: a mode differs");
	b[1].mode = 0755;
	b[1].path = "b/d";
	ok(!mvms_tree_same(a, 2, b, 2), "tree: a path differs");
	b[1].path = "b/c";
	b[1].id.id[0] ^= 1;
	ok(!mvms_tree_same(a, 2, b, 2), "tree: a content differs");
	ok(mvms_tree_skip_identical(&o), "tree: a plain push makes no version for the head's files");
	o.meta = meta;
	o.meta_count = 1;
	ok(!mvms_tree_skip_identical(&o), "tree: a push with metadata always makes one");
}

/* The wire names of errors: each code's name maps back to the code (the client's side of
 * the server's replies), the server's other names map to theirs, unknown names to 0. */
static void test_error_names(void)
{
	static const int codes[] = { MVMS_ENOTFOUND, MVMS_EEXISTS, MVMS_EAMBIGUOUS, MVMS_EBUFS,
				     MVMS_EUSER, MVMS_EINVALID, MVMS_ECONFLICT, MVMS_EMISMATCH,
				     MVMS_EAUTH, MVMS_ETIMEOUT, MVMS_ENOTSUPPORTED, MVMS_EMERGE,
				     MVMS_ERROR };
	size_t i;
	int round = 1;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (mvms_error_from_name(mvms_error_name(codes[i])) != codes[i]) {
			diag("%d: %s maps back to %d", codes[i], mvms_error_name(codes[i]),
			     mvms_error_from_name(mvms_error_name(codes[i])));
			round = 0;
		}
	ok(round, "every error code's wire name maps back to it");
	is_str(mvms_error_name(MVMS_EEXISTS), "exists", "EEXISTS is 'exists' on the wire");
	is_int(mvms_error_from_name("store_damaged"), MVMS_EMISMATCH, "store_damaged is EMISMATCH");
	is_int(mvms_error_from_name("gc_conflict"), MVMS_ECONFLICT, "gc_conflict is ECONFLICT");
	is_int(mvms_error_from_name("bad_query"), 0, "a name it does not know is 0");
	is_int(mvms_error_from_name(NULL), 0, "so is no name");
}

int main(void)
{
	test_oid();
	test_chunk_list_hash();
	test_buf();
	test_array_room();
	test_paths();
	test_manifest();
	test_pool();
	test_oidset();
	test_tree();
	test_error_names();
	return done_testing();
}
