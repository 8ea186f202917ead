/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for gc and verify over a local store: what a killed gc, a killed push or merge
 * and a disk full at the database step leave behind is found in the listing and reclaimed
 * once older than the grace; young objects stay; a lease keeps a push's objects with a
 * grace of 0; a commit whose reused chunk or chunk list a gc removed fails cleanly (nothing
 * committed) and push starts over once by itself; verify checks the chunk lists versions
 * need, tells orphans from damage, and stops on an access error instead of calling objects
 * corrupt. A gc is put between a push's writes and its commit with the store's test hook.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "store_int.h"
#include "teststore.h"
#include "mvms/gc.h"

static char dir[] = "/tmp/mvms-test-gc-XXXXXX";
static char sdir[512];

/* ---- helpers ---- */

static const char *tree(const char *name, size_t len, uint32_t seed)
{
	return random_tree(dir, name, len, seed);
}

/* Makes everything in the store directory (objects, temp files) @secs old, and every
 * content row as old: as if it all happened long ago. */
static void age_all(mvms_store *st, int64_t secs)
{
	char sql[128];

	age_tree(sdir, secs);
	snprintf(sql, sizeof(sql), "UPDATE contents SET created_at = %lld",
		 (long long)(time(NULL) - secs));
	mvms_db_exec(st->db, sql);
}

static int exists_path(const char *rel)
{
	char p[700];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", sdir, rel);
	return stat(p, &sb) == 0;
}

/* An object of the local backend (in DIR/objects). */
static int exists_key(const char *key)
{
	char p[200];

	snprintf(p, sizeof(p), "objects/%s", key);
	return exists_path(p);
}

static int gc(mvms_gc_result *r, mvms_store *st, int64_t grace, int dry)
{
	return mvms_store_gc(r, st, grace, dry);
}

static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *path,
		const char *branch)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;

	o.branch = branch;
	return mvms_push(r, st, model, path, &o);
}

