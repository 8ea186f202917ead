/* SPDX-License-Identifier: MIT */
/*
 * Deployments over HTTP: read and change them, long-poll for changes (hot update), and route
 * prediction requests to the versions of an environment by weight (or sticky by a routing
 * key), forwarding the body to the version's endpoint with libevent's HTTP client and
 * returning its answer with X-Model-Version. Each answer is counted per version (vstats.c).
 *   GET  /v1/models/{m}/deployments
 *   GET  /v1/models/{m}/deployments/{env}[?wait=S&since=REV]     (304 when nothing changed)
 *   POST /v1/models/{m}/deployments/{env}                        {ref, weight, endpoint, reason, expected_revision}
 *   POST /v1/models/{m}/deployments/{env}/undeploy               {ref, reason, expected_revision}
 *   POST /v1/models/{m}/deployments/{env}/rollback               {to, reason, expected_revision}
 *   GET  /v1/models/{m}/deployments/{env}/history
 *   GET  /v1/models/{m}/deployments/{env}/status
 *   POST /v1/models/{m}/deployments/{env}/predict, POST /predict/{m}/{env}
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"
#include "views.h"
#include "vstats.h"

#define POLL_MS 200            /* how often a long-poll looks at the revision */
#define WAIT_MAX 300           /* seconds a long-poll may wait */
#define UPSTREAM_TIMEOUT 30    /* seconds for an inference server to answer */

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
	mvms_deployment_free(d);
	srv_reply_json(r, 200, doc);
	return 0;
}

/* ---- /predict: weighted routing to inference servers ---- */

typedef struct forward {
	srv_req r;                   /* copy, for the reply, log and metrics */
	struct evhttp_connection *up;
	mvms_deployment *d;
	size_t target;               /* index into d->targets */
	int tried[2];                /* targets tried (at most two) */
	int attempts;
	int retry;                   /* try another version once on failure */
	unsigned char *body;
	size_t body_len;
	char *ctype;
	double t0, up_t0, upstream;
} forward;

static void forward_free(forward *f)
{
	if (f->up)
		evhttp_connection_free(f->up);
	mvms_deployment_free(f->d);
	free(f->body);
	free(f->ctype);
	free(f);
}

/* Picks a target by weight among those with an endpoint, skipping @skip; sticky when a
 * routing key is given (the same key lands on the same version while weights stay). */
static int pick(const mvms_deployment *d, const char *key, int skip)
{
	uint64_t total = 0, point;
	size_t i;

	for (i = 0; i < d->target_count; i++)
		if (*d->targets[i].endpoint && (int)i != skip)
			total += (uint64_t)d->targets[i].weight;
	if (total == 0)
		return -1;
	if (key) {
		unsigned char h[8];
		crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), NULL, 0);
		memcpy(&point, h, sizeof(point));
		point %= total;
	} else {
		point = randombytes_uniform((uint32_t)(total > UINT32_MAX ? UINT32_MAX : total));
	}
	for (i = 0; i < d->target_count; i++) {
		if (!*d->targets[i].endpoint || (int)i == skip)
			continue;
		if (point < (uint64_t)d->targets[i].weight)
			return (int)i;
		point -= (uint64_t)d->targets[i].weight;
	}
	return -1;
}

static int send_upstream(forward *f);

static void finish_forward(forward *f, int ok)
{
	srv_vstats_record(f->d->model, f->d->env, f->d->targets[f->target].number, ok, srv_now() - f->t0, f->upstream);
	forward_free(f);
}

static void upstream_done(struct evhttp_request *ureq, void *arg)
{
	forward *f = arg;
	int code = ureq ? evhttp_request_get_response_code(ureq) : 0;
	struct evkeyvalq *oh = evhttp_request_get_output_headers(f->r.req);
	const char *ct;
	char ver[64];

	f->upstream += srv_now() - f->up_t0;
	if (code == 0 || code >= 500) {
		/* Nothing back (refused, reset, timed out) or the server failed. */
		int timeout = code == 0 && srv_now() - f->up_t0 >= UPSTREAM_TIMEOUT - 0.5;
		if (f->retry && f->attempts < 2) {
			int next = pick(f->d, NULL, (int)f->target);
			if (next >= 0) {
				srv_vstats_record(f->d->model, f->d->env, f->d->targets[f->target].number, 0,
				       srv_now() - f->t0, 0);
				f->target = (size_t)next;
				if (send_upstream(f) == 0)
					return;
			}
		}
		snprintf(ver, sizeof(ver), "v%lld", (long long)f->d->targets[f->target].number);
		evhttp_add_header(oh, "X-Model-Version", ver);
		if (code >= 500) {
			struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
			size_t n = evbuffer_get_length(in);
			srv_reply_error(&f->r, 502, "upstream_error", "%s of %s (%s): the inference server "
					"answered %d (%zu bytes)", f->d->env, f->d->model, ver, code, n);
		} else {
			srv_reply_error(&f->r, timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_unreachable",
					"%s of %s (%s at %s): %s", f->d->env, f->d->model, ver,
					f->d->targets[f->target].endpoint,
					timeout ? "no answer in time" : "could not be reached");
		}
		finish_forward(f, 0);
		return;
	}
	snprintf(ver, sizeof(ver), "v%lld", (long long)f->d->targets[f->target].number);
	evhttp_add_header(oh, "X-Model-Version", ver);
	evhttp_add_header(oh, "X-Model-Version-Id", f->d->targets[f->target].id);
	if ((ct = evhttp_find_header(evhttp_request_get_input_headers(ureq), "Content-Type")))
		evhttp_add_header(oh, "Content-Type", ct);
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
		size_t n = evbuffer_get_length(in);
		const unsigned char *p = n ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
		srv_reply_bytes(&f->r, code, NULL, p, n);
	}
	finish_forward(f, code < 400 || code >= 500 ? code < 500 : 1);
}

