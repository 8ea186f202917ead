/* SPDX-License-Identifier: MIT */
/*
 * /predict: routes a prediction request to one of the versions of an environment by weight
 * (or sticky by a routing key), forwards it to the version's endpoint with libevent's HTTP
 * client (method, query string and end-to-end headers; never Authorization or hop-by-hop
 * headers) and returns its answer with X-Model-Version, within the environment's timeout,
 * retrying as the environment allows. A share of the requests may also be copied to the
 * environment's shadow version (shadow.c decides and compares) without waiting for it.
 * Counting is h_deploy.c's; what is deployed where is the library's.
 *   GET|POST|PUT /v1/models/{m}/deployments/{env}/predict, GET|POST|PUT /predict/{m}/{env}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "server.h"
#include "vstats.h"

typedef struct forward {
	srv_req r;                   /* copy, for the reply, log and metrics (not for a shadow) */
	struct event_base *base;
	struct evhttp_connection *up;
	mvms_deployment *d;
	size_t target;               /* index into d->targets */
	int shadow;                  /* a copy to d->shadow: nothing is returned */
	srv_shadow_pair *pair;       /* the comparison this request takes part in, if any */
	int retries;                 /* attempts left after this one */
	int sticky;                  /* a routing key: retries stay on the same version */
	enum evhttp_cmd_type method;
	char **hk, **hv;             /* the forwarded request headers */
	size_t nh;
	char *query;                 /* the client's query string, or NULL */
	unsigned char *body;
	size_t body_len;
	int failed;                  /* libevent reported an error after connecting */
	enum evhttp_request_error err;
	double t0, up_t0, upstream;
} forward;

static void forward_free(forward *f)
{
	size_t i;

	if (!f)
		return;
	if (f->up)
		evhttp_connection_free(f->up);
	mvms_deployment_free(f->d);
	for (i = 0; i < f->nh; i++) {
		free(f->hk[i]);
		free(f->hv[i]);
	}
	free(f->hk);
	free(f->hv);
	free(f->query);
	free(f->body);
	free(f);
}

/* Whether header @name is hop-by-hop: the fixed list of RFC 9110 (and Proxy-*), or a name
 * that the message's Connection header @conn lists. Those are for one connection only. */
static int hop_by_hop(const char *name, const char *conn)
{
	static const char *const fixed[] = { "Connection", "Keep-Alive", "TE", "Trailer",
					     "Transfer-Encoding", "Upgrade" };
	size_t i, n = strlen(name);
	const char *p;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcasecmp(name, fixed[i]))
			return 1;
	if (!strncasecmp(name, "Proxy-", 6))
		return 1;
	for (p = conn; p && *p;) {
		size_t len;
		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == n && !strncasecmp(p, name, n))
			return 1;
		p += len;
	}
	return 0;
}

/* The request headers that go upstream: not hop-by-hop, not Authorization (the caller's
 * credentials for this server), and not those libevent or this proxy set itself. */
static int forwarded_request_header(const char *name, const char *conn)
{
	return !hop_by_hop(name, conn) && strcasecmp(name, "Authorization") &&
	       strcasecmp(name, "Host") && strcasecmp(name, "Content-Length") &&
	       strcasecmp(name, "Expect");
}

/* The response headers that come back: not hop-by-hop, and not those set here. */
static int forwarded_response_header(const char *name, const char *conn)
{
	return !hop_by_hop(name, conn) && strcasecmp(name, "Content-Length") &&
	       strcasecmp(name, "X-Model-Version") && strcasecmp(name, "X-Model-Version-Id");
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

static const char *endpoint_of(const forward *f)
{
	return f->shadow ? f->d->shadow->endpoint : f->d->targets[f->target].endpoint;
}

static void finish_forward(forward *f, int ok)
{
	if (!f->shadow)
		srv_vstats_record(f->d->model, f->d->env, f->d->targets[f->target].number, ok,
				  srv_now() - f->t0, f->upstream);
	forward_free(f);
}

/* Whether a failed attempt may be tried again: never with no retries left; a connection
 * that failed before any byte was sent, always; otherwise only an idempotent method (a POST
 * may have had its effect). */
static int may_retry(const forward *f, int code)
{
	int nothing_sent = code == 0 && !f->failed;

	if (f->shadow || f->retries <= 0)
		return 0;
	return nothing_sent || f->method == EVHTTP_REQ_GET || f->method == EVHTTP_REQ_HEAD ||
	       f->method == EVHTTP_REQ_PUT;
}

/* An attempt failed (nothing back, or 5xx): retry, or answer 502/504. */
static void upstream_failed(forward *f, struct evhttp_request *ureq, int code)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(f->r.req);
	int timeout = code == 0 && ((f->failed && f->err == EVREQ_HTTP_TIMEOUT) ||
				    srv_now() - f->up_t0 >= f->d->timeout_ms / 1000.0 - 0.05);
	char ver[64];

	if (may_retry(f, code)) {
		int next = f->sticky ? -1 : pick(f->d, NULL, (int)f->target);
		srv_vstats_record(f->d->model, f->d->env, f->d->targets[f->target].number, 0,
				  srv_now() - f->t0, 0);
		/* Another version when there is one (and no routing key pins this one). */
		if (next >= 0)
			f->target = (size_t)next;
		f->retries--;
		if (send_upstream(f) == 0)
			return;
	}
	srv_shadow_served(f->pair, 0, NULL, 0);
	f->pair = NULL;
	snprintf(ver, sizeof(ver), "v%lld", (long long)f->d->targets[f->target].number);
	evhttp_add_header(oh, "X-Model-Version", ver);
	if (code >= 500) {
		size_t n = evbuffer_get_length(evhttp_request_get_input_buffer(ureq));
		srv_reply_error(&f->r, 502, "upstream_error", "%s of %s (%s): the inference server "
				"answered %d (%zu bytes)", f->d->env, f->d->model, ver, code, n);
	} else {
		srv_reply_error(&f->r, timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_unreachable",
				"%s of %s (%s at %s): %s", f->d->env, f->d->model, ver,
				f->d->targets[f->target].endpoint,
				timeout ? "no answer in time" : "could not be reached");
	}
	finish_forward(f, 0);
}

