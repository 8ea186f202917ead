/* SPDX-License-Identifier: MIT */
/*
 * Deleting versions and garbage collection. Reachability is computed in SQL (recursive CTEs
 * from every branch head, tag and current deployment target); the sweep removes database rows
 * in one transaction and then the objects, so a crash leaves objects without rows (collected
 * next time), never rows without objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "mvms/gc.h"

/* What holds a version: "branch main", "tag release-1", "deployment prod", "" when nothing. */
static int holder(char *out, size_t n, mvms_store *st, int64_t row)
{
	static const char q[] =
		"WITH RECURSIVE roots(id, what) AS ("
		"  SELECT version_id, 'branch ' || name FROM branches UNION ALL"
		"  SELECT version_id, 'tag ' || name FROM tags UNION ALL"
		"  SELECT t.version_id, 'deployment ' || t.env FROM deployment_targets t"
		"   WHERE t.revision = (SELECT max(revision) FROM deployment_revisions r"
		"                       WHERE r.model_id = t.model_id AND r.env = t.env)),"
		" reach(id, what) AS (SELECT id, what FROM roots UNION"
		"  SELECT vp.parent, reach.what FROM version_parents vp JOIN reach ON vp.child = reach.id)"
		" SELECT what FROM reach WHERE id = ? LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	out[0] = '\0';
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : mvms_db_error(st->db, rc, "reachability");
}

static int count(int64_t *out, mvms_store *st, const char *sql, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : mvms_db_error(st->db, rc, "count");
}

static int exec_row(mvms_store *st, const char *sql, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	return mvms_db_step_done(st->db, s, "delete version");
}

int mvms_version_delete(mvms_store *st, const char *spec)
{
	mvms_version_info *v = NULL;
	char what[256];
	int64_t row, n;
	int error = 0, began = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_refs__resolve_row(&row, &v, st, spec));
	MVMS_TRY(holder(what, sizeof(what), st, row));
	if (*what) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld is reached by %s: move or delete "
				       "that first", v->model, (long long)v->number, what);
		goto done;
	}
	MVMS_TRY(count(&n, st, "SELECT count(*) FROM version_parents WHERE parent = ?", row));
	if (n) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld is a parent of %lld other "
				       "version%s: delete them first", v->model, (long long)v->number,
				       (long long)n, n == 1 ? "" : "s");
		goto done;
	}
	MVMS_TRY(count(&n, st, "SELECT count(*) FROM deployment_targets WHERE version_id = ?", row));
	if (n) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld appears in a deployment's "
				       "history, which is kept forever", v->model, (long long)v->number);
		goto done;
	}
	MVMS_TRY(exec_row(st, "DELETE FROM files WHERE version_id = ?", row));
	MVMS_TRY(exec_row(st, "DELETE FROM version_meta WHERE version_id = ?", row));
	MVMS_TRY(exec_row(st, "DELETE FROM version_parents WHERE child = ?", row));
	MVMS_TRY(exec_row(st, "DELETE FROM versions WHERE id = ?", row));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_version_info_free(v);
	return error;
}

typedef struct gone {
	char key[MVMS_KEY_MAX];
	uint64_t size;
} gone;

typedef struct sweep {
	mvms_store *st;
	gone *keys;
	size_t n, cap;
	const char *kind;
	int dry_run;
	uint64_t removed;
} sweep;

static int add_key(sweep *w, const char *key, uint64_t size)
{
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		gone *t = realloc(w->keys, nc * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		w->keys = t;
		w->cap = nc;
	}
	snprintf(w->keys[w->n].key, sizeof(w->keys[0].key), "%s", key);
	w->keys[w->n].size = size;
	w->n++;
	return 0;
}

