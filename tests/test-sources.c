/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for sources (src/lib/meta/sources.c, schema/005_sources.sql): files outside a store
 * that hold chunks byte for byte. Recording a file (stats, which chunks the store has, chunk
 * lists that do not add up to the file and missing paths refused, the same path replaced),
 * writing files from sources, packs and both with mvms_sync_write_file (repeated chunks, an
 * empty file), pruning files that changed (mtime, size, gone, new inode), and a source whose
 * bytes no longer match: the write fails with MVMS_EMISMATCH, leaves nothing behind, and the
 * source is forgotten so the next write finds the chunks missing (MVMS_ENOTFOUND).
 * A file is recorded with its chunk list whole and indexed by the first lookup after it:
 * another handle sees its chunks once it settles, a list that is not whole entries forgets
 * its file, and forgetting a file not indexed yet drops its list.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "store_int.h"
#include "teststore.h"
#include "packs.h"
#include "common.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "mvms/sync.h"

static char dir[] = "/tmp/mvms-test-sources-XXXXXX";

/* ---- test data ---- */

/* A file content: its bytes, its chunks (ids and lengths), its chunk list and its id. */
typedef struct content {
	size_t n;
	mvms_oid *ids;
	uint32_t *len;
	uint64_t *off;            /* where each chunk starts in bytes */
	unsigned char *bytes;
	size_t size;
	unsigned char *fm;        /* the chunk list: 32-byte header, 40-byte entries */
	size_t fm_len;
	mvms_oid id;
} content;

static void bail(const char *what)
{
	printf("Bail out! %s: %s\n", what, mvms_error_last());
	exit(1);
}

/* Builds @c's chunk list and file id from its chunks (ids, len) and size. */
static void content_index(content *c)
{
	mvms_hasher h;
	size_t i;

	c->fm_len = 32 + c->n * 40;
	if (!(c->fm = malloc(c->fm_len)))
		bail("out of memory");
	memcpy(c->fm, "MVMSFMAP", 8);
	mvms_le32_put(c->fm + 8, 1);
	mvms_le32_put(c->fm + 12, 0);
	mvms_le64_put(c->fm + 16, c->size);
	mvms_le64_put(c->fm + 24, c->n);
	mvms_hasher_init(&h);
	for (i = 0; i < c->n; i++) {
		memcpy(c->fm + 32 + i * 40, c->ids[i].id, MVMS_OID_RAWSZ);
		mvms_le64_put(c->fm + 32 + i * 40 + 32, c->len[i]);
		mvms_hasher_add_chunk(&h, &c->ids[i], c->len[i]);
	}
	mvms_hasher_final(&h, &c->id);
}

static void content_alloc(content *c, size_t n, size_t size)
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	c->size = size;
	c->ids = calloc(n + 1, sizeof(*c->ids));
	c->len = calloc(n + 1, sizeof(*c->len));
	c->off = calloc(n + 1, sizeof(*c->off));
	c->bytes = malloc(size + 1);
	if (!c->ids || !c->len || !c->off || !c->bytes)
		bail("out of memory");
}

/* A content of @n chunks of the given lengths, random bytes from @seed. */
static void content_make(content *c, const uint32_t *lens, size_t n, uint32_t seed)
{
	size_t i, size = 0;

	for (i = 0; i < n; i++)
		size += lens[i];
	content_alloc(c, n, size);
	fill_random(c->bytes, size, seed);
	for (i = 0, size = 0; i < n; i++) {
		c->len[i] = lens[i];
		c->off[i] = size;
		mvms_oid_hash(&c->ids[i], c->bytes + size, lens[i]);
		size += lens[i];
	}
	content_index(c);
}

/* A content made of chunks of others: chunk k is chunk pick[k].i of pick[k].from. */
typedef struct pick {
	const content *from;
	size_t i;
} pick;

static void content_mix(content *c, const pick *p, size_t n)
{
	size_t k, size = 0;

	for (k = 0; k < n; k++)
		size += p[k].from->len[p[k].i];
	content_alloc(c, n, size);
	for (k = 0, size = 0; k < n; k++) {
		const content *f = p[k].from;
		c->ids[k] = f->ids[p[k].i];
		c->len[k] = f->len[p[k].i];
		c->off[k] = size;
		memcpy(c->bytes + size, f->bytes + f->off[p[k].i], c->len[k]);
		size += c->len[k];
	}
	content_index(c);
}

static void content_free(content *c)
{
	free(c->ids);
	free(c->len);
	free(c->off);
	free(c->bytes);
	free(c->fm);
	memset(c, 0, sizeof(*c));
}

