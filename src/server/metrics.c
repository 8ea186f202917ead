/* SPDX-License-Identifier: MIT */
/*
 * Server metrics for GET /metrics (Prometheus text format 0.0.4): requests by route,
 * method and status, a latency histogram per route, bytes in and out, uploads in flight,
 * and gauges of the store. One process-wide table shared by all workers under a mutex;
 * routes are a fixed set of patterns, so fixed-size tables suffice. Nothing is persisted.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "server.h"


/* Prometheus' default buckets, extended down to 1 ms: small GETs answer in well under 5 ms. */
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				  0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* The route table has ~25 patterns (plus "unmatched"); 6 methods by a handful of statuses
 * each gives well under the request-counter slots. Overflow goes to the last slot. */
#define MAX_ROUTES 64
#define MAX_COUNTERS 1024

typedef struct route_stats {
	const char *route;               /* pointer into router.c's table, or "unmatched" */
	uint64_t bucket[NBUCKETS + 1];   /* non-cumulative; the last is (10 s, +Inf) */
	uint64_t count;
	double sum;
} route_stats;

typedef struct req_counter {
	const char *route;
	const char *method;
	int status;
	uint64_t count;
} req_counter;

typedef struct metrics {
	route_stats routes[MAX_ROUTES];
	size_t nroutes;
	req_counter counters[MAX_COUNTERS];
	size_t ncounters;
	uint64_t bytes_in, bytes_out;
} metrics;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metrics m;
static atomic_int uploads;

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

/* Same pattern string: the pointer first (the usual case), then the text. */
static int same(const char *a, const char *b)
{
	return a == b || strcmp(a, b) == 0;
}

void srv_metrics_request(const srv_req *r, double seconds)
{
	const char *route = r->route ? r->route : "unmatched";
	const char *method = method_name(r->method);
	route_stats *rs = NULL;
	req_counter *c = NULL;
	size_t i, b;

	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < NBUCKETS && seconds > buckets[b]; b++)
		;
	pthread_mutex_lock(&lock);
	for (i = 0; i < m.nroutes; i++)
		if (same(m.routes[i].route, route)) {
			rs = &m.routes[i];
			break;
		}
	if (!rs && m.nroutes < MAX_ROUTES) {
		rs = &m.routes[m.nroutes++];
		rs->route = route;
	}
	if (rs) {
		rs->bucket[b]++;
		rs->count++;
		rs->sum += seconds;
	}
	for (i = 0; i < m.ncounters; i++)
		if (m.counters[i].status == r->status && m.counters[i].method == method &&
		    same(m.counters[i].route, route)) {
			c = &m.counters[i];
			break;
		}
	if (!c && m.ncounters < MAX_COUNTERS) {
		c = &m.counters[m.ncounters++];
		c->route = route;
		c->method = method;
		c->status = r->status;
	}
	if (c)
		c->count++;
	m.bytes_in += r->bytes_in;
	m.bytes_out += r->bytes_out;
	pthread_mutex_unlock(&lock);
}

void srv_metrics_uploads(int delta)
{
	atomic_fetch_add(&uploads, delta);
}

int srv_metrics_upload_try(int max)
{
	int cur = atomic_load(&uploads);

	/* Take a slot only if one is free, atomically: two workers cannot both take the last. */
	while (cur < max)
		if (atomic_compare_exchange_weak(&uploads, &cur, cur + 1))
			return 1;
	return 0;
}

int srv_metrics_uploads_now(void)
{
	return atomic_load(&uploads);
}