static int send_upstream(forward *f)
{
	const char *url = f->d->targets[f->target].endpoint;
	struct evhttp_uri *u = evhttp_uri_parse(url);
	struct evhttp_request *ureq;
	const char *host = u ? evhttp_uri_get_host(u) : NULL, *path;
	int port = u ? evhttp_uri_get_port(u) : -1;
	char hostport[300];

	f->attempts++;
	if (!host) {
		if (u)
			evhttp_uri_free(u);
		return -1;
	}
	if (port < 0)
		port = 80;
	if (f->up)
		evhttp_connection_free(f->up);
	f->up = evhttp_connection_base_new(srv_worker_base(f->r.w), NULL, host, (unsigned short)port);
	if (!f->up) {
		evhttp_uri_free(u);
		return -1;
	}
	evhttp_connection_set_timeout(f->up, UPSTREAM_TIMEOUT);
	evhttp_connection_set_retries(f->up, 0);
	ureq = evhttp_request_new(upstream_done, f);
	snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	evhttp_add_header(evhttp_request_get_output_headers(ureq), "Host", hostport);
	if (f->ctype)
		evhttp_add_header(evhttp_request_get_output_headers(ureq), "Content-Type", f->ctype);
	evbuffer_add(evhttp_request_get_output_buffer(ureq), f->body, f->body_len);
	path = evhttp_uri_get_path(u);
	f->up_t0 = srv_now();
	if (evhttp_make_request(f->up, ureq, EVHTTP_REQ_POST, path && *path ? path : "/") < 0) {
		evhttp_uri_free(u);
		return -1;
	}
	evhttp_uri_free(u);
	return 0;
}

static int predict(srv_req *r, const char *model, const char *env)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	const char *key = evhttp_find_header(ih, "X-Routing-Key"), *ct, *rq;
	mvms_deployment *d = NULL;
	const unsigned char *data;
	size_t len;
	forward *f;
	int error, t;

	if ((error = mvms_deploy_get(&d, r->st, model, env)) < 0)
		return error;
	if (d->revision == 0) {
		mvms_deployment_free(d);
		return srv_reply_error(r, 404, "not_deployed", "%s of %s is not deployed", env, model);
	}
	if ((t = pick(d, key, -1)) < 0) {
		mvms_deployment_free(d);
		return srv_reply_error(r, 502, "no_endpoint", "%s of %s has no version with a recorded "
				       "endpoint (deploy with --endpoint URL)", env, model);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		mvms_deployment_free(d);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	srv_body(&data, &len, r);
	f->body = malloc(len ? len : 1);
	ct = evhttp_find_header(ih, "Content-Type");
	f->ctype = ct ? strdup(ct) : NULL;
	if (!f->body || (ct && !f->ctype)) {
		f->d = d;
		forward_free(f);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	memcpy(f->body, data, len);
	f->body_len = len;
	f->d = d;
	f->target = (size_t)t;
	rq = srv_query(r, "retry");
	f->retry = !key && (!rq || strcmp(rq, "0") != 0);
	f->t0 = srv_now();
	srv_req_detach(&f->r, r);
	r->replied = 1;
	if (send_upstream(f) < 0) {
		f->r.replied = 0;
		srv_reply_error(&f->r, 502, "upstream_unreachable", "bad endpoint '%s'",
				d->targets[t].endpoint);
		finish_forward(f, 0);
	}
	return 0;
}

int srv_predict(srv_req *r)
{
	return predict(r, r->caps[0], r->caps[1]);
}
