/* SPDX-License-Identifier: MIT */
/*
 * /predict: routes a prediction request to one of the versions of an environment by weight
 * (or sticky by a routing key), forwards it to the version's endpoint with libevent's HTTP
 * client and returns its answer with X-Model-Version. Counting is h_deploy.c's; what is
 * deployed where is the library's.
 *   POST /v1/models/{m}/deployments/{env}/predict, POST /predict/{m}/{env}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"

#define UPSTREAM_TIMEOUT 30    /* seconds for an inference server to answer */

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
	srv_deploy_record(f->d->model, f->d->env, f->d->targets[f->target].number, ok, srv_now() - f->t0, f->upstream);
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
				srv_deploy_record(f->d->model, f->d->env, f->d->targets[f->target].number, 0,
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
