/* SPDX-License-Identifier: MIT */
/*
 * Deployments over HTTP: read and change them, long-poll for changes (hot update), and each
 * environment's status with the per-version counters of /predict (vstats.c). The routing and
 * forwarding of /predict itself is proxy.c's.
 *   GET  /v1/models/{m}/deployments
 *   GET  /v1/models/{m}/deployments/{env}[?wait=S&since=REV]     (304 when nothing changed)
 *   POST /v1/models/{m}/deployments/{env}                        {ref, weight, endpoint, reason, expected_revision}
 *   POST /v1/models/{m}/deployments/{env}/undeploy               {ref, reason, expected_revision}
 *   POST /v1/models/{m}/deployments/{env}/rollback               {to, reason, expected_revision}
 *   GET  /v1/models/{m}/deployments/{env}/history
 *   GET  /v1/models/{m}/deployments/{env}/status
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"
#include "views.h"
#include "vstats.h"

#define POLL_MS 200            /* how often a long-poll looks at the revision */
#define WAIT_MAX 300           /* seconds a long-poll may wait */

/* ---- reading and changing ---- */

/* Replies 200 with {"@key": [deployment, ...]}; @list stays the caller's. */
static void reply_deployments(srv_req *r, const char *key, mvms_deployment *const *list,
			      size_t n)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, key);
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, view_deployment(list[i]));
	srv_reply_json(r, 200, doc);
}

int srv_deployments_list(srv_req *r)
{
	mvms_deployment **list = NULL;
	size_t n = 0;
	int error;

	if ((error = mvms_deploy_list(&list, &n, r->st, r->caps[0])) < 0)
		return error;
	reply_deployments(r, "deployments", list, n);
	mvms_deployment_list_free(list, n);
	return 0;
}

int srv_deployment_history(srv_req *r)
{
	mvms_deployment **list = NULL;
	size_t n = 0;
	int error;

	if ((error = mvms_deploy_history(&list, &n, r->st, r->caps[0], r->caps[1])) < 0)
		return error;
	reply_deployments(r, "revisions", list, n);
	mvms_deployment_list_free(list, n);
	return 0;
}

/* A long-poll waiting for the revision to pass @since. */
typedef struct waiter {
	srv_req r;
	struct evhttp_connection *evcon;
	struct event *timer;
	char *model, *env;
	int64_t since;
	double deadline;
} waiter;

static void waiter_free(waiter *w)
{
	if (w->timer)
		event_free(w->timer);
	free(w->model);
	free(w->env);
	free(w);
}

static void waiter_closed(struct evhttp_connection *evcon, void *arg)
{
	waiter *w = arg;

	(void)evcon;
	w->r.status = 499;
	srv_request_done(&w->r);
	waiter_free(w);
}

static void waiter_tick(evutil_socket_t fd, short what, void *arg)
{
	waiter *w = arg;
	mvms_deployment *d = NULL;
	struct timeval tv = { 0, POLL_MS * 1000 };
	int64_t rev = 0;
	int changed;

	(void)fd;
	(void)what;
	changed = mvms_deploy_revision(&rev, w->r.st, w->model, w->env) == 0 && rev > w->since;
	if (!changed && srv_now() < w->deadline) {
		evtimer_add(w->timer, &tv);
		return;
	}
	evhttp_connection_set_closecb(w->evcon, NULL, NULL);
	w->r.replied = 0;
	if (changed && mvms_deploy_get(&d, w->r.st, w->model, w->env) == 0)
		srv_reply_json(&w->r, 200, view_deployment(d));
	else if (changed)
		srv_reply_mvms(&w->r, mvms_error_last_code());
	else
		srv_reply_bytes(&w->r, 304, NULL, NULL, 0);
	mvms_deployment_free(d);
	waiter_free(w);
}

