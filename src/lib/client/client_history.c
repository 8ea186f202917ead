/* SPDX-License-Identifier: MIT */
/*
 * Editing history over HTTP (client_int.h): moving, renaming and deleting branches, the
 * default branch, deleting tags, versions and models, prune. One request each, to the
 * endpoints of src/server/h_history.c; replies are read back into mvms/history.h's structs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"

/* A JSON object of string members (key, value, ..., NULL; NULL values left out). */
static cJSON *strings(const char *k1, const char *v1, const char *k2, const char *v2)
{
	cJSON *o = cJSON_CreateObject();

	if (o && v1 && !cJSON_AddStringToObject(o, k1, v1))
		goto oom;
	if (o && k2 && v2 && !cJSON_AddStringToObject(o, k2, v2))
		goto oom;
	if (o)
		return o;
oom:
	cJSON_Delete(o);
	mvms_error_set(MVMS_ERROR, "out of memory");
	return NULL;
}

/* @method @path (freed) with @body (freed; NULL: none); the reply in *reply (may be NULL). */
static int call(cJSON **reply, mvms_store *st, const char *method, char *path, cJSON *body,
		const char *what)
{
	cJSON *r = NULL;
	int error = mvms_client__call(&r, st, method, path, body, what);

	if (error < 0 || !reply)
		cJSON_Delete(r);
	else
		*reply = r;
	cJSON_Delete(body);
	free(path);
	return error;
}

static int moved_list(mvms_branch_moved **out, size_t *count, const cJSON *arr)
{
	const cJSON *it;
	size_t n = 0;

	*out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out));
	*count = 0;
	if (!*out)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	cJSON_ArrayForEach(it, arr) {
		if (!((*out)[n].branch = strdup(mvms_wire__str(it, "branch"))))
			return mvms_error_set(MVMS_ERROR, "out of memory");
		(*out)[n].number = mvms_wire__int(it, "version");
		snprintf((*out)[n].id, sizeof((*out)[n].id), "%s", mvms_wire__str(it, "id"));
		*count = ++n;
	}
	return 0;
}

static int c_version_delete_ex(mvms_delete_result **out, mvms_store *st, const char *spec,
			       const char *author, unsigned flags)
{
	mvms_delete_result *r = NULL;
	cJSON *reply = NULL;
	const cJSON *d, *it;
	char *model = NULL, *path = NULL;
	const char *ref;
	int error = 0;

	if (out)
		*out = NULL;
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/versions/%s?force=%R&no_move=%R&dry_run=%R"
				   "&author=%s", model, ref, flags & MVMS_HISTORY_FORCE ? "1" : "0",
				   flags & MVMS_HISTORY_NO_MOVE ? "1" : "0",
				   flags & MVMS_HISTORY_DRY_RUN ? "1" : "0",
				   author && *author ? author : mvms_store__default_author()));
	error = call(&reply, st, "DELETE", path, NULL, "delete");
	path = NULL;
	MVMS_TRY(error);
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	d = cJSON_GetObjectItemCaseSensitive(reply, "deleted");
	r->model = strdup(mvms_wire__str(reply, "model"));
	r->deleted_by = strdup(mvms_wire__str(d, "by"));
	MVMS_CHECK_ALLOC(r->model && r->deleted_by ? r : NULL, error);
	r->number = mvms_wire__int(reply, "version");
	snprintf(r->id, sizeof(r->id), "%s", mvms_wire__str(reply, "id"));
	r->deleted_at = mvms_wire__time(d, "at");
	MVMS_TRY(moved_list(&r->moved, &r->moved_count,
			    cJSON_GetObjectItemCaseSensitive(reply, "moved")));
	r->held = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reply, "held")) + 1,
			 sizeof(char *));
	MVMS_CHECK_ALLOC(r->held, error);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "held")) {
		r->held[r->held_count] = strdup(cJSON_IsString(it) ? it->valuestring : "");
		MVMS_CHECK_ALLOC(r->held[r->held_count], error);
		r->held_count++;
	}
	if (out) {
		*out = r;
		r = NULL;
	}
done:
	mvms_delete_result_free(r);
	cJSON_Delete(reply);
	free(model);
	free(path);
	return error;
}

static int c_branch_move(mvms_store *st, const char *model, const char *name, const char *to,
			 const char *expect)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(name));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/branches/%s", model, name));
	error = call(NULL, st, "PUT", path, strings("to", to, "expect", expect), "branch -f");
	path = NULL;
done:
	free(path);
	return error;
}

static int c_branch_remove(mvms_store *st, const char *model, const char *name, unsigned flags)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/branches/%s%R", model, name,
				   flags & MVMS_HISTORY_FORCE ? "?force=1" : ""));
	error = call(NULL, st, "DELETE", path, NULL, "branch -d");
	path = NULL;
done:
	free(path);
	return error;
}

