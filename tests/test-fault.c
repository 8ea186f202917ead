/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of push, pull and gc against storage that fails, through the fault backend
 * (src/lib/storage/backend_fault.c) put in front of a local store's own backend with
 * mvms_store__set_backend: a push whose Nth write fails (I/O error, disk full) makes no
 * version and a later push works and verifies; a pull whose reads come back short fails
 * with a clear error and leaves no file; a gc whose removes fail reports it and a later
 * gc finishes. Also the fault backend itself: counts, slow calls, rules.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "teststore.h"
#include "store_int.h"
#include "backend_fault.h"
#include "mvms/gc.h"

static char dir[] = "/tmp/mvms-test-fault-XXXXXX";
static char sdir[512];

static const char *tree(const char *name, size_t len, uint32_t seed)
{
	return random_tree(dir, name, len, seed);
}

static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *path,
		const char *branch)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;

	o.branch = branch;
	memset(r, 0, sizeof(*r));
	return mvms_push(r, st, model, path, &o);
}

/* As if everything in the store had been written @secs ago (gc keeps what is young). */
static void age_all(mvms_store *st, int64_t secs)
{
	char sql[128];

	age_tree(sdir, secs);
	snprintf(sql, sizeof(sql), "UPDATE contents SET created_at = %lld",
		 (long long)(time(NULL) - secs));
	mvms_db_exec(st->db, sql);
}

static void test_backend(mvms_backend *fb, mvms_backend *inner)
{
	mvms_fault_options o = { 0 };
	mvms_fault_counts c0, c1;
	unsigned char b[4];
	uint64_t size;
	int rc;

	mvms_fault__counts(&c0, fb);
	is_int(mvms_backend_put(fb, "manifests/zz/fault-probe", "abcd", 4), 0, "backend: a put passes through");
	o.get = (mvms_fault_rule){ 2, 1 };
	o.sleep_ms = 5;
	mvms_fault__set(fb, &o);
	is_int(mvms_backend_get(fb, "manifests/zz/fault-probe", 0, b, 4), 0, "backend: 1st get passes");
	rc = mvms_backend_get(fb, "manifests/zz/fault-probe", 0, b, 4);
	is_int(rc, MVMS_ERROR, "backend: 2nd get fails");
	ok(strstr(mvms_error_last(), "short object") && strstr(mvms_error_last(), "fault-probe"),
	   "  as a short object, naming the key");
	is_int(mvms_backend_get(fb, "manifests/zz/fault-probe", 0, b, 4), 0, "backend: 3rd get passes (count 1)");
	is_int(mvms_backend_stat(&size, fb, "manifests/zz/fault-probe"), 0, "backend: stat passes");
	mvms_fault__set(fb, NULL);
	is_int(mvms_backend_remove(fb, "manifests/zz/fault-probe"), 0, "backend: remove passes");
	mvms_fault__counts(&c1, fb);
	ok(c1.writer_open - c0.writer_open == 1 && c1.writer_write - c0.writer_write == 1 &&
	   c1.writer_commit - c0.writer_commit == 1 && c1.get - c0.get == 3 &&
	   c1.stat - c0.stat == 1 && c1.remove - c0.remove == 1 && c1.injected - c0.injected == 1,
	   "backend: every call counted, one failure injected");
	ok(mvms_backend_caps(fb) == mvms_backend_caps(inner) &&
	   (mvms_backend_caps(fb) & MVMS_BACKEND_CAP_SCAN), "backend: the inner backend's capabilities");
}

/* The Nth write of a push fails: no version, and the next push works. */
static void test_push(mvms_store *st, mvms_backend *fb)
{
	mvms_fault_options o = { 0 };
	mvms_push_result pr;
	mvms_fault_counts c;
	const char *src = tree("p1", 2600000, 1);
	int rc;

	o.write = (mvms_fault_rule){ 2, 1 };
	mvms_fault__set(fb, &o);
	rc = push(&pr, st, "m", src, NULL);
	ok(rc < 0, "push: fails when its 2nd write fails");
	ok(strstr(mvms_error_last(), "Input/output error") != NULL, "  with the I/O error");
	diag("%s", mvms_error_last());
	is_int((int)versions(st), 0, "  no version was made");
	mvms_fault__counts(&c, fb);
	ok(c.injected >= 1, "  the fault was injected");

	o.write = (mvms_fault_rule){ 4, 0 };
	o.write_enospc = 1;
	mvms_fault__set(fb, &o);
	rc = push(&pr, st, "m", src, NULL);
	ok(rc < 0 && strstr(mvms_error_last(), "No space left on device"),
	   "push: a disk full from the 4th write on fails it, saying so");
	diag("%s", mvms_error_last());
	is_int((int)versions(st), 0, "  no version was made");

	mvms_fault__set(fb, NULL);
	rc = push(&pr, st, "m", src, NULL);
	ok(rc == 0 && pr.created && pr.number == 1, "push: succeeds once the storage works");
	if (rc < 0)
		diag("%s", mvms_error_last());
	{
		/* Packs the failed pushes finished (in the background) count: they are reused. */
		uint64_t npacks = 0;
		mvms_store__u64(&npacks, st, "SELECT count(*) FROM packs", "packs");
		ok(npacks >= 2, "  in several packs (%llu, %llu of them by this push)",
		   (unsigned long long)npacks, (unsigned long long)pr.packs);
	}
	ok(verify_clean(st), "  verify is clean: the failed pushes left nothing broken");
}

