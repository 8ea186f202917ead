/* SPDX-License-Identifier: MIT */
/*
 * Shadow traffic: which /predict requests get a copy sent to the environment's shadow
 * version (its share, and a bounded number in flight: beyond it a copy is dropped and
 * counted, never waited for), the comparison of its answer with the served one (as bytes, or
 * as JSON with key order and spacing ignored), and its counters for /metrics and status.
 * Sending the copies is proxy.c's; the shadow itself is part of the deployment revision.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <event2/buffer.h>
#include "server.h"
#include "vstats.h"

/* The latency buckets are the library's (mvms_latency_bounds), as the served versions'. */
#define bounds (mvms_latency_bounds())

typedef struct sstat {
	char model[129], env[101];
	int64_t number;
	uint64_t requests, errors, dropped, compared, differences;
	uint64_t buckets[NB + 1];
	double latency_sum;
} sstat;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sstat *stats;
static size_t nstats, cstats;
static unsigned inflight;        /* copies sent and not answered, all workers */

struct srv_shadow_pair {
	int refs;                    /* the served side and the shadow side */
	int bytes;                   /* compare as bytes, else as JSON */
	char model[129], env[101];
	int64_t number;
	int served_code, shadow_code;
	unsigned char *served, *shadow;  /* NULL when failed or too big to keep */
	size_t served_len, shadow_len;
};

/* lock held */
static sstat *find(const char *model, const char *env, int64_t number, int add)
{
	size_t i;
	sstat *t;

	for (i = 0; i < nstats; i++)
		if (stats[i].number == number && !strcmp(stats[i].model, model) && !strcmp(stats[i].env, env))
			return &stats[i];
	if (!add)
		return NULL;
	if (nstats == cstats) {
		size_t nc = cstats ? cstats * 2 : 8;
		if (!(t = realloc(stats, nc * sizeof(*t))))
			return NULL;
		stats = t;
		cstats = nc;
	}
	t = &stats[nstats++];
	memset(t, 0, sizeof(*t));
	snprintf(t->model, sizeof(t->model), "%s", model);
	snprintf(t->env, sizeof(t->env), "%s", env);
	t->number = number;
	return t;
}

