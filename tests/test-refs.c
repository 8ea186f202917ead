/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: pushing small trees through the library, resolving every kind of ref
 * (vN, branch, tag, latest, id prefix, ambiguous prefix), ref name rules, branches, and
 * refs that cannot shadow versions: names that read as ids, prefixes or vN are refused,
 * and an older store's refs that clash with an id reading are ambiguous, not a pick.
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

/* @got contains @want. */
static void like(const char *got, const char *want, const char *name)
{
	if (!ok(got && strstr(got, want) != NULL, "%s", name))
		diag("got '%s', want it to contain '%s'", got ? got : "(null)", want);
}

/* Adds a tag or branch row directly, as an older store without the name rules has them. */
static void raw_ref(mvms_store *st, const char *table, const char *name, int number)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s SELECT m.id, '%s', v.id, 0 FROM models m JOIN versions v "
		 "ON v.model_id = m.id WHERE m.name = 'm' AND v.number = %d", table, name, number);
	if (mvms_db_exec(st->db, sql) < 0)
		diag("raw ref: %s", mvms_error_last());
}

/* An old store's refs that now read as ids: they still resolve when nothing clashes and
 * are ambiguous when they do (r1, r2: m@v1 and m@v2). */
static void old_store_refs(mvms_store *st, const mvms_push_result *r1, const mvms_push_result *r2)
{
	static const char *const free_names[] = { "0000", "1111", "2222", "3333", "4444" };
	const char *free_name = NULL;
	char spec[128], prefix[16];
	size_t i;
	int rc;

	/* Finding 3: a tag named with v2's full id, pointing at v1. */
	raw_ref(st, "tags", r2->id, 1);
	snprintf(spec, sizeof(spec), "m@%s", r2->id);
	rc = mvms_version_resolve(&(mvms_version_info *){ NULL }, st, spec);
	is_int(rc, MVMS_EAMBIGUOUS, "old store: a tag named with v2's full id makes it ambiguous");
	ok(strstr(mvms_error_last(), "id -> m@v2") && strstr(mvms_error_last(), "tag -> m@v1"),
	   "the message names both readings (id -> v2, tag -> v1)");
	diag("%s", mvms_error_last());
	is_int(resolve_num(st, "m@v2"), 2, "v2 stays reachable by number");

	/* A tag named like a prefix of v2's id, pointing at v1. */
	snprintf(prefix, sizeof(prefix), "%.6s", r2->id);
	raw_ref(st, "tags", prefix, 1);
	snprintf(spec, sizeof(spec), "m@%s", prefix);
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, spec), MVMS_EAMBIGUOUS,
	       "old store: a tag named like v2's id prefix is ambiguous");
	/* A branch named like v1's id prefix, pointing at v1: the readings agree. */
	snprintf(prefix, sizeof(prefix), "%.8s", r1->id);
	raw_ref(st, "branches", prefix, 1);
	snprintf(spec, sizeof(spec), "m@%s", prefix);
	is_int(resolve_num(st, spec), 1, "old store: a branch named like its own version's prefix resolves");

	/* A hex-named tag that no id starts with: it still resolves (no data loss). */
	for (i = 0; i < sizeof(free_names) / sizeof(free_names[0]) && !free_name; i++)
		if (strncmp(r1->id, free_names[i], 4) != 0 && strncmp(r2->id, free_names[i], 4) != 0)
			free_name = free_names[i];
	raw_ref(st, "tags", free_name, 2);
	snprintf(spec, sizeof(spec), "m@%s", free_name);
	is_int(resolve_num(st, spec), 2, "old store: a hex-named tag that matches no id still resolves");

	/* A tag and a branch of one name (refused when created, so only in an old store). */
	raw_ref(st, "tags", "twin", 1);
	raw_ref(st, "branches", "twin", 1);
	rc = mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@twin");
	is_int(rc, MVMS_EAMBIGUOUS, "a tag and a branch of one name are ambiguous, even on one version");
	ok(strstr(mvms_error_last(), "tag -> m@v1") && strstr(mvms_error_last(), "branch -> m@v1"),
	   "the message names the tag and the branch");
}