/* Reads come back short: pull fails, names the problem, leaves no file. */
static void test_pull(mvms_store *st, mvms_backend *fb)
{
	mvms_fault_options o = { 0 };
	mvms_pull_result r;
	mvms_pull_options po = MVMS_PULL_OPTIONS_INIT;
	char out[600], f[700], want[700];
	unsigned char *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	int rc;

	snprintf(out, sizeof(out), "%s/out", dir);
	o.get = (mvms_fault_rule){ 1, 0 };
	mvms_fault__set(fb, &o);
	rc = mvms_pull(&r, st, "m@v1", out, &po);
	ok(rc < 0, "pull: fails when every read is short");
	ok(strstr(mvms_error_last(), "short object") != NULL, "  the error says the object was short");
	diag("%s", mvms_error_last());
	ok(count_dir(out) <= 0, "  no file (not even a temporary one) is left in the target");

	o.get = (mvms_fault_rule){ 3, 1 };
	mvms_fault__set(fb, &o);
	rc = mvms_pull(&r, st, "m@v1", out, &po);
	ok(rc < 0 && strstr(mvms_error_last(), "short object"), "pull: fails when its 3rd read is short");
	ok(count_dir(out) <= 0, "  no file is left in the target");

	mvms_fault__set(fb, NULL);
	rc = mvms_pull(&r, st, "m@v1", out, &po);
	is_int(rc, 0, "pull: works once the storage does");
	snprintf(f, sizeof(f), "%s/data.bin", out);
	snprintf(want, sizeof(want), "%s/p1/data.bin", dir);
	ok(read_whole(&a, &al, f) == 0 && read_whole(&b, &bl, want) == 0 && al == bl &&
	   memcmp(a, b, al) == 0, "  byte-identical");
	free(a);
	free(b);
}

/* Removes fail: gc reports it; the next gc finishes and the store verifies. */
static void test_gc(mvms_store *st, mvms_backend *fb)
{
	mvms_fault_options o = { 0 };
	mvms_push_result pr;
	mvms_gc_result g;
	int rc;

	ok(mvms_branch_create(st, "m", "x", "m@v1") == 0 &&
	   push(&pr, st, "m", tree("p2", 400000, 2), "x") == 0, "gc: push m@v2 on branch x");
	ok(mvms_branch_delete(st, "m", "x") == 0 && mvms_version_delete(st, "m@v2") == 0,
	   "gc: delete branch x and m@v2");
	age_all(st, 7200);
	o.remove = (mvms_fault_rule){ 1, 0 };
	mvms_fault__set(fb, &o);
	memset(&g, 0, sizeof(g));
	rc = mvms_store_gc(&g, st, 3600, 0);
	ok(rc < 0, "gc: fails when removes fail");
	ok(strstr(mvms_error_last(), "Input/output error") != NULL, "  and reports the error");
	diag("%s", mvms_error_last());
	ok(verify_clean(st), "  the store still verifies");

	mvms_fault__set(fb, NULL);
	memset(&g, 0, sizeof(g));
	rc = mvms_store_gc(&g, st, 3600, 0);
	is_int(rc, 0, "gc: finishes once removes work");
	if (rc < 0)
		diag("%s", mvms_error_last());
	ok(g.packs >= 1 && g.objects >= 1, "  and removes m@v2's pack and objects (%llu, %llu)",
	   (unsigned long long)g.packs, (unsigned long long)g.objects);
	ok(verify_clean(st), "  verify is clean");
}

/* Slow storage: every call waits, and the push still completes. */
static void test_slow(mvms_store *st, mvms_backend *fb)
{
	mvms_fault_options o = { 0 };
	mvms_push_result pr;
	mvms_fault_counts c0, c1;

	o.sleep_ms = 2;
	mvms_fault__set(fb, &o);
	mvms_fault__counts(&c0, fb);
	ok(push(&pr, st, "slow", tree("p3", 200000, 3), NULL) == 0 && pr.created,
	   "slow: a push over slow storage completes");
	mvms_fault__counts(&c1, fb);
	ok(c1.writer_commit > c0.writer_commit, "  its writes went through the fault backend (%llu)",
	   (unsigned long long)(c1.writer_commit - c0.writer_commit));
	mvms_fault__set(fb, NULL);
}

int main(void)
{
	mvms_store *st = NULL;
	mvms_store_options so = MVMS_STORE_OPTIONS_INIT;
	mvms_backend *fb = NULL, *local;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	so.chunk_avg = 16384;
	so.pack_size = 1024 * 1024;
	if (mvms_store_init(&st, sdir, &so) < 0) {
		printf("Bail out! store: %s\n", mvms_error_last());
		return 1;
	}
	if (mvms_fault__backend(&fb, st->be, NULL) < 0) {
		printf("Bail out! fault: %s\n", mvms_error_last());
		return 1;
	}
	/* The store owns the fault backend from here; the local one is ours to free. */
	local = mvms_store__set_backend(st, fb);
	test_backend(fb, local);
	test_push(st, fb);
	test_pull(st, fb);
	test_gc(st, fb);
	test_slow(st, fb);
	mvms_store_free(st);
	mvms_backend_free(local);
	rm_rf(dir);
	return done_testing();
}
