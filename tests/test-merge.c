/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for merge (ops/merge.c) through its public API, mvms_merge: a clean 3-way merge
 * with tensors changed on both sides of one safetensors file (merged tensor by tensor), a
 * merge that is already up to date, a fast-forward, a tensor conflict and a whole-file
 * conflict (nothing written, the branch does not move), and conflicts settled by a strategy
 * and by a per-path resolution. Merged files are pulled back and compared byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/dag.h"

#define NVAL 4096 /* floats per tensor: 16 KiB, so each tensor has chunks of its own */

static char dir[] = "/tmp/mvms-test-merge-XXXXXX";
static mvms_store *st;

/* Writes @len bytes to @dir/@rel, making the directory of @rel first. */
static int put_file(const char *rel, const void *data, size_t len)
{
	char path[512], *slash;
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	f = fopen(path, "wb");
	if (f && fwrite(data, 1, len, f) == len)
		rc = 0;
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		diag("cannot write %s", path);
	return rc;
}

static int put_text(const char *rel, const char *s)
{
	return put_file(rel, s, strlen(s));
}

/* A safetensors file of three F32 tensors a, b, c; tensor i holds values of variant
 * @variant[i] (different variants, different bytes). Into *@out (malloc) and *@len. */
static int make_st(unsigned char **out, size_t *len, const unsigned variant[3])
{
	static const char *names[3] = { "a", "b", "c" };
	const size_t tb = NVAL * 4;
	char header[512];
	size_t hl, pad, i, j;
	int n = 0;
	unsigned char *buf;

	n += snprintf(header + n, sizeof(header) - (size_t)n, "{");
	for (i = 0; i < 3; i++)
		n += snprintf(header + n, sizeof(header) - (size_t)n,
			      "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
			      i ? "," : "", names[i], NVAL, i * tb, (i + 1) * tb);
	n += snprintf(header + n, sizeof(header) - (size_t)n, "}");
	hl = (size_t)n;
	pad = (8 - hl % 8) % 8;
	*len = 8 + hl + pad + 3 * tb;
	if (!(buf = malloc(*len)))
		return -1;
	mvms_le64_put(buf, hl + pad);
	memcpy(buf + 8, header, hl);
	memset(buf + 8 + hl, ' ', pad);
	for (i = 0; i < 3; i++) {
		unsigned char *p = buf + 8 + hl + pad + i * tb;
		for (j = 0; j < NVAL; j++) {
			float v = (float)(i * 100000 + j) * (float)(variant[i] + 1) * 0.125f;
			memcpy(p + 4 * j, &v, 4);
		}
	}
	*out = buf;
	return 0;
}

static int put_st(const char *rel, unsigned a, unsigned b, unsigned c)
{
	const unsigned v[3] = { a, b, c };
	unsigned char *buf;
	size_t len;
	int rc;

	if (make_st(&buf, &len, v) < 0)
		return -1;
	rc = put_file(rel, buf, len);
	free(buf);
	return rc;
}

/* Pushes @dir/@sub as a version of model m on @branch. */
static int push(const char *sub, const char *branch, const char *message)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result r;
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	o.branch = branch;
	o.message = message;
	o.author = "tester";
	rc = mvms_push(&r, st, "m", path, &o);
	if (rc < 0)
		diag("push %s: %s", sub, mvms_error_last());
	return rc;
}

/* The id @spec resolves to, into @id (65 bytes); "" when it does not resolve. */
static void id_of(char *id, const char *spec)
{
	mvms_version_info *v = NULL;

	id[0] = '\0';
	if (mvms_version_resolve(&v, st, spec) == 0)
		snprintf(id, MVMS_VERSION_ID_HEXSZ + 1, "%s", v->id);
	mvms_version_info_free(v);
}

/* Pulls version @spec into @dir/pulled (emptied first). 0 or -1. */
static int pull_version(const char *spec)
{
	mvms_pull_options o = MVMS_PULL_OPTIONS_INIT;
	mvms_pull_result r;
	char out[512];

	snprintf(out, sizeof(out), "%s/pulled", dir);
	rm_rf(out);
	if (mvms_pull(&r, st, spec, out, &o) < 0) {
		diag("pull %s: %s", spec, mvms_error_last());
		return -1;
	}
	return 0;
}

