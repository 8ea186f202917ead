/* SPDX-License-Identifier: MIT */
/*
 * The SQL of editing history (see history.h): tombstones, what names a version, first live
 * ancestors, default branches, branch renames, tag and model deletion, prune's candidates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "history.h"

void mvms_history__strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_add(char ***v, size_t *n, const char *s)
{
	char **t = realloc(*v, (*n + 1) * sizeof(*t));

	if (!t)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*v = t;
	if (!(t[*n] = strdup(s ? s : "")))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	(*n)++;
	return 0;
}

/* Every first column of @sql (bound: ?1 = @row) as strings. */
static int strings(char ***out, size_t *n, mvms_store *st, const char *sql, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	char **v = NULL;
	size_t k = 0;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(st->db, s, "history: list")) > 0)
		if ((error = strv_add(&v, &k, (const char *)sqlite3_column_text(s, 0))) < 0)
			break;
	sqlite3_reset(s);
	if (error == 0 && rc < 0)
		error = rc;
	if (error < 0) {
		mvms_history__strv_free(v, k);
		return error;
	}
	*out = v;
	*n = k;
	return 0;
}

int mvms_history__live_info(const mvms_version_info *v)
{
	char tbuf[32];
	time_t t = (time_t)v->deleted_at;
	struct tm tm;

	if (!v->deleted_at)
		return 0;
	if (gmtime_r(&t, &tm))
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(tbuf, sizeof(tbuf), "%lld", (long long)t);
	return mvms_history__deleted_error(v->model, v->number, v->deleted_by, tbuf);
}

int mvms_history__deleted_error(const char *model, int64_t number, const char *by, const char *at)
{
	return mvms_error_set(MVMS_ENOTFOUND, "%s@v%lld was deleted by %s at %s: its files are gone",
			      model ? model : "?", (long long)number, by && *by ? by : "?",
			      at && *at ? at : "?");
}

int mvms_history__live(mvms_store *st, int64_t row)
{
	mvms_version_info *v = NULL;
	int error = mvms_version__load(&v, st, row);

	if (error == 0)
		error = mvms_history__live_info(v);
	mvms_version_info_free(v);
	return error;
}

int mvms_history__branches_at(char ***out, size_t *n, mvms_store *st, int64_t row)
{
	return strings(out, n, st, "SELECT name FROM branches WHERE version_id = ?1 ORDER BY name",
		       row);
}

int mvms_history__holders(char ***out, size_t *n, mvms_store *st, int64_t row)
{
	static const char q[] =
		"SELECT 'tag ' || name FROM tags WHERE version_id = ?1 UNION ALL "
		"SELECT DISTINCT 'deployment ' || t.env FROM deployment_targets t WHERE t.version_id = ?1 "
		"AND t.revision = (SELECT max(revision) FROM deployment_revisions r "
		"WHERE r.model_id = t.model_id AND r.env = t.env)";

	return strings(out, n, st, q, row);
}

int mvms_history__live_ancestor(int64_t *out, mvms_store *st, int64_t row)
{
	/* First parents only, in the model of @row, until a live one. */
	static const char q[] =
		"WITH RECURSIVE chain(id, deleted, depth) AS ("
		"  SELECT vp.parent, p.deleted_at, 1 FROM version_parents vp JOIN versions p ON p.id = "
		"   vp.parent WHERE vp.child = ?1 AND vp.position = 0 AND p.model_id = "
		"   (SELECT model_id FROM versions WHERE id = ?1) UNION ALL"
		"  SELECT vp.parent, p.deleted_at, chain.depth + 1 FROM chain JOIN version_parents vp "
		"   ON vp.child = chain.id AND vp.position = 0 JOIN versions p ON p.id = vp.parent "
		"   WHERE chain.deleted != 0 AND p.model_id = (SELECT model_id FROM versions WHERE id = ?1))"
		" SELECT id FROM chain WHERE deleted = 0 ORDER BY depth LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(st->db, s, "first live ancestor")) <= 0)
		return rc;
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_history__tombstone(mvms_store *st, int64_t row, const char *author, int64_t now)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "UPDATE versions SET deleted_at = ?2, deleted_by = ?3 "
					       "WHERE id = ?1 AND deleted_at = 0");
	int error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	sqlite3_bind_int64(s, 2, now > 0 ? now : 1);
	sqlite3_bind_text(s, 3, author, -1, SQLITE_STATIC);
	MVMS_TRY(mvms_db_step_done(st->db, s, "delete version"));
	if (mvms_db_changes(st->db) != 1)
		return mvms_error_set(MVMS_ENOTFOUND, "version #%lld is deleted already",
				      (long long)row);
	/* Its files rows are what reference its contents: without them gc reclaims them. */
	if (!(s = mvms_db_stmt(st->db, "DELETE FROM files WHERE version_id = ?")))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	MVMS_TRY(mvms_db_step_done(st->db, s, "delete a version's files"));
