/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of editing history (mvms/history.h): a deleted version's rows (kept: the row,
 * its parent edges and generation; gone: its files), first live ancestors (first parents,
 * own model only), merges over a deleted base, the same version pushed again after its
 * deletion, gc's rewrite of a pack that mixes used and unused chunks, model delete's rows,
 * prune's rules with a fixed clock, and a store of schema level 6 upgraded in place.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "store_int.h"
#include "teststore.h"
#include "mvms/gc.h"
#include "mvms/history.h"
#include "mvms/dag.h"

static char dir[] = "/tmp/mvms-test-history-XXXXXX";

static void write_file(const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((f = fopen(path, "wb"))) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

/* Pushes tree/ of @dir with a.txt = @content on @branch at a fixed time (same input, same id). */
static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *content,
		const char *branch, const char *parent)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];

	write_file("tree/a.txt", content, strlen(content));
	/* A fixed modification time (kept in the manifest, docs/formats.md): the same push made
	 * twice is then the same version, id and all. */
	snprintf(path, sizeof(path), "%s/tree/a.txt", dir);
	utimensat(AT_FDCWD, path, (const struct timespec[2]){ { 1700000000, 0 }, { 1700000000, 0 } },
		  0);
	snprintf(path, sizeof(path), "%s/tree", dir);
	o.branch = branch;
	o.message = content;
	o.author = "tester";
	o.time = 1700000000;
	if (parent) {
		o.parents = &parent;
		o.parent_count = 1;
	}
	return mvms_push(r, st, model, path, &o);
}

static int64_t head_of(mvms_store *st, const char *model, const char *branch)
{
	mvms_ref_info *refs = NULL;
	size_t n = 0, i;
	int64_t v = 0;

	if (mvms_branch_list(&refs, &n, st, model) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(refs[i].name, branch))
			v = refs[i].number;
	mvms_ref_list_free(refs, n);
	return v;
}

static void test_tombstone(mvms_store *st)
{
	mvms_push_result pr;
	mvms_delete_result *d = NULL;
	mvms_version_info *v = NULL;
	mvms_lineage *l = NULL;
	int64_t gen;

	ok(push(&pr, st, "m", "one", NULL, NULL) == 0 && push(&pr, st, "m", "two", NULL, NULL) == 0 &&
	   push(&pr, st, "m", "three", NULL, NULL) == 0, "tomb: m@v1..v3");
	gen = q64(st, "SELECT generation FROM versions WHERE number = 3 AND model_id = "
		  "(SELECT id FROM models WHERE name = 'm')");
	is_int(mvms_version_delete_ex(&d, st, "m@v2", "alice", 0), 0, "tomb: delete m@v2");
	ok(d && d->number == 2 && !strcmp(d->deleted_by, "alice") && d->deleted_at > 0 &&
	   d->moved_count == 0, "tomb: the result names v2, alice, a time, no branch moved");
	mvms_delete_result_free(d);
	is_int((int)q64(st, "SELECT count(*) FROM versions v JOIN models m ON m.id = v.model_id "
		       "WHERE m.name = 'm'"), 3, "tomb: the row stays");
	is_int((int)q64(st, "SELECT count(*) FROM files f JOIN versions v ON v.id = f.version_id "
		       "WHERE v.number = 2 AND v.deleted_at > 0"), 0, "tomb: its files rows are gone");
	is_int((int)q64(st, "SELECT count(*) FROM version_parents vp JOIN versions v ON "
		       "v.id = vp.child WHERE v.deleted_at > 0"), 1, "tomb: its parent edge stays");
	is_int((int)q64(st, "SELECT count(*) FROM version_parents vp JOIN versions v ON "
		       "v.id = vp.parent WHERE v.deleted_at > 0"), 1, "tomb: so does its child's");
	is_int((int)q64(st, "SELECT generation FROM versions WHERE number = 3 AND model_id = "
			"(SELECT id FROM models WHERE name = 'm')"), (int)gen,
	       "tomb: generations do not change");
	ok(mvms_version_resolve(&v, st, "m@v2") == 0 && v->deleted_at > 0 &&
	   !strcmp(v->deleted_by, "alice") && !strcmp(v->message, "two"),
	   "tomb: resolves, with deleted_at/by and its message");
	mvms_version_info_free(v);
	ok(mvms_lineage_get(&l, st, "m@v3", MVMS_LINEAGE_ANCESTORS, -1) == 0 && l->node_count == 3 &&
	   l->nodes[1].deleted_at > 0 && l->nodes[0].deleted_at == 0,
	   "tomb: lineage of v3 still has v2, marked deleted");
	mvms_lineage_free(l);
	/* Asked again on the same handle, lineage comes from the in-memory DAG index (a
	 * server's long-lived handle): it must know the tombstone too. */
	l = NULL;
	ok(mvms_lineage_get(&l, st, "m@v3", MVMS_LINEAGE_ANCESTORS, -1) == 0 && l->node_count == 3 &&
	   l->nodes[1].deleted_at > 0 && l->nodes[0].deleted_at == 0,
	   "tomb: lineage from the DAG index marks v2 deleted too");
	mvms_lineage_free(l);
	is_int(mvms_version_delete_ex(NULL, st, "m@v2", NULL, 0), MVMS_ENOTFOUND,
	       "tomb: deleting it again: ENOTFOUND");
	ok(strstr(mvms_error_last(), "was deleted by alice") != NULL, "tomb: ... saying by whom");

	/* main at v3: deleting v3 moves it over v2 (deleted) to v1. */
	is_int(mvms_version_delete_ex(&d, st, "m@v3", "alice", MVMS_HISTORY_DRY_RUN), 0,
	       "tomb: dry run of deleting v3");
	ok(d && d->moved_count == 1 && d->moved[0].number == 1, "tomb: it would move main to v1");
	mvms_delete_result_free(d);
	is_int((int)head_of(st, "m", "main"), 3, "tomb: the dry run moved nothing");
	is_int(mvms_version_delete_ex(NULL, st, "m@v3", "alice", 0), 0, "tomb: delete v3");
	is_int((int)head_of(st, "m", "main"), 1, "tomb: main is at v1, the first live ancestor");
	is_int(push(&pr, st, "m", "four", NULL, NULL), 0, "tomb: a push on main after it");
	ok(pr.number == 4, "tomb: is v4 (numbers are never reused)");
}

