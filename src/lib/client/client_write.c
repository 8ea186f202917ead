/* SPDX-License-Identifier: MIT */
/*
 * The operations of a store handle over HTTP that change something (client_int.h): model
 * registration, tags and branches, merges and deployments. Each is one request whose body
 * carries the same options the local call takes; the server runs the same library call, so
 * its checks, conflicts and messages are the local ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"

/* Adds @key: @value to @o when @value is not NULL. 0, or MVMS_ERROR when out of memory. */
static int add_str(cJSON *o, const char *key, const char *value)
{
	if (!value)
		return 0;
	return cJSON_AddStringToObject(o, key, value) ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

/* A new JSON object with the string members of @kv (key, value, ..., NULL; NULL values left
 * out); NULL (with a message) when out of memory. */
static cJSON *body_of(const char *key, const char *value, const char *key2, const char *value2)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || add_str(o, key, value) < 0 || (key2 && add_str(o, key2, value2) < 0)) {
		cJSON_Delete(o);
		mvms_error_set(MVMS_ERROR, "out of memory");
		return NULL;
	}
	return o;
}

/* @method @path with @body (consumed); the reply dropped. */
static int send_body(mvms_store *st, const char *method, char *path, cJSON *body,
		     const char *what)
{
	cJSON *reply = NULL;
	int error = body || !strcmp(method, "DELETE") ? 0 : MVMS_ERROR;

	if (error == 0)
		error = mvms_client__call(&reply, st, method, path, body, what);
	cJSON_Delete(reply);
	cJSON_Delete(body);
	free(path);
	return error;
}

static int c_model_register(mvms_store *st, const char *name, const char *description)
{
	int error = mvms_model_name_check(name);

	if (error < 0)
		return error;
	return send_body(st, "POST", strdup("/v1/models"),
			 body_of("name", name, "description", description), "register");
}

static int c_tag_create(mvms_store *st, const char *spec, const char *name)
{
	char *model = NULL, *path = NULL;
	const char *ref;
	int error = 0;

	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_ref_name_check(name));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/tags", model));
	error = send_body(st, "POST", path, body_of("name", name, "ref", ref), "tag");
	path = NULL;
done:
	free(model);
	free(path);
	return error;
}

static int c_branch_create(mvms_store *st, const char *model, const char *name, const char *spec)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(name));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/branches", model));
	error = send_body(st, "POST", path, body_of("name", name, "from", spec), "branch");
	path = NULL;
done:
	free(path);
	return error;
}

/* ---- deployments ---- */

/* The body of a change: the options every change takes, plus @ref or a rollback's @to. */
static cJSON *change_body(const char *ref, int64_t to, const mvms_deploy_options *o)
{
	cJSON *b = body_of("ref", ref, NULL, NULL);
	int ok = b != NULL;

	/* The author a local change records (--author, else $MVMS_AUTHOR, else the login): the
	 * server would otherwise record "api". */
	if (ok)
		ok = add_str(b, "author", o && o->author ? o->author : mvms_store__default_author()) == 0;
	if (ok && o) {
		ok = add_str(b, "reason", o->reason) == 0 && add_str(b, "endpoint", o->endpoint) == 0;
		if (ok && o->weight)
			ok = cJSON_AddNumberToObject(b, "weight", o->weight) != NULL;
		if (ok && o->expected_revision >= 0)
			ok = cJSON_AddNumberToObject(b, "expected_revision",
						     (double)o->expected_revision) != NULL;
		if (ok && o->shadow_percent)
			ok = cJSON_AddNumberToObject(b, "shadow", o->shadow_percent) != NULL;
		if (ok)
			ok = add_str(b, "shadow_compare", o->shadow_compare) == 0;
		if (ok && o->timeout_ms)
			ok = cJSON_AddNumberToObject(b, "timeout_ms", o->timeout_ms) != NULL;
		if (ok && o->retries)
			ok = cJSON_AddNumberToObject(b, "retries", o->retries > 0 ? o->retries : 0) != NULL;
	}
	if (ok && to > 0)
		ok = cJSON_AddNumberToObject(b, "to", (double)to) != NULL;
	if (!ok) {
		cJSON_Delete(b);
		mvms_error_set(MVMS_ERROR, "out of memory");
		return NULL;
	}
	return b;
}

