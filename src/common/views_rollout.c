/* SPDX-License-Identifier: MIT */
/*
 * The JSON of a rollout, shared by `deploy --canary/--pause/--resume/--abort --json`,
 * `rollout --json` and the server's /rollout endpoints (the client decodes it back in
 * lib/client/client_rollout.c).
 */
#include "views.h"

cJSON *view_rollout(const mvms_rollout *r)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char tbuf[32];
	size_t i;

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddStringToObject(o, "model", r->model);
	cJSON_AddStringToObject(o, "env", r->env);
	cJSON_AddNumberToObject(o, "version", (double)r->version);
	cJSON_AddStringToObject(o, "version_id", r->version_id);
	cJSON_AddStringToObject(o, "state", r->state);
	a = cJSON_AddArrayToObject(o, "steps");
	for (i = 0; i < r->step_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(r->steps[i]));
	cJSON_AddNumberToObject(o, "step", (double)r->step + 1);
	cJSON_AddNumberToObject(o, "percent", r->step < r->step_count ? r->steps[r->step] : 0);
	cJSON_AddNumberToObject(o, "step_interval_ms", (double)r->step_interval_ms);
	if (r->max_error_rate >= 0)
		cJSON_AddNumberToObject(o, "max_error_rate", r->max_error_rate);
	else
		cJSON_AddNullToObject(o, "max_error_rate");
	if (r->max_p95_ms > 0)
		cJSON_AddNumberToObject(o, "max_p95_ms", r->max_p95_ms);
	else
		cJSON_AddNullToObject(o, "max_p95_ms");
	cJSON_AddNumberToObject(o, "min_requests", (double)r->min_requests);
	cJSON_AddBoolToObject(o, "compare_to_baseline", r->compare_baseline);
	cJSON_AddNumberToObject(o, "shadow_first", (double)r->shadow_first);
	if (r->max_diff_rate >= 0)
		cJSON_AddNumberToObject(o, "max_diff_rate", r->max_diff_rate);
	else
		cJSON_AddNullToObject(o, "max_diff_rate");
	cJSON_AddBoolToObject(o, "shadowing", r->shadowing);
	cJSON_AddStringToObject(o, "notify", r->notify ? r->notify : "");
	cJSON_AddNumberToObject(o, "base_revision", (double)r->base_revision);
	cJSON_AddNumberToObject(o, "revision", (double)r->revision);
	cJSON_AddNumberToObject(o, "step_started_ms", (double)r->step_started_ms);
	cJSON_AddStringToObject(o, "reason", r->reason ? r->reason : "");
	cJSON_AddStringToObject(o, "author", r->author ? r->author : "");
	cJSON_AddStringToObject(o, "created_at", view_time(tbuf, sizeof(tbuf), r->created_at));
	cJSON_AddStringToObject(o, "updated_at", view_time(tbuf, sizeof(tbuf), r->updated_at));
	return o;
}
