/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts over HTTP (mvms/rollout.h): each handler reads its JSON, calls the
 * library and answers the rollout as views_rollout.c writes it. The steps are taken by the
 * driver thread (driver.c), not here.
 *   POST /v1/models/{m}/deployments/{env}/rollout           {ref, steps, step_interval_ms, ...}
 *   GET  /v1/models/{m}/deployments/{env}/rollout
 *   POST /v1/models/{m}/deployments/{env}/rollout/{action}  pause|resume|abort {reason, author}
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "server.h"
#include "views.h"

static int reply_rollout(srv_req *r, int status, int error, mvms_rollout *ro)
{
	if (error < 0)
		return error;
	srv_reply_json(r, status, view_rollout(ro));
	mvms_rollout_free(ro);
	return 0;
}

/* A number member within [lo, hi] into *out (left alone when absent); -1 after a 400. */
static int num(srv_req *r, const cJSON *doc, const char *key, double lo, double hi, double *out)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (!x || cJSON_IsNull(x))
		return 0;
	if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi)
		return srv_reply_error(r, 400, "bad_field", "%s must be a number from %g to %g", key,
				       lo, hi) - 1;
	*out = x->valuedouble;
	return 0;
}

/* A string member into *out (left alone when absent); -1 after a 400. */
static int str(srv_req *r, const cJSON *doc, const char *key, const char **out)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (!x)
		return 0;
	if (!cJSON_IsString(x))
		return srv_reply_error(r, 400, "bad_field", "%s must be a string", key) - 1;
	*out = x->valuestring;
	return 0;
}

static int start_options(srv_req *r, const cJSON *doc, mvms_rollout_options *o)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "steps"), *x;
	double v;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 ||
	    cJSON_GetArraySize(a) > MVMS_ROLLOUT_MAX_STEPS)
		return srv_reply_error(r, 400, "bad_field", "steps must be an array of 1 to %d "
				       "percentages", MVMS_ROLLOUT_MAX_STEPS) - 1;
	cJSON_ArrayForEach(x, a) {
		if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble))
			return srv_reply_error(r, 400, "bad_field", "steps must be whole "
					       "percentages") - 1;
		o->steps[o->step_count++] = x->valuedouble < -1 ? -1 : x->valuedouble > 1000 ? 1000
					   : (int)x->valuedouble;
	}
	v = (double)o->step_interval_ms;
	if (num(r, doc, "step_interval_ms", 100, 7 * 86400 * 1000.0, &v) < 0)
		return -1;
	o->step_interval_ms = (int64_t)v;
	if (num(r, doc, "max_error_rate", 0, 1, &o->max_error_rate) < 0 ||
	    num(r, doc, "max_p95_ms", 0.001, 1e9, &o->max_p95_ms) < 0)
		return -1;
	v = (double)o->min_requests;
	if (num(r, doc, "min_requests", 0, 1e9, &v) < 0)
		return -1;
	o->min_requests = (int64_t)v;
	x = cJSON_GetObjectItemCaseSensitive(doc, "compare_to_baseline");
	if (x && !cJSON_IsBool(x))
		return srv_reply_error(r, 400, "bad_field", "compare_to_baseline must be a "
				       "boolean") - 1;
	o->compare_baseline = cJSON_IsTrue(x);
	v = (double)o->shadow_first;
	if (num(r, doc, "shadow_first", 0, 1e9, &v) < 0 ||
	    num(r, doc, "max_diff_rate", 0, 1, &o->max_diff_rate) < 0)
		return -1;
	if (v != floor(v))
		return srv_reply_error(r, 400, "bad_field", "shadow_first must be a whole number") - 1;
	o->shadow_first = (int64_t)v;
	o->author = "api";
	if (str(r, doc, "endpoint", &o->endpoint) < 0 || str(r, doc, "notify", &o->notify) < 0 ||
	    str(r, doc, "reason", &o->reason) < 0 || str(r, doc, "author", &o->author) < 0)
		return -1;
	return 0;
}

int srv_rollout_start(srv_req *r)
{
	mvms_rollout_options o = MVMS_ROLLOUT_OPTIONS_INIT;
	mvms_rollout *ro = NULL;
	cJSON *doc = srv_body_json(r);
	const char *ref = NULL;
	char spec[512];
	int error = 0;

	if (!doc)
		return 0;
	if (str(r, doc, "ref", &ref) < 0 || start_options(r, doc, &o) < 0)
		goto done;
	if (!ref) {
		srv_reply_error(r, 400, "bad_request", "want {\"ref\": \"v3\", \"steps\": [5, 25, "
				"50, 100], ...}");
		goto done;
	}
	/* The ref names a version of the model in the path, never of another. */
	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], ref);
	error = mvms_rollout_start(&ro, r->st, spec, r->caps[1], &o);
	error = reply_rollout(r, 201, error, ro);
done:
	cJSON_Delete(doc);
	return error;
}

int srv_rollout_get(srv_req *r)
{
	mvms_rollout *ro = NULL;

	return reply_rollout(r, 200, mvms_rollout_get(&ro, r->st, r->caps[0], r->caps[1]), ro);
}

int srv_rollout_control(srv_req *r)
{
	mvms_rollout *ro = NULL;
	const char *a = r->caps[2], *author = "api", *reason = NULL;
	cJSON *doc;
	int action, error = 0;

	action = !strcmp(a, "pause") ? MVMS_ROLLOUT_PAUSE : !strcmp(a, "resume") ? MVMS_ROLLOUT_RESUME
		 : !strcmp(a, "abort") ? MVMS_ROLLOUT_ABORT : 0;
	if (!action)
		return srv_reply_error(r, 404, "not_found", "no rollout action '%s' (pause, resume, "
				       "abort)", a);
	if (!(doc = srv_body_json(r)))
		return 0;
	if (str(r, doc, "author", &author) < 0 || str(r, doc, "reason", &reason) < 0)
		goto done;
	if (!*author) {
		srv_reply_error(r, 400, "bad_field", "author must be a non-empty string");
		goto done;
	}
	error = mvms_rollout_control(&ro, r->st, r->caps[0], r->caps[1], action, author, reason);
	error = reply_rollout(r, 200, error, ro);
done:
	cJSON_Delete(doc);
	return error;
}
