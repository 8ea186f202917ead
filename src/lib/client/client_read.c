/* SPDX-License-Identifier: MIT */
/*
 * The reading operations of a store handle over HTTP (client_int.h): models, versions and
 * their files, branches and tags, lineage, merge bases, diffs and deployments, each one GET of
 * the API in docs/http-api.md decoded by wire.c into the structs a local store returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"

static int c_model_get(mvms_model_info **out, mvms_store *st, const char *name)
{
	mvms_model_info *m = NULL;
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_model_name_check(name));
	MVMS_TRY(mvms_client__get(&doc, st, "model", "/v1/models/%s", name));
	m = calloc(1, sizeof(*m));
	MVMS_CHECK_ALLOC(m, error);
	MVMS_TRY(mvms_wire__model(m, doc));
	*out = m;
	m = NULL;
done:
	free(m);
	cJSON_Delete(doc);
	return error;
}

static int c_model_list(mvms_model_info **out, size_t *count, mvms_store *st)
{
	const cJSON *arr, *it;
	mvms_model_info *list = NULL;
	cJSON *doc = NULL;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_client__call(&doc, st, "GET", "/v1/models", NULL, "models"));
	arr = cJSON_GetObjectItemCaseSensitive(doc, "models");
	list = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		MVMS_TRY(mvms_wire__model(&list[n], it));
		n++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_model_list_free(list, n);
	cJSON_Delete(doc);
	return error;
}

/* GET /v1/models/{m}/versions/{ref} for @spec: the version object with "file_list". */
static int get_version(cJSON **doc, mvms_store *st, const char *spec)
{
	char *model = NULL;
	const char *ref;
	int error = 0;

	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_client__get(doc, st, "version", "/v1/models/%s/versions/%s", model, ref));
done:
	free(model);
	return error;
}

static int c_version_resolve(mvms_version_info **out, mvms_store *st, const char *spec)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(get_version(&doc, st, spec));
	if (!(*out = mvms_wire__version(doc)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(doc);
	return error;
}

static int c_version_log(mvms_version_info ***out, size_t *count, mvms_store *st,
			 const char *model, const char *branch)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_model_name_check(model));
	if (branch)
		MVMS_TRY(mvms_client__get(&doc, st, "log", "/v1/models/%s/versions?branch=%s", model,
					  branch));
	else
		MVMS_TRY(mvms_client__get(&doc, st, "log", "/v1/models/%s/versions", model));
	MVMS_TRY(mvms_wire__version_list(out, count, doc, "versions"));
done:
	cJSON_Delete(doc);
	return error;
}

static int c_version_files(mvms_file_info **out, size_t *count, mvms_store *st,
			   const mvms_version_info *v)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (!v->model) {
		error = mvms_error_set(MVMS_EAUTH, "version %.12s: not readable with this token", v->id);
		goto done;
	}
	MVMS_TRY(mvms_client__get(&doc, st, "files", "/v1/models/%s/versions/%s", v->model, v->id));
	MVMS_TRY(mvms_wire__files(out, count, cJSON_GetObjectItemCaseSensitive(doc, "file_list")));
done:
	cJSON_Delete(doc);
	return error;
}

static int ref_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model,
		    const char *kind)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__get(&doc, st, kind, "/v1/models/%s/%R", model, kind));
	MVMS_TRY(mvms_wire__refs(out, count, cJSON_GetObjectItemCaseSensitive(doc, kind)));
done:
	cJSON_Delete(doc);
	return error;
}

static int c_tag_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model)
{
	return ref_list(out, count, st, model, "tags");
}

static int c_branch_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model)
{
	return ref_list(out, count, st, model, "branches");
}