/* ---- helpers ---- */

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", dir, rel);
}

static int write_file(const char *rel, const unsigned char *p, size_t len)
{
	char path[300];
	int fd, rc;

	path_of(path, sizeof(path), rel);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -1;
	rc = len ? mvms_write_full(fd, p, len, path) : 0;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* 1 when @dir/@rel holds exactly @c's bytes. */
static int same_file(const char *d, const char *rel, const content *c)
{
	char path[400];
	unsigned char *got = NULL;
	size_t len = 0;
	int same;

	snprintf(path, sizeof(path), "%s/%s", d, rel);
	same = read_whole(&got, &len, path) == 0 && len == c->size &&
	       (len == 0 || memcmp(got, c->bytes, len) == 0);
	free(got);
	return same;
}

static int add(mvms_store *st, const char *rel, const content *c)
{
	char path[300];

	path_of(path, sizeof(path), rel);
	return mvms_sources_add(st, path, &c->id, c->fm, c->n);
}

static int write_out(mvms_store *st, const char *outdir, const char *rel, const content *c)
{
	mvms_error_clear();
	return mvms_sync_write_file(st, outdir, rel, 0644, c->size, &c->id, c->ids, c->n);
}

static uint64_t nsources(mvms_store *st)
{
	mvms_stats s;

	memset(&s, 0, sizeof(s));
	if (mvms_store_stats(&s, st) < 0)
		return (uint64_t)-1;
	return s.sources;
}

static uint64_t source_bytes(mvms_store *st)
{
	mvms_stats s;

	memset(&s, 0, sizeof(s));
	if (mvms_store_stats(&s, st) < 0)
		return (uint64_t)-1;
	return s.source_bytes;
}

/* How many of @c's chunks the store has (in packs or sources); (size_t)-1 on error. */
static size_t count_have(mvms_store *st, const content *c)
{
	unsigned char *have = calloc(c->n + 1, 1);
	size_t i, k = 0;

	if (!have || mvms_sources_have(have, st, c->ids, c->n) < 0) {
		free(have);
		return (size_t)-1;
	}
	for (i = 0; i < c->n; i++)
		k += have[i] != 0;
	free(have);
	return k;
}

static size_t prune(mvms_store *st)
{
	size_t dropped = (size_t)-1;

	if (mvms_sources_prune(&dropped, st) < 0)
		return (size_t)-1;
	return dropped;
}

/* Sets a file's mtime (atime untouched). */
static int set_mtime(const char *rel, struct timespec t)
{
	char path[300];
	struct timespec ts[2];

	path_of(path, sizeof(path), rel);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = t;
	return utimensat(AT_FDCWD, path, ts, 0);
}

static int stat_rel(struct stat *sb, const char *rel)
{
	char path[300];

	path_of(path, sizeof(path), rel);
	return stat(path, sb);
}

/* Puts @c's chunks into one pack of @st (stored raw) and indexes it. */
static int put_in_pack(mvms_store *st, const content *c)
{
	mvms_pack_writer *w = NULL;
	const mvms_pack_entry *e = NULL;
	mvms_oid pid;
	uint64_t size = 0;
	size_t i, count = 0;
	int error = 0;

	MVMS_TRY(mvms_pack_writer_new(&w, st->be));
	for (i = 0; i < c->n; i++)
		MVMS_TRY(mvms_pack_writer_add(w, &c->ids[i], MVMS_CODEC_RAW, c->len[i],
					      c->bytes + c->off[i], c->len[i]));
	MVMS_TRY(mvms_pack_writer_finish(&pid, &size, &e, &count, w));
	MVMS_TRY(mvms_packs__index(st, &pid, size, e, count));
done:
	mvms_pack_writer_free(w);
	return error;
}

static void unlink_rel(const char *rel)
{
	char path[300];

	path_of(path, sizeof(path), rel);
	unlink(path);
}

static void make_dir(const char *rel)
{
	char path[300];

	path_of(path, sizeof(path), rel);
	if (mkdir(path, 0755) < 0)
		bail(path);
}

/* ---- the contents ---- */

static const uint32_t lens_a[] = { 1, 4096, 65539, 100000, 7, 300000, 40, 41 };
static const uint32_t lens_b[] = { 77777, 2, 131072, 12345, 999 };
static const uint32_t lens_c[] = { 5000, 64, 200000 };
static const uint32_t lens_e[] = { 9000, 65536, 17, 4097, 120000, 33333, 250 };
static const uint32_t lens_small[] = { 3000, 19, 20000 };
#define N(a) (sizeof(a) / sizeof(*(a)))

static content A, B, C, X;           /* two sources, a pack, chunks the store never has */

/* ---- 1: recording a file ---- */

static void test_add(mvms_store *st)
{
	content bad;
	char path[300];
	uint64_t n0;
	int rc;

	is_int(nsources(st), 0, "add: a new store has no source");
	is_int(source_bytes(st), 0, "add: ... and no source bytes");
	is_int(count_have(st, &A), 0, "add: ... nor any of the file's chunks");

	if (write_file("files/a.bin", A.bytes, A.size) < 0 ||
	    write_file("files/b.bin", B.bytes, B.size) < 0 ||
	    write_file("files/a2.bin", A.bytes, A.size) < 0)
		bail("write the files");
	is_int(add(st, "files/a.bin", &A), 0, "add: a file of 8 chunks is recorded");
	is_int(nsources(st), 1, "add: stats count one source");
	is_int(source_bytes(st), A.size, "add: source_bytes is its size");
	is_int(count_have(st, &A), A.n, "add: have[] is true for each of its chunks");
	is_int(count_have(st, &X), 0, "add: ... and false for chunks it does not hold");
	{
		/* have[] per position: its chunks and others interleaved. */
		mvms_oid ids[4] = { X.ids[0], A.ids[3], X.ids[1], A.ids[0] };
		unsigned char have[4] = { 9, 9, 9, 9 };
		ok(mvms_sources_have(have, st, ids, 4) == 0 && have[0] == 0 && have[1] == 1 &&
		   have[2] == 0 && have[3] == 1, "add: have[] follows the positions of the ids");
	}

	/* A chunk list whose lengths do not add up to the file: A's, the last chunk replaced by
	 * one of X's of another length. Refused, and no row stays (X's chunk is not had). */
	content_alloc(&bad, A.n, A.size - A.len[A.n - 1] + X.len[0]);
	memcpy(bad.ids, A.ids, A.n * sizeof(*A.ids));
	memcpy(bad.len, A.len, A.n * sizeof(*A.len));
	bad.ids[A.n - 1] = X.ids[0];
	bad.len[A.n - 1] = X.len[0];
	content_index(&bad);
	n0 = nsources(st);
	mvms_error_clear();
	rc = add(st, "files/a2.bin", &bad);
	ok(rc < 0 && mvms_error_last()[0], "add: a chunk list longer than the file is refused "
	   "(%d: %s)", rc, mvms_error_last());
	is_int(nsources(st), n0, "add: ... and leaves no source");
	is_int(count_have(st, &X), 0, "add: ... nor any of its chunks");

	/* The same for the path already recorded: the old record stays as it was. */
	rc = add(st, "files/a.bin", &bad);
	ok(rc < 0, "add: a bad chunk list for a recorded path is refused (%d)", rc);
	is_int(nsources(st), n0, "add: ... the source count is unchanged");
	is_int(count_have(st, &A), A.n, "add: ... and the old record still gives its chunks");
	is_int(count_have(st, &X), 0, "add: ... and not the refused list's");
	is_int(source_bytes(st), A.size, "add: ... source_bytes unchanged");

	/* Fewer lengths than the file (the last chunk left out). */
	path_of(path, sizeof(path), "files/a2.bin");
	rc = mvms_sources_add(st, path, &A.id, A.fm, A.n - 1);
	ok(rc < 0, "add: a chunk list shorter than the file is refused (%d)", rc);
	is_int(nsources(st), n0, "add: ... and leaves no source");
	content_free(&bad);

	/* A path that does not exist. */
	mvms_error_clear();
	rc = add(st, "files/nope.bin", &A);
	ok(rc < 0 && mvms_error_last()[0], "add: a missing path is refused (%d: %s)", rc,
	   mvms_error_last());
	is_int(nsources(st), n0, "add: ... and adds no source");
	rc = add(st, "nodir/a.bin", &A);
	ok(rc < 0, "add: a path under a missing directory is refused (%d)", rc);

	is_int(add(st, "files/b.bin", &B), 0, "add: a second file is recorded");
	is_int(nsources(st), 2, "add: two sources");
	is_int(source_bytes(st), A.size + B.size, "add: source_bytes is the sum of their sizes");
	unlink_rel("files/a2.bin");
}

/* ---- 2: writing files from sources and packs ---- */

static void test_write(mvms_store *st)
{
	content M;
	pick p[64];
	size_t k = 0, i;
	char out[300], path[400];
	struct stat sb;
	int rc;

	path_of(out, sizeof(out), "out");
	make_dir("out");

	rc = write_out(st, out, "a.bin", &A);
	ok(rc == 0, "write: a file from one source (%s)", mvms_error_last());
	ok(same_file(out, "a.bin", &A), "write: ... is byte for byte the source's content");
	rc = mvms_sync_write_file(st, out, "sub/dir/b.bin", 0755, B.size, &B.id, B.ids, B.n);
	ok(rc == 0 && same_file(out, "sub/dir/b.bin", &B),
	   "write: the other source, into a new subdirectory (%s)", mvms_error_last());
	snprintf(path, sizeof(path), "%s/sub/dir/b.bin", out);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0755, "write: ... with mode 0755");

	/* Chunks from a pack too. */
	is_int(count_have(st, &C), 0, "write: the third content's chunks are nowhere yet");
	is_int(put_in_pack(st, &C), 0, "write: they go into a pack");
	is_int(count_have(st, &C), C.n, "write: ... and the store has them");
	is_int(nsources(st), 2, "write: a pack is not a source");

	/* A file mixing both sources and the pack, out of order, with repeats, long enough for
	 * several rounds (more than 1 MiB). */
	for (i = A.n; i-- > 0;)
		p[k++] = (pick){ &A, i };
	p[k++] = (pick){ &C, 2 };
	p[k++] = (pick){ &B, 2 };
	p[k++] = (pick){ &A, 5 };       /* repeats */
	p[k++] = (pick){ &A, 5 };
	p[k++] = (pick){ &C, 0 };
	p[k++] = (pick){ &B, 0 };
	p[k++] = (pick){ &C, 1 };
	p[k++] = (pick){ &A, 0 };
	for (i = 0; i < B.n; i++)
		p[k++] = (pick){ &B, i };
	for (i = 0; i < A.n; i++)       /* A in file order: one range of the source */
		p[k++] = (pick){ &A, i };
	p[k++] = (pick){ &C, 2 };
	p[k++] = (pick){ &B, 4 };
	content_mix(&M, p, k);
	ok(M.size > 1024 * 1024, "write: the mixed file has %zu chunks, %zu bytes", M.n, M.size);
	rc = write_out(st, out, "mixed.bin", &M);
	ok(rc == 0, "write: a file from two sources and a pack (%s)", mvms_error_last());
	ok(same_file(out, "mixed.bin", &M), "write: ... comes out right");
	is_int(count_dir(out), 3, "write: no temporary file is left (a.bin, mixed.bin, sub)");
	is_int(nsources(st), 2, "write: reading from sources keeps them");
	content_free(&M);

	/* One chunk many times over. */
	for (k = 0; k < 9; k++)
		p[k] = (pick){ &B, 1 + (k % 2) * 2 };
	content_mix(&M, p, k);
	rc = write_out(st, out, "repeats.bin", &M);
	ok(rc == 0 && same_file(out, "repeats.bin", &M),
	   "write: two chunks of a source repeated nine times (%s)", mvms_error_last());
	content_free(&M);

	/* Wrong size or id: refused, nothing written, the sources kept. */
	rc = mvms_sync_write_file(st, out, "wrong.bin", 0644, A.size + 1, &A.id, A.ids, A.n);
	is_int(rc, MVMS_EMISMATCH, "write: a size that is not the chunks' is MVMS_EMISMATCH");
	rc = mvms_sync_write_file(st, out, "wrong.bin", 0644, B.size, &A.id, B.ids, B.n);
	is_int(rc, MVMS_EMISMATCH, "write: an id that is not the chunks' is MVMS_EMISMATCH");
	is_int(count_dir(out), 4, "write: ... neither left a file");
	is_int(nsources(st), 2, "write: ... and both sources are still used");

	/* A chunk neither in a pack nor in a source. */
	rc = write_out(st, out, "x.bin", &X);
	is_int(rc, MVMS_ENOTFOUND, "write: a chunk the store does not have is MVMS_ENOTFOUND");
	is_int(count_dir(out), 4, "write: ... and leaves no file");
	rm_rf(out);
}

