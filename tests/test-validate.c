/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mvms_validate_commit (src/lib/transfer/validate.c), the one check of a commit that a
 * local push and the server's commit endpoint share: the branch, paths (invalid, twice, a
 * file that is also a directory), parents, and each file's chunk list, whether taken from
 * the store (declared size), sent as a "files" object (well formed, hashes to the file id,
 * adds up, chunks stored with those lengths) or cut by a push (the same). Then the local
 * path: mvms_push__entries refuses such a commit and writes no version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "tap.h"
#include "testfs.h"
#include "store_int.h"
#include "hash.h"
#include "validate.h"

static char dir[] = "/tmp/mvms-test-validate-XXXXXX";

static void write_file(const char *rel, size_t size, unsigned seed)
{
	char path[512];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (!(f = fopen(path, "w")))
		return;
	srand(seed);
	for (i = 0; i < size; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
}

/* The chunk list of the content of version v1's file @path, from the database. */
static size_t stored_chunks(mvms_store *st, const char *path, mvms_chunk_ref *out, size_t max,
			    mvms_oid *id, uint64_t *size)
{
	static const char q[] =
		"SELECT ch.oid, ch.raw_len, c.oid, c.size FROM files f "
		"JOIN contents c ON c.id = f.content_id JOIN content_chunks cc ON cc.content_id = c.id "
		"JOIN chunks ch ON ch.id = cc.chunk_id WHERE f.path = ? ORDER BY cc.seq";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	size_t n = 0;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		mvms_db_column_oid(&out[n].id, s, 0);
		out[n].len = (uint32_t)sqlite3_column_int64(s, 1);
		mvms_db_column_oid(id, s, 2);
		*size = (uint64_t)sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_reset(s);
	return n;
}

static void file_id(mvms_oid *out, const mvms_chunk_ref *refs, size_t n)
{
	mvms_hasher h;
	size_t i;

	mvms_hasher_init(&h);
	for (i = 0; i < n; i++)
		mvms_hasher_add_chunk(&h, &refs[i].id, refs[i].len);
	mvms_hasher_final(&h, out);
}

/* A "files" object for @refs declaring @size (docs/formats.md). */
static size_t filemap(unsigned char *out, const mvms_chunk_ref *refs, size_t n, uint64_t size)
{
	size_t i;

	memcpy(out, "MVMSFMAP", 8);
	mvms_le32_put(out + 8, 1);
	mvms_le32_put(out + 12, 0);
	mvms_le64_put(out + 16, size);
	mvms_le64_put(out + 24, n);
	for (i = 0; i < n; i++) {
		memcpy(out + 32 + 40 * i, refs[i].id.id, MVMS_OID_RAWSZ);
		mvms_le64_put(out + 32 + 40 * i + 32, refs[i].len);
	}
	return 32 + 40 * n;
}

static int check(mvms_store *st, const mvms_commit_file *files, size_t n, const int64_t *parents,
		 size_t np, const char *branch)
{
	mvms_commit_plan p;

	memset(&p, 0, sizeof(p));
	p.model_id = 1;
	p.branch = branch ? branch : "main";
	p.files = files;
	p.nfiles = n;
	p.parents = parents;
	p.nparents = np;
	return mvms_validate_commit(st, &p);
}

/* @want, and (for an error) a message containing @msg. */
static void expect(int got, int want, const char *msg, const char *name)
{
	if (!ok(got == want && (want == 0 || strstr(mvms_error_last(), msg)), "%s", name))
		diag("got %d '%s', want %d with '%s'", got, mvms_error_last(), want, msg);
}

static void test_paths(mvms_store *st, const mvms_commit_file *good)
{
	static const char *const bad[] = { "../x", "a//b", "/abs", "a/./b", "a\\b", "" };
	mvms_commit_file f[3];
	size_t i;

	memcpy(&f[0], good, sizeof(*good));
	memcpy(&f[1], good, sizeof(*good));
	memcpy(&f[2], good, sizeof(*good));
	f[0].path = "a";
	f[1].path = "a/b";
	expect(check(st, f, 2, NULL, 0, NULL), MVMS_EINVALID, "'a' is a file and also a directory",
	       "'a' and 'a/b' are refused");
	f[0].path = "a-b";
	f[1].path = "a/b";
	f[2].path = "a";
	expect(check(st, f, 3, NULL, 0, NULL), MVMS_EINVALID, "'a' is a file",
	       "'a', 'a-b' and 'a/b' (not adjacent when sorted) are refused");
	f[0].path = "x/y/z";
	f[1].path = "x/y";
	expect(check(st, f, 2, NULL, 0, NULL), MVMS_EINVALID, "'x/y' is a file",
	       "'x/y' and 'x/y/z' are refused");
	f[0].path = "a-b";
	f[1].path = "a/b";
	f[2].path = "ab";
	expect(check(st, f, 3, NULL, 0, NULL), 0, "", "'a-b', 'a/b' and 'ab' are fine");
	f[0].path = "same";
	f[1].path = "same";
	expect(check(st, f, 2, NULL, 0, NULL), MVMS_EINVALID, "given twice", "a path twice is refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[64];
		f[0].path = bad[i];
		snprintf(name, sizeof(name), "path '%s' is refused", bad[i]);
		expect(check(st, f, 1, NULL, 0, NULL), MVMS_EINVALID, "path", name);
	}
	f[0].path = "x";
	f[0].mode = 0600;
	expect(check(st, f, 1, NULL, 0, NULL), MVMS_EINVALID, "mode 600", "mode 0600 is refused");
}

/* mvms_push__entries on branch main of model m, building on @row. */
static int push_entries(mvms_push_result *r, mvms_store *st, int64_t row, const char *message,
			const mvms_push__entry *e, size_t n)
{
	mvms_push__request rq = { "m", "main", row, &row, 1, message, "t", 0, e, n, NULL, 0 };

	return mvms_push__entries(r, st, &rq);
}

static void test_sources(mvms_store *st, const mvms_commit_file *good, const mvms_chunk_ref *refs,
			 size_t n)
{
	mvms_chunk_ref t[64];
	mvms_commit_file f = *good;
	unsigned char fm[32 + 40 * 64];
	uint64_t size = good->size;

	/* Stored content. */
	f.size = size + 123456;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "declared size",
	       "a stored content with another declared size is refused");
	f = *good;
	f.id.id[0] ^= 1;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "chunk list was not sent",
	       "an unknown content without a chunk list is refused");

	/* Chunks cut by a push. */
	f = *good;
	f.source = MVMS_COMMIT_CHUNKS;
	f.chunks = refs;
	f.nchunks = n;
	expect(check(st, &f, 1, NULL, 0, NULL), 0, "", "the stored chunk list, as cut chunks, is fine");
	memcpy(t, refs, n * sizeof(*t));
	t[0] = refs[1];
	t[1] = refs[0];
	f.chunks = t;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "does not hash",
	       "chunks out of order do not hash to the file id");
	memcpy(t, refs, n * sizeof(*t));
	t[0].len++;
	t[1].len--;
	file_id(&f.id, t, n);
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "but its chunk list says",
	       "lengths that add up but are not the chunks' are refused");
	memcpy(t, refs, n * sizeof(*t));
	file_id(&f.id, t, n - 1);
	f.nchunks = n - 1;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "add up to",
	       "chunks that do not add up to the declared size are refused");
	crypto_generichash(t[0].id.id, MVMS_OID_RAWSZ, (const unsigned char *)"absent", 6, NULL, 0);
	file_id(&f.id, t, n);
	f.nchunks = n;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "is not stored",
	       "a chunk the store does not have is refused");
	f.path = "empty";
	f.size = 0;
	f.nchunks = 0;
	f.chunks = NULL;
	file_id(&f.id, NULL, 0);
	expect(check(st, &f, 1, NULL, 0, NULL), 0, "", "an empty file (no chunks) is fine");

	/* A chunk list sent with the commit. */
	f = *good;
	f.source = MVMS_COMMIT_FILEMAP;
	f.filemap = fm;
	f.filemap_len = filemap(fm, refs, n, size);
	expect(check(st, &f, 1, NULL, 0, NULL), 0, "", "a chunk list sent with the commit is fine");
	f.id.id[0] ^= 1;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "does not hash",
	       "a chunk list under another file id is refused");
	f.id = good->id;
	f.filemap_len -= 40;
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "chunk list",
	       "a truncated chunk list is refused");
	memcpy(t, refs, n * sizeof(*t));
	t[0].len++;
	t[1].len--;
	f.filemap_len = filemap(fm, t, n, size);
	file_id(&f.id, t, n);
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "but its chunk list says",
	       "a sent chunk list with wrong chunk lengths is refused");
	f.filemap_len = filemap(fm, refs, n - 1, size - refs[n - 1].len);
	file_id(&f.id, refs, n - 1);
	expect(check(st, &f, 1, NULL, 0, NULL), MVMS_EINVALID, "add up to",
	       "a sent chunk list shorter than the declared size is refused");
}