/* Listing callback: an object of a deleted version or content (no row names it). */
static int orphan_cb(const char *key, uint64_t size, void *payload)
{
	sweep *w = payload;
	static const char q_v[] = "SELECT 1 FROM versions WHERE oid = ?";
	/* In use while some file of some version has it (true whether or not gc has removed the
	 * unused content rows yet, so a dry run counts the same). */
	static const char q_c[] =
		"SELECT 1 FROM contents c JOIN files f ON f.content_id = c.id WHERE c.oid = ? LIMIT 1";
	const char *slash = strrchr(key, '/');
	sqlite3_stmt *s;
	mvms_oid id;
	int rc, is_manifest = strcmp(w->kind, "manifests") == 0;

	if (!slash || mvms_oid_parse(&id, slash + 1) < 0) {
		mvms_error_clear();
		return 0; /* not ours */
	}
	if (!(s = mvms_db_stmt(w->st->db, is_manifest ? q_v : q_c)))
		return -1;
	if (is_manifest)
		sqlite3_bind_text(s, 1, slash + 1, -1, SQLITE_TRANSIENT);
	else
		mvms_db_bind_oid(s, 1, &id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return add_key(w, key, size) < 0 ? -1 : 0;
	return rc == SQLITE_ROW ? 0 : -1;
}

int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run)
{
	static const char q_dead_packs[] =
		"SELECT p.id, p.oid, p.size FROM packs p WHERE p.created_at <= ? AND NOT EXISTS "
		"(SELECT 1 FROM chunks c JOIN content_chunks cc ON cc.chunk_id = c.id "
		" JOIN files f ON f.content_id = cc.content_id WHERE c.pack_id = p.id)";
	static const char q_young[] =
		"SELECT count(*) FROM packs p WHERE p.created_at > ? AND NOT EXISTS "
		"(SELECT 1 FROM chunks c JOIN content_chunks cc ON cc.chunk_id = c.id "
		" JOIN files f ON f.content_id = cc.content_id WHERE c.pack_id = p.id)";
	sweep packs, objs;
	sqlite3_stmt *s;
	int64_t cutoff = (int64_t)time(NULL) - grace_seconds, *rows = NULL, n;
	size_t nrows = 0, i;
	char key[MVMS_KEY_MAX];
	int error = 0, began = 0, rc;

	memset(out, 0, sizeof(*out));
	memset(&packs, 0, sizeof(packs));
	memset(&objs, 0, sizeof(objs));
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	if (!(s = mvms_db_stmt(st->db, q_dead_packs))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, cutoff);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		mvms_oid pid;
		int64_t *t = realloc(rows, (nrows + 1) * sizeof(*t));
		if (t)
			rows = t;
		if (!t || mvms_db_column_oid(&pid, s, 1) < 0) {
			sqlite3_reset(s);
			error = mvms_error_set(MVMS_ERROR, "gc: cannot read the pack list");
			goto done;
		}
		rows[nrows++] = sqlite3_column_int64(s, 0);
		mvms_object_key(key, sizeof(key), "packs", &pid);
		if ((error = add_key(&packs, key, (uint64_t)sqlite3_column_int64(s, 2))) < 0) {
			sqlite3_reset(s);
			goto done;
		}
		out->pack_bytes += (uint64_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	MVMS_TRY(count(&n, st, q_young, cutoff));
	out->kept_young = (uint64_t)n;
	out->packs = nrows;
	/* Contents no file uses, then chunks no content uses (only in dead packs, whose chunks
	 * are all unused, or anywhere: an unused chunk in a live pack costs a row, not space). */
	MVMS_TRY(count(&n, st, "SELECT count(*) FROM contents WHERE ?1 = ?1 AND id NOT IN "
			       "(SELECT content_id FROM files)", 0));
	out->contents = (uint64_t)n;
	if (!dry_run) {
		MVMS_TRY(mvms_db_exec(st->db, "DELETE FROM tensors WHERE content_id NOT IN "
					      "(SELECT content_id FROM files)"));
		MVMS_TRY(mvms_db_exec(st->db, "DELETE FROM content_chunks WHERE content_id NOT IN "
					      "(SELECT content_id FROM files)"));
		MVMS_TRY(mvms_db_exec(st->db, "DELETE FROM contents WHERE id NOT IN "
					      "(SELECT content_id FROM files)"));
	}
	for (i = 0; i < nrows; i++) {
		MVMS_TRY(count(&n, st, "SELECT count(*) FROM chunks WHERE pack_id = ?", rows[i]));
		out->chunks += (uint64_t)n;
		if (!dry_run) {
			MVMS_TRY(exec_row(st, "DELETE FROM chunks WHERE pack_id = ?", rows[i]));
			MVMS_TRY(exec_row(st, "DELETE FROM packs WHERE id = ?", rows[i]));
		}
	}
	if (dry_run)
		mvms_db_rollback(st->db);
	else
		MVMS_TRY(mvms_db_commit(st->db));
	began = 0;

	/* Rows are gone (or would be): now the objects. */
	if (st->be->list) {
		objs.st = st;
		objs.kind = "manifests";
		MVMS_TRY(st->be->list(st->be, "manifests/", orphan_cb, &objs) < 0
				 ? mvms_error_set(MVMS_ERROR, "gc: listing manifests failed")
				 : 0);
		objs.kind = "files";
		MVMS_TRY(st->be->list(st->be, "files/", orphan_cb, &objs) < 0
				 ? mvms_error_set(MVMS_ERROR, "gc: listing chunk lists failed")
				 : 0);
	}
	out->objects = objs.n;
	if (!dry_run && st->be->remove) {
		for (i = 0; i < packs.n; i++)
			MVMS_TRY(st->be->remove(st->be, packs.keys[i].key));
		for (i = 0; i < objs.n; i++)
			MVMS_TRY(st->be->remove(st->be, objs.keys[i].key));
	}
done:
	if (began)
		mvms_db_rollback(st->db);
	free(rows);
	free(packs.keys);
	free(objs.keys);
	return error;
}
