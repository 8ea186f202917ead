/* SPDX-License-Identifier: MIT */
/*
 * Deleting versions, and the entry point of garbage collection. Reachability is computed in
 * SQL (recursive CTEs from every branch head, tag and current deployment target); the sweep
 * over what the backend lists is in sweep.c.
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

int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run)
{
	mvms_gc_options o;

	memset(&o, 0, sizeof(o));
	o.grace_seconds = grace_seconds;
	o.dry_run = dry_run;
	return mvms_store_gc_ex(out, st, &o);
}
