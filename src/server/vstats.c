/* SPDX-License-Identifier: MIT */
/*
 * Per-version /predict counters and latency histograms, shared by all workers: recorded by
 * the forwarding code (h_deploy.c), read by `status`, /metrics and the rollout driver. The
 * forwarding itself is not here.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "server.h"
#include "vstats.h"
/* ---- per-version counters (shared by all workers) ---- */

#define bounds (mvms_latency_bounds())

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static vstat *stats;
static size_t nstats, cstats;

/* The counters of a version, or NULL if it has none yet. Call with stats_lock held. */
static vstat *srv_vstats_find_locked(const char *model, const char *env, int64_t number)
{
	size_t i;

	for (i = 0; i < nstats; i++)
		if (stats[i].number == number && !strcmp(stats[i].model, model) && !strcmp(stats[i].env, env))
			return &stats[i];
	return NULL;
}

/* The counters of a version, added (zeroed) if it has none; NULL on OOM. stats_lock held. */
static vstat *stat_for(const char *model, const char *env, int64_t number)
{
	vstat *t;

	if ((t = srv_vstats_find_locked(model, env, number)))
		return t;
	if (nstats == cstats) {
		size_t nc = cstats ? cstats * 2 : 16;
		t = realloc(stats, nc * sizeof(*t));
		if (!t)
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

void srv_vstats_record(const char *model, const char *env, int64_t number, int ok, double secs,
		   double upstream)
{
	vstat *v;
	size_t b;

	pthread_mutex_lock(&stats_lock);
	if ((v = stat_for(model, env, number))) {
		v->requests++;
		v->errors += !ok;
		for (b = 0; b < NB && secs > bounds[b]; b++)
			;
		v->buckets[b]++;
		v->latency_sum += secs;
		v->upstream_sum += upstream;
	}
	pthread_mutex_unlock(&stats_lock);
}

/* A quantile from the histogram: the upper bound of the bucket that holds it. */
double srv_vstats_quantile(const vstat *v, double q)
{
	return srv_hist_quantile(v->buckets, v->requests, q);
}

void srv_deploy_metrics(struct evbuffer *b, const srv_req *r)
{
	size_t i, k;
	uint64_t cum;

	/* Series of the models the caller covers only (a token for team/... sees no others). */
#define SHOWN(i) srv_authz_covers(r, stats[(i)].model)

	evbuffer_add_printf(b, "# HELP mvms_predict_requests_total Prediction requests by model, "
			       "environment and version.\n# TYPE mvms_predict_requests_total counter\n");
	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < nstats; i++)
		if (SHOWN(i))
			evbuffer_add_printf(b, "mvms_predict_requests_total{model=\"%s\",env=\"%s\",version=\"v%lld\"} %llu\n",
					    stats[i].model, stats[i].env, (long long)stats[i].number,
					    (unsigned long long)stats[i].requests);
	evbuffer_add_printf(b, "# HELP mvms_predict_errors_total Failed prediction requests (upstream "
			       "errors, timeouts, 5xx).\n# TYPE mvms_predict_errors_total counter\n");
	for (i = 0; i < nstats; i++)
		if (SHOWN(i))
			evbuffer_add_printf(b, "mvms_predict_errors_total{model=\"%s\",env=\"%s\",version=\"v%lld\"} %llu\n",
					    stats[i].model, stats[i].env, (long long)stats[i].number,
					    (unsigned long long)stats[i].errors);
	evbuffer_add_printf(b, "# HELP mvms_predict_duration_seconds Prediction latency seen by the "
			       "client.\n# TYPE mvms_predict_duration_seconds histogram\n");
	for (i = 0; i < nstats; i++) {
		if (!SHOWN(i))
			continue;
		for (k = 0, cum = 0; k < NB; k++) {
			cum += stats[i].buckets[k];
			evbuffer_add_printf(b, "mvms_predict_duration_seconds_bucket{model=\"%s\",env=\"%s\","
					       "version=\"v%lld\",le=\"%g\"} %llu\n", stats[i].model,
					    stats[i].env, (long long)stats[i].number, bounds[k],
					    (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "mvms_predict_duration_seconds_bucket{model=\"%s\",env=\"%s\","
				       "version=\"v%lld\",le=\"+Inf\"} %llu\n", stats[i].model,
				    stats[i].env, (long long)stats[i].number,
				    (unsigned long long)stats[i].requests);
		evbuffer_add_printf(b, "mvms_predict_duration_seconds_sum{model=\"%s\",env=\"%s\","
				       "version=\"v%lld\"} %g\n", stats[i].model, stats[i].env,
				    (long long)stats[i].number, stats[i].latency_sum);
		evbuffer_add_printf(b, "mvms_predict_duration_seconds_count{model=\"%s\",env=\"%s\","
				       "version=\"v%lld\"} %llu\n", stats[i].model, stats[i].env,
				    (long long)stats[i].number, (unsigned long long)stats[i].requests);
	}
	evbuffer_add_printf(b, "# HELP mvms_predict_upstream_seconds_total Time spent waiting for "
			       "inference servers.\n# TYPE mvms_predict_upstream_seconds_total counter\n");
	for (i = 0; i < nstats; i++)
		if (SHOWN(i))
			evbuffer_add_printf(b, "mvms_predict_upstream_seconds_total{model=\"%s\",env=\"%s\","
					       "version=\"v%lld\"} %g\n", stats[i].model, stats[i].env,
					    (long long)stats[i].number, stats[i].upstream_sum);
	pthread_mutex_unlock(&stats_lock);
#undef SHOWN
}

/* Revision and weights as gauges, from the store (called by /metrics for each model). Each
 * family's HELP and TYPE sit right above its own samples: a parser (promtool,
 * prometheus_client) takes samples under another family's TYPE for an untyped family. */
void srv_deploy_gauges(struct evbuffer *b, const srv_req *r)
{
	mvms_store *st = r->st;
	mvms_model_info *models = NULL;
	mvms_deployment ***lists = NULL;
	size_t nm = 0, *nd = NULL, i, j, k;

	if (mvms_model_list(&models, &nm, st) < 0)
		return;
	lists = calloc(nm + 1, sizeof(*lists));
	nd = calloc(nm + 1, sizeof(*nd));
	for (i = 0; lists && nd && i < nm; i++)
		if (!srv_authz_covers(r, models[i].name) ||
		    mvms_deploy_list(&lists[i], &nd[i], st, models[i].name) < 0) {
			lists[i] = NULL;
			nd[i] = 0;
		}
	evbuffer_add_printf(b, "# HELP mvms_deployment_revision Current revision of each "
			       "environment.\n# TYPE mvms_deployment_revision gauge\n");
	for (i = 0; lists && nd && i < nm; i++)
		for (j = 0; j < nd[i]; j++)
			evbuffer_add_printf(b, "mvms_deployment_revision{model=\"%s\",env=\"%s\"} %lld\n",
					    lists[i][j]->model, lists[i][j]->env,
					    (long long)lists[i][j]->revision);
	evbuffer_add_printf(b, "# HELP mvms_deployment_weight Traffic weight of each deployed "
			       "version.\n# TYPE mvms_deployment_weight gauge\n");
	for (i = 0; lists && nd && i < nm; i++)
		for (j = 0; j < nd[i]; j++)
			for (k = 0; k < lists[i][j]->target_count; k++)
				evbuffer_add_printf(b, "mvms_deployment_weight{model=\"%s\",env=\"%s\","
						       "version=\"v%lld\"} %d\n", lists[i][j]->model,
						    lists[i][j]->env,
						    (long long)lists[i][j]->targets[k].number,
						    lists[i][j]->targets[k].weight);
	for (i = 0; lists && nd && i < nm; i++)
		mvms_deployment_list_free(lists[i], nd[i]);
	free(lists);
	free(nd);
	mvms_model_list_free(models, nm);
}

/* A copy of the counters of a version (zero when it has none). */
void srv_vstats_get(vstat *out, const char *model, const char *env, int64_t number)
{
	vstat *v;

	pthread_mutex_lock(&stats_lock);
	if ((v = srv_vstats_find_locked(model, env, number)))
		*out = *v;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&stats_lock);
}

void srv_vstats_seed(const mvms_counters *list, size_t n)
{
	size_t i;
	vstat *v;

	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < n; i++) {
		if (!(v = stat_for(list[i].model, list[i].env, list[i].number)))
			break;
		v->requests = v->saved.requests = list[i].requests;
		v->errors = v->saved.errors = list[i].errors;
		memcpy(v->buckets, list[i].buckets, sizeof(v->buckets));
		memcpy(v->saved.buckets, list[i].buckets, sizeof(v->saved.buckets));
		v->latency_sum = v->saved.latency_sum = list[i].latency_sum;
		v->upstream_sum = v->saved.upstream_sum = list[i].upstream_sum;
	}
	pthread_mutex_unlock(&stats_lock);
}

int srv_vstats_unsaved(mvms_counters **out, size_t *n)
{
	mvms_counters *list = NULL, *c;
	size_t i, k;
	int error = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < nstats; i++)
		*n += stats[i].requests != stats[i].saved.requests;
	if (*n && !(list = calloc(*n, sizeof(*list)))) {
		*n = 0;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0, c = list; i < nstats; i++) {
		vstat *v = &stats[i];
		if (v->requests == v->saved.requests)
			continue;
		c->model = strdup(v->model);
		c->env = strdup(v->env);
		c->number = v->number;
		c->requests = v->requests - v->saved.requests;
		c->errors = v->errors - v->saved.errors;
		for (k = 0; k <= NB; k++)
			c->buckets[k] = v->buckets[k] - v->saved.buckets[k];
		c->latency_sum = v->latency_sum - v->saved.latency_sum;
		c->upstream_sum = v->upstream_sum - v->saved.upstream_sum;
		v->saved.requests = v->requests;
		v->saved.errors = v->errors;
		memcpy(v->saved.buckets, v->buckets, sizeof(v->buckets));
		v->saved.latency_sum = v->latency_sum;
		v->saved.upstream_sum = v->upstream_sum;
		c++;
	}
	for (i = 0; i < *n; i++)
		if (!list[i].model || !list[i].env)
			error = mvms_error_set(MVMS_ERROR, "out of memory");
done:
	pthread_mutex_unlock(&stats_lock);
	if (error < 0) {
		srv_vstats_unsave(list, *n);
		mvms_counters_list_free(list, *n);
		*n = 0;
		return error;
	}
	*out = list;
	return 0;
}

void srv_vstats_unsave(const mvms_counters *list, size_t n)
{
	size_t i, k;
	vstat *v;

	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < n; i++) {
		if (!list[i].model || !list[i].env ||
		    !(v = srv_vstats_find_locked(list[i].model, list[i].env, list[i].number)))
			continue;
		v->saved.requests -= list[i].requests;
		v->saved.errors -= list[i].errors;
		for (k = 0; k <= NB; k++)
			v->saved.buckets[k] -= list[i].buckets[k];
		v->saved.latency_sum -= list[i].latency_sum;
		v->saved.upstream_sum -= list[i].upstream_sum;
	}
	pthread_mutex_unlock(&stats_lock);
}