static void test_cross_model(mvms_store *st)
{
	mvms_push_result pr;

	ok(push(&pr, st, "base", "b1", NULL, NULL) == 0 &&
	   push(&pr, st, "ft", "f1", NULL, "base@v1") == 0, "cross: ft@v1 made from base@v1");
	is_int(mvms_version_delete_ex(NULL, st, "ft@v1", NULL, 0), MVMS_ECONFLICT,
	       "cross: ft's main has no live ancestor in ft (base@v1 is another model's)");
	ok(strstr(mvms_error_last(), "no live ancestor") != NULL, "cross: says so");
	is_int(mvms_version_delete_ex(NULL, st, "base@v1", NULL, 0), MVMS_ECONFLICT,
	       "cross: base's main points at base@v1 with nowhere to go either");
	is_int(mvms_model_delete(&(mvms_model_delete_result){ 0 }, st, "base", 0), MVMS_ECONFLICT,
	       "cross: base cannot go while ft@v1 was made from it");
}

static void test_merge_base_deleted(mvms_store *st)
{
	mvms_push_result pr;
	mvms_merge_result *mr = NULL;
	int rc;

	ok(push(&pr, st, "g", "g1", NULL, NULL) == 0 && push(&pr, st, "g", "g2", NULL, NULL) == 0 &&
	   mvms_branch_create(st, "g", "side", "g@v2") == 0 &&
	   push(&pr, st, "g", "g3", NULL, NULL) == 0 && push(&pr, st, "g", "g4", "side", NULL) == 0,
	   "merge: g@v3 on main and g@v4 on side, from g@v2");
	is_int(mvms_version_delete_ex(NULL, st, "g@v2", NULL, 0), 0, "merge: delete the base g@v2");
	rc = mvms_merge(&mr, st, "g", "g@side", NULL);
	is_int(rc, MVMS_EINVALID, "merge: refused");
	ok(strstr(mvms_error_last(), "merge base g@v2 was deleted") != NULL,
	   "merge: the message says the base was deleted (%s)", mvms_error_last());
	mvms_merge_result_free(mr);
}

static void test_revive(mvms_store *st)
{
	mvms_push_result pr, again;
	mvms_version_info *v = NULL;

	ok(push(&pr, st, "rv", "r1", NULL, NULL) == 0 && mvms_branch_create(st, "rv", "x", NULL) == 0 &&
	   push(&pr, st, "rv", "r2", "x", NULL) == 0, "revive: rv@v2 on x");
	is_int(mvms_version_delete_ex(NULL, st, "rv@v2", NULL, 0), 0, "revive: delete rv@v2 (x moves)");
	is_int(push(&again, st, "rv", "r2", "x", NULL), 0, "revive: the same push again");
	ok(again.created && again.number == 2 && !strcmp(again.id, pr.id),
	   "revive: it is rv@v2 again, same id");
	ok(mvms_version_resolve(&v, st, "rv@v2") == 0 && v->deleted_at == 0 && !v->deleted_by,
	   "revive: no longer deleted");
	mvms_version_info_free(v);
	is_int((int)q64(st, "SELECT count(*) FROM files f JOIN versions v ON v.id = f.version_id "
		       "JOIN models m ON m.id = v.model_id WHERE m.name = 'rv' AND v.number = 2"), 1,
	       "revive: with its file again");
}