static int c_branch_rename(mvms_store *st, const char *model, const char *old_name,
			   const char *new_name)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/branches/%s/rename", model, old_name));
	error = call(NULL, st, "POST", path, strings("to", new_name, NULL, NULL), "branch -m");
	path = NULL;
done:
	free(path);
	return error;
}

static int c_branch_set_default(mvms_store *st, const char *model, const char *name)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/default-branch", model));
	error = call(NULL, st, "PUT", path, strings("name", name, NULL, NULL), "branch --default");
	path = NULL;
done:
	free(path);
	return error;
}

static int c_branch_get_default(char **out, mvms_store *st, const char *model)
{
	cJSON *reply = NULL;
	char *path = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/default-branch", model));
	error = call(&reply, st, "GET", path, NULL, "branch --default");
	path = NULL;
	MVMS_TRY(error);
	*out = strdup(mvms_wire__str(reply, "default"));
	MVMS_CHECK_ALLOC(*out, error);
done:
	cJSON_Delete(reply);
	free(path);
	return error;
}

static int c_tag_delete(mvms_store *st, const char *model, const char *name)
{
	char *path = NULL;
	int error = 0;

	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/tags/%s", model, name));
	error = call(NULL, st, "DELETE", path, NULL, "tag -d");
	path = NULL;
done:
	free(path);
	return error;
}

static int c_model_delete(mvms_model_delete_result *out, mvms_store *st, const char *model,
			  unsigned flags)
{
	cJSON *reply = NULL;
	char *path = NULL;
	int error = 0;

	memset(out, 0, sizeof(*out));
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s%R", model,
				   flags & MVMS_HISTORY_DRY_RUN ? "?dry_run=1" : ""));
	error = call(&reply, st, "DELETE", path, NULL, "model delete");
	path = NULL;
	MVMS_TRY(error);
	out->versions = mvms_wire__int(reply, "versions");
	out->branches = mvms_wire__int(reply, "branches");
	out->tags = mvms_wire__int(reply, "tags");
	out->environments = mvms_wire__int(reply, "environments");
	out->revisions = mvms_wire__int(reply, "deployment_revisions");
done:
	cJSON_Delete(reply);
	free(path);
	return error;
}

static cJSON *prune_body(const mvms_prune_options *o)
{
	cJSON *b = strings("branch", o->branch, "author",
			   o->author && *o->author ? o->author : mvms_store__default_author());

	if (b && (!cJSON_AddNumberToObject(b, "keep_last", (double)o->keep_last) ||
		  !cJSON_AddNumberToObject(b, "older_than", (double)o->older_than) ||
		  !cJSON_AddBoolToObject(b, "keep_tagged", o->keep_tagged) ||
		  !cJSON_AddBoolToObject(b, "keep_deployed", o->keep_deployed) ||
		  !cJSON_AddBoolToObject(b, "dry_run", o->dry_run))) {
		cJSON_Delete(b);
		mvms_error_set(MVMS_ERROR, "out of memory");
		return NULL;
	}
	return b;
}

static int c_prune(mvms_prune_result **out, mvms_store *st, const char *model,
		   const mvms_prune_options *opts)
{
	mvms_prune_result *r = NULL;
	cJSON *reply = NULL, *body;
	const cJSON *it;
	char *path = NULL;
	size_t n;
	int error = 0;

	*out = NULL;
	if (!opts || opts->version != MVMS_PRUNE_OPTIONS_VERSION)
		return mvms_error_set(MVMS_EINVALID, "prune: options of an unknown version");
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/prune", model));
	if (!(body = prune_body(opts))) {
		error = MVMS_ERROR;
		goto done;
	}
	error = call(&reply, st, "POST", path, body, "prune");
	path = NULL;
	MVMS_TRY(error);
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	r->kept = (size_t)mvms_wire__int(reply, "kept");
	MVMS_TRY(mvms_wire__version_list(&r->versions, &r->count, reply, "deleted"));
	r->why = calloc(r->count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(r->why, error);
	n = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "deleted")) {
		if (n == r->count)
			break;
		r->why[n] = strdup(mvms_wire__str(it, "held_by"));
		MVMS_CHECK_ALLOC(r->why[n], error);
		n++;
	}
	for (; n < r->count; n++)
		MVMS_CHECK_ALLOC(r->why[n] = strdup(""), error);
	MVMS_TRY(moved_list(&r->moved, &r->moved_count,
			    cJSON_GetObjectItemCaseSensitive(reply, "moved")));
	*out = r;
	r = NULL;
done:
	mvms_prune_result_free(r);
	cJSON_Delete(reply);
	free(path);
	return error;
}

void mvms_client__history_ops(mvms_transport *t)
{
	t->version_delete_ex = c_version_delete_ex;
	t->branch_move = c_branch_move;
	t->branch_remove = c_branch_remove;
	t->branch_rename = c_branch_rename;
	t->branch_set_default = c_branch_set_default;
	t->branch_get_default = c_branch_get_default;
	t->tag_delete = c_tag_delete;
	t->model_delete = c_model_delete;
	t->prune = c_prune;
}