/* The key of the one pack that holds chunks of @spec's files and no other version's. */
static int pack_of(char *key, size_t n, mvms_store *st, const char *model, int64_t number)
{
	static const char q[] =
		"SELECT DISTINCT p.oid FROM packs p JOIN chunks c ON c.pack_id = p.id "
		"JOIN content_chunks cc ON cc.chunk_id = c.id JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id "
		"WHERE m.name = ? AND v.number = ?";
	sqlite3_stmt *s = NULL;
	mvms_oid id;
	int rc = -1;

	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, number);
	if (sqlite3_step(s) == SQLITE_ROW && mvms_db_column_oid(&id, s, 0) == 0) {
		mvms_object_key(key, n, "packs", &id);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

static int verify_ok(mvms_store *st)
{
	mvms_verify_result vr;

	return mvms_store_verify(&vr, st, NULL, NULL, NULL) == 0 && vr.problems == 0;
}

/* Pulls @spec and compares its data.bin with the one in @src. */
static int pulls_same(mvms_store *st, const char *spec, const char *src)
{
	mvms_pull_options po = MVMS_PULL_OPTIONS_INIT;
	mvms_pull_result pr;
	char out[600], a[700], b[700];
	unsigned char *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	static int k;
	int same;

	snprintf(out, sizeof(out), "%s/pulled-%d", dir, k++);
	if (mvms_pull(&pr, st, spec, out, &po) < 0)
		return 0;
	snprintf(a, sizeof(a), "%s/data.bin", src);
	snprintf(b, sizeof(b), "%s/data.bin", out);
	same = read_whole(&x, &lx, a) == 0 && read_whole(&y, &ly, b) == 0 && lx == ly &&
	       memcmp(x, y, lx) == 0;
	free(x);
	free(y);
	return same;
}

/* ---- the hook between a push's writes and its commit ---- */

typedef struct hook {
	int runs;            /* gc runs left (-1: always) */
	int expire_lease;    /* make every lease look expired first (a stalled push) */
	int64_t grace;
	mvms_gc_result r;
	int rc, calls;
	int hold_ms;         /* after the first gc, keep gc.lock this long (a gc still running) */
	double at[4];        /* when each call came */
	double released;     /* when the held lock was let go */
	int lock_fd;
	pthread_t holder;    /* lets it go; joined by the test */
} hook;

static void *let_go(void *arg)
{
	hook *h = arg;
	struct timespec ts = { h->hold_ms / 1000, (long)(h->hold_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	h->released = mvms_now();
	close(h->lock_fd); /* releases the flock */
	return NULL;
}

static void run_gc(mvms_store *st, void *arg)
{
	hook *h = arg;
	mvms_store *other = NULL;

	(void)st;
	if (h->calls < 4)
		h->at[h->calls] = mvms_now();
	h->calls++;
	if (h->runs == 0)
		return;
	if (h->runs > 0)
		h->runs--;
	/* Another handle: another connection, as another process would be. */
	if (mvms_store_open(&other, sdir, 0) < 0) {
		h->rc = -100;
		return;
	}
	if (h->expire_lease)
		mvms_db_exec(other->db, "UPDATE leases SET expires_at = 1");
	h->rc = gc(&h->r, other, h->grace, 0);
	mvms_store_free(other);
	if (h->hold_ms && h->calls == 1) {
		/* As if this gc still swept: the lock gc holds while it runs, as flock(1) would. */
		char p[600];
		snprintf(p, sizeof(p), "%s/gc.lock", sdir);
		h->lock_fd = open(p, O_RDWR | O_CREAT, 0644);
		if (h->lock_fd < 0 || flock(h->lock_fd, LOCK_EX) < 0 ||
		    pthread_create(&h->holder, NULL, let_go, h) != 0)
			h->rc = -101;
	}
}

/* A push with @h's gc run before its commit (each try's); the hook is cleared after. */
static int push_gc(mvms_push_result *r, mvms_store *st, const char *m, const char *path,
		   const char *branch, hook *h)
{
	int rc;

	st->before_commit = run_gc;
	st->before_commit_arg = h;
	rc = push(r, st, m, path, branch);
	st->before_commit = NULL;
	return rc;
}

/* ---- tests ---- */

static void test_backend_scan(mvms_backend *be)
{
	int64_t mtime = 0;
	uint64_t size = 0;
	char p[600];

	is_int(be->stat_time(&size, &mtime, be, "packs/zz/none"), MVMS_ENOTFOUND,
	       "stat_time: absent key");
	ok(be->scan && be->stat_time, "the local backend can scan with times");
	snprintf(p, sizeof(p), "%s/objects/tmp", sdir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/objects/tmp/leftover.tmp", sdir);
	write_random_file(p, 10, 1);
	is_int(be->stat_time(&size, &mtime, be, "tmp/leftover.tmp"), 0, "stat_time of a temp file");
	ok(size == 10 && mtime > time(NULL) - 100, "  its size and a recent time");
	is_int(be->remove(be, "tmp/leftover.tmp"), 0, "remove takes a temp file's key");
	ok(!exists_path("objects/tmp/leftover.tmp"), "  and removes it");
}

/* A gc killed between its rows and its objects, and a push killed after its rename: both
 * leave packs no row names, which the next gc must find in the listing. */
static void test_killed_leftovers(mvms_store *st)
{
	mvms_push_result pr;
	mvms_gc_result r;
	char key[MVMS_KEY_MAX], junk[MVMS_KEY_MAX];
	mvms_oid fake;

	ok(push(&pr, st, "k", tree("k1", 300000, 11), NULL) == 0, "killed: push k@v1");
	ok(mvms_branch_create(st, "k", "x", "k@v1") == 0 &&
	   push(&pr, st, "k", tree("k2", 300000, 12), "x") == 0, "killed: push k@v2 on branch x");
	ok(pack_of(key, sizeof(key), st, "k", 2) == 0, "killed: k@v2 has its own pack");
	ok(mvms_branch_delete(st, "k", "x") == 0 && mvms_version_delete(st, "k@v2") == 0,
	   "killed: delete branch x and k@v2");
	/* What an old gc did before it was killed: the rows went, the objects stayed. */
	mvms_db_exec(st->db, "DELETE FROM tensors WHERE content_id NOT IN (SELECT content_id FROM files);"
			     "DELETE FROM content_chunks WHERE content_id NOT IN (SELECT content_id FROM files);"
			     "DELETE FROM contents WHERE id NOT IN (SELECT content_id FROM files);"
			     "DELETE FROM chunks WHERE id NOT IN (SELECT chunk_id FROM content_chunks);"
			     "DELETE FROM packs WHERE id NOT IN (SELECT pack_id FROM chunks)");
	ok(exists_key(key), "killed: the pack object is still there, with no row");
	/* A pack renamed into place whose indexing never happened (disk full, kill -9). */
	memset(&fake, 0xab, sizeof(fake));
	mvms_object_key(junk, sizeof(junk), "packs", &fake);
	mvms_backend_put(st->be, junk, "not indexed", 11);
	is_int(gc(&r, st, 3600, 0), 0, "killed: gc with a grace of 1 h");
	ok(exists_key(key) && exists_key(junk), "killed: young leftovers are kept");
	ok(r.kept_young >= 2, "killed: counted as young unused packs (%llu)",
	   (unsigned long long)r.kept_young);
	age_all(st, 7200);
	is_int(gc(&r, st, 3600, 1), 0, "killed: gc --dry-run once they are 2 h old");
	ok(r.packs == 2 && r.unindexed_packs == 2 && exists_key(key), "killed: the dry run "
	   "counts both unindexed packs (%llu) and removes nothing", (unsigned long long)r.packs);
	is_int(gc(&r, st, 3600, 0), 0, "killed: gc");
	ok(!exists_key(key), "killed: the killed gc's pack is reclaimed");
	ok(!exists_key(junk), "killed: the unindexed pack is reclaimed");
	ok(r.objects == 2, "killed: with k@v2's manifest and chunk list (%llu)",
	   (unsigned long long)r.objects);
	ok(verify_ok(st) && pulls_same(st, "k@v1", tree("k1", 300000, 11)),
	   "killed: k@v1 verifies and pulls byte-identical");
}

static int item_reason(const mvms_gc_item *it, void *payload)
{
	mvms_buf *b = payload;

	mvms_buf_printf(b, "%s=%s;", it->key, it->reason);
	return 0;
}

/* Temp files of killed pushes and merges, and young unreferenced objects. */
static void test_temps_and_young(mvms_store *st)
{
	mvms_gc_options o;
	mvms_gc_result r;
	mvms_buf seen = MVMS_BUF_INIT;
	char p[600];

	snprintf(p, sizeof(p), "%s/objects/tmp/0123abcd.tmp", sdir);
	write_random_file(p, 100, 2);
	snprintf(p, sizeof(p), "%s/tmp-merge-Ab12Cd", sdir);
	write_random_file(p, 50, 3);
	is_int(gc(&r, st, 3600, 0), 0, "temps: gc with a grace of 1 h");
	ok(exists_path("objects/tmp/0123abcd.tmp") && exists_path("tmp-merge-Ab12Cd") &&
	   r.temp_files == 0 && r.kept_objects >= 2, "temps: young temp files are kept");
	age_all(st, 7200);
	memset(&o, 0, sizeof(o));
	o.grace_seconds = 3600;
	o.dry_run = 1;
	o.cb = item_reason;
	o.payload = &seen;
	is_int(mvms_store_gc_ex(&r, st, &o), 0, "temps: gc --dry-run lists them");
	ok(seen.ptr && strstr(seen.ptr, "tmp/0123abcd.tmp=temp file of a killed push;") &&
	   strstr(seen.ptr, "tmp-merge-Ab12Cd=temp file of a killed merge;"),
	   "temps: each with its reason (%s)", seen.ptr ? seen.ptr : "");
	is_int(gc(&r, st, 3600, 0), 0, "temps: gc");
	ok(!exists_path("objects/tmp/0123abcd.tmp") && !exists_path("tmp-merge-Ab12Cd") &&
	   r.temp_files == 2 && r.temp_bytes == 150, "temps: both removed (%llu, %llu bytes)",
	   (unsigned long long)r.temp_files, (unsigned long long)r.temp_bytes);
	mvms_buf_dispose(&seen);
}

/* A push whose objects a gc with a grace of 0 sees before the commit: the lease keeps them. */
static void test_lease(mvms_store *st)
{
	mvms_push_result pr;
	hook h;
	char key[MVMS_KEY_MAX];
	const char *src = tree("l1", 400000, 21);

	memset(&h, 0, sizeof(h));
	h.runs = -1;
	is_int(push_gc(&pr, st, "lease", src, NULL, &h), 0,
	       "lease: push with a gc --grace 0 before its commit");
	ok(h.calls == 1 && h.rc == 0, "lease: the gc ran (%d) and succeeded (%d)", h.calls, h.rc);
	ok(h.r.leases == 1, "lease: it honoured one live lease");
	ok(h.r.packs == 0 && h.r.objects == 0, "lease: and removed none of the push's objects");
	ok(pr.retries == 0 && pr.created, "lease: the push committed at the first try");
	ok(pack_of(key, sizeof(key), st, "lease", 1) == 0 && exists_key(key), "lease: its pack is there");
	ok(verify_ok(st) && pulls_same(st, "lease@v1", src), "lease: verifies, pulls byte-identical");
	is_int((int)q64(st, "SELECT count(*) FROM leases"), 0, "lease: released at the end");
}

/* A gc removes, before the commit, the unused content and pack a push reuses. */
static void test_reused_removed(mvms_store *st)
{
	mvms_push_result pr;
	hook h;
	const char *a = tree("r-a", 300000, 31);
	int64_t versions;
	char spec[64];

	ok(push(&pr, st, "r", tree("r-base", 1000, 30), NULL) == 0, "reused: push r@v1");
	ok(mvms_branch_create(st, "r", "x", "r@v1") == 0 && push(&pr, st, "r", a, "x") == 0 &&
	   mvms_branch_delete(st, "r", "x") == 0 && mvms_version_delete(st, "r@v2") == 0,
	   "reused: r@v2 with file A pushed on x, then deleted");
	age_all(st, 7200);
	/* Push A again: its chunks and content rows are found, so nothing new is written, and
	 * a gc (grace 1 h) then removes them before the commit. */
	memset(&h, 0, sizeof(h));
	h.runs = 1;
	h.grace = 3600;
	is_int(push_gc(&pr, st, "r", a, NULL, &h), 0,
	       "reused: push A again while a gc takes its old pack");
	ok(h.rc == 0 && h.r.packs >= 1 && h.r.chunks > 0, "reused: the gc removed the old pack "
	   "(%llu) and its chunks", (unsigned long long)h.r.packs);
	ok(pr.retries == 1 && pr.created, "reused: the push started over once and made a version "
	   "(retries %u)", pr.retries);
	snprintf(spec, sizeof(spec), "r@v%lld", (long long)pr.number);
	ok(verify_ok(st) && pulls_same(st, spec, a), "reused: %s verifies and pulls byte-identical",
	   spec);

	/* The same while that gc still runs (it holds gc.lock): the second try waits for its
	 * end, else it could reuse what that gc is about to drop and fail again. */
	a = tree("r-c", 300000, 33);
	ok(mvms_branch_create(st, "r", "z", "r@v1") == 0 && push(&pr, st, "r", a, "z") == 0,
	   "reused: file C pushed on z");
	snprintf(spec, sizeof(spec), "r@v%lld", (long long)pr.number);
	ok(mvms_branch_delete(st, "r", "z") == 0 && mvms_version_delete(st, spec) == 0,
	   "reused: then deleted");
	age_all(st, 7200);
	memset(&h, 0, sizeof(h));
	h.runs = 1;
	h.grace = 3600;
	h.hold_ms = 400;
	is_int(push_gc(&pr, st, "r", a, NULL, &h), 0, "gc running: push C again");
	if (h.rc != -101 && h.calls > 0)
		pthread_join(h.holder, NULL);
	ok(h.rc == 0 && pr.retries == 1 && h.calls == 2, "gc running: the gc took what it reused, "
	   "and it started over once (rc %d, calls %d)", h.rc, h.calls);
	ok(h.released > 0 && h.at[1] >= h.released, "gc running: the second try came after that "
	   "gc ended (%.3f s after)", h.at[1] - h.released);
	ok(verify_ok(st), "gc running: the store verifies");

	/* The same, with the lease of every try dropped by gc as if the push had stalled: both
	 * tries fail, and nothing is committed. */
	ok(mvms_branch_create(st, "r", "y", "r@v1") == 0, "reused: branch y at r@v1");
	versions = q64(st, "SELECT count(*) FROM versions");
	memset(&h, 0, sizeof(h));
	h.runs = -1;
	h.expire_lease = 1;
	is_int(push_gc(&pr, st, "r", tree("r-b", 200000, 32), "y", &h), MVMS_ECONFLICT,
	       "stalled: a push whose lease gc dropped fails with ECONFLICT");
	ok(strstr(mvms_error_last(), "push again") != NULL && strstr(mvms_error_last(), "lease"),
	   "stalled: the message says why and what to do (%s)", mvms_error_last());
	ok(pr.gc_conflict == 1 && pr.retries == 1 && h.calls == 2, "stalled: after one retry "
	   "(calls %d)", h.calls);
	ok(h.r.expired_leases >= 1, "stalled: gc dropped the expired lease");
	is_int((int)q64(st, "SELECT count(*) FROM versions"), (int)versions,
	       "stalled: no version was committed");
	ok(verify_ok(st), "stalled: the store verifies");
	mvms_db_exec(st->db, "DELETE FROM leases");
}

/* A gc that removes a chunk list a commit needs (its content row went with the gc too). */
static void test_chunk_list_removed(mvms_store *st)
{
	mvms_push_result pr;
	hook h;
	const char *c = tree("c-a", 5000, 41);

	char spec[64];

	ok(mvms_branch_create(st, "r", "z", "r@v1") == 0 && push(&pr, st, "r", c, "z") == 0,
	   "chunk list: a version with file C");
	snprintf(spec, sizeof(spec), "r@v%lld", (long long)pr.number);
	ok(mvms_branch_delete(st, "r", "z") == 0 && mvms_version_delete(st, spec) == 0,
	   "chunk list: deleted (%s)", spec);
	age_all(st, 7200);
	memset(&h, 0, sizeof(h));
	h.runs = 1;
	h.grace = 3600;
	is_int(push_gc(&pr, st, "cl", c, NULL, &h), 0, "chunk list: push C as a new model meanwhile");
	ok(h.r.objects >= 1 && pr.retries == 1, "chunk list: gc took its chunk list (%llu objects), "
	   "the push started over", (unsigned long long)h.r.objects);
	ok(verify_ok(st) && pulls_same(st, "cl@v1", c), "chunk list: cl@v1 verifies and pulls");
}

/* The disk fills up at the database step: the pack is not left behind, said once. */
static void progress_fill(uint64_t done, uint64_t total, void *payload)
{
	mvms_store *st = payload;
	char sql[80];

	(void)done;
	(void)total;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
		 (long long)q64(st, "PRAGMA page_count"));
	mvms_db_exec(st->db, sql);
}

static void test_disk_full(mvms_store *st)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result pr;
	int64_t rows = q64(st, "SELECT count(*) FROM packs"), files = 0;
	const char *m, *first;
	char p[600];
	int rc;

	o.progress = progress_fill;
	o.payload = st;
	/* No free page left to reuse: the pack's rows must grow the file, which cannot. */
	mvms_db_exec(st->db, "VACUUM");
	rc = mvms_push(&pr, st, "full", tree("f1", 8000000, 51), &o);
	ok(rc < 0, "full: a push that fills the database fails (%d)", rc);
	m = mvms_error_last();
	first = strstr(m, "full");
	ok(first && !strstr(first + 4, "full"), "full: the message says so once (%s)", m);
	ok(strstr(m, "nothing was committed") != NULL, "full: and that nothing was committed");
	mvms_db_exec(st->db, "PRAGMA max_page_count = 1073741823");
	snprintf(p, sizeof(p), "find %s/objects/packs -type f | wc -l > %s/npacks", sdir, dir);
	if (system(p) == 0) {
		unsigned char *x = NULL;
		size_t n = 0;
		snprintf(p, sizeof(p), "%s/npacks", dir);
		if (read_whole(&x, &n, p) == 0)
			files = strtoll((const char *)x, NULL, 10);
		free(x);
	}
	is_int((int)files, (int)rows, "full: no pack object without index rows is left");
	ok(push(&pr, st, "full", tree("f1", 8000000, 51), NULL) == 0, "full: with space, it pushes");
}

/* verify: the chunk lists versions need; orphans apart; access errors stop it. */
static int count_cb(const mvms_verify_problem *p, void *payload)
{
	(void)p;
	(*(int *)payload)++;
	return 0;
}

static int (*real_get)(mvms_backend *, const char *, uint64_t, void *, size_t);
static int (*real_stat)(uint64_t *, mvms_backend *, const char *);

static int denied_get(mvms_backend *be, const char *key, uint64_t off, void *buf, size_t len)
{
	(void)be;
	(void)off;
	(void)buf;
	(void)len;
	return mvms_error_set(MVMS_EAUTH, "s3: GET %s: HTTP 403 SignatureDoesNotMatch", key);
}

static int denied_stat(uint64_t *out, mvms_backend *be, const char *key)
{
	(void)be;
	*out = 0;
	return mvms_error_set(MVMS_EAUTH, "s3: HEAD %s: HTTP 403", key);
}

static void test_verify(mvms_store *st)
{
	mvms_verify_options o;
	mvms_verify_result r;
	char key[MVMS_KEY_MAX], path[700], p[600];
	mvms_oid id;
	int problems = 0, orphans = 0, rc;
	unsigned char *x = NULL;
	size_t n = 0;

	memset(&o, 0, sizeof(o));
	o.cb = count_cb;
	o.orphan = count_cb;
	o.payload = &orphans;
	snprintf(p, sizeof(p), "%s/objects/tmp/feed.tmp", sdir);
	write_random_file(p, 7, 9);
	is_int(mvms_store_verify_ex(&r, st, &o), 0, "verify: an orphan is not a problem");
	ok(r.orphans >= 1 && orphans >= 1 && r.problems == 0, "verify: it is reported apart (%llu)",
	   (unsigned long long)r.orphans);
	ok(r.chunk_lists > 0, "verify: chunk lists were checked (%llu)", (unsigned long long)r.chunk_lists);
	unlink(p);

	/* Damage a chunk list a version needs. */
	mvms_oid_parse(&id, "0000000000000000000000000000000000000000000000000000000000000000");
	{
		sqlite3_stmt *s = NULL;
		sqlite3_prepare_v2(mvms_db_handle(st->db), "SELECT c.oid FROM contents c JOIN files f "
				   "ON f.content_id = c.id JOIN versions v ON v.id = f.version_id JOIN "
				   "models m ON m.id = v.model_id WHERE m.name = 'lease'", -1, &s, NULL);
		if (sqlite3_step(s) == SQLITE_ROW)
			mvms_db_column_oid(&id, s, 0);
		sqlite3_finalize(s);
	}
	mvms_object_key(key, sizeof(key), "files", &id);
	{
		/* Level 14: the chunk list is in a list pack (this version's only one). */
		sqlite3_stmt *s = NULL;
		mvms_oid pack;
		sqlite3_prepare_v2(mvms_db_handle(st->db), "SELECT pack FROM content_lists WHERE "
				   "oid = ?", -1, &s, NULL);
		mvms_db_bind_oid(s, 1, &id);
		if (sqlite3_step(s) == SQLITE_ROW && mvms_db_column_oid(&pack, s, 0) == 0)
			mvms_object_key(key, sizeof(key), "lists", &pack);
		sqlite3_finalize(s);
	}
	snprintf(path, sizeof(path), "%s/objects/%s", sdir, key);
	read_whole(&x, &n, path);
	unlink(path);
	o.payload = &problems;
	o.orphan = NULL;
	rc = mvms_store_verify_ex(&r, st, &o);
	ok(rc == MVMS_EMISMATCH && r.problems == 1, "verify: a missing chunk list is a problem "
	   "(%d, %llu)", rc, (unsigned long long)r.problems);
	o.quick = 1;
	rc = mvms_store_verify_ex(&r, st, &o);
	ok(rc == MVMS_EMISMATCH && r.problems == 1 && r.chunks == 0, "verify --quick finds it too, "
	   "reading no chunk");
	if (x) {
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(x, 1, n - 1, f); /* one byte short */
			fclose(f);
		}
	}
	rc = mvms_store_verify_ex(&r, st, &o);
	ok(rc == MVMS_EMISMATCH && r.problems == 1, "verify --quick: a chunk list of the wrong size");
	if (x) {
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(x, 1, n, f);
			fclose(f);
		}
	}
	free(x);
	o.quick = 0;
	is_int(mvms_store_verify_ex(&r, st, &o), 0, "verify: clean again once it is back");

	/* The backend refuses access (a wrong S3 secret): not damage. */
	real_get = st->be->get;
	real_stat = st->be->stat;
	st->be->get = denied_get;
	st->be->stat = denied_stat;
	problems = 0;
	rc = mvms_store_verify_ex(&r, st, &o);
	ok(rc == MVMS_EAUTH && r.problems == 0 && problems == 0, "verify: an access error stops it "
	   "with MVMS_EAUTH, no object called corrupt (%d, %llu)", rc, (unsigned long long)r.problems);
	o.quick = 1;
	rc = mvms_store_verify_ex(&r, st, &o);
	ok(rc == MVMS_EAUTH && r.problems == 0, "verify --quick: the same");
	st->be->get = real_get;
	st->be->stat = real_stat;
}

int main(void)
{
	mvms_store *st = NULL;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(sdir, sizeof(sdir), "%s/store", dir);
	if (mvms_store_open(&st, sdir, 1) < 0) {
		printf("Bail out! store: %s\n", mvms_error_last());
		return 1;
	}
	test_backend_scan(st->be);
	test_killed_leftovers(st);
	test_temps_and_young(st);
	test_lease(st);
	test_reused_removed(st);
	test_chunk_list_removed(st);
	test_disk_full(st);
	test_verify(st);
	mvms_store_free(st);
	rm_rf(dir);
	return done_testing();
}