/* Random bytes (they do not compress) with @marker in the middle. */
static void random_file(const char *rel, size_t n, const char *marker, unsigned seed)
{
	unsigned char *b = malloc(n);
	size_t i;

	if (!b)
		return;
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (unsigned char)(seed >> 16);
	}
	if (marker)
		memcpy(b + n / 2, marker, strlen(marker));
	write_file(rel, b, n);
	free(b);
}

static void test_gc_rewrite(mvms_store *st)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result pr;
	mvms_gc_result g;
	mvms_verify_result vr;
	char path[512];
	int64_t chunks;

	snprintf(path, sizeof(path), "%s/gct", dir);
	mkdir(path, 0755);
	random_file("gct/keep.bin", 300000, NULL, 7);
	random_file("gct/secret.bin", 300000, "MARKER", 8);
	o.author = "tester";
	is_int(mvms_push(&pr, st, "gcm", path, &o), 0, "gc: push keep.bin and secret.bin (one pack)");
	snprintf(path, sizeof(path), "%s/gct/secret.bin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/gct", dir);
	is_int(mvms_push(&pr, st, "gcm", path, &o), 0, "gc: push keep.bin alone");
	is_int(mvms_version_delete_ex(NULL, st, "gcm@v1", NULL, 0), 0, "gc: delete gcm@v1");
	chunks = q64(st, "SELECT count(*) FROM chunks");
	is_int(mvms_store_gc(&g, st, 0, 1), 0, "gc: a dry run");
	ok(g.rewritten_packs == 1 && g.rewritten_chunks > 0, "gc: it would rewrite 1 pack (%llu chunks)",
	   (unsigned long long)g.rewritten_chunks);
	is_int((int)q64(st, "SELECT count(*) FROM chunks"), (int)chunks, "gc: ... and changed nothing");
	is_int(mvms_store_gc(&g, st, 0, 0), 0, "gc --grace 0");
	ok(g.rewritten_packs == 1 && g.packs >= 1, "gc: rewrote 1 pack and removed the old one");
	ok(q64(st, "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM content_chunks cc "
		   "WHERE cc.chunk_id = c.id)") == 0, "gc: no chunk row is unused");
	ok(q64(st, "SELECT count(*) FROM chunks") <= chunks - (int64_t)g.rewritten_chunks,
	   "gc: the unused chunk rows went");
	is_int(mvms_store_verify(&vr, st, NULL, NULL, NULL), 0, "gc: verify is clean");
	is_int(mvms_store_gc(&g, st, 0, 0), 0, "gc: again");
	ok(g.rewritten_packs == 0 && g.packs == 0, "gc: nothing left to do");
}

static void test_model_delete(mvms_store *st)
{
	mvms_model_delete_result r;
	mvms_push_result pr;
	int64_t versions = q64(st, "SELECT count(*) FROM versions");

	ok(push(&pr, st, "md", "m1", NULL, NULL) == 0 && push(&pr, st, "md", "m2", NULL, NULL) == 0 &&
	   mvms_tag_create(st, "md@v1", "t") == 0, "model: md@v1, v2, tag t");
	is_int(mvms_model_delete(&r, st, "md", MVMS_HISTORY_DRY_RUN), 0, "model: dry run");
	ok(r.versions == 2 && r.branches == 1 && r.tags == 1, "model: counts 2 versions, 1 branch, 1 tag");
	is_int((int)q64(st, "SELECT count(*) FROM versions"), (int)versions + 2, "model: dry run kept them");
	is_int(mvms_model_delete(&r, st, "md", 0), 0, "model: delete md");
	is_int((int)q64(st, "SELECT count(*) FROM versions"), (int)versions, "model: its versions are gone");
	is_int((int)q64(st, "SELECT count(*) FROM models WHERE name = 'md'"), 0, "model: and the model");
	is_int((int)q64(st, "SELECT count(*) FROM tags WHERE name = 't'"), 0, "model: and its tag");
	is_int(mvms_model_delete(&r, st, "md", 0), MVMS_ENOTFOUND, "model: again: ENOTFOUND");
}