/* Appends a label value escaped as the text format wants (\\, \" and \n). */
static void label(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void header(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge_u64(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	header(b, name, "gauge", help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

int srv_handle_metrics(srv_req *r)
{
	metrics *snap = malloc(sizeof(*snap));
	struct evbuffer *b = evbuffer_new();
	mvms_stats stats;
	size_t i, k;
	int error = 0, stats_ok;

	if (!snap || !b) {
		srv_reply_error(r, 500, "error", "out of memory");
		goto done;
	}
	pthread_mutex_lock(&lock);
	memcpy(snap, &m, sizeof(*snap));
	pthread_mutex_unlock(&lock);

	header(b, "mvms_http_requests_total", "counter",
	       "HTTP requests answered, by route pattern, method and status.");
	for (i = 0; i < snap->ncounters; i++) {
		const req_counter *c = &snap->counters[i];
		evbuffer_add_printf(b, "mvms_http_requests_total{route=\"");
		label(b, c->route);
		evbuffer_add_printf(b, "\",method=\"%s\",status=\"%d\"} %llu\n", c->method, c->status,
				    (unsigned long long)c->count);
	}

	header(b, "mvms_http_request_duration_seconds", "histogram",
	       "Time from dispatch to the complete reply, by route pattern.");
	for (i = 0; i < snap->nroutes; i++) {
		const route_stats *rs = &snap->routes[i];
		uint64_t cum = 0;
		for (k = 0; k <= NBUCKETS; k++) {
			cum += rs->bucket[k];
			evbuffer_add_printf(b, "mvms_http_request_duration_seconds_bucket{route=\"");
			label(b, rs->route);
			if (k < NBUCKETS)
				evbuffer_add_printf(b, "\",le=\"%g\"} %llu\n", buckets[k],
						    (unsigned long long)cum);
			else
				evbuffer_add_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "mvms_http_request_duration_seconds_sum{route=\"");
		label(b, rs->route);
		evbuffer_add_printf(b, "\"} %.9g\n", rs->sum);
		evbuffer_add_printf(b, "mvms_http_request_duration_seconds_count{route=\"");
		label(b, rs->route);
		evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)rs->count);
	}

	header(b, "mvms_http_bytes_received_total", "counter",
	       "Request body bytes received (finished requests).");
	evbuffer_add_printf(b, "mvms_http_bytes_received_total %llu\n",
			    (unsigned long long)snap->bytes_in);
	header(b, "mvms_http_bytes_sent_total", "counter",
	       "Reply body bytes sent (finished requests).");
	evbuffer_add_printf(b, "mvms_http_bytes_sent_total %llu\n",
			    (unsigned long long)snap->bytes_out);
	header(b, "mvms_uploads_in_flight", "gauge",
	       "Uploads (pack PUTs, one-request uploads) running now.");
	evbuffer_add_printf(b, "mvms_uploads_in_flight %d\n", srv_metrics_uploads_now());
	/* Deployments: per-version prediction counters, and revisions and weights. */
	srv_deploy_metrics(b, r);
	srv_deploy_gauges(b, r);
	srv_shadow_metrics(b, r);

	/* The store's gauges; when they cannot be read the HTTP metrics are still served. */
	stats_ok = mvms_store_stats(&stats, r->st) == 0;
	if (stats_ok) {
		gauge_u64(b, "mvms_store_logical_bytes",
			  "Sum of all versions' file sizes (what pulling everything would write).",
			  stats.logical_bytes);
		gauge_u64(b, "mvms_store_unique_bytes", "Raw bytes of unique chunks.",
			  stats.unique_bytes);
		gauge_u64(b, "mvms_store_stored_bytes", "Bytes of all packs (compressed).",
			  stats.stored_bytes);
		header(b, "mvms_store_dedup_ratio", "gauge", "Logical bytes / unique bytes.");
		evbuffer_add_printf(b, "mvms_store_dedup_ratio %.6g\n", stats.dedup_ratio);
		header(b, "mvms_store_compression_ratio", "gauge", "Unique bytes / stored bytes.");
		evbuffer_add_printf(b, "mvms_store_compression_ratio %.6g\n", stats.compression_ratio);
		gauge_u64(b, "mvms_store_versions", "Versions over all models.", stats.versions);
		gauge_u64(b, "mvms_store_models", "Registered models.", stats.models);
		gauge_u64(b, "mvms_store_chunks", "Unique chunks.", stats.chunks);
		gauge_u64(b, "mvms_store_packs", "Packs.", stats.packs);
	} else {
		mvms_error_clear();
	}
	header(b, "mvms_store_stats_up", "gauge", "1 when the store's statistics could be read.");
	evbuffer_add_printf(b, "mvms_store_stats_up %d\n", stats_ok);

	srv_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8",
			evbuffer_pullup(b, -1), evbuffer_get_length(b));
done:
	if (b)
		evbuffer_free(b);
	free(snap);
	return error;
}
