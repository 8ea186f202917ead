/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: pushing small trees through the library, resolving every kind of ref
 * (vN, branch, tag, latest, id prefix, ambiguous prefix), ref name rules, branches.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "store_int.h"

static char dir[] = "/tmp/mvms-test-refs-XXXXXX";

static void write_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *content,
		const char *branch)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];

	write_file("tree/a.txt", content);
	snprintf(path, sizeof(path), "%s/tree", dir);
	o.branch = branch;
	o.message = content;
	o.author = "tester";
	return mvms_push(r, st, model, path, &o);
}

static int64_t resolve_num(mvms_store *st, const char *spec)
{
	mvms_version_info *v = NULL;
	int64_t n;

	if (mvms_version_resolve(&v, st, spec) < 0)
		return -1;
	n = v->number;
	mvms_version_info_free(v);
	return n;
}

/* Adds a version row with a chosen id so that prefixes collide on purpose. */
static void fake_version(mvms_store *st, const char *oid, int number)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO versions(oid, model_id, number, message, author, created_at, file_count, "
		 "logical_bytes) SELECT '%s', id, %d, 'fake', 't', 0, 0, 0 FROM models WHERE name = 'm'",
		 oid, number);
	if (mvms_db_exec(st->db, sql) < 0)
		diag("fake version: %s", mvms_error_last());
}

int main(void)
{
	mvms_store *st = NULL;
	mvms_push_result r1, r2, r3;
	char spec[128], treedir[512], cmd[600];
	int rc;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(treedir, sizeof(treedir), "%s/tree", dir);
	mkdir(treedir, 0755);
	snprintf(spec, sizeof(spec), "%s/store", dir);
	is_int(mvms_store_open(&st, spec, 0), MVMS_ENOTFOUND, "no store yet");
	is_int(mvms_store_init(&st, spec, NULL), 0, "init");
	mvms_store_free(st);
	st = NULL;
	is_int(mvms_store_init(&st, spec, NULL), MVMS_EEXISTS, "init twice refused");
	is_int(mvms_store_open(&st, spec, 0), 0, "open");

	is_int(push(&r1, st, "m", "one\n", NULL), 0, "push v1");
	is_int(r1.number, 1, "numbered v1");
	is_int(push(&r2, st, "m", "two\n", NULL), 0, "push v2");
	is_int(r2.number, 2, "numbered v2");
	is_int(push(&r3, st, "m", "two\n", NULL), 0, "push identical tree");
	ok(!r3.created && r3.number == 2, "identical tree makes no version");

	is_int(resolve_num(st, "m@v1"), 1, "m@v1");
	is_int(resolve_num(st, "m@latest"), 2, "m@latest");
	is_int(resolve_num(st, "m"), 2, "bare model means latest");
	is_int(resolve_num(st, "m@main"), 2, "branch main");
	snprintf(spec, sizeof(spec), "m@%.8s", r1.id);
	is_int(resolve_num(st, spec), 1, "8-hex id prefix");
	snprintf(spec, sizeof(spec), "m@%s", r1.id);
	is_int(resolve_num(st, spec), 1, "full id");
	is_int(mvms_tag_create(st, "m@v1", "release-1"), 0, "tag");
	is_int(resolve_num(st, "m@release-1"), 1, "tag resolves");
	is_int(mvms_tag_create(st, "m@v2", "release-1"), MVMS_EEXISTS, "tags never move");

	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@v9"), MVMS_ENOTFOUND,
	       "unknown number");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "nope@v1"), MVMS_ENOTFOUND,
	       "unknown model");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@abc"), MVMS_ENOTFOUND,
	       "3-hex prefix is too short");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@"), MVMS_EINVALID,
	       "empty ref");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "../m@v1"), MVMS_EINVALID,
	       "bad model name");

	fake_version(st, "abcdef0000000000000000000000000000000000000000000000000000000000", 100);
	fake_version(st, "abcdef1111111111111111111111111111111111111111111111111111111111", 101);
	rc = mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@abcdef");
	is_int(rc, MVMS_EAMBIGUOUS, "ambiguous prefix");
	ok(strstr(mvms_error_last(), "m@v100") && strstr(mvms_error_last(), "m@v101"),
	   "ambiguity lists the candidates");
	is_int(resolve_num(st, "m@abcdef1"), 101, "longer prefix disambiguates");
	is_int(resolve_num(st, "m@ABCDEF0"), 100, "prefix is case-insensitive");

	is_int(mvms_ref_name_check("exp-lr3e-4"), 0, "branch name ok");
	is_int(mvms_ref_name_check("team/exp.1"), 0, "slashes ok");
	is_int(mvms_ref_name_check("v3"), MVMS_EINVALID, "v3 reserved");
	is_int(mvms_ref_name_check("latest"), MVMS_EINVALID, "latest reserved");
	is_int(mvms_ref_name_check("a..b"), MVMS_EINVALID, "'..' refused");
	is_int(mvms_ref_name_check("-x"), MVMS_EINVALID, "leading '-' refused");
	is_int(mvms_ref_name_check("a b"), MVMS_EINVALID, "space refused");

	is_int(mvms_branch_create(st, "m", "exp", "m@v1"), 0, "branch at v1");
	is_int(mvms_branch_create(st, "m", "exp", NULL), MVMS_EEXISTS, "branch exists");
	is_int(push(&r3, st, "m", "three\n", "exp"), 0, "push to exp");
	is_int(resolve_num(st, "m@exp"), r3.number, "exp moved");
	is_int(resolve_num(st, "m@main"), 2, "main did not move");
	{
		mvms_version_info *v = NULL;
		ok(mvms_version_resolve(&v, st, "m@exp") == 0 && v->parent_count == 1 &&
		   v->parents[0].number == 1, "exp's new version has v1 as parent");
		mvms_version_info_free(v);
	}
	is_int(mvms_branch_delete(st, "m", "main"), MVMS_EINVALID, "main cannot be deleted");
	is_int(mvms_branch_delete(st, "m", "exp"), 0, "delete exp");
	is_int(mvms_branch_delete(st, "m", "exp"), MVMS_ENOTFOUND, "delete twice");

	mvms_store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