static void test_prune(mvms_store *st)
{
	mvms_prune_options o = MVMS_PRUNE_OPTIONS_INIT;
	mvms_prune_result *r = NULL;
	mvms_push_options po = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result pr;
	char path[512], text[16];
	int i, okp = 1;

	snprintf(path, sizeof(path), "%s/tree", dir);
	po.author = "tester";
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "p%d", i);
		write_file("tree/a.txt", text, strlen(text));
		po.time = 1000000 + i * 86400;   /* day i */
		okp &= mvms_push(&pr, st, "pr", path, &po) == 0;
	}
	ok(okp && mvms_tag_create(st, "pr@v1", "rel") == 0, "prune: pr@v1..v5 a day apart, v1 tagged");
	o.keep_last = 1;
	o.keep_tagged = 1;
	o.older_than = 2 * 86400;
	o.now = 1000000 + 5 * 86400;
	o.dry_run = 1;
	is_int(mvms_prune(&r, st, "pr", &o), 0, "prune: dry run, keep 1, tagged, younger than 2 days");
	ok(r && r->count == 2 && r->versions[0]->number == 3 && r->versions[1]->number == 2 &&
	   r->kept == 3, "prune: would delete v3 and v2 (v5 last, v4 young, v1 tagged)");
	mvms_prune_result_free(r);
	r = NULL;
	o.dry_run = 0;
	o.keep_tagged = 0;
	o.older_than = 0;
	is_int(mvms_prune(&r, st, "pr", &o), 0, "prune: keep 1 only");
	ok(r && r->count == 4 && !strcmp(r->why[3], "tag rel"), "prune: deleted 4, v1 over its tag");
	mvms_prune_result_free(r);
	is_int((int)q64(st, "SELECT count(*) FROM versions v JOIN models m ON m.id = v.model_id "
		       "WHERE m.name = 'pr' AND v.deleted_at = 0"), 1, "prune: one live version left");
	o.keep_last = -1;
	is_int(mvms_prune(&r, st, "pr", &o), MVMS_EINVALID, "prune: keep_last < 0 is refused");
}

/* A store made before schema 007: its columns (and the later levels' tables) dropped, its
 * level set back to 6. */
static void test_upgrade(void)
{
	mvms_store *st = NULL;
	mvms_push_result pr;
	char sdir[600], dbp[700];
	sqlite3 *h = NULL;
	int rc;

	snprintf(sdir, sizeof(sdir), "%s/old", dir);
	ok(mvms_store_init(&st, sdir, NULL) == 0 && push(&pr, st, "o", "o1", NULL, NULL) == 0 &&
	   push(&pr, st, "o", "o2", NULL, NULL) == 0, "upgrade: a store with o@v1, v2");
	mvms_store_free(st);
	st = NULL;
	snprintf(dbp, sizeof(dbp), "%s/store.db", sdir);
	rc = sqlite3_open(dbp, &h);
	/* Level 11's chunks.base goes too: a store of level 6 had none. */
	rc = rc == SQLITE_OK ? sqlite3_exec(h, "DROP INDEX chunks_base; "
					    "ALTER TABLE chunks DROP COLUMN base; "
					    "ALTER TABLE versions DROP COLUMN deleted_at; "
					    "ALTER TABLE versions DROP COLUMN deleted_by; "
					    "ALTER TABLE models DROP COLUMN default_branch; "
					    "DROP TABLE signatures; DROP TABLE env_policies; "
					    "ALTER TABLE rollouts DROP COLUMN shadow_first; "
					    "ALTER TABLE rollouts DROP COLUMN max_diff_rate; "
					    "ALTER TABLE rollouts DROP COLUMN shadowing; "
					    "PRAGMA user_version = 6", NULL, NULL, NULL) : rc;
	sqlite3_close(h);
	is_int(rc, SQLITE_OK, "upgrade: back to level 6");
	is_int(mvms_store_open(&st, sdir, 0), 0, "upgrade: opens");
	if (!st)
		return;
	/* Level 7, and whatever later schema files add (they run on it too). */
	is_int(mvms_db_level(st->db), mvms_db_level_latest(), "upgrade: migrated to the latest level in place");
	is_int(mvms_version_delete_ex(NULL, st, "o@v2", NULL, 0), 0, "upgrade: delete works on it");
	is_int((int)head_of(st, "o", "main"), 1, "upgrade: main moved to v1");
	mvms_store_free(st);
}

int main(void)
{
	mvms_store *st = NULL;
	char sdir[600];

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(sdir, sizeof(sdir), "%s/tree", dir);
	mkdir(sdir, 0755);
	setenv("MVMS_AUTHOR", "tester", 1);
	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	if (mvms_store_init(&st, sdir, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	test_tombstone(st);
	test_cross_model(st);
	test_merge_base_deleted(st);
	test_revive(st);
	test_gc_rewrite(st);
	test_model_delete(st);
	test_prune(st);
	mvms_store_free(st);
	test_upgrade();
	snprintf(sdir, sizeof(sdir), "rm -rf '%s'", dir);
	if (system(sdir) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