static void upstream_error(enum evhttp_request_error err, void *arg)
{
	forward *f = arg;

	f->failed = 1;
	f->err = err;
}

static void upstream_done(struct evhttp_request *ureq, void *arg)
{
	forward *f = arg;
	int code = ureq ? evhttp_request_get_response_code(ureq) : 0;
	struct evkeyvalq *oh, *ih;
	struct evkeyval *kv;
	struct evbuffer *in;
	const unsigned char *p;
	const char *conn;
	char ver[64];
	size_t n;

	f->upstream += srv_now() - f->up_t0;
	in = code ? evhttp_request_get_input_buffer(ureq) : NULL;
	n = in ? evbuffer_get_length(in) : 0;
	p = n ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	if (f->shadow) {
		srv_shadow_answered(f->pair, code, p, n, srv_now() - f->t0);
		forward_free(f);
		return;
	}
	if (code == 0 || code >= 500) {
		upstream_failed(f, ureq, code);
		return;
	}
	oh = evhttp_request_get_output_headers(f->r.req);
	ih = evhttp_request_get_input_headers(ureq);
	conn = evhttp_find_header(ih, "Connection");
	for (kv = ih->tqh_first; kv; kv = kv->next.tqe_next)
		if (forwarded_response_header(kv->key, conn))
			evhttp_add_header(oh, kv->key, kv->value);
	snprintf(ver, sizeof(ver), "v%lld", (long long)f->d->targets[f->target].number);
	evhttp_add_header(oh, "X-Model-Version", ver);
	evhttp_add_header(oh, "X-Model-Version-Id", f->d->targets[f->target].id);
	srv_shadow_served(f->pair, code, p, n);
	f->pair = NULL;
	srv_reply_bytes(&f->r, code, NULL, p, n);
	finish_forward(f, 1);
}

/* The path and query to ask the upstream for: the endpoint's, then the client's query. */
static char *upstream_target(const struct evhttp_uri *u, const char *query)
{
	const char *path = evhttp_uri_get_path(u), *uq = evhttp_uri_get_query(u);
	size_t len;
	char *s;

	if (!path || !*path)
		path = "/";
	len = strlen(path) + (uq ? strlen(uq) : 0) + (query ? strlen(query) : 0) + 3;
	if (!(s = malloc(len)))
		return NULL;
	snprintf(s, len, "%s%s%s%s%s", path, uq || query ? "?" : "", uq ? uq : "",
		 uq && query ? "&" : "", query ? query : "");
	return s;
}

static int send_upstream(forward *f)
{
	struct evhttp_uri *u = evhttp_uri_parse(endpoint_of(f));
	struct evhttp_request *ureq;
	struct evkeyvalq *oh;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	int port = u ? evhttp_uri_get_port(u) : -1, error = -1;
	struct timeval tv = { f->d->timeout_ms / 1000, (f->d->timeout_ms % 1000) * 1000 };
	char hostport[300], *target = NULL;
	size_t i;

	f->failed = 0;
	if (!host || !(target = upstream_target(u, f->query)))
		goto done;
	if (port < 0)
		port = 80;
	if (f->up)
		evhttp_connection_free(f->up);
	f->up = evhttp_connection_base_new(f->base, NULL, host, (unsigned short)port);
	if (!f->up)
		goto done;
	evhttp_connection_set_timeout_tv(f->up, &tv);
	evhttp_connection_set_retries(f->up, 0);
	if (!(ureq = evhttp_request_new(upstream_done, f)))
		goto done;
	evhttp_request_set_error_cb(ureq, upstream_error);
	oh = evhttp_request_get_output_headers(ureq);
	snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	evhttp_add_header(oh, "Host", hostport);
	for (i = 0; i < f->nh; i++)
		evhttp_add_header(oh, f->hk[i], f->hv[i]);
	evbuffer_add(evhttp_request_get_output_buffer(ureq), f->body, f->body_len);
	f->up_t0 = srv_now();
	/* libevent frees @ureq when this fails. */
	if (evhttp_make_request(f->up, ureq, f->method, target) < 0)
		goto done;
	error = 0;
done:
	free(target);
	if (u)
		evhttp_uri_free(u);
	return error;
}

