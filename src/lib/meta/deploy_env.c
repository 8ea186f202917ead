/* SPDX-License-Identifier: MIT */
/*
 * The SQL of deployment shadows and environment settings (see deploy_env.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include "deploy_env.h"

void mvms_shadow_row_clear(mvms_shadow_row *r)
{
	if (!r)
		return;
	free(r->endpoint);
	free(r->compare);
	memset(r, 0, sizeof(*r));
}

int mvms_deploy_env__shadow_row(mvms_shadow_row *out, mvms_db *db, int64_t model_id,
				const char *env, int64_t revision)
{
	static const char q[] = "SELECT version_id, percent, endpoint, compare FROM "
				"deployment_shadows WHERE model_id = ? AND env = ? AND revision = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	if ((rc = mvms_db_step_row(db, s, "deployment shadow")) <= 0)
		return rc;
	out->version_row = sqlite3_column_int64(s, 0);
	out->percent = sqlite3_column_int(s, 1);
	out->endpoint = mvms_db_column_strdup(s, 2);
	out->compare = mvms_db_column_strdup(s, 3);
	sqlite3_reset(s);
	if (!out->endpoint || !out->compare) {
		mvms_shadow_row_clear(out);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	return 1;
}

int mvms_deploy_env__shadow_write(mvms_db *db, int64_t model_id, const char *env,
				  int64_t revision, const mvms_shadow_row *r)
{
	static const char q[] = "INSERT INTO deployment_shadows(model_id, env, revision, version_id, "
				"percent, endpoint, compare) VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *s = mvms_db_stmt(db, q);

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	sqlite3_bind_int64(s, 4, r->version_row);
	sqlite3_bind_int(s, 5, r->percent);
	sqlite3_bind_text(s, 6, r->endpoint ? r->endpoint : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, r->compare ? r->compare : "json", -1, SQLITE_STATIC);
	return mvms_db_step_done(db, s, "record deployment shadow");
}

int mvms_deploy_env__shadow_read(mvms_deployment *d, mvms_db *db, int64_t model_id,
				 const char *env, int64_t revision)
{
	static const char q[] =
		"SELECT v.number, v.oid, s.percent, s.endpoint, s.compare FROM deployment_shadows s "
		"JOIN versions v ON v.id = s.version_id WHERE s.model_id = ? AND s.env = ? "
		"AND s.revision = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_deploy_shadow *sh;
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	if ((rc = mvms_db_step_row(db, s, "deployment shadow")) <= 0)
		return rc;
	sh = calloc(1, sizeof(*sh));
	MVMS_CHECK_ALLOC(sh, error);
	d->shadow = sh;
	sh->number = sqlite3_column_int64(s, 0);
	snprintf(sh->id, sizeof(sh->id), "%s", (const char *)sqlite3_column_text(s, 1));
	sh->percent = sqlite3_column_int(s, 2);
	sh->endpoint = mvms_db_column_strdup(s, 3);
	sh->compare = mvms_db_column_strdup(s, 4);
	if (!sh->endpoint || !sh->compare)
		error = mvms_error_set(MVMS_ERROR, "out of memory");
done:
	sqlite3_reset(s);
	return error;
}

int mvms_deploy_env__settings(int *timeout_ms, int *retries, mvms_db *db, int64_t model_id,
			      const char *env)
{
	static const char q[] = "SELECT timeout_ms, retries FROM env_settings "
				"WHERE model_id = ? AND env = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	*timeout_ms = MVMS_DEPLOY_TIMEOUT_MS;
	*retries = MVMS_DEPLOY_RETRIES;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	if ((rc = mvms_db_step_row(db, s, "environment settings")) <= 0)
		return rc;
	*timeout_ms = sqlite3_column_int(s, 0);
	*retries = sqlite3_column_int(s, 1);
	sqlite3_reset(s);
	return 0;
}

int mvms_deploy_env__settings_write(mvms_db *db, int64_t model_id, const char *env,
				    int timeout_ms, int retries)
{
	/* An upsert, not INSERT OR REPLACE: the store log captures an update as an update. */
	static const char q[] = "INSERT INTO env_settings(model_id, env, timeout_ms, retries) "
				"VALUES (?, ?, ?, ?) ON CONFLICT(model_id, env) DO UPDATE SET "
				"timeout_ms = excluded.timeout_ms, retries = excluded.retries";
	sqlite3_stmt *s;
	int t, n, error = 0;

	if (timeout_ms <= 0 && retries == 0)
		return 0;
	MVMS_TRY(mvms_deploy_env__settings(&t, &n, db, model_id, env));
	if (!(s = mvms_db_stmt(db, q)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, timeout_ms > 0 ? timeout_ms : t);
	sqlite3_bind_int(s, 4, retries == MVMS_DEPLOY_RETRIES_NONE ? 0 : retries > 0 ? retries : n);
	error = mvms_db_step_done(db, s, "record environment settings");
done:
	return error;
}