int srv_deployment_get(srv_req *r)
{
	const char *wait = srv_query(r, "wait"), *since = srv_query(r, "since");
	mvms_deployment *d = NULL;
	long long sv = -1;
	long wv = 0;
	char *end;
	int error;

	if (wait) {
		wv = strtol(wait, &end, 10);
		if (*end || end == wait || wv < 0 || wv > WAIT_MAX)
			return srv_reply_error(r, 400, "bad_query", "wait is 0 to %d seconds", WAIT_MAX);
		if (!since)
			return srv_reply_error(r, 400, "bad_query", "wait needs since=REVISION");
	}
	if (since) {
		sv = strtoll(since, &end, 10);
		if (*end || end == since || sv < 0)
			return srv_reply_error(r, 400, "bad_query", "since is a revision number");
	}
	if ((error = mvms_deploy_get(&d, r->st, r->caps[0], r->caps[1])) < 0)
		return error;
	if (since && d->revision <= sv) {
		waiter *w;
		mvms_deployment_free(d);
		if (wv == 0) {
			srv_reply_bytes(r, 304, NULL, NULL, 0);
			return 0;
		}
		w = calloc(1, sizeof(*w));
		if (!w)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		srv_req_detach(&w->r, r);
		w->model = strdup(r->caps[0]);
		w->env = strdup(r->caps[1]);
		w->since = sv;
		w->deadline = srv_now() + (double)wv;
		w->evcon = evhttp_request_get_connection(r->req);
		w->timer = evtimer_new(srv_worker_base(r->w), waiter_tick, w);
		if (!w->model || !w->env || !w->timer) {
			waiter_free(w);
			return mvms_error_set(MVMS_ERROR, "out of memory");
		}
		r->replied = 1;
		evhttp_connection_set_closecb(w->evcon, waiter_closed, w);
		{
			struct timeval tv = { 0, POLL_MS * 1000 };
			evtimer_add(w->timer, &tv);
		}
		return 0;
	}
	srv_reply_json(r, 200, view_deployment(d));
	mvms_deployment_free(d);
	return 0;
}

/* An integer member @key of @doc from @min to @max into *out (left as is when absent):
 * 0, or -1 after replying 400. */
static int int_field(srv_req *r, cJSON *doc, const char *key, double min, double max, int *out)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (!x)
		return 0;
	if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < min ||
	    x->valuedouble > max)
		return srv_reply_error(r, 400, "bad_field", "%s must be an integer from %g to %g",
				       key, min, max) - 1;
	*out = (int)x->valuedouble;
	return 0;
}

/* The shadow and the environment's forwarding settings of a deploy. */
static int change_body_proxy(srv_req *r, cJSON *doc, mvms_deploy_options *o)
{
	cJSON *x;

	if (int_field(r, doc, "shadow", 1, 100, &o->shadow_percent) < 0 ||
	    int_field(r, doc, "timeout_ms", 1, 3600000, &o->timeout_ms) < 0 ||
	    int_field(r, doc, "retries", 0, 10, &o->retries) < 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(doc, "retries") && o->retries == 0)
		o->retries = MVMS_DEPLOY_RETRIES_NONE;
	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "shadow_compare"))) {
		if (!cJSON_IsString(x))
			return srv_reply_error(r, 400, "bad_field", "shadow_compare must be \"json\" "
					       "or \"bytes\"") - 1;
		o->shadow_compare = x->valuestring;
	}
	return 0;
}

/* Reads the common fields of a change request. Replies 400 and returns -1 on bad input. */
static int change_body(srv_req *r, cJSON *doc, mvms_deploy_options *o)
{
	cJSON *x;

	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "reason"))) {
		if (!cJSON_IsString(x))
			return srv_reply_error(r, 400, "bad_field", "reason must be a string") - 1;
		o->reason = x->valuestring;
	}
	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "expected_revision"))) {
		if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble != floor(x->valuedouble))
			return srv_reply_error(r, 400, "bad_field", "expected_revision must be a revision "
					       "number") - 1;
		o->expected_revision = (int64_t)x->valuedouble;
	}
	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "weight"))) {
		if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble))
			return srv_reply_error(r, 400, "bad_field", "weight must be an integer") - 1;
		if (x->valuedouble < 1 || x->valuedouble > 1000000)
			return srv_reply_error(r, 400, "bad_weight",
					       "weight must be 1 to 1000000 (leave it out for all of "
					       "the traffic)") - 1;
		o->weight = (int)x->valuedouble;
	}
	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "endpoint"))) {
		if (!cJSON_IsString(x))
			return srv_reply_error(r, 400, "bad_field", "endpoint must be a string") - 1;
		o->endpoint = x->valuestring;
	}
	if (change_body_proxy(r, doc, o) < 0)
		return -1;
	o->author = "api";
	if ((x = cJSON_GetObjectItemCaseSensitive(doc, "author"))) {
		/* Who asked, as the client names them (as git takes a commit's author). */
		if (!cJSON_IsString(x) || !*x->valuestring)
			return srv_reply_error(r, 400, "bad_field", "author must be a non-empty string") - 1;
		o->author = x->valuestring;
	}
	return 0;
}