static int c_lineage_get(mvms_lineage **out, mvms_store *st, const char *spec, int direction,
			 int depth)
{
	static const char *dirs[] = { "", "ancestors", "descendants", "both" };
	char *model = NULL, *path = NULL, dq[32] = "";
	const char *ref;
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	if (direction < MVMS_LINEAGE_ANCESTORS || direction > MVMS_LINEAGE_BOTH) {
		error = mvms_error_set(MVMS_EINVALID, "lineage: bad direction %d", direction);
		goto done;
	}
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	if (depth >= 0)
		snprintf(dq, sizeof(dq), "&depth=%d", depth);
	MVMS_TRY(mvms_client__get(&doc, st, "lineage", "/v1/models/%s/versions/%s/lineage?direction=%R%R", model,
				   ref, dirs[direction], dq));
	if (!(*out = mvms_wire__lineage(doc)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(doc);
	free(model);
	free(path);
	return error;
}

/* The model of spec @a, for the path of a two-version question (the other names its own). */
static int spec_model(char **model, const char *a)
{
	const char *ref;

	return mvms_refs__split_spec(model, &ref, a);
}

static int c_merge_base(mvms_version_info ***out, size_t *count, mvms_store *st, const char *a,
			const char *b)
{
	char *model = NULL;
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(spec_model(&model, a));
	MVMS_TRY(mvms_client__get(&doc, st, "merge-base", "/v1/models/%s/merge-base?a=%s&b=%s", model, a, b));
	MVMS_TRY(mvms_wire__version_list(out, count, doc, "merge_bases"));
done:
	cJSON_Delete(doc);
	free(model);
	return error;
}

static int c_diff_get(mvms_diff **out, mvms_store *st, const char *a, const char *b,
		      unsigned flags)
{
	char *model = NULL;
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(spec_model(&model, a));
	MVMS_TRY(mvms_client__get(&doc, st, "diff", "/v1/models/%s/diff?from=%s&to=%s&tensors=%R", model, a,
				   b, (flags & MVMS_DIFF_TENSORS) ? "1" : "0"));
	if (!(*out = mvms_wire__diff(doc)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(doc);
	free(model);
	return error;
}

static int c_deploy_get(mvms_deployment **out, mvms_store *st, const char *model,
			const char *env)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__get(&doc, st, "deployment", "/v1/models/%s/deployments/%s", model, env));
	if (!(*out = mvms_wire__deployment(doc)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(doc);
	return error;
}

static int deployments(mvms_deployment ***out, size_t *count, mvms_store *st, const char *path,
		       const char *key)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_client__call(&doc, st, "GET", path, NULL, key));
	MVMS_TRY(mvms_wire__deployment_list(out, count, cJSON_GetObjectItemCaseSensitive(doc, key)));
done:
	cJSON_Delete(doc);
	return error;
}

static int c_deploy_list(mvms_deployment ***out, size_t *count, mvms_store *st,
			 const char *model)
{
	char *path = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/deployments", model));
	error = deployments(out, count, st, path, "deployments");
done:
	free(path);
	return error;
}

static int c_deploy_history(mvms_deployment ***out, size_t *count, mvms_store *st,
			    const char *model, const char *env)
{
	char *path = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/deployments/%s/history", model, env));
	error = deployments(out, count, st, path, "revisions");
done:
	free(path);
	return error;
}

/* The longest long-poll asked for: below the 120 s without a byte after which the client
 * gives up on a connection (transfer/http.c). */
#define WAIT_MAX 60

static int c_deploy_wait(mvms_deployment **out, mvms_store *st, const char *model,
			 const char *env, int64_t since, int wait_seconds)
{
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL;
	char *path = NULL;
	int error = 0;

	*out = NULL;
	if (since < 0)
		return c_deploy_get(out, st, model, env);
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/deployments/%s?wait=%L&since=%L", model,
				   env, (int64_t)(wait_seconds < 0 ? 0 : wait_seconds > WAIT_MAX
						  ? WAIT_MAX : wait_seconds), since));
	st->remote->plain_errors = 1;
	error = mvms_http__call(st->remote, "GET", path, NULL, 0, NULL, &resp, "deployment");
	st->remote->plain_errors = 0;
	if (error < 0 || resp.size == 0) /* 304: nothing changed in time */
		goto done;
	if (!(doc = mvms_http__parse_json(&resp, "deployment")) || !(*out = mvms_wire__deployment(doc)))
		error = MVMS_ERROR;
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	free(path);
	return error;
}

