/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the push pipeline (src/lib/transfer/push_pipe.c) with several workers and
 * many slots in flight: files of every size (empty, duplicated, many small ones sharing a
 * slot, a large one spread over many slots) come back byte for byte, in order; an
 * identical chunk is stored once; a file that changes while it is read, or a pack write
 * that fails while other slots are still with the workers, fails the push cleanly (no
 * version, nothing broken, the next push works).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "teststore.h"
#include "store_int.h"
#include "backend_fault.h"

static char dir[] = "/tmp/mvms-test-pipeline-XXXXXX";

static int same_file(const char *a, const char *b)
{
	unsigned char *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0;
	int same;

	same = read_whole(&x, &nx, a) == 0 && read_whole(&y, &ny, b) == 0 && nx == ny &&
	       (nx == 0 || memcmp(x, y, nx) == 0);
	free(x);
	free(y);
	return same;
}

#define NSMALL 300

/* A tree of many small files (sizes 0 to ~20 KB, every 7th a copy of an earlier one), two
 * identical 300,000-byte files and one 24 MB file (12 slots of the ring). */
static const char *make_tree(size_t *unique_bytes)
{
	static char root[600];
	char p[700], q[700];
	size_t i, len;

	snprintf(root, sizeof(root), "%s/src", dir);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/sub", root);
	mkdir(p, 0755);
	*unique_bytes = 0;
	for (i = 0; i < NSMALL; i++) {
		len = (i * 7919u) % 20000u;
		snprintf(p, sizeof(p), "%s/sub/f%03zu", root, i);
		if (i % 7 == 6) {
			/* the same bytes as file i - 1 */
			len = ((i - 1) * 7919u) % 20000u;
			write_random_file(p, len, (uint32_t)(i - 1));
			continue;
		}
		write_random_file(p, len, (uint32_t)i);
		*unique_bytes += len;
	}
	snprintf(p, sizeof(p), "%s/a.bin", root);
	snprintf(q, sizeof(q), "%s/b.bin", root);
	write_random_file(p, 300000, 1001);
	write_random_file(q, 300000, 1001);
	*unique_bytes += 300000;
	snprintf(p, sizeof(p), "%s/big.bin", root);
	write_random_file(p, 24u * 1000 * 1000, 1002);
	*unique_bytes += 24u * 1000 * 1000;
	return root;
}

static int same_tree(const char *src, const char *out)
{
	char a[800], b[800];
	const char *names[] = { "a.bin", "b.bin", "big.bin" };
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "%s/%s", src, names[i]);
		snprintf(b, sizeof(b), "%s/%s", out, names[i]);
		if (!same_file(a, b)) {
			diag("%s differs", names[i]);
			return 0;
		}
	}
	for (i = 0; i < NSMALL; i++) {
		snprintf(a, sizeof(a), "%s/sub/f%03zu", src, i);
		snprintf(b, sizeof(b), "%s/sub/f%03zu", out, i);
		if (!same_file(a, b)) {
			diag("sub/f%03zu differs", i);
			return 0;
		}
	}
	return 1;
}

static void test_order(mvms_store *st, const char *src, size_t unique)
{
	mvms_push_result pr;
	mvms_pull_result pl;
	char out[600];

	is_int(mvms_push(&pr, st, "m", src, NULL), 0, "push: a tree of 300 small and 3 large files");
	ok(pr.created && pr.files == NSMALL + 3, "  makes v1 with every file (%llu)",
	   (unsigned long long)pr.files);
	ok(pr.new_raw_bytes == unique, "  stores each distinct byte once (%llu of %zu)",
	   (unsigned long long)pr.new_raw_bytes, unique);
	ok(pr.chunks > pr.new_chunks, "  duplicate chunks are not new (%llu of %llu)",
	   (unsigned long long)pr.new_chunks, (unsigned long long)pr.chunks);
	snprintf(out, sizeof(out), "%s/out", dir);
	is_int(mvms_pull(&pl, st, "m@v1", out, NULL), 0, "pull v1");
	ok(same_tree(src, out), "  every file comes back byte for byte (chunks packed in order)");
	ok(verify_clean(st), "  verify is clean");
	is_int(mvms_push(&pr, st, "m", src, NULL), 0, "re-push");
	ok(!pr.created && pr.new_chunks == 0, "  finds everything stored, makes no version");
	rm_rf(out);
}

