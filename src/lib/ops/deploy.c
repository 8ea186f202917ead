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
#include "deployments.h"
#include "deploy_int.h"
#include "history.h"
#include "transport.h"
#include "sign_int.h"

#define WEIGHT_MAX 1000000

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
	mvms_deployment *d = NULL;
	int error;

	if (!st->tp)
		return mvms_deployments_current_named(out, st->db, model, env);
	/* A remote store: the revision is what the deployment says (0: never deployed). */
	*out = 0;
	if ((error = mvms_deploy_get(&d, st, model, env)) == 0)
		*out = d->revision;
	mvms_deployment_free(d);
	return error;
}

static int load_state(mvms_deployment **out, mvms_store *st, int64_t model_id, const char *model,
		      const char *env, int64_t revision)
{
	mvms_deployment *d = NULL;
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
		if (!d->action || !d->author || !d->reason) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	} else if ((rc = mvms_deployments_read(d, st->db, model_id, env, revision)) <= 0) {
		error = rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "%s has no revision %lld in %s",
						     model, (long long)revision, env);
		goto done;
	} else {
		MVMS_TRY(mvms_deploy_env__shadow_read(d, st->db, model_id, env, revision));
	}
	MVMS_TRY(mvms_deploy_env__settings(&d->timeout_ms, &d->retries, st->db, model_id, env));
	*out = d;
	d = NULL;
done:
	mvms_deployment_free(d);
	return error;
}

enum change { CHANGE_DEPLOY, CHANGE_REMOVE, CHANGE_ROLLBACK };

/* One change under way: the model, the version it names, the current revision, and the
 * targets of the next one. */
typedef struct change_ctx {
	mvms_store *st;
	const mvms_deploy_options *o;
	const char *spec, *env;
	char *model;
	int64_t model_id, vrow, cur;
	mvms_deploy_row *rows;
	size_t n;
} change_ctx;

/* Checks the arguments that need no database. */
static int change_check(change_ctx *c, enum change kind, const char *model_in)
{
	const char *at;
	int error = 0;

	MVMS_TRY(mvms_deploy_env_check(c->env));
	if (c->o->endpoint && *c->o->endpoint)
		MVMS_TRY(endpoint_check(c->o->endpoint));
	if (kind == CHANGE_DEPLOY)
		MVMS_TRY(mvms_deploy__options_check(c->o));
	if (kind == CHANGE_DEPLOY && (c->o->weight < 0 || c->o->weight > WEIGHT_MAX)) {
		error = mvms_error_set(MVMS_EINVALID, "deploy: weight must be 1 to %d (or left out "
				       "for all of the traffic)", WEIGHT_MAX);
		goto done;
	}
	if (c->spec) {
		at = strchr(c->spec, '@');
		c->model = at ? strndup(c->spec, (size_t)(at - c->spec)) : strdup(c->spec);
	} else {
		c->model = strdup(model_in);
	}
	MVMS_CHECK_ALLOC(c->model, error);
done:
	return error;
}

/* Under the write lock: the model, the version, the current revision (as expected). */
static int change_resolve(change_ctx *c)
{
	mvms_store *st = c->st;
	int64_t vm;
	int error = 0;

	MVMS_TRY(mvms_store__model_id(&c->model_id, st, c->model));
	if (c->spec) {
		MVMS_TRY(mvms_refs__resolve_row(&c->vrow, NULL, st, c->spec));
		MVMS_TRY(mvms_version__model(&vm, st, c->vrow));
		if (vm != c->model_id) {
			error = mvms_error_set(MVMS_EINVALID, "deploy: %s is not a version of %s",
					       c->spec, c->model);
			goto done;
		}
	}
	MVMS_TRY(mvms_deployments_current(&c->cur, st->db, c->model_id, c->env));
	if (c->cur == 0) /* a new environment: MODEL@ENV must not clash with a branch or tag */
		MVMS_TRY(mvms_refs__name_free(st, c->model_id, c->env, "environment"));
	if (c->o->expected_revision >= 0 && c->o->expected_revision != c->cur) {
		error = mvms_error_set(MVMS_ECONFLICT,
				       "deploy: %s of %s is at revision %lld, not %lld: another change "
				       "came first; look again and retry", c->env, c->model,
				       (long long)c->cur, (long long)c->o->expected_revision);
		goto done;
	}
done:
	return error;
}

