/* SPDX-License-Identifier: MIT */
/*
 * The SQL of deployments (see deployments.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "deployments.h"

void mvms_deploy_rows_free(mvms_deploy_row *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++)
		free(t[i].endpoint);
	free(t);
}

/* The one integer a query answers, for the binding @id (or @name) and @env. */
static int revision_of(int64_t *out, mvms_db *db, const char *sql, int64_t id, const char *name,
		       const char *env)
{
	sqlite3_stmt *s = mvms_db_stmt(db, sql);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	if (name)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	if ((rc = mvms_db_step_row(db, s, "deployment revision")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ERROR, "db: deployment revision: no result");
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_deployments_current(int64_t *out, mvms_db *db, int64_t model_id, const char *env)
{
	static const char q[] = "SELECT coalesce(max(revision), 0) FROM deployment_revisions "
				"WHERE model_id = ? AND env = ?";

	return revision_of(out, db, q, model_id, NULL, env);
}

int mvms_deployments_current_named(int64_t *out, mvms_db *db, const char *model, const char *env)
{
	static const char q[] =
		"SELECT coalesce(max(r.revision), 0) FROM deployment_revisions r "
		"JOIN models m ON m.id = r.model_id WHERE m.name = ? AND r.env = ?";

	return revision_of(out, db, q, 0, model, env);
}

int mvms_deployments_rows(mvms_deploy_row **out, size_t *count, mvms_db *db, int64_t model_id,
			  const char *env, int64_t revision)
{
	static const char q[] =
		"SELECT version_id, weight, endpoint FROM deployment_targets "
		"WHERE model_id = ? AND env = ? AND revision = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_deploy_row *list = NULL, *t;
	size_t n = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	while ((rc = mvms_db_step_row(db, s, "deployment targets")) > 0) {
		t = realloc(list, (n + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		list = t;
		list[n].version_row = sqlite3_column_int64(s, 0);
		list[n].weight = sqlite3_column_int(s, 1);
		list[n].endpoint = mvms_db_column_strdup(s, 2);
		n++;
		MVMS_CHECK_ALLOC(list[n - 1].endpoint, error);
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_deploy_rows_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int mvms_deployments_last_endpoint(char **out, mvms_db *db, int64_t model_id, const char *env,
				   int64_t version_row)
{
	static const char q[] =
		"SELECT endpoint FROM deployment_targets WHERE model_id = ? AND env = ? "
		"AND version_id = ? ORDER BY revision DESC LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	*out = NULL;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, version_row);
	if ((rc = mvms_db_step_row(db, s, "deployment endpoint")) <= 0)
		return rc;
	*out = mvms_db_column_strdup(s, 0);
	sqlite3_reset(s);
	return *out ? 1 : mvms_error_set(MVMS_ERROR, "out of memory");
}

static int read_targets(mvms_deployment *d, mvms_db *db, int64_t model_id, const char *env,
			int64_t revision)
{
	static const char q[] =
		"SELECT v.number, v.oid, t.weight, t.endpoint FROM deployment_targets t "
		"JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? AND t.env = ? "
		"AND t.revision = ? ORDER BY t.weight DESC, v.number DESC";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_deploy_target *t;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	while ((rc = mvms_db_step_row(db, s, "deployment targets")) > 0) {
		t = realloc(d->targets, (d->target_count + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		d->targets = t;
		t = &t[d->target_count++];
		memset(t, 0, sizeof(*t));
		t->number = sqlite3_column_int64(s, 0);
		snprintf(t->id, sizeof(t->id), "%s", (const char *)sqlite3_column_text(s, 1));
		t->weight = sqlite3_column_int(s, 2);
		t->endpoint = mvms_db_column_strdup(s, 3);
		MVMS_CHECK_ALLOC(t->endpoint, error);
	}
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

int mvms_deployments_read(mvms_deployment *d, mvms_db *db, int64_t model_id, const char *env,
			  int64_t revision)
{
	static const char q[] =
		"SELECT action, from_revision, author, reason, created_at FROM deployment_revisions "
		"WHERE model_id = ? AND env = ? AND revision = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	if ((rc = mvms_db_step_row(db, s, "deployment revision")) <= 0)
		return rc;
	d->action = mvms_db_column_strdup(s, 0);
	d->from_revision = sqlite3_column_int64(s, 1);
	d->author = mvms_db_column_strdup(s, 2);
	d->reason = mvms_db_column_strdup(s, 3);
	d->created_at = sqlite3_column_int64(s, 4);
	sqlite3_reset(s);
	if (!d->action || !d->author || !d->reason)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	MVMS_TRY(read_targets(d, db, model_id, env, revision));
	error = 1;
done:
	return error;
}

int mvms_deployments_write(mvms_db *db, const mvms_deploy_record *r, const mvms_deploy_row *rows,
			   size_t n)
{
	static const char q_rev[] =
		"INSERT INTO deployment_revisions(model_id, env, revision, action, from_revision, "
		"author, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	static const char q_t[] =
		"INSERT INTO deployment_targets(model_id, env, revision, version_id, weight, endpoint) "
		"VALUES (?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *s;
	size_t i;
	int error = 0;

	if (!(s = mvms_db_stmt(db, q_rev)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, r->model_id);
	sqlite3_bind_text(s, 2, r->env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, r->revision);
	sqlite3_bind_text(s, 4, r->action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->from_revision);
	sqlite3_bind_text(s, 6, r->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, r->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(db, s, "record deployment"));
	for (i = 0; i < n; i++) {
		if (!(s = mvms_db_stmt(db, q_t))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, r->model_id);
		sqlite3_bind_text(s, 2, r->env, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, r->revision);
		sqlite3_bind_int64(s, 4, rows[i].version_row);
		sqlite3_bind_int(s, 5, rows[i].weight);
		sqlite3_bind_text(s, 6, rows[i].endpoint ? rows[i].endpoint : "", -1, SQLITE_STATIC);
		MVMS_TRY(mvms_db_step_done(db, s, "record deployment target"));
	}
done:
	return error;
}

int mvms_deployments_revisions(char ***envs_out, int64_t **revs_out, size_t *n_out, mvms_db *db,
			       int64_t model_id, const char *env)
{
	static const char q_envs[] =
		"SELECT env, max(revision) FROM deployment_revisions WHERE model_id = ? "
		"GROUP BY env ORDER BY env";
	static const char q_revs[] =
		"SELECT env, revision FROM deployment_revisions WHERE model_id = ? AND env = ? "
		"ORDER BY revision DESC";
	sqlite3_stmt *s = mvms_db_stmt(db, env ? q_revs : q_envs);
	char **envs = NULL;
	int64_t *revs = NULL;
	size_t n = 0, i;
	int error = 0, rc;

	*envs_out = NULL;
	*revs_out = NULL;
	*n_out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if (env)
		sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	while ((rc = mvms_db_step_row(db, s, "list deployments")) > 0) {
		char **te = realloc(envs, (n + 1) * sizeof(*te));
		int64_t *tr = te ? realloc(revs, (n + 1) * sizeof(*tr)) : NULL;
		if (te)
			envs = te;
		if (tr)
			revs = tr;
		if (!te || !tr || !(envs[n] = mvms_db_column_strdup(s, 0))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		revs[n++] = sqlite3_column_int64(s, 1);
	}
	MVMS_TRY(rc);
	*envs_out = envs;
	*revs_out = revs;
	*n_out = n;
	envs = NULL;
	revs = NULL;
done:
	sqlite3_reset(s);
	for (i = 0; envs && i < n; i++)
		free(envs[i]);
	free(envs);
	free(revs);
	return error;
}