static const char *changing;
static int changed_once;

/* The progress callback runs on the pushing thread between slots, while the big file is
 * still being read: the file shrinks under the push. */
static void shrink(uint64_t done, uint64_t total, void *payload)
{
	(void)done;
	(void)total;
	(void)payload;
	if (!changed_once && changing) {
		changed_once = truncate(changing, 1000000) == 0 ? 1 : -1;
	}
}

static void test_changing(mvms_store *st)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result pr;
	char root[600], p[700];
	uint64_t before = versions(st);
	int rc;

	snprintf(root, sizeof(root), "%s/changing", dir);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/big.bin", root);
	write_random_file(p, 24u * 1000 * 1000, 2001);
	changing = p;
	o.progress = shrink;
	rc = mvms_push(&pr, st, "c", root, &o);
	changing = NULL;
	is_int(changed_once, 1, "changing: the file was cut while the push read it");
	ok(rc < 0 && strstr(mvms_error_last(), "changed size while it was read"),
	   "  the push fails, saying the file changed");
	diag("%s", mvms_error_last());
	is_int((int)versions(st), (int)before, "  no version was made");
	ok(verify_clean(st), "  verify is clean");
	ok(mvms_push(&pr, st, "c", root, NULL) == 0 && pr.created, "  a push of the file as it is now works");
}

static void test_fault(mvms_store *st, mvms_backend *fb)
{
	mvms_fault_options o = { 0 };
	mvms_push_result pr;
	char root[600], p[700];
	uint64_t before = versions(st);
	int rc;

	snprintf(root, sizeof(root), "%s/fault", dir);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/big.bin", root);
	write_random_file(p, 24u * 1000 * 1000, 3001);
	/* An early write of the first pack fails: slots are still queued and being
	 * compressed then, and must be waited for before their buffers go. */
	o.write = (mvms_fault_rule){ 3, 1 };
	mvms_fault__set(fb, &o);
	rc = mvms_push(&pr, st, "f", root, NULL);
	mvms_fault__set(fb, NULL);
	ok(rc < 0 && strstr(mvms_error_last(), "Input/output error"),
	   "fault: a pack write failing mid-push fails the push with the I/O error");
	diag("%s", mvms_error_last());
	is_int((int)versions(st), (int)before, "  no version was made");
	ok(verify_clean(st), "  verify is clean");
	rc = mvms_push(&pr, st, "f", root, NULL);
	ok(rc == 0 && pr.created, "  the next push works");
}

int main(void)
{
	mvms_store *st = NULL;
	mvms_store_options so = MVMS_STORE_OPTIONS_INIT;
	mvms_backend *fb = NULL, *local;
	char sdir[600];
	const char *src;
	size_t unique;

	/* Three workers and the caller, whatever the machine: slots finish out of order. */
	setenv("MVMS_THREADS", "4", 1);
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	so.chunk_avg = 16384;
	so.pack_size = 1024 * 1024;
	if (mvms_store_init(&st, sdir, &so) < 0 || mvms_fault__backend(&fb, st->be, NULL) < 0) {
		printf("Bail out! store: %s\n", mvms_error_last());
		return 1;
	}
	local = mvms_store__set_backend(st, fb);
	src = make_tree(&unique);
	test_order(st, src, unique);
	test_changing(st);
	test_fault(st, fb);
	mvms_store_free(st);
	mvms_backend_free(local);
	rm_rf(dir);
	return done_testing();
}