done:
	return error;
}

int mvms_history__default_branch(char **out, mvms_store *st, int64_t model_id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT default_branch FROM models WHERE id = ?");
	int rc;

	*out = NULL;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if ((rc = mvms_db_step_row(st->db, s, "default branch")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "model not found");
	*out = mvms_db_column_strdup(s, 0);
	sqlite3_reset(s);
	return *out ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

/* Runs @sql binding ?1 = @model_id, ?2 = @a, ?3 = @b (when not NULL); *changes gets how many
 * rows it changed. */
static int change(int64_t *changes, mvms_store *st, const char *sql, int64_t model_id,
		  const char *a, const char *b, const char *what)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if (a)
		sqlite3_bind_text(s, 2, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(s, 3, b, -1, SQLITE_STATIC);
	MVMS_TRY(mvms_db_step_done(st->db, s, what));
	if (changes)
		*changes = mvms_db_changes(st->db);
done:
	return error;
}

int mvms_history__set_default(mvms_store *st, int64_t model_id, const char *name)
{
	return change(NULL, st, "UPDATE models SET default_branch = ?2 WHERE id = ?1", model_id,
		      name, NULL, "set the default branch");
}

int mvms_history__branch_count(int64_t *out, mvms_store *st, int64_t model_id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT count(*) FROM branches WHERE model_id = ?");
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if ((rc = mvms_db_step_row(st->db, s, "count branches")) <= 0)
		return rc < 0 ? rc : MVMS_ERROR;
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_history__branch_drop(mvms_store *st, int64_t model_id, const char *name)
{
	int64_t n = 0;
	int error = change(&n, st, "DELETE FROM branches WHERE model_id = ?1 AND name = ?2",
			   model_id, name, NULL, "delete branch");

	if (error == 0 && n == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "branch '%s' not found", name);
	return error;
}

int mvms_history__branch_rename(mvms_store *st, int64_t model_id, const char *from,
				const char *to)
{
	int64_t n = 0;
	int error = 0;

	MVMS_TRY(change(&n, st, "UPDATE branches SET name = ?3, updated_at = strftime('%s','now') "
			"WHERE model_id = ?1 AND name = ?2", model_id, from, to, "rename branch"));
	if (n == 0) {
		error = mvms_error_set(MVMS_ENOTFOUND, "branch '%s' not found", from);
		goto done;
	}
	MVMS_TRY(change(NULL, st, "UPDATE models SET default_branch = ?3 WHERE id = ?1 AND "
			"default_branch = ?2", model_id, from, to, "rename the default branch"));
done:
	return error;
}

int mvms_history__tag_drop(mvms_store *st, int64_t model_id, const char *name)
{
	int64_t n = 0;
	int error = change(&n, st, "DELETE FROM tags WHERE model_id = ?1 AND name = ?2", model_id,
			   name, NULL, "delete tag");

	if (error == 0 && n == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "tag '%s' not found", name);
	return error;
}

int mvms_history__model_counts(mvms_model_delete_result *out, mvms_store *st, int64_t model_id)
{
	static const char q[] =
		"SELECT (SELECT count(*) FROM versions WHERE model_id = ?1),"
		" (SELECT count(*) FROM branches WHERE model_id = ?1),"
		" (SELECT count(*) FROM tags WHERE model_id = ?1),"
		" (SELECT count(DISTINCT env) FROM deployment_revisions WHERE model_id = ?1),"
		" (SELECT count(*) FROM deployment_revisions WHERE model_id = ?1)";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if ((rc = mvms_db_step_row(st->db, s, "count a model's rows")) <= 0)
		return rc < 0 ? rc : MVMS_ERROR;
	out->versions = sqlite3_column_int64(s, 0);
	out->branches = sqlite3_column_int64(s, 1);
	out->tags = sqlite3_column_int64(s, 2);
	out->environments = sqlite3_column_int64(s, 3);
	out->revisions = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	return 0;
}

int mvms_history__model_dependents(int64_t *versions, int64_t *models, mvms_store *st,
				   int64_t model_id)
{
	/* Counts only: the caller may not be allowed to see the other models' names. */
	static const char q[] =
		"SELECT count(DISTINCT c.id), count(DISTINCT c.model_id) FROM version_parents vp "
		"JOIN versions c ON c.id = vp.child JOIN versions p ON p.id = vp.parent "
		"WHERE p.model_id = ?1 AND c.model_id != ?1";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	*versions = *models = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if ((rc = mvms_db_step_row(st->db, s, "versions made from a model")) <= 0)
		return rc < 0 ? rc : MVMS_ERROR;
	*versions = sqlite3_column_int64(s, 0);
	*models = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return 0;
}

int mvms_history__model_drop(mvms_store *st, int64_t model_id)
{
	/* Children before parents: every foreign key points at a row deleted after it. */
	static const char *const q[] = {
		"DELETE FROM deployment_targets WHERE model_id = ?1 OR version_id IN "
		"(SELECT id FROM versions WHERE model_id = ?1)",
		"DELETE FROM deployment_revisions WHERE model_id = ?1",
		/* its rollouts, their notifications and its /predict counters (schema 009) */
		"DELETE FROM rollout_events WHERE rollout_id IN "
		"(SELECT id FROM rollouts WHERE model_id = ?1)",
		"DELETE FROM rollouts WHERE model_id = ?1",
		"DELETE FROM version_stats WHERE model_id = ?1",
		"DELETE FROM branches WHERE model_id = ?1",
		"DELETE FROM tags WHERE model_id = ?1",
		"DELETE FROM files WHERE version_id IN (SELECT id FROM versions WHERE model_id = ?1)",
		"DELETE FROM version_meta WHERE version_id IN (SELECT id FROM versions WHERE model_id = ?1)",
		"DELETE FROM version_parents WHERE child IN (SELECT id FROM versions WHERE model_id = ?1)",
		"DELETE FROM versions WHERE model_id = ?1",
		"DELETE FROM models WHERE id = ?1",
	};
	size_t i;
	int error = 0;

	for (i = 0; i < MVMS_ARRAY_SIZE(q); i++)
		MVMS_TRY(change(NULL, st, q[i], model_id, NULL, NULL, "delete model"));
done:
	return error;
}

int mvms_history__candidates(mvms_history__cand **out, size_t *n, mvms_store *st,
			     int64_t model_id, int64_t head)
{
	static const char q[] =
		"WITH RECURSIVE anc(id) AS (SELECT ?2 UNION "
		" SELECT vp.parent FROM version_parents vp JOIN anc ON vp.child = anc.id) "
		"SELECT v.id, v.number, v.created_at,"
		" EXISTS (SELECT 1 FROM branches b WHERE b.version_id = v.id),"
		" (SELECT min(name) FROM tags t WHERE t.version_id = v.id),"
		" (SELECT min(t.env) FROM deployment_targets t WHERE t.version_id = v.id AND t.revision = "
		"  (SELECT max(revision) FROM deployment_revisions r WHERE r.model_id = t.model_id "
		"   AND r.env = t.env)) "
		"FROM versions v WHERE v.model_id = ?1 AND v.deleted_at = 0 AND "
		" (?2 = 0 OR v.id IN (SELECT id FROM anc)) ORDER BY v.number DESC";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	mvms_history__cand *c = NULL, *t;
	size_t k = 0;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_int64(s, 2, head);
	while ((rc = mvms_db_step_row(st->db, s, "prune: list versions")) > 0) {
		if (!(t = realloc(c, (k + 1) * sizeof(*t)))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		c = t;
		memset(&c[k], 0, sizeof(c[k]));
		c[k].row = sqlite3_column_int64(s, 0);
		c[k].number = sqlite3_column_int64(s, 1);
		c[k].created_at = sqlite3_column_int64(s, 2);
		c[k].head = sqlite3_column_int(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			c[k].tag = mvms_db_column_strdup(s, 4);
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			c[k].env = mvms_db_column_strdup(s, 5);
		k++;
	}
	sqlite3_reset(s);
	if (error == 0 && rc < 0)
		error = rc;
	if (error < 0) {
		mvms_history__candidates_free(c, k);
		return error;
	}
	*out = c;
	*n = k;
	return 0;
}

void mvms_history__candidates_free(mvms_history__cand *c, size_t n)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < n; i++) {
		free(c[i].tag);
		free(c[i].env);
	}
	free(c);
}