/* 1 when file @rel of version @spec is exactly @len bytes @want. */
static int version_file_is(const char *spec, const char *rel, const void *want, size_t len)
{
	char path[600];
	unsigned char *got = NULL;
	size_t got_len = 0;
	int same;

	if (pull_version(spec) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/pulled/%s", dir, rel);
	if (read_whole(&got, &got_len, path) < 0)
		return 0;
	same = got_len == len && memcmp(got, want, len) == 0;
	free(got);
	return same;
}

static int version_st_is(const char *spec, unsigned a, unsigned b, unsigned c)
{
	const unsigned v[3] = { a, b, c };
	unsigned char *buf;
	size_t len;
	int same;

	if (make_st(&buf, &len, v) < 0)
		return 0;
	same = version_file_is(spec, "model.safetensors", buf, len);
	free(buf);
	return same;
}

/* 1 when version @spec has a file @rel. */
static int has_file(const char *spec, const char *rel)
{
	char path[600];

	if (pull_version(spec) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/pulled/%s", dir, rel);
	return access(path, F_OK) == 0;
}

/* base (v1) on main; exp from v1 changes tensor a and adds exp.txt; main changes tensor c
 * and notes.txt. The merge takes each side's tensor and each side's other changes. */
static void test_clean(void)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_result *r = NULL;
	mvms_version_info *v = NULL;
	char main_before[65], exp_id[65];
	int rc;

	ok(put_st("base/model.safetensors", 0, 0, 0) == 0 && put_text("base/notes.txt", "base\n") == 0 &&
	   push("base", NULL, "base") == 0, "clean: push m@v1");
	is_int(mvms_branch_create(st, "m", "exp", "m@v1"), 0, "clean: branch exp at v1");
	ok(put_st("exp/model.safetensors", 1, 0, 0) == 0 && put_text("exp/notes.txt", "base\n") == 0 &&
	   put_text("exp/exp.txt", "from exp\n") == 0 && push("exp", "exp", "exp") == 0,
	   "clean: push exp (tensor a, exp.txt)");
	ok(put_st("main/model.safetensors", 0, 0, 2) == 0 &&
	   put_text("main/notes.txt", "changed on main\n") == 0 && push("main", NULL, "main") == 0,
	   "clean: push main (tensor c, notes.txt)");
	id_of(main_before, "m@main");
	id_of(exp_id, "m@exp");

	o.message = "merge exp";
	rc = mvms_merge(&r, st, "m", "m@exp", &o);
	is_int(rc, 0, "clean: merge m@exp into main");
	if (rc < 0)
		diag("%s", mvms_error_last());
	ok(r && r->created && !r->fast_forward && !r->up_to_date && r->number == 4,
	   "clean: a merge version, m@v4");
	ok(r && r->tensor_merged_files == 1 && r->conflict_count == 0,
	   "clean: one file merged tensor by tensor, no conflicts");
	ok(version_st_is("m@main", 1, 0, 2), "clean: the merged file has exp's a and main's c");
	ok(version_file_is("m@main", "notes.txt", "changed on main\n", 16),
	   "clean: notes.txt changed on main only is main's");
	ok(has_file("m@main", "exp.txt"), "clean: exp.txt added on exp is in the merge");
	ok(mvms_version_resolve(&v, st, "m@main") == 0 && v->parent_count == 2 &&
	   strcmp(v->parents[0].id, main_before) == 0 && strcmp(v->parents[1].id, exp_id) == 0,
	   "clean: parents are main's head, then exp's");
	ok(v && strcmp(v->message, "merge exp") == 0, "clean: the message given");
	mvms_version_info_free(v);
	mvms_merge_result_free(r);
	r = NULL;

	rc = mvms_merge(&r, st, "m", "m@exp", &o);
	ok(rc == 0 && r && r->up_to_date && !r->created, "merging exp again: already up to date");
	mvms_merge_result_free(r);
}

/* A branch that main has not moved past merges by moving main. */
static void test_fast_forward(void)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_result *r = NULL;
	char ff_id[65], main_id[65];
	int rc;

	is_int(mvms_branch_create(st, "m", "ff", "m@main"), 0, "ff: branch ff at main");
	ok(put_text("exp/exp.txt", "ff change\n") == 0 && put_st("exp/model.safetensors", 1, 0, 2) == 0 &&
	   put_text("exp/notes.txt", "changed on main\n") == 0 && push("exp", "ff", "ff") == 0,
	   "ff: push on ff");
	rc = mvms_merge(&r, st, "m", "m@ff", &o);
	ok(rc == 0 && r && r->fast_forward && !r->created, "ff: merge is a fast-forward");
	id_of(ff_id, "m@ff");
	id_of(main_id, "m@main");
	ok(ff_id[0] && strcmp(ff_id, main_id) == 0, "ff: main now points at ff's version");
	mvms_merge_result_free(r);
}