int main(void)
{
	mvms_store *st = NULL;
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result r;
	mvms_chunk_ref refs[64];
	mvms_commit_file good;
	mvms_push__entry e[2];
	char path[600];
	int64_t row = 0, parents[2];
	uint64_t size = 0, nv = 0;
	size_t n;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tree", dir);
	mkdir(path, 0755);
	write_file("tree/data.bin", 300000, 7);
	snprintf(path, sizeof(path), "%s/store", dir);
	if (mvms_store_init(&st, path, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tree", dir);
	is_int(mvms_push(&r, st, "m", path, &o), 0, "push m@v1");
	memset(&good, 0, sizeof(good));
	n = stored_chunks(st, "data.bin", refs, 64, &good.id, &size);
	ok(n >= 3, "data.bin has %zu chunks", n);
	if (n < 3) {
		printf("Bail out! too few chunks\n");
		return 1;
	}
	good.path = "data.bin";
	good.mode = 0644;
	good.size = size;
	good.source = MVMS_COMMIT_STORED;
	expect(check(st, &good, 1, NULL, 0, NULL), 0, "", "v1's own file as stored is fine");

	test_paths(st, &good);
	test_sources(st, &good, refs, n);

	mvms_version__row(&row, st, r.id);
	parents[0] = row;
	parents[1] = row + 1000;
	expect(check(st, &good, 1, parents, 1, NULL), 0, "", "an existing parent is fine");
	expect(check(st, &good, 1, parents, 2, NULL), MVMS_EINVALID, "parent 2 is not a version",
	       "a parent that is not a version is refused");
	parents[1] = row;
	expect(check(st, &good, 1, parents, 2, NULL), MVMS_EINVALID, "also parent 1",
	       "the same parent twice is refused");
	expect(check(st, &good, 1, NULL, 0, "abcd"), MVMS_EINVALID, "version id prefix",
	       "a new branch named like an id prefix is refused");
	is_int(mvms_tag_create(st, "m@v1", "rel"), 0, "tag rel");
	expect(check(st, &good, 1, NULL, 0, "rel"), MVMS_EEXISTS, "tag 'rel' exists",
	       "a new branch cannot take a tag's name");

	/* The local path (merges, uploads, sync commits): nothing is committed. */
	memset(e, 0, sizeof(e));
	e[0].path = "data.bin";
	e[0].mode = 0644;
	e[0].content = good.id;
	e[0].size = size + 123456;
	expect(push_entries(&r, st, row, "bad", e, 1),
	       MVMS_EINVALID, "declared size", "push__entries: a wrong size is refused");
	e[0].size = size;
	e[1] = e[0];
	e[0].path = "d";
	e[1].path = "d/data.bin";
	expect(push_entries(&r, st, row, "bad", e, 2),
	       MVMS_EINVALID, "'d' is a file", "push__entries: 'd' and 'd/data.bin' are refused");
	mvms_store__u64(&nv, st, "SELECT count(*) FROM versions", "versions");
	is_int(nv, 1, "no version was made");
	expect(push_entries(&r, st, row, "good", e + 1, 1),
	       0, "", "push__entries: a good commit of stored content");
	is_int(r.number, 2, "it is v2");

	mvms_store_free(st);
	rm_rf(dir);
	return done_testing();
}
