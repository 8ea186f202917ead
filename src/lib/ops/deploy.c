/* SPDX-License-Identifier: MIT */
/*
 * Deployments: which versions serve each environment of a model, with weights and endpoints.
 * Each change writes a whole new revision in one transaction (BEGIN IMMEDIATE serialises
 * writers; an expected revision makes a change a compare-and-swap), so the history is exact
 * and a rollback is a new revision that copies an old one. Routing and serving are the
 * server's; this file only records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "mvms/deploy.h"

#define WEIGHT_MAX 1000000

typedef struct target_row {
	int64_t version_row;
	int weight;
	char *endpoint;
} target_row;

int mvms_deploy_env_check(const char *env)
{
	int error = mvms_ref_name_check(env);

	if (error < 0)
		return mvms_error_set(MVMS_EINVALID, "bad environment name: %s", mvms_error_last());
	return 0;
}

static int endpoint_check(const char *url)
{
	const char *host;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return mvms_error_set(MVMS_EINVALID, "endpoint '%s' is not an http(s) URL", url);
	if (!*host || *host == '/' || strlen(url) > 2048 || strpbrk(url, " \t\r\n\"<>\\"))
		return mvms_error_set(MVMS_EINVALID, "endpoint '%s' is not a valid URL", url);
	return 0;
}

int mvms_deploy_revision(int64_t *out, mvms_store *st, const char *model, const char *env)
{
	static const char q[] =
		"SELECT coalesce(max(r.revision), 0) FROM deployment_revisions r "
		"JOIN models m ON m.id = r.model_id WHERE m.name = ? AND r.env = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : mvms_db_error(st->db, rc, "deployment revision");
}

static int current_revision(int64_t *out, mvms_store *st, int64_t model_id, const char *env)
{
	static const char q[] = "SELECT coalesce(max(revision), 0) FROM deployment_revisions "
				"WHERE model_id = ? AND env = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : mvms_db_error(st->db, rc, "deployment revision");
}

static void free_rows(target_row *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++)
		free(t[i].endpoint);
	free(t);
}

/* The targets of one revision, as rows (for building the next revision). */
static int load_rows(target_row **out, size_t *count, mvms_store *st, int64_t model_id,
		     const char *env, int64_t revision)
{
	static const char q[] =
		"SELECT version_id, weight, endpoint FROM deployment_targets "
		"WHERE model_id = ? AND env = ? AND revision = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	target_row *list = NULL, *t;
	size_t n = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = realloc(list, (n + 1) * sizeof(*t));
		if (!t) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		list = t;
		list[n].version_row = sqlite3_column_int64(s, 0);
		list[n].weight = sqlite3_column_int(s, 1);
		list[n].endpoint = mvms_db_column_strdup(s, 2);
		n++;
		if (!list[n - 1].endpoint) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
	}
	sqlite3_reset(s);
	if (error == 0 && rc != SQLITE_DONE)
		error = mvms_db_error(st->db, rc, "deployment targets");
	if (error < 0) {
		free_rows(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

static int load_state(mvms_deployment **out, mvms_store *st, int64_t model_id, const char *model,
		      const char *env, int64_t revision)
{
	static const char q_rev[] =
		"SELECT action, from_revision, author, reason, created_at FROM deployment_revisions "
		"WHERE model_id = ? AND env = ? AND revision = ?";
	static const char q_targets[] =
		"SELECT v.number, v.oid, t.weight, t.endpoint FROM deployment_targets t "
		"JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? AND t.env = ? "
		"AND t.revision = ? ORDER BY t.weight DESC, v.number DESC";
	mvms_deployment *d = NULL;
	sqlite3_stmt *s;
	int error = 0, rc;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	MVMS_CHECK_ALLOC(d, error);
	d->model = strdup(model);
	d->env = strdup(env);
	d->revision = revision;
	MVMS_CHECK_ALLOC(d->model, error);
	MVMS_CHECK_ALLOC(d->env, error);
	if (revision == 0) {
		d->action = strdup("");
		d->author = strdup("");
		d->reason = strdup("");
		if (!d->action || !d->author || !d->reason)
			error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto finish;
	}
	if (!(s = mvms_db_stmt(st->db, q_rev))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		d->action = mvms_db_column_strdup(s, 0);
		d->from_revision = sqlite3_column_int64(s, 1);
		d->author = mvms_db_column_strdup(s, 2);
		d->reason = mvms_db_column_strdup(s, 3);
		d->created_at = sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s has no revision %lld in %s", model,
				       (long long)revision, env);
		goto done;
	}
	if (!(s = mvms_db_stmt(st->db, q_targets))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		mvms_deploy_target *t = realloc(d->targets, (d->target_count + 1) * sizeof(*t));
		if (!t) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		d->targets = t;
		t = &t[d->target_count++];
		t->number = sqlite3_column_int64(s, 0);
		snprintf(t->id, sizeof(t->id), "%s", (const char *)sqlite3_column_text(s, 1));
		t->weight = sqlite3_column_int(s, 2);
		t->endpoint = mvms_db_column_strdup(s, 3);
	}
	sqlite3_reset(s);
finish:
	if (error < 0)
		goto done;
	*out = d;
	d = NULL;
done:
	mvms_deployment_free(d);
	return error;
}

/* Writes revision current+1 with @rows; inside the caller's transaction. */
static int write_revision(mvms_store *st, int64_t model_id, const char *env, int64_t revision,
			  const char *action, int64_t from, const mvms_deploy_options *o,
			  const target_row *rows, size_t n)
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

	if (!(s = mvms_db_stmt(st->db, q_rev)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, revision);
	sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, from);
	sqlite3_bind_text(s, 6, o->author ? o->author : mvms_store__default_author(), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, o->reason ? o->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "record deployment"));
	for (i = 0; i < n; i++) {
		if (!(s = mvms_db_stmt(st->db, q_t))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, model_id);
		sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, revision);
		sqlite3_bind_int64(s, 4, rows[i].version_row);
		sqlite3_bind_int(s, 5, rows[i].weight);
		sqlite3_bind_text(s, 6, rows[i].endpoint ? rows[i].endpoint : "", -1, SQLITE_STATIC);
		MVMS_TRY(mvms_db_step_done(st->db, s, "record deployment target"));
	}