srv_shadow_pair *srv_shadow_admit(const mvms_deployment *d)
{
	const mvms_deploy_shadow *sh = d->shadow;
	srv_shadow_pair *p;
	sstat *s;
	int take;

	if (!sh || !*sh->endpoint || randombytes_uniform(100) >= (uint32_t)sh->percent)
		return NULL;
	pthread_mutex_lock(&lock);
	take = inflight < SRV_SHADOW_INFLIGHT_MAX;
	if ((s = find(d->model, d->env, sh->number, 1)) && !take)
		s->dropped++;
	inflight += take;
	pthread_mutex_unlock(&lock);
	if (!take)
		return NULL;
	if (!(p = calloc(1, sizeof(*p)))) {
		pthread_mutex_lock(&lock);
		inflight--;
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	p->refs = 2;
	p->bytes = !strcmp(sh->compare, "bytes");
	snprintf(p->model, sizeof(p->model), "%s", d->model);
	snprintf(p->env, sizeof(p->env), "%s", d->env);
	p->number = sh->number;
	return p;
}

/* 1 when the two answers differ: status, then body as bytes or as JSON (a body that is not
 * JSON is compared as bytes). */
static int differ(const srv_shadow_pair *p)
{
	cJSON *a, *b;
	int same;

	if (p->served_code != p->shadow_code)
		return 1;
	if (p->bytes || !p->served_len || !p->shadow_len)
		return p->served_len != p->shadow_len ||
		       (p->served_len && memcmp(p->served, p->shadow, p->served_len) != 0);
	a = cJSON_ParseWithLength((const char *)p->served, p->served_len);
	b = cJSON_ParseWithLength((const char *)p->shadow, p->shadow_len);
	if (a && b)
		same = cJSON_Compare(a, b, 1);
	else
		same = p->served_len == p->shadow_len && !memcmp(p->served, p->shadow, p->served_len);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return !same;
}

static void unref(srv_shadow_pair *p)
{
	sstat *s;
	int diff;

	if (--p->refs > 0)
		return;
	/* Both sides answered: compare when both have a body to compare. */
	if (p->served_code && p->shadow_code && p->served && p->shadow) {
		diff = differ(p);
		pthread_mutex_lock(&lock);
		if ((s = find(p->model, p->env, p->number, 1))) {
			s->compared++;
			s->differences += (uint64_t)diff;
		}
		pthread_mutex_unlock(&lock);
	}
	free(p->served);
	free(p->shadow);
	free(p);
}

static unsigned char *keep(const void *body, size_t len)
{
	unsigned char *c;

	if (len > SRV_SHADOW_BODY_MAX || !(c = malloc(len ? len : 1)))
		return NULL;
	memcpy(c, body, len);
	return c;
}

void srv_shadow_served(srv_shadow_pair *p, int code, const void *body, size_t len)
{
	if (!p)
		return;
	p->served_code = code;
	if (code)
		p->served = keep(body, len);
	p->served_len = len;
	unref(p);
}

void srv_shadow_answered(srv_shadow_pair *p, int code, const void *body, size_t len, double secs)
{
	sstat *s;
	size_t b;

	pthread_mutex_lock(&lock);
	inflight--;
	if ((s = find(p->model, p->env, p->number, 1))) {
		s->requests++;
		s->errors += code == 0 || code >= 500;
		for (b = 0; b < NB && secs > bounds[b]; b++)
			;
		s->buckets[b]++;
		s->latency_sum += secs;
	}
	pthread_mutex_unlock(&lock);
	p->shadow_code = code;
	if (code)
		p->shadow = keep(body, len);
	p->shadow_len = len;
	unref(p);
}

static double quantile(const sstat *v, double q)
{
	return srv_hist_quantile(v->buckets, v->requests, q);
}

void srv_shadow_status(cJSON *doc, const mvms_deployment *d)
{
	const mvms_deploy_shadow *sh = d->shadow;
	sstat zero, *v;
	cJSON *o;

	if (!sh)
		return;
	o = cJSON_AddObjectToObject(doc, "shadow");
	cJSON_AddNumberToObject(o, "version", (double)sh->number);
	cJSON_AddStringToObject(o, "id", sh->id);
	cJSON_AddNumberToObject(o, "percent", sh->percent);
	cJSON_AddStringToObject(o, "endpoint", sh->endpoint);
	cJSON_AddStringToObject(o, "compare", sh->compare);
	pthread_mutex_lock(&lock);
	if (!(v = find(d->model, d->env, sh->number, 0))) {
		memset(&zero, 0, sizeof(zero));
		v = &zero;
	}
	cJSON_AddNumberToObject(o, "requests", (double)v->requests);
	cJSON_AddNumberToObject(o, "errors", (double)v->errors);
	cJSON_AddNumberToObject(o, "dropped", (double)v->dropped);
	cJSON_AddNumberToObject(o, "compared", (double)v->compared);
	cJSON_AddNumberToObject(o, "differences", (double)v->differences);
	cJSON_AddNumberToObject(o, "p50_ms", quantile(v, 0.5) * 1000);
	cJSON_AddNumberToObject(o, "p99_ms", quantile(v, 0.99) * 1000);
	pthread_mutex_unlock(&lock);
}

int srv_shadow_clean(const char *model, const char *env, int64_t number, uint64_t min_compared,
		     double max_difference_rate, double max_error_rate, char *why, size_t why_len)
{
	sstat zero, *v;
	int clean = 0;

	pthread_mutex_lock(&lock);
	if (!(v = find(model, env, number, 0))) {
		memset(&zero, 0, sizeof(zero));
		v = &zero;
	}
	if (v->compared < min_compared)
		snprintf(why, why_len, "shadow v%lld: %llu answers compared, %llu needed",
			 (long long)number, (unsigned long long)v->compared,
			 (unsigned long long)min_compared);
	else if ((double)v->differences > max_difference_rate * (double)v->compared)
		snprintf(why, why_len, "shadow v%lld: %.1f%% of %llu answers differ (> %.1f%%)",
			 (long long)number, 100.0 * (double)v->differences / (double)v->compared,
			 (unsigned long long)v->compared, 100 * max_difference_rate);
	else if (v->requests && (double)v->errors > max_error_rate * (double)v->requests)
		snprintf(why, why_len, "shadow v%lld: error rate %.1f%% over %llu requests (> %.1f%%)",
			 (long long)number, 100.0 * (double)v->errors / (double)v->requests,
			 (unsigned long long)v->requests, 100 * max_error_rate);
	else {
		snprintf(why, why_len, "shadow v%lld: %llu answers compared, %llu differ, %llu errors",
			 (long long)number, (unsigned long long)v->compared,
			 (unsigned long long)v->differences, (unsigned long long)v->errors);
		clean = 1;
	}
	pthread_mutex_unlock(&lock);
	return clean;
}

void srv_shadow_metrics(struct evbuffer *b, const srv_req *r)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fam[] = {
		{ "mvms_shadow_requests_total", "Copies of /predict requests sent to a shadow version.",
		  offsetof(sstat, requests) },
		{ "mvms_shadow_errors_total", "Shadow copies that failed (upstream errors, timeouts, 5xx).",
		  offsetof(sstat, errors) },
		{ "mvms_shadow_dropped_total", "Shadow copies not sent: too many in flight.",
		  offsetof(sstat, dropped) },
		{ "mvms_shadow_compared_total", "Shadow answers compared with the served answer.",
		  offsetof(sstat, compared) },
		{ "mvms_shadow_differences_total", "Shadow answers that differed from the served answer.",
		  offsetof(sstat, differences) },
	};
	size_t f, i, k, shown = 0;
	uint64_t cum;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nstats; i++)
		shown += srv_authz_covers(r, stats[i].model) != 0;
	/* No family without samples: a parser would take the next family's samples for its. */
	for (f = 0; shown && f < sizeof(fam) / sizeof(fam[0]); f++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help,
				    fam[f].name);
		for (i = 0; i < nstats; i++)
			if (srv_authz_covers(r, stats[i].model))
				evbuffer_add_printf(b, "%s{model=\"%s\",env=\"%s\",version=\"v%lld\"} %llu\n",
						    fam[f].name, stats[i].model, stats[i].env,
						    (long long)stats[i].number, (unsigned long long)
						    *(const uint64_t *)((const char *)&stats[i] + fam[f].off));
	}
	if (shown)
		evbuffer_add_printf(b, "# HELP mvms_shadow_duration_seconds Latency of shadow answers.\n"
				       "# TYPE mvms_shadow_duration_seconds histogram\n");
	for (i = 0; i < nstats; i++) {
		const sstat *s = &stats[i];
		if (!srv_authz_covers(r, s->model))
			continue;
		for (k = 0, cum = 0; k <= NB; k++) {
			char le[16];
			cum += s->buckets[k];
			if (k < NB)
				snprintf(le, sizeof(le), "%g", bounds[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			evbuffer_add_printf(b, "mvms_shadow_duration_seconds_bucket{model=\"%s\",env=\"%s\","
					       "version=\"v%lld\",le=\"%s\"} %llu\n", s->model, s->env,
					    (long long)s->number, le, (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "mvms_shadow_duration_seconds_sum{model=\"%s\",env=\"%s\","
				       "version=\"v%lld\"} %g\n", s->model, s->env, (long long)s->number,
				    s->latency_sum);
		evbuffer_add_printf(b, "mvms_shadow_duration_seconds_count{model=\"%s\",env=\"%s\","
				       "version=\"v%lld\"} %llu\n", s->model, s->env, (long long)s->number,
				    (unsigned long long)s->requests);
	}
	pthread_mutex_unlock(&lock);
}