/* Tensor b changed differently on both sides: a conflict, nothing written; then settled. */
static void test_tensor_conflict(void)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_resolution res = { "model.safetensors", MVMS_MERGE_OURS };
	mvms_merge_result *r = NULL;
	char before[65], after[65];
	int rc;

	is_int(mvms_branch_create(st, "m", "side", "m@main"), 0, "conflict: branch side at main");
	ok(put_st("exp/model.safetensors", 1, 3, 2) == 0 && push("exp", "side", "side b") == 0,
	   "conflict: side changes tensor b");
	ok(put_st("exp/model.safetensors", 1, 4, 2) == 0 && push("exp", NULL, "main b") == 0,
	   "conflict: main changes tensor b otherwise");
	id_of(before, "m@main");
	rc = mvms_merge(&r, st, "m", "m@side", &o);
	is_int(rc, MVMS_EMERGE, "conflict: MVMS_EMERGE");
	ok(r && r->conflict_count == 1 && !r->created, "conflict: one conflict, no version");
	ok(r && r->conflict_count == 1 && strcmp(r->conflicts[0].path, "model.safetensors") == 0 &&
	   r->conflicts[0].tensor && strcmp(r->conflicts[0].tensor, "b") == 0 &&
	   strcmp(r->conflicts[0].kind, "tensor") == 0, "conflict: names the file, tensor b, kind tensor");
	ok(r && r->conflict_count == 1 && r->conflicts[0].ours_id[0] && r->conflicts[0].theirs_id[0] &&
	   strcmp(r->conflicts[0].ours_id, r->conflicts[0].theirs_id) != 0,
	   "conflict: ours and theirs ids given and different");
	id_of(after, "m@main");
	ok(before[0] && strcmp(before, after) == 0, "conflict: main did not move");
	mvms_merge_result_free(r);
	r = NULL;

	o.strategy = MVMS_MERGE_THEIRS;
	rc = mvms_merge(&r, st, "m", "m@side", &o);
	ok(rc == 0 && r && r->created, "conflict: --theirs settles it");
	ok(version_st_is("m@main", 1, 3, 2), "conflict: --theirs takes side's tensor b");
	mvms_merge_result_free(r);
	r = NULL;

	/* Again, from a fresh conflict, settled per path for ours. */
	ok(put_st("exp/model.safetensors", 1, 5, 2) == 0 && push("exp", "side", "side b again") == 0 &&
	   put_st("exp/model.safetensors", 1, 6, 2) == 0 && push("exp", NULL, "main b again") == 0,
	   "conflict: b changed on both sides again");
	o.strategy = MVMS_MERGE_NONE;
	o.resolve = &res;
	o.resolve_count = 1;
	rc = mvms_merge(&r, st, "m", "m@side", &o);
	ok(rc == 0 && r && r->created, "conflict: a per-path resolution settles it");
	ok(version_st_is("m@main", 1, 6, 2), "conflict: model.safetensors=ours keeps main's b");
	mvms_merge_result_free(r);
}

/* A text file changed on both sides cannot be merged inside: both-modified. */
static void test_file_conflict(void)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_result *r = NULL;
	int rc;

	is_int(mvms_branch_create(st, "m", "txt", "m@main"), 0, "file conflict: branch txt at main");
	ok(put_text("exp/notes.txt", "txt side\n") == 0 && push("exp", "txt", "txt notes") == 0 &&
	   put_text("exp/notes.txt", "main side\n") == 0 && push("exp", NULL, "main notes") == 0,
	   "file conflict: notes.txt changed on both sides");
	rc = mvms_merge(&r, st, "m", "m@txt", &o);
	is_int(rc, MVMS_EMERGE, "file conflict: MVMS_EMERGE");
	ok(r && r->conflict_count == 1 && strcmp(r->conflicts[0].path, "notes.txt") == 0 &&
	   !r->conflicts[0].tensor && strcmp(r->conflicts[0].kind, "both-modified") == 0,
	   "file conflict: notes.txt, whole file, both-modified");
	mvms_merge_result_free(r);
	r = NULL;
	is_int(mvms_merge(&r, st, "m", "m@nosuch", &o), MVMS_ENOTFOUND,
	       "an unknown source: MVMS_ENOTFOUND");
	mvms_merge_result_free(r);
}

int main(void)
{
	char path[512];

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store", dir);
	if (mvms_store_init(&st, path, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	test_clean();
	test_fast_forward();
	test_tensor_conflict();
	test_file_conflict();
	mvms_store_free(st);
	rm_rf(dir);
	return done_testing();
}