/* The shadow's counters of a status document (none when @o is not an object). */
static int status_shadow(mvms_deploy_status *s, const cJSON *o)
{
	mvms_deploy_shadow_stats *v;

	if (!cJSON_IsObject(o))
		return 0;
	if (!(v = s->shadow = calloc(1, sizeof(*v))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	v->number = mvms_wire__int(o, "version");
	v->percent = (int)mvms_wire__int(o, "percent");
	v->requests = (uint64_t)mvms_wire__int(o, "requests");
	v->errors = (uint64_t)mvms_wire__int(o, "errors");
	v->dropped = (uint64_t)mvms_wire__int(o, "dropped");
	v->compared = (uint64_t)mvms_wire__int(o, "compared");
	v->differences = (uint64_t)mvms_wire__int(o, "differences");
	v->p50_ms = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "p50_ms"));
	v->p99_ms = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "p99_ms"));
	snprintf(v->id, sizeof(v->id), "%s", mvms_wire__str(o, "id"));
	v->endpoint = strdup(mvms_wire__str(o, "endpoint"));
	v->compare = strdup(mvms_wire__str(o, "compare"));
	return v->endpoint && v->compare ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

static int c_deploy_status(mvms_deploy_status **out, mvms_store *st, const char *model,
			   const char *env)
{
	mvms_deploy_status *s = NULL;
	const cJSON *arr, *it;
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__get(&doc, st, "status", "/v1/models/%s/deployments/%s/status", model, env));
	arr = cJSON_GetObjectItemCaseSensitive(doc, "versions");
	s = calloc(1, sizeof(*s));
	MVMS_CHECK_ALLOC(s, error);
	s->versions = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*s->versions));
	MVMS_CHECK_ALLOC(s->versions, error);
	MVMS_CHECK_ALLOC(s->model = strdup(mvms_wire__str(doc, "model")), error);
	MVMS_CHECK_ALLOC(s->env = strdup(mvms_wire__str(doc, "env")), error);
	s->revision = mvms_wire__int(doc, "revision");
	cJSON_ArrayForEach(it, arr) {
		mvms_deploy_version_stats *v = &s->versions[s->count++];
		v->number = mvms_wire__int(it, "version");
		v->weight = (int)mvms_wire__int(it, "weight");
		v->requests = (uint64_t)mvms_wire__int(it, "requests");
		v->errors = (uint64_t)mvms_wire__int(it, "errors");
		v->p50_ms = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "p50_ms"));
		v->p99_ms = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "p99_ms"));
		v->mean_upstream_ms =
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "mean_upstream_ms"));
		snprintf(v->id, sizeof(v->id), "%s", mvms_wire__str(it, "id"));
		MVMS_CHECK_ALLOC(v->endpoint = strdup(mvms_wire__str(it, "endpoint")), error);
	}
	MVMS_TRY(status_shadow(s, cJSON_GetObjectItemCaseSensitive(doc, "shadow")));
	*out = s;
	s = NULL;
done:
	mvms_deploy_status_free(s);
	cJSON_Delete(doc);
	return error;
}

void mvms_client__read_ops(mvms_transport *t)
{
	t->deploy_status = c_deploy_status;
	t->deploy_wait = c_deploy_wait;
	t->model_get = c_model_get;
	t->model_list = c_model_list;
	t->version_resolve = c_version_resolve;
	t->version_log = c_version_log;
	t->version_files = c_version_files;
	t->tag_list = c_tag_list;
	t->branch_list = c_branch_list;
	t->lineage_get = c_lineage_get;
	t->merge_base = c_merge_base;
	t->diff_get = c_diff_get;
	t->deploy_get = c_deploy_get;
	t->deploy_list = c_deploy_list;
	t->deploy_history = c_deploy_history;
}