/* Names that could be read as a version are refused when created, with the reason. */
static void shadow_names(mvms_store *st, const mvms_push_result *r2)
{
	static const char *const bad[] = { "000000", "abcdef", "v7", "ABCD", "2024", "DeadBeef", "v0" };
	static const char *const good[] = { "abc", "123", "V7", "v7a", "release-2024", "cafe-1",
					    "deadbeefx", "x0000" };
	char spec[128], name[128];
	size_t i;

	/* Finding 3: tag sp@v1 <full id of v2> was accepted, and then m@<id> gave v1. */
	is_int(mvms_tag_create(st, "m@v1", r2->id), MVMS_EINVALID, "a tag named with a full id is refused");
	like(mvms_error_last(), "version id", "the message says it reads as a version id");
	is_int(mvms_branch_create(st, "m", r2->id, "m@v1"), MVMS_EINVALID,
	       "a branch named with a full id is refused");
	snprintf(spec, sizeof(spec), "m@%s", r2->id);
	is_int(resolve_num(st, spec), 2, "m@<v2's full id> is v2");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "tag '%s' is refused", bad[i]);
		is_int(mvms_tag_create(st, "m@v1", bad[i]), MVMS_EINVALID, name);
		snprintf(name, sizeof(name), "branch '%s' is refused", bad[i]);
		is_int(mvms_branch_create(st, "m", bad[i], "m@v1"), MVMS_EINVALID, name);
	}
	like(mvms_error_last(), "reads as a version number", "the message for v0 says why");
	is_int(mvms_ref_name_check("ABCD"), MVMS_EINVALID, "upper-case hex counts as an id prefix");
	like(mvms_error_last(), "id prefix", "the message says it reads as an id prefix");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(name, sizeof(name), "'%s' is a valid name", good[i]);
		is_int(mvms_ref_name_check(good[i]), 0, name);
	}

	/* A name one kind of ref holds cannot be taken by another: m@NAME would be ambiguous. */
	is_int(mvms_tag_create(st, "m@v1", "shared"), 0, "tag 'shared'");
	is_int(mvms_branch_create(st, "m", "shared", "m@v1"), MVMS_EEXISTS,
	       "a branch cannot take a tag's name");
	is_int(mvms_branch_create(st, "m", "lane", "m@v1"), 0, "branch 'lane'");
	is_int(mvms_tag_create(st, "m@v2", "lane"), MVMS_EEXISTS, "a tag cannot take a branch's name");
	like(mvms_error_last(), "ambiguous", "the message says why");
	is_int(resolve_num(st, "m@lane"), 1, "m@lane is still the branch");
}

/* The one compare-and-swap branch move (push, sync and merge use it). */
static void move_branch(mvms_store *st)
{
	int64_t mid = 0, v1 = 0, v2 = 0;

	is_int(mvms_store__model_id(&mid, st, "m"), 0, "cas: model m");
	is_int(mvms_refs__resolve_row(&v1, NULL, st, "m@v1"), 0, "cas: row of m@v1");
	is_int(mvms_refs__resolve_row(&v2, NULL, st, "m@v2"), 0, "cas: row of m@v2");
	is_int(mvms_refs__move_branch(st, mid, "cas", 0, v1), 0, "cas: expected none: creates it");
	is_int(resolve_num(st, "m@cas"), 1, "cas: ... at v1");
	is_int(mvms_refs__move_branch(st, mid, "cas", 0, v2), MVMS_ECONFLICT,
	       "cas: expected none, but it exists: conflict");
	is_int(mvms_refs__move_branch(st, mid, "cas", v2, v1), MVMS_ECONFLICT,
	       "cas: expected another head: conflict");
	like(mvms_error_last(), "moved meanwhile", "cas: the message says the branch moved");
	is_int(resolve_num(st, "m@cas"), 1, "cas: ... neither moved it");
	is_int(mvms_refs__move_branch(st, mid, "cas", v1, v2), 0, "cas: expected head: moves");
	is_int(resolve_num(st, "m@cas"), 2, "cas: ... to v2");
	is_int(mvms_refs__move_branch(st, mid, "nope", v1, v2), MVMS_ECONFLICT,
	       "cas: a branch that does not exist does not move");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@nope"), MVMS_ENOTFOUND,
	       "cas: ... nor is it created");
	is_int(mvms_branch_delete(st, "m", "cas"), 0, "cas: delete it");
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
	if (strncmp(r1.id, r2.id, 4) != 0) {
		snprintf(spec, sizeof(spec), "m@%.4s", r2.id);
		is_int(resolve_num(st, spec), 2, "4-hex id prefix");
	} else {
		skip("v1's and v2's ids share 4 hex digits");
	}
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
	like(mvms_error_last(), "at least 4 hex digits", "the message says prefixes need 4 digits");
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

	move_branch(st);
	shadow_names(st, &r2);
	old_store_refs(st, &r1, &r2);

	mvms_store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