/* Copies what is forwarded of the client's request into @f: method, query, headers, body. */
static int take_request(forward *f, srv_req *r)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	const char *conn = evhttp_find_header(ih, "Connection");
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	const unsigned char *data;
	struct evkeyval *kv;
	size_t len, n = 0;

	/* HEAD goes up as GET: the reply helper drops the body and keeps its length. */
	f->method = r->method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : r->method;
	for (kv = ih->tqh_first; kv; kv = kv->next.tqe_next)
		n++;
	f->hk = calloc(n + 1, sizeof(*f->hk));
	f->hv = calloc(n + 1, sizeof(*f->hv));
	if (!f->hk || !f->hv)
		return -1;
	for (kv = ih->tqh_first; kv; kv = kv->next.tqe_next) {
		if (!forwarded_request_header(kv->key, conn))
			continue;
		f->hk[f->nh] = strdup(kv->key);
		f->hv[f->nh] = strdup(kv->value);
		if (!f->hk[f->nh++] || !f->hv[f->nh - 1])
			return -1;
	}
	if (q && *q && !(f->query = strdup(q)))
		return -1;
	srv_body(&data, &len, r);
	if (!(f->body = malloc(len ? len : 1)))
		return -1;
	memcpy(f->body, data, len);
	f->body_len = len;
	return 0;
}

/* What a shadow copy needs of the deployment: names, the shadow, the timeout. */
static mvms_deployment *shadow_state(const mvms_deployment *d)
{
	mvms_deployment *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->model = strdup(d->model);
	c->env = strdup(d->env);
	c->timeout_ms = d->timeout_ms;
	if ((c->shadow = calloc(1, sizeof(*c->shadow)))) {
		*c->shadow = *d->shadow;
		c->shadow->endpoint = strdup(d->shadow->endpoint);
		c->shadow->compare = strdup(d->shadow->compare);
	}
	if (!c->model || !c->env || !c->shadow || !c->shadow->endpoint || !c->shadow->compare) {
		mvms_deployment_free(c);
		return NULL;
	}
	return c;
}

/* A copy of @r's request for the shadow of @d; NULL when out of memory. */
static forward *shadow_copy(const forward *f, srv_shadow_pair *pair, const mvms_deployment *d,
			    srv_req *r)
{
	forward *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->shadow = 1;
	s->base = f->base;
	s->t0 = srv_now();
	if (take_request(s, r) < 0 || !(s->d = shadow_state(d))) {
		forward_free(s);
		return NULL;
	}
	s->pair = pair;
	return s;
}

/* Sends the shadow copy of a request; a copy that cannot go counts as a failed one. */
static void send_shadow(forward *f, srv_shadow_pair *pair, srv_req *r)
{
	forward *s = shadow_copy(f, pair, f->d, r);

	if (s && send_upstream(s) == 0)
		return;
	forward_free(s);
	srv_shadow_answered(pair, 0, NULL, 0, 0);
}

static int predict(srv_req *r, const char *model, const char *env)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	const char *key = evhttp_find_header(ih, "X-Routing-Key"), *rq;
	srv_shadow_pair *pair;
	mvms_deployment *d = NULL;
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
	if (!(f = calloc(1, sizeof(*f)))) {
		mvms_deployment_free(d);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	f->d = d;
	f->base = srv_worker_base(r->w);
	if (take_request(f, r) < 0) {
		forward_free(f);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	f->target = (size_t)t;
	rq = srv_query(r, "retry");
	f->retries = rq && !strcmp(rq, "0") ? 0 : d->retries;
	f->sticky = key != NULL;
	f->t0 = srv_now();
	pair = srv_shadow_admit(d);
	srv_req_detach(&f->r, r);
	r->replied = 1;
	/* The shadow's copy goes first so that it sees the request as the served version does;
	 * neither waits for the other (both are on this worker's loop). */
	if (pair) {
		f->pair = pair;
		send_shadow(f, pair, r);
	}
	if (send_upstream(f) < 0) {
		f->r.replied = 0;
		srv_shadow_served(f->pair, 0, NULL, 0);
		f->pair = NULL;
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