/* deploy: the version joins the current targets with its weight, or alone takes all. */
static int rows_deploy(change_ctx *c)
{
	mvms_deploy_row *t, *old = NULL;
	size_t i, nold = 0;
	int error = 0;

	if (c->cur && c->o->weight) {
		MVMS_TRY(mvms_deployments_rows(&c->rows, &c->n, c->st->db, c->model_id, c->env, c->cur));
	} else if (c->cur) {
		/* Taking all the traffic: keep only this version's recorded endpoint. */
		MVMS_TRY(mvms_deployments_rows(&old, &nold, c->st->db, c->model_id, c->env, c->cur));
		for (i = 0; i < nold; i++)
			if (old[i].version_row == c->vrow) {
				c->rows = calloc(1, sizeof(*c->rows));
				if (c->rows) {
					c->rows[0] = old[i];
					old[i].endpoint = NULL;
					c->n = 1;
				}
			}
	}
	for (i = 0; i < c->n && c->rows[i].version_row != c->vrow; i++)
		;
	if (i == c->n) {
		t = realloc(c->rows, (c->n + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		c->rows = t;
		memset(&c->rows[c->n], 0, sizeof(c->rows[c->n]));
		c->rows[c->n].version_row = c->vrow;
		c->n++;
		/* Back in an environment it had left (a rollback or another deploy took its
		 * place): it keeps the endpoint it last had there, as a version still in the
		 * targets does, so /predict does not lose its upstream. */
		if (c->cur && !c->o->endpoint &&
		    (error = mvms_deployments_last_endpoint(&c->rows[i].endpoint, c->st->db,
							    c->model_id, c->env, c->vrow)) < 0)
			goto done;
		error = 0;
	}
	c->rows[i].weight = c->o->weight ? c->o->weight : 100;
	if (c->o->endpoint) {
		free(c->rows[i].endpoint);
		c->rows[i].endpoint = strdup(c->o->endpoint);
		MVMS_CHECK_ALLOC(c->rows[i].endpoint, error);
	}
done:
	mvms_deploy_rows_free(old, nold);
	return error;
}

/* undeploy: the version leaves the targets; the last one cannot. */
static int rows_remove(change_ctx *c)
{
	size_t i;
	int error = 0;

	if (c->cur)
		MVMS_TRY(mvms_deployments_rows(&c->rows, &c->n, c->st->db, c->model_id, c->env, c->cur));
	for (i = 0; i < c->n && c->rows[i].version_row != c->vrow; i++)
		;
	if (i == c->n) {
		error = mvms_error_set(MVMS_ENOTFOUND, "undeploy: %s is not deployed in %s", c->spec,
				       c->env);
		goto done;
	}
	if (c->n == 1) {
		error = mvms_error_set(MVMS_EINVALID, "undeploy: %s is the last version in %s: "
				       "deploy another one first", c->spec, c->env);
		goto done;
	}
	free(c->rows[i].endpoint);
	c->rows[i] = c->rows[--c->n];
done:
	return error;
}

/* rollback: the targets of revision @to (0: the one before the current). */
static int rows_rollback(change_ctx *c, int64_t to, int64_t *from)
{
	int error = 0;

	*from = to ? to : c->cur - 1;
	if (c->cur == 0) {
		error = mvms_error_set(MVMS_ENOTFOUND, "rollback: %s of %s was never deployed",
				       c->env, c->model);
		goto done;
	}
	if (*from < 1 || *from >= c->cur) {
		if (to)
			error = mvms_error_set(MVMS_EINVALID,
					       "rollback: revision %lld of %s is not an earlier "
					       "revision (1 to %lld)", (long long)to, c->env,
					       (long long)(c->cur - 1));
		else
			error = mvms_error_set(MVMS_ENOTFOUND,
					       "rollback: revision 1 is the first of %s of %s: "
					       "nothing to roll back to", c->env, c->model);
		goto done;
	}
	MVMS_TRY(mvms_deployments_rows(&c->rows, &c->n, c->st->db, c->model_id, c->env, *from));
	/* Not back to a version deleted since: it has no files to serve. */
	for (size_t i = 0; i < c->n; i++)
		MVMS_TRY(mvms_history__live(c->st, c->rows[i].version_row));
done:
	return error;
}

/* The environment's signature policy (ops/sign_policy.c), here where every deploy and
 * rollback passes, automatic ones included: a deploy needs its version signed, a rollback
 * every version it restores; an undeploy only takes traffic away. */
static int policy_check(change_ctx *c, enum change kind)
{
	int64_t *rows = NULL;
	size_t i;
	int error = 0;

	if (kind == CHANGE_DEPLOY)
		return mvms_sign__deploy_check(c->st, c->env, &c->vrow, 1, "deploy");
	if (kind != CHANGE_ROLLBACK || c->n == 0)
		return 0;
	rows = calloc(c->n, sizeof(*rows));
	MVMS_CHECK_ALLOC(rows, error);
	for (i = 0; i < c->n; i++)
		rows[i] = c->rows[i].version_row;
	error = mvms_sign__deploy_check(c->st, c->env, rows, c->n, "rollback");
done:
	free(rows);
	return error;
}

static int change(mvms_deployment **out, mvms_store *st, enum change kind, const char *spec,
		  const char *model_in, const char *env, int64_t to, const mvms_deploy_options *o)
{
	mvms_deploy_options defaults = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deploy_record r;
	mvms_shadow_row shadow;
	change_ctx c;
	int64_t from = 0;
	int error = 0, began = 0, only_shadow = 0;

	if (out)
		*out = NULL;
	memset(&c, 0, sizeof(c));
	memset(&shadow, 0, sizeof(shadow));
	c.st = st;
	c.o = o ? o : &defaults;
	c.spec = spec;
	c.env = env;
	MVMS_TRY(change_check(&c, kind, model_in));
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(change_resolve(&c));
	/* A deleted version has no files to serve (undeploying one is fine). */
	if (kind == CHANGE_DEPLOY)
		MVMS_TRY(mvms_history__live(st, c.vrow));
	if (kind != CHANGE_ROLLBACK)
		MVMS_TRY(mvms_deploy__shadow_next(&shadow, &only_shadow, st, (int)kind, c.o,
						  c.model_id, env, c.cur, c.vrow, 0));
	if (only_shadow) /* the served targets stay as they are */
		MVMS_TRY(mvms_deployments_rows(&c.rows, &c.n, st->db, c.model_id, env, c.cur));
	else if (kind == CHANGE_DEPLOY)
		MVMS_TRY(rows_deploy(&c));
	else if (kind == CHANGE_REMOVE)
		MVMS_TRY(rows_remove(&c));
	else
		MVMS_TRY(rows_rollback(&c, to, &from));
	MVMS_TRY(policy_check(&c, kind));
	if (kind == CHANGE_ROLLBACK)
		MVMS_TRY(mvms_deploy__shadow_next(&shadow, &only_shadow, st, (int)kind, c.o,
						  c.model_id, env, c.cur, c.vrow, from));
	mvms_deploy__shadow_prune(&shadow, c.rows, c.n);
	memset(&r, 0, sizeof(r));
	r.model_id = c.model_id;
	r.env = env;
	r.revision = c.cur + 1;
	r.action = kind == CHANGE_DEPLOY ? "deploy" : kind == CHANGE_REMOVE ? "undeploy" : "rollback";
	r.from_revision = from;
	r.author = c.o->author ? c.o->author : mvms_store__default_author();
	r.reason = c.o->reason ? c.o->reason : "";
	MVMS_TRY(mvms_deployments_write(st->db, &r, c.rows, c.n));
	if (shadow.version_row)
		MVMS_TRY(mvms_deploy_env__shadow_write(st->db, c.model_id, env, r.revision, &shadow));
	if (kind == CHANGE_DEPLOY)
		MVMS_TRY(mvms_deploy_env__settings_write(st->db, c.model_id, env, c.o->timeout_ms,
							 c.o->retries));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
	if (out)
		MVMS_TRY(load_state(out, st, c.model_id, c.model, env, c.cur + 1));
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_deploy_rows_free(c.rows, c.n);
	mvms_shadow_row_clear(&shadow);
	free(c.model);
	return error;
}

int mvms_deploy(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		const mvms_deploy_options *opts)
{
	MVMS_TRANSPORT_CALL(st, deploy, (out, st, spec, env, opts));
	return change(out, st, CHANGE_DEPLOY, spec, NULL, env, 0, opts);
}

int mvms_deploy_remove(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_deploy_options *opts)
{
	MVMS_TRANSPORT_CALL(st, deploy_remove, (out, st, spec, env, opts));
	return change(out, st, CHANGE_REMOVE, spec, NULL, env, 0, opts);
}

int mvms_deploy_rollback(mvms_deployment **out, mvms_store *st, const char *model,
			 const char *env, int64_t to, const mvms_deploy_options *opts)
{
	MVMS_TRANSPORT_CALL(st, deploy_rollback, (out, st, model, env, to, opts));
	if (to < 0)
		return mvms_error_set(MVMS_EINVALID, "rollback: bad revision %lld", (long long)to);
	return change(out, st, CHANGE_ROLLBACK, NULL, model, env, to, opts);
}

int mvms_deploy_get(mvms_deployment **out, mvms_store *st, const char *model, const char *env)
{
	MVMS_TRANSPORT_CALL(st, deploy_get, (out, st, model, env));
	int64_t model_id, cur;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(mvms_deployments_current(&cur, st->db, model_id, env));
	MVMS_TRY(load_state(out, st, model_id, model, env, cur));
done:
	return error;
}

static int load_many(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model,
		     const char *env)
{
	mvms_deployment **list = NULL;
	char **envs = NULL;
	int64_t *revs = NULL, model_id;
	size_t n = 0, i, loaded = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(mvms_deployments_revisions(&envs, &revs, &n, st->db, model_id, env));
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
	MVMS_TRANSPORT_CALL(st, deploy_list, (out, count, st, model));
	return load_many(out, count, st, model, NULL);
}

int mvms_deploy_history(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model,
			const char *env)
{
	int error = 0;

	MVMS_TRANSPORT_CALL(st, deploy_history, (out, count, st, model, env));

	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(load_many(out, count, st, model, env));
	/* No history is no environment: not found, as a rollback of it is. */
	if (*count == 0) {
		mvms_deployment_list_free(*out, 0);
		*out = NULL;
		error = mvms_error_set(MVMS_ENOTFOUND, "%s of %s was never deployed", env, model);
	}
done:
	return error;
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
	if (d->shadow) {
		free(d->shadow->endpoint);
		free(d->shadow->compare);
		free(d->shadow);
	}
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