/* POST /v1/models/{model}/deployments/{env}@suffix with @body (consumed). */
static int change(mvms_deployment **out, mvms_store *st, const char *model, const char *env,
		  const char *suffix, cJSON *body)
{
	cJSON *reply = NULL;
	char *path = NULL;
	int error = 0;

	*out = NULL;
	if (!body) {
		error = MVMS_ERROR;
		goto done;
	}
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/deployments/%s%R", model, env, suffix));
	MVMS_TRY(mvms_client__call(&reply, st, "POST", path, body, "deploy"));
	if (!(*out = mvms_wire__deployment(reply)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(reply);
	cJSON_Delete(body);
	free(path);
	return error;
}

static int spec_change(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_deploy_options *opts, const char *suffix)
{
	char *model = NULL;
	const char *ref;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	error = change(out, st, model, env, suffix, change_body(ref, 0, opts));
done:
	free(model);
	return error;
}

static int c_deploy(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		    const mvms_deploy_options *opts)
{
	return spec_change(out, st, spec, env, opts, "");
}

static int c_deploy_remove(mvms_deployment **out, mvms_store *st, const char *spec,
			   const char *env, const mvms_deploy_options *opts)
{
	return spec_change(out, st, spec, env, opts, "/undeploy");
}

static int c_deploy_rollback(mvms_deployment **out, mvms_store *st, const char *model,
			     const char *env, int64_t to, const mvms_deploy_options *opts)
{
	return change(out, st, model, env, "/rollback", change_body(NULL, to, opts));
}

/* ---- merge ---- */

static cJSON *merge_body(const char *source, const mvms_merge_options *o)
{
	cJSON *b = body_of("source", source, NULL, NULL), *arr;
	size_t i;
	int ok = b != NULL;

	/* as a change's (change_body) */
	if (ok)
		ok = add_str(b, "author", o && o->author ? o->author : mvms_store__default_author()) == 0;
	if (ok && o) {
		ok = add_str(b, "into", o->into) == 0 && add_str(b, "message", o->message) == 0;
		if (ok && o->strategy)
			ok = add_str(b, "strategy", o->strategy == MVMS_MERGE_OURS ? "ours" : "theirs") == 0;
		if (ok && o->time)
			ok = cJSON_AddNumberToObject(b, "time", (double)o->time) != NULL;
		arr = ok && o->resolve_count ? cJSON_AddArrayToObject(b, "resolve") : NULL;
		for (i = 0; ok && arr && i < o->resolve_count; i++) {
			cJSON *r = body_of("path", o->resolve[i].path, "side",
					   o->resolve[i].side == MVMS_MERGE_OURS ? "ours" : "theirs");
			ok = r && cJSON_AddItemToArray(arr, r);
		}
	}
	if (!ok) {
		cJSON_Delete(b);
		mvms_error_set(MVMS_ERROR, "out of memory");
		return NULL;
	}
	return b;
}

static int merge_conflicts(mvms_merge_result *r, const cJSON *arr)
{
	const cJSON *it;
	int error = 0;

	r->conflicts = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*r->conflicts));
	MVMS_CHECK_ALLOC(r->conflicts, error);
	cJSON_ArrayForEach(it, arr) {
		mvms_merge_conflict *c = &r->conflicts[r->conflict_count++];
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "tensor");
		snprintf(c->base_id, sizeof(c->base_id), "%s", mvms_wire__str(it, "base"));
		snprintf(c->ours_id, sizeof(c->ours_id), "%s", mvms_wire__str(it, "ours"));
		snprintf(c->theirs_id, sizeof(c->theirs_id), "%s", mvms_wire__str(it, "theirs"));
		MVMS_CHECK_ALLOC(c->path = strdup(mvms_wire__str(it, "path")), error);
		MVMS_CHECK_ALLOC(c->kind = strdup(mvms_wire__str(it, "kind")), error);
		if (cJSON_IsString(t))
			MVMS_CHECK_ALLOC(c->tensor = strdup(t->valuestring), error);
	}
done:
	return error;
}

static int c_merge(mvms_merge_result **out, mvms_store *st, const char *model,
		   const char *source, const mvms_merge_options *opts)
{
	mvms_merge_result *r = NULL;
	cJSON *body = NULL, *reply = NULL;
	const char *res;
	char *path = NULL;
	int error = 0, err2;

	*out = NULL;
	MVMS_TRY(mvms_model_name_check(model));
	if (!(body = merge_body(source, opts))) {
		error = MVMS_ERROR;
		goto done;
	}
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/merge", model));
	error = mvms_client__call(&reply, st, "POST", path, body, "merge");
	if (error < 0 && error != MVMS_EMERGE)
		goto done;
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	/* A refused merge (MVMS_EMERGE) still brings its conflicts, as the local call does. */
	if ((err2 = merge_conflicts(r, cJSON_GetObjectItemCaseSensitive(reply, "conflicts"))) < 0) {
		error = err2;
		goto done;
	}
	if (error == 0) {
		res = mvms_wire__str(reply, "result");
		r->up_to_date = !strcmp(res, "up-to-date");
		r->fast_forward = !strcmp(res, "fast-forward");
		r->created = !strcmp(res, "merged");
		r->number = mvms_wire__int(reply, "version");
		r->tensor_merged_files = (size_t)mvms_wire__int(reply, "tensor_merged_files");
		snprintf(r->id, sizeof(r->id), "%s", mvms_wire__str(reply, "id"));
	}
	*out = r;
	r = NULL;
done:
	mvms_merge_result_free(r);
	cJSON_Delete(body);
	cJSON_Delete(reply);
	free(path);
	return error;
}

void mvms_client__write_ops(mvms_transport *t)
{
	t->model_register = c_model_register;
	t->tag_create = c_tag_create;
	t->branch_create = c_branch_create;
	t->deploy = c_deploy;
	t->deploy_remove = c_deploy_remove;
	t->deploy_rollback = c_deploy_rollback;
	t->merge = c_merge;
}
