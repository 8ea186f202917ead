/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts over HTTP: start one, read it, pause/resume/abort it, each one request
 * to the server's /v1/models/{m}/deployments/{env}/rollout endpoints (server/h_rollout.c),
 * whose answer is the rollout as views_rollout.c writes it.
 */
#include <stdlib.h>
#include <string.h>
#include "client_int.h"

static int decode(mvms_rollout **out, const cJSON *o)
{
	mvms_rollout *r = calloc(1, sizeof(*r));
	const cJSON *a, *x;
	int error = 0;

	MVMS_CHECK_ALLOC(r, error);
	r->id = mvms_wire__int(o, "id");
	r->model = strdup(mvms_wire__str(o, "model"));
	r->env = strdup(mvms_wire__str(o, "env"));
	r->state = strdup(mvms_wire__str(o, "state"));
	r->notify = strdup(mvms_wire__str(o, "notify"));
	r->reason = strdup(mvms_wire__str(o, "reason"));
	r->author = strdup(mvms_wire__str(o, "author"));
	if (!r->model || !r->env || !r->state || !r->notify || !r->reason || !r->author) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if (!*r->state) {
		error = mvms_error_set(MVMS_ERROR, "rollout: the server's answer has no state");
		goto done;
	}
	r->version = mvms_wire__int(o, "version");
	snprintf(r->version_id, sizeof(r->version_id), "%s", mvms_wire__str(o, "version_id"));
	a = cJSON_GetObjectItemCaseSensitive(o, "steps");
	cJSON_ArrayForEach(x, a)
		if (cJSON_IsNumber(x) && r->step_count < MVMS_ROLLOUT_MAX_STEPS)
			r->steps[r->step_count++] = (int)x->valuedouble;
	r->step = (size_t)(mvms_wire__int(o, "step") > 0 ? mvms_wire__int(o, "step") - 1 : 0);
	r->step_interval_ms = mvms_wire__int(o, "step_interval_ms");
	x = cJSON_GetObjectItemCaseSensitive(o, "max_error_rate");
	r->max_error_rate = cJSON_IsNumber(x) ? x->valuedouble : -1;
	x = cJSON_GetObjectItemCaseSensitive(o, "max_p95_ms");
	r->max_p95_ms = cJSON_IsNumber(x) ? x->valuedouble : -1;
	r->min_requests = mvms_wire__int(o, "min_requests");
	r->compare_baseline = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "compare_to_baseline"));
	r->shadow_first = mvms_wire__int(o, "shadow_first");
	x = cJSON_GetObjectItemCaseSensitive(o, "max_diff_rate");
	r->max_diff_rate = cJSON_IsNumber(x) ? x->valuedouble : -1;
	r->shadowing = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "shadowing"));
	r->base_revision = mvms_wire__int(o, "base_revision");
	r->revision = mvms_wire__int(o, "revision");
	r->step_started_ms = mvms_wire__int(o, "step_started_ms");
	r->created_at = mvms_wire__time(o, "created_at");
	r->updated_at = mvms_wire__time(o, "updated_at");
	*out = r;
	r = NULL;
done:
	mvms_rollout_free(r);
	return error;
}

static int call(mvms_rollout **out, mvms_store *st, const char *method, const char *model,
		const char *env, const char *suffix, cJSON *body)
{
	cJSON *reply = NULL;
	char *path = NULL;
	int error = 0;

	if (out)
		*out = NULL;
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/deployments/%s/rollout%R", model, env,
				   suffix));
	MVMS_TRY(mvms_client__call(&reply, st, method, path, body, "rollout"));
	if (out)
		error = decode(out, reply);
done:
	cJSON_Delete(reply);
	free(path);
	return error;
}

static int c_rollout_start(mvms_rollout **out, mvms_store *st, const char *spec,
			   const char *env, const mvms_rollout_options *o)
{
	cJSON *b = cJSON_CreateObject(), *a;
	char *model = NULL;
	const char *ref;
	size_t i;
	int error = 0;

	MVMS_CHECK_ALLOC(b, error);
	if (!o) {
		error = mvms_error_set(MVMS_EINVALID, "rollout: no options");
		goto done;
	}
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	cJSON_AddStringToObject(b, "ref", ref);
	a = cJSON_AddArrayToObject(b, "steps");
	for (i = 0; i < o->step_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(o->steps[i]));
	cJSON_AddNumberToObject(b, "step_interval_ms", (double)o->step_interval_ms);
	if (o->max_error_rate >= 0)
		cJSON_AddNumberToObject(b, "max_error_rate", o->max_error_rate);
	if (o->max_p95_ms >= 0)
		cJSON_AddNumberToObject(b, "max_p95_ms", o->max_p95_ms);
	cJSON_AddNumberToObject(b, "min_requests", (double)o->min_requests);
	cJSON_AddBoolToObject(b, "compare_to_baseline", o->compare_baseline);
	if (o->shadow_first)
		cJSON_AddNumberToObject(b, "shadow_first", (double)o->shadow_first);
	if (o->max_diff_rate >= 0)
		cJSON_AddNumberToObject(b, "max_diff_rate", o->max_diff_rate);
	if (o->endpoint)
		cJSON_AddStringToObject(b, "endpoint", o->endpoint);
	if (o->notify)
		cJSON_AddStringToObject(b, "notify", o->notify);
	if (o->reason)
		cJSON_AddStringToObject(b, "reason", o->reason);
	cJSON_AddStringToObject(b, "author", o->author ? o->author : mvms_store__default_author());
	error = call(out, st, "POST", model, env, "", b);
done:
	cJSON_Delete(b);
	free(model);
	return error;
}

static int c_rollout_get(mvms_rollout **out, mvms_store *st, const char *model, const char *env)
{
	return call(out, st, "GET", model, env, "", NULL);
}

static int c_rollout_control(mvms_rollout **out, mvms_store *st, const char *model,
			     const char *env, int action, const char *author, const char *reason)
{
	static const char *const names[] = { NULL, "/pause", "/resume", "/abort" };
	cJSON *b;
	int error;

	if (action < MVMS_ROLLOUT_PAUSE || action > MVMS_ROLLOUT_ABORT)
		return mvms_error_set(MVMS_EINVALID, "rollout: unknown action %d", action);
	if (!(b = cJSON_CreateObject()))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	cJSON_AddStringToObject(b, "author", author ? author : mvms_store__default_author());
	if (reason)
		cJSON_AddStringToObject(b, "reason", reason);
	error = call(out, st, "POST", model, env, names[action], b);
	cJSON_Delete(b);
	return error;
}

void mvms_client__rollout_ops(mvms_transport *t)
{
	t->rollout_start = c_rollout_start;
	t->rollout_get = c_rollout_get;
	t->rollout_control = c_rollout_control;
}