done:
	return error;
}

enum change { CHANGE_DEPLOY, CHANGE_REMOVE, CHANGE_ROLLBACK };

static int change(mvms_deployment **out, mvms_store *st, enum change kind, const char *spec,
		  const char *model_in, const char *env, int64_t to, const mvms_deploy_options *o)
{
	mvms_deploy_options defaults = MVMS_DEPLOY_OPTIONS_INIT;
	target_row *rows = NULL, *t;
	size_t n = 0, i;
	int64_t model_id = 0, vrow = 0, cur = 0, from = 0;
	char *model = NULL;
	const char *action;
	int error = 0, began = 0;

	if (out)
		*out = NULL;
	if (!o)
		o = &defaults;
	MVMS_TRY(mvms_deploy_env_check(env));
	if (o->endpoint && *o->endpoint)
		MVMS_TRY(endpoint_check(o->endpoint));
	if (kind == CHANGE_DEPLOY && (o->weight < 0 || o->weight > WEIGHT_MAX)) {
		error = mvms_error_set(MVMS_EINVALID, "deploy: weight must be 1 to %d (or left out "
				       "for all of the traffic)", WEIGHT_MAX);
		goto done;
	}
	if (spec) {
		const char *at = strchr(spec, '@');
		model = at ? strndup(spec, (size_t)(at - spec)) : strdup(spec);
		MVMS_CHECK_ALLOC(model, error);
	} else {
		model = strdup(model_in);
		MVMS_CHECK_ALLOC(model, error);
	}
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (spec) {
		int64_t vm;
		MVMS_TRY(mvms_refs__resolve_row(&vrow, NULL, st, spec));
		MVMS_TRY(mvms_version__model(&vm, st, vrow));
		if (vm != model_id) {
			error = mvms_error_set(MVMS_EINVALID, "deploy: %s is not a version of %s", spec, model);
			goto done;
		}
	}
	MVMS_TRY(current_revision(&cur, st, model_id, env));
	if (cur == 0) /* a new environment: MODEL@ENV must not clash with a branch or tag */
		MVMS_TRY(mvms_refs__name_free(st, model_id, env, "environment"));
	if (o->expected_revision >= 0 && o->expected_revision != cur) {
		error = mvms_error_set(MVMS_ECONFLICT,
				       "deploy: %s of %s is at revision %lld, not %lld: another change "
				       "came first; look again and retry", env, model, (long long)cur,
				       (long long)o->expected_revision);
		goto done;
	}
	switch (kind) {
	case CHANGE_DEPLOY:
		action = "deploy";
		if (cur && o->weight)
			MVMS_TRY(load_rows(&rows, &n, st, model_id, env, cur));
		else if (cur) {
			/* Taking all the traffic: keep only this version's recorded endpoint. */
			target_row *old = NULL;
			size_t nold = 0;
			MVMS_TRY(load_rows(&old, &nold, st, model_id, env, cur));
			for (i = 0; i < nold; i++)
				if (old[i].version_row == vrow) {
					rows = calloc(1, sizeof(*rows));
					if (rows) {
						rows[0] = old[i];
						old[i].endpoint = NULL;
						n = 1;
					}
				}
			free_rows(old, nold);
		}
		for (i = 0; i < n && rows[i].version_row != vrow; i++)
			;
		if (i == n) {
			t = realloc(rows, (n + 1) * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			rows = t;
			memset(&rows[n], 0, sizeof(rows[n]));
			rows[n].version_row = vrow;
			n++;
		}
		rows[i].weight = o->weight ? o->weight : 100;
		if (o->endpoint) {
			free(rows[i].endpoint);
			rows[i].endpoint = strdup(o->endpoint);
			MVMS_CHECK_ALLOC(rows[i].endpoint, error);
		}
		break;
	case CHANGE_REMOVE:
		action = "undeploy";
		if (cur)
			MVMS_TRY(load_rows(&rows, &n, st, model_id, env, cur));
		for (i = 0; i < n && rows[i].version_row != vrow; i++)
			;
		if (i == n) {
			error = mvms_error_set(MVMS_ENOTFOUND, "undeploy: %s is not deployed in %s", spec, env);
			goto done;
		}
		if (n == 1) {
			error = mvms_error_set(MVMS_EINVALID, "undeploy: %s is the last version in %s: "
					       "deploy another one first", spec, env);
			goto done;
		}
		free(rows[i].endpoint);
		rows[i] = rows[--n];
		break;
	default:
		action = "rollback";
		from = to ? to : cur - 1;
		if (cur == 0) {
			error = mvms_error_set(MVMS_ENOTFOUND, "rollback: %s of %s was never deployed",
					       env, model);
			goto done;
		}
		if (from < 1 || from >= cur) {
			if (to)
				error = mvms_error_set(MVMS_EINVALID,
						       "rollback: revision %lld of %s is not an earlier "
						       "revision (1 to %lld)", (long long)to, env,
						       (long long)(cur - 1));
			else
				error = mvms_error_set(MVMS_ENOTFOUND,
						       "rollback: revision 1 is the first of %s of %s: "
						       "nothing to roll back to", env, model);
			goto done;
		}
		MVMS_TRY(load_rows(&rows, &n, st, model_id, env, from));
		break;
	}
	MVMS_TRY(write_revision(st, model_id, env, cur + 1, action, from, o, rows, n));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
	if (out)
		MVMS_TRY(load_state(out, st, model_id, model, env, cur + 1));
done:
	if (began)
		mvms_db_rollback(st->db);
	free_rows(rows, n);
	free(model);
	return error;
}

int mvms_deploy(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		const mvms_deploy_options *opts)
{
	return change(out, st, CHANGE_DEPLOY, spec, NULL, env, 0, opts);
}

int mvms_deploy_remove(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_deploy_options *opts)
{
	return change(out, st, CHANGE_REMOVE, spec, NULL, env, 0, opts);
}

int mvms_deploy_rollback(mvms_deployment **out, mvms_store *st, const char *model,
			 const char *env, int64_t to, const mvms_deploy_options *opts)
{
	if (to < 0)
		return mvms_error_set(MVMS_EINVALID, "rollback: bad revision %lld", (long long)to);
	return change(out, st, CHANGE_ROLLBACK, NULL, model, env, to, opts);
}

int mvms_deploy_get(mvms_deployment **out, mvms_store *st, const char *model, const char *env)
{
	int64_t model_id, cur;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(current_revision(&cur, st, model_id, env));
	MVMS_TRY(load_state(out, st, model_id, model, env, cur));
done:
	return error;
}

static int load_many(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model,
		     const char *env)
{
	static const char q_envs[] =
		"SELECT env, max(revision) FROM deployment_revisions WHERE model_id = ? "
		"GROUP BY env ORDER BY env";
	static const char q_revs[] =
		"SELECT env, revision FROM deployment_revisions WHERE model_id = ? AND env = ? "
		"ORDER BY revision DESC";
	mvms_deployment **list = NULL;
	char **envs = NULL;
	int64_t *revs = NULL, model_id;
	size_t n = 0, i, loaded = 0;
	sqlite3_stmt *s;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (!(s = mvms_db_stmt(st->db, env ? q_revs : q_envs))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	if (env)
		sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char **te = realloc(envs, (n + 1) * sizeof(*te));
		int64_t *tr = te ? realloc(revs, (n + 1) * sizeof(*tr)) : NULL;
		if (te)
			envs = te;
		if (tr)
			revs = tr;
		if (!te || !tr || !(envs[n] = mvms_db_column_strdup(s, 0))) {
			sqlite3_reset(s);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		revs[n++] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	list = calloc(n + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	for (i = 0; i < n; i++) {
		MVMS_TRY(load_state(&list[i], st, model_id, model, envs[i], revs[i]));
		loaded++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_deployment_list_free(list, loaded);
	for (i = 0; envs && i < n; i++)
		free(envs[i]);
	free(envs);
	free(revs);
	return error;
}

int mvms_deploy_list(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model)
{
	return load_many(out, count, st, model, NULL);
}

int mvms_deploy_history(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model,
			const char *env)
{
	int error = mvms_deploy_env_check(env);

	return error < 0 ? error : load_many(out, count, st, model, env);
}

void mvms_deployment_free(mvms_deployment *d)
{
	size_t i;

	if (!d)
		return;
	free(d->model);
	free(d->env);
	free(d->action);
	free(d->author);
	free(d->reason);
	for (i = 0; i < d->target_count; i++)
		free(d->targets[i].endpoint);
	free(d->targets);
	free(d);
}

void mvms_deployment_list_free(mvms_deployment **list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		mvms_deployment_free(list[i]);
	free(list);
}