static int do_change(srv_req *r, int kind)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	cJSON *doc = srv_body_json(r), *x;
	char spec[512];
	int error = 0;

	if (!doc)
		return 0;
	if (change_body(r, doc, &o) < 0)
		goto done;
	if (kind == 2) {
		int64_t to = 0;
		if ((x = cJSON_GetObjectItemCaseSensitive(doc, "to"))) {
			if (!cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble != floor(x->valuedouble)) {
				srv_reply_error(r, 400, "bad_field", "to must be a revision number");
				goto done;
			}
			to = (int64_t)x->valuedouble;
		}
		error = mvms_deploy_rollback(&d, r->st, r->caps[0], r->caps[1], to, &o);
	} else {
		x = cJSON_GetObjectItemCaseSensitive(doc, "ref");
		if (!cJSON_IsString(x)) {
			srv_reply_error(r, 400, "bad_request", "want {\"ref\": \"v3\", ...}");
			goto done;
		}
		/* The ref names a version of the model in the path, never of another. */
		snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], x->valuestring);
		error = kind == 0 ? mvms_deploy(&d, r->st, spec, r->caps[1], &o)
				  : mvms_deploy_remove(&d, r->st, spec, r->caps[1], &o);
	}
	if (error < 0)
		goto done;
	srv_reply_json(r, 201, view_deployment(d));
done:
	mvms_deployment_free(d);
	cJSON_Delete(doc);
	return error;
}

int srv_deployment_deploy(srv_req *r)
{
	return do_change(r, 0);
}

int srv_deployment_undeploy(srv_req *r)
{
	return do_change(r, 1);
}

int srv_deployment_rollback(srv_req *r)
{
	return do_change(r, 2);
}

int srv_deployment_status(srv_req *r)
{
	mvms_deployment *d = NULL;
	cJSON *doc, *arr;
	size_t i;
	int error;

	if ((error = mvms_deploy_get(&d, r->st, r->caps[0], r->caps[1])) < 0)
		return error;
	if (d->revision == 0) {
		/* 404 not_found, which a client maps to "not found" (exit 3) like deploy-log. */
		error = mvms_error_set(MVMS_ENOTFOUND, "%s of %s was never deployed", d->env, d->model);
		mvms_deployment_free(d);
		return error;
	}
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "model", d->model);
	cJSON_AddStringToObject(doc, "env", d->env);
	cJSON_AddNumberToObject(doc, "revision", (double)d->revision);
	arr = cJSON_AddArrayToObject(doc, "versions");
	for (i = 0; i < d->target_count; i++) {
		vstat sv, *v = &sv;
		cJSON *o = cJSON_CreateObject();

		srv_vstats_get(&sv, d->model, d->env, d->targets[i].number);
		cJSON_AddNumberToObject(o, "version", (double)d->targets[i].number);
		cJSON_AddStringToObject(o, "id", d->targets[i].id);
		cJSON_AddNumberToObject(o, "weight", d->targets[i].weight);
		cJSON_AddStringToObject(o, "endpoint", d->targets[i].endpoint);
		cJSON_AddNumberToObject(o, "requests", (double)v->requests);
		cJSON_AddNumberToObject(o, "errors", (double)v->errors);
		cJSON_AddNumberToObject(o, "p50_ms", srv_vstats_quantile(v, 0.5) * 1000);
		cJSON_AddNumberToObject(o, "p99_ms", srv_vstats_quantile(v, 0.99) * 1000);
		cJSON_AddNumberToObject(o, "mean_upstream_ms",
					v->requests ? v->upstream_sum / (double)v->requests * 1000 : 0);
		cJSON_AddItemToArray(arr, o);
	}
	srv_shadow_status(doc, d);
	mvms_deployment_free(d);
	srv_reply_json(r, 200, doc);
	return 0;
}