/* ---- 3: pruning files that changed ---- */

static void test_prune(mvms_store *st)
{
	static const char *names[] = { "files/keep.bin", "files/mtime.bin", "files/size.bin",
				       "files/gone.bin", "files/inode.bin" };
	content P[5];
	struct stat sb;
	struct timespec t;
	char path[300], tmp[300];
	uint64_t n0 = nsources(st), b0 = source_bytes(st);
	size_t i, dropped;
	int rc = 0, fd;

	for (i = 0; i < 5; i++) {
		content_make(&P[i], lens_small, N(lens_small), 100 + (uint32_t)i);
		if (write_file(names[i], P[i].bytes, P[i].size) < 0 || add(st, names[i], &P[i]) < 0)
			bail(names[i]);
	}
	is_int(nsources(st), n0 + 5, "prune: five more sources");
	is_int(prune(st), 0, "prune: nothing changed, nothing dropped");
	is_int(nsources(st), n0 + 5, "prune: ... all sources stay");

	/* mtime changed. */
	t.tv_sec = 1000000000;
	t.tv_nsec = 123;
	rc |= set_mtime(names[1], t);
	/* Size changed, mtime put back. */
	path_of(path, sizeof(path), names[2]);
	if (stat_rel(&sb, names[2]) < 0 || (fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		bail(path);
	rc |= mvms_write_full(fd, "z", 1, path);
	close(fd);
	rc |= set_mtime(names[2], sb.st_mtim);
	/* Gone. */
	path_of(path, sizeof(path), names[3]);
	rc |= unlink(path);
	/* Replaced by a copy (a new inode), same size and mtime. */
	if (stat_rel(&sb, names[4]) < 0)
		bail(names[4]);
	rc |= write_file("files/inode.tmp", P[4].bytes, P[4].size);
	path_of(tmp, sizeof(tmp), "files/inode.tmp");
	path_of(path, sizeof(path), names[4]);
	rc |= rename(tmp, path);
	rc |= set_mtime(names[4], sb.st_mtim);
	{
		struct stat nb;
		ok(rc == 0 && stat(path, &nb) == 0 && nb.st_ino != sb.st_ino &&
		   nb.st_size == sb.st_size && nb.st_mtim.tv_sec == sb.st_mtim.tv_sec &&
		   nb.st_mtim.tv_nsec == sb.st_mtim.tv_nsec,
		   "prune: four files changed (the copy has a new inode, same size and mtime)");
	}
	for (i = 0; i < 5; i++)
		if (count_have(st, &P[i]) != P[i].n)
			break;
	is_int(i, 5, "prune: before pruning, have[] is still true for all five");

	dropped = prune(st);
	is_int(dropped, 4, "prune: drops the four that changed");
	is_int(nsources(st), n0 + 1, "prune: ... leaving the untouched one");
	is_int(source_bytes(st), b0 + P[0].size, "prune: source_bytes counts only what stays");
	is_int(count_have(st, &P[0]), P[0].n, "prune: the untouched file's chunks are had");
	is_int(count_have(st, &P[1]), 0, "prune: a new mtime: its chunks are not");
	is_int(count_have(st, &P[2]), 0, "prune: a new size: its chunks are not");
	is_int(count_have(st, &P[3]), 0, "prune: deleted: its chunks are not");
	is_int(count_have(st, &P[4]), 0, "prune: a new inode: its chunks are not");
	ok(count_have(st, &A) == A.n && count_have(st, &B) == B.n && count_have(st, &C) == C.n,
	   "prune: the earlier sources and the pack are untouched");
	is_int(prune(st), 0, "prune: again, nothing more to drop");
	{
		size_t *none = NULL;
		is_int(mvms_sources_prune(none, st), 0, "prune: a NULL count is fine");
	}

	/* The one that stays still writes. */
	{
		char out[300];
		path_of(out, sizeof(out), "out-prune");
		make_dir("out-prune");
		ok(write_out(st, out, "keep.bin", &P[0]) == 0 && same_file(out, "keep.bin", &P[0]),
		   "prune: the file kept still gives its content");
		is_int(write_out(st, out, "gone.bin", &P[3]), MVMS_ENOTFOUND,
		       "prune: a dropped file's content is MVMS_ENOTFOUND");
		rm_rf(out);
	}

	/* Clean up: the kept one is forgotten by its removal. */
	unlink_rel(names[0]);
	is_int(prune(st), 1, "prune: the last one removed is dropped too");
	is_int(nsources(st), n0, "prune: back to the sources before");
	for (i = 0; i < 5; i++) {
		unlink_rel(names[i]);
		content_free(&P[i]);
	}
}

/* ---- 4: a source whose bytes changed behind the store's back ---- */

/* Damages @rel in place (one byte at @off) and puts its mtime back, so prune keeps it. */
static int edit_in_place(const char *rel, uint64_t off)
{
	struct stat sb;
	char path[300];
	unsigned char b;
	int fd, rc = -1;

	path_of(path, sizeof(path), rel);
	if (stat(path, &sb) < 0 || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	if (pread(fd, &b, 1, (off_t)off) == 1) {
		b ^= 0x5a;
		rc = pwrite(fd, &b, 1, (off_t)off) == 1 ? 0 : -1;
	}
	close(fd);
	if (rc == 0)
		rc = set_mtime(rel, sb.st_mtim);
	return rc;
}

static void test_bad_bytes(mvms_store *st)
{
	content E, F, G, M;
	pick p[16];
	char out[300], path[300];
	uint64_t n0;
	size_t k = 0, i;
	int rc;

	content_make(&E, lens_e, N(lens_e), 200);
	content_make(&F, lens_small, N(lens_small), 201);
	content_make(&G, lens_small, N(lens_small), 202);
	if (write_file("files/e.bin", E.bytes, E.size) < 0 || add(st, "files/e.bin", &E) < 0 ||
	    write_file("files/f.bin", F.bytes, F.size) < 0 || add(st, "files/f.bin", &F) < 0 ||
	    write_file("files/g.bin", G.bytes, G.size) < 0 || add(st, "files/g.bin", &G) < 0)
		bail("the files to damage");
	path_of(out, sizeof(out), "out-bad");
	make_dir("out-bad");
	n0 = nsources(st);

	/* A byte edited in the middle of chunk 5, mtime put back. */
	is_int(edit_in_place("files/e.bin", E.off[5] + E.len[5] / 2), 0,
	       "bad: a byte of a source is changed in place, its mtime put back");
	is_int(prune(st), 0, "bad: ... prune cannot tell (nothing dropped)");
	is_int(count_have(st, &E), E.n, "bad: ... and the store still counts its chunks");
	rc = write_out(st, out, "e.bin", &E);
	is_int(rc, MVMS_EMISMATCH, "bad: writing its content is MVMS_EMISMATCH");
	ok(strstr(mvms_error_last(), "e.bin") != NULL, "bad: ... the message names the file (%s)",
	   mvms_error_last());
	is_int(count_dir(out), 0, "bad: ... no output file nor temporary file is left");
	is_int(nsources(st), n0 - 1, "bad: ... the source is forgotten");
	is_int(count_have(st, &E), 0, "bad: ... its chunks are no longer had");
	rc = write_out(st, out, "e.bin", &E);
	is_int(rc, MVMS_ENOTFOUND, "bad: a second write finds the chunks missing (MVMS_ENOTFOUND)");
	is_int(count_dir(out), 0, "bad: ... and leaves nothing either");

	/* A file from two sources, one of them damaged: only that one is forgotten. */
	for (i = 0; i < F.n; i++)
		p[k++] = (pick){ &F, i };
	for (i = 0; i < G.n; i++)
		p[k++] = (pick){ &G, i };
	p[k++] = (pick){ &C, 1 };
	content_mix(&M, p, k);
	is_int(edit_in_place("files/g.bin", G.off[2]), 0, "bad: the second of two sources changed");
	rc = write_out(st, out, "fg.bin", &M);
	is_int(rc, MVMS_EMISMATCH, "bad: a file from both is MVMS_EMISMATCH");
	is_int(count_dir(out), 0, "bad: ... and leaves nothing");
	is_int(nsources(st), n0 - 2, "bad: ... the damaged source is forgotten");
	is_int(count_have(st, &G), 0, "bad: ... its chunks are not had");
	is_int(count_have(st, &F), F.n, "bad: ... the good source is kept");
	ok(write_out(st, out, "f.bin", &F) == 0 && same_file(out, "f.bin", &F),
	   "bad: ... and still writes its content");
	unlink_rel("out-bad/f.bin");

	/* A source deleted without a prune: the read fails, the same way. */
	is_int(add(st, "files/g.bin", &E), MVMS_EMISMATCH,
	       "bad: a chunk list of another size than the file is MVMS_EMISMATCH");
	if (write_file("files/g.bin", G.bytes, G.size) < 0 || add(st, "files/g.bin", &G) < 0)
		bail("g.bin again");
	is_int(nsources(st), n0 - 1, "bad: g.bin restored and recorded again");
	unlink_rel("files/g.bin");
	rc = write_out(st, out, "g.bin", &G);
	is_int(rc, MVMS_EMISMATCH, "bad: a source removed since is MVMS_EMISMATCH");
	is_int(nsources(st), n0 - 2, "bad: ... and forgotten");
	is_int(write_out(st, out, "g.bin", &G), MVMS_ENOTFOUND,
	       "bad: ... then its chunks are missing");

	/* A source cut short (not pruned): reading past its end fails. */
	path_of(path, sizeof(path), "files/f.bin");
	ok(truncate(path, (off_t)F.off[2] + 5) == 0, "bad: a source cut short");
	rc = write_out(st, out, "f.bin", &F);
	is_int(rc, MVMS_EMISMATCH, "bad: ... is MVMS_EMISMATCH");
	is_int(nsources(st), n0 - 3, "bad: ... and forgotten");
	is_int(count_dir(out), 0, "bad: none of these left a file");
	rc = write_out(st, out, "fg.bin", &M);
	is_int(rc, MVMS_ENOTFOUND, "bad: the two-source file's chunks are now missing");

	/* Once the chunks are in a pack again, the file writes. */
	is_int(put_in_pack(st, &E), 0, "bad: the damaged file's chunks come back in a pack");
	ok(write_out(st, out, "e.bin", &E) == 0 && same_file(out, "e.bin", &E),
	   "bad: ... and its content writes from the pack");

	rm_rf(out);
	unlink_rel("files/e.bin");
	unlink_rel("files/f.bin");
	content_free(&E);
	content_free(&F);
	content_free(&G);
	content_free(&M);
}

/* ---- 5: the same path again ---- */

static void test_readd(mvms_store *st)
{
	static const uint32_t lens_r2[] = { 50000, 3, 70000, 9999 };
	content R1, R2;
	char out[300], path[300];
	uint64_t n0 = nsources(st), b0 = source_bytes(st);
	int rc;

	content_make(&R1, lens_small, N(lens_small), 300);
	content_make(&R2, lens_r2, N(lens_r2), 301);
	if (write_file("files/r.bin", R1.bytes, R1.size) < 0)
		bail("r.bin");
	is_int(add(st, "files/r.bin", &R1), 0, "readd: a file recorded");
	is_int(nsources(st), n0 + 1, "readd: one more source");
	if (write_file("files/r.bin", R2.bytes, R2.size) < 0)
		bail("r.bin");
	/* The same file by another spelling of its path: realpath makes it the same. */
	path_of(path, sizeof(path), "files/../files/./r.bin");
	rc = mvms_sources_add(st, path, &R2.id, R2.fm, R2.n);
	is_int(rc, 0, "readd: new content at that path, recorded again by another spelling");
	is_int(nsources(st), n0 + 1, "readd: ... it replaces the record (no more sources)");
	is_int(source_bytes(st), b0 + R2.size, "readd: source_bytes is the new size");
	is_int(count_have(st, &R1), 0, "readd: the old content's chunks are gone");
	is_int(count_have(st, &R2), R2.n, "readd: the new content's chunks are had");
	path_of(out, sizeof(out), "out-readd");
	make_dir("out-readd");
	ok(write_out(st, out, "r.bin", &R2) == 0 && same_file(out, "r.bin", &R2),
	   "readd: the new content writes from it (%s)", mvms_error_last());
	is_int(write_out(st, out, "r1.bin", &R1), MVMS_ENOTFOUND,
	       "readd: the old content is not found");
	is_int(prune(st), 0, "readd: prune keeps it (size, mtime and inode are the new ones)");
	rm_rf(out);
	content_free(&R1);
	content_free(&R2);
}

/* ---- 7: files recorded now, indexed by the first lookup after ---- */

static void test_settle(mvms_store *st)
{
	mvms_store *other = NULL;
	content S;
	char path[300];
	int64_t lists0 = q64(st, "SELECT count(*) FROM source_lists");
	int64_t rows0 = q64(st, "SELECT count(*) FROM source_chunks");

	content_make(&S, lens_e, N(lens_e), 9);
	if (write_file("files/s.bin", S.bytes, S.size) < 0)
		bail("s.bin");
	path_of(path, sizeof(path), "store");
	if (mvms_store_open(&other, path, 0) < 0)
		bail("second handle");
	is_int(add(st, "files/s.bin", &S), 0, "settle: a file is recorded");
	is_int(q64(st, "SELECT count(*) FROM source_lists"), lists0 + 1,
	       "settle: ... with its chunk list whole");
	is_int(q64(st, "SELECT count(*) FROM source_chunks"), rows0,
	       "settle: ... and no chunk row yet");
	is_int(count_have(other, &S), 0, "settle: another handle does not see its chunks yet");
	is_int(mvms_sources_settle_mine(other), 0, "settle: that handle recorded nothing of its own");
	is_int(count_have(other, &S), 0, "settle: ... so it still does not");
	is_int(mvms_sources_settle(other), 0, "settle: it indexes what others recorded");
	is_int(count_have(other, &S), S.n, "settle: ... then it sees all of them");
	is_int(q64(st, "SELECT count(*) FROM source_lists"), lists0, "settle: the list is gone");
	is_int(q64(st, "SELECT count(*) FROM source_chunks"), rows0 + (int64_t)S.n,
	       "settle: ... and a row per chunk is there");
	is_int(count_have(st, &S), S.n, "settle: the handle that recorded it sees them too");
	is_int(mvms_sources_settle(st), 0, "settle: nothing left to index is no error");

	/* A list that is not whole entries (not one add wrote): its file is forgotten. */
	is_int(add(st, "files/s.bin", &S), 0, "settle: the file recorded again");
	is_int(mvms_db_exec(st->db, "UPDATE source_lists SET list = substr(list, 1, 39)"), 0,
	       "settle: its list cut short");
	is_int(mvms_sources_settle(other), 0, "settle: a damaged list is no error");
	is_int(count_have(other, &S), 0, "settle: ... its file is forgotten");
	is_int(q64(st, "SELECT count(*) FROM sources WHERE path LIKE '%/s.bin'"), 0,
	       "settle: ... record and all");

	/* Forgetting a file not indexed yet drops its list. */
	is_int(add(st, "files/s.bin", &S), 0, "settle: recorded a third time");
	unlink_rel("files/s.bin");
	is_int(prune(other), 1, "settle: prune forgets it, gone before it was indexed");
	is_int(q64(st, "SELECT count(*) FROM source_lists"), lists0, "settle: ... with its list");
	is_int(mvms_sources_settle(st), 0, "settle: nothing to index after that");
	is_int(count_have(st, &S), 0, "settle: ... and none of its chunks is had");
	mvms_store_free(other);
	content_free(&S);
}

/* ---- 6: an empty file ---- */

static void test_empty(mvms_store *st)
{
	content Z;
	char out[300];
	uint64_t n0 = nsources(st), b0 = source_bytes(st);
	struct stat sb;
	char path[400];

	content_alloc(&Z, 0, 0);
	content_index(&Z);
	if (write_file("files/empty", NULL, 0) < 0)
		bail("empty");
	is_int(add(st, "files/empty", &Z), 0, "empty: an empty file (no chunk) is recorded");
	is_int(nsources(st), n0 + 1, "empty: ... as a source");
	is_int(source_bytes(st), b0, "empty: ... of no bytes");
	path_of(out, sizeof(out), "out-empty");
	make_dir("out-empty");
	is_int(mvms_sync_write_file(st, out, "e/empty", 0644, 0, &Z.id, NULL, 0), 0,
	       "empty: an empty file is written");
	snprintf(path, sizeof(path), "%s/e/empty", out);
	ok(stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0,
	   "empty: ... and is there, empty");
	is_int(prune(st), 0, "empty: prune keeps the empty source");
	is_int(mvms_sync_write_file(st, out, "e/one", 0644, 1, &Z.id, NULL, 0), MVMS_EMISMATCH,
	       "empty: no chunk for one byte is MVMS_EMISMATCH");
	snprintf(path, sizeof(path), "%s/e", out);
	is_int(count_dir(path), 1, "empty: ... and leaves no file");
	rm_rf(out);
	content_free(&Z);
}

int main(void)
{
	mvms_store_options o = MVMS_STORE_OPTIONS_INIT;
	mvms_store *st = NULL;
	char path[300];

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	path_of(path, sizeof(path), "store");
	if (mvms_store_init(&st, path, &o) < 0)
		bail("store");
	make_dir("files");
	content_make(&A, lens_a, N(lens_a), 1);
	content_make(&B, lens_b, N(lens_b), 2);
	content_make(&C, lens_c, N(lens_c), 3);
	content_make(&X, lens_small, N(lens_small), 4);

	test_add(st);
	test_write(st);
	test_prune(st);
	test_bad_bytes(st);
	test_readd(st);
	test_empty(st);
	test_settle(st);

	mvms_store_free(st);
	content_free(&A);
	content_free(&B);
	content_free(&C);
	content_free(&X);
	rm_rf(dir);
	return done_testing();
}
