/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts, the driver: what a server runs on a timer. For each running rollout
 * it reads the stored counters of the canary and of the versions it replaces, takes the
 * window since the step began, and once the interval has passed and enough requests were
 * seen, deploys the next step, promotes the canary, or rolls back to the revision before the
 * rollout; each as a deployment revision whose reason holds the figures that decided it.
 * Also the notification outbox: events are written with the change and posted here.
 * Starting, pausing and aborting are rollout.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include "rollout_int.h"
#include "deployments.h"
#include "transport.h"

#define NOTIFY_ATTEMPTS 8
#define NOTIFY_BACKOFF_MS 250
#define DRIVER "rollout"

int64_t mvms_rollout__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void side_add(mvms_rollout_side *s, const mvms_counters *c)
{
	size_t i;

	s->requests += c->requests;
	s->errors += c->errors;
	for (i = 0; i <= MVMS_LATENCY_BUCKETS; i++)
		s->buckets[i] += c->buckets[i];
}

int mvms_rollout__totals(mvms_rollout_figures *f, mvms_store *st, const mvms_rollout_row *row)
{
	mvms_deployment base;
	mvms_counters c;
	size_t i;
	int error = 0, rc;

	memset(f, 0, sizeof(*f));
	memset(&base, 0, sizeof(base));
	memset(&c, 0, sizeof(c));
	MVMS_TRY(mvms_version_stats_get(&c, st->db, row->model_id, row->r.env, row->r.version));
	side_add(&f->canary, &c);
	/* The baseline: the versions that served the environment before the rollout. */
	if ((rc = mvms_deployments_read(&base, st->db, row->model_id, row->r.env,
					row->r.base_revision)) < 0) {
		error = rc;
		goto done;
	}
	for (i = 0; i < base.target_count; i++) {
		if (base.targets[i].number == row->r.version)
			continue;
		MVMS_TRY(mvms_version_stats_get(&c, st->db, row->model_id, row->r.env,
						base.targets[i].number));
		side_add(&f->base, &c);
		if (f->nbase < sizeof(f->base_numbers) / sizeof(f->base_numbers[0]))
			f->base_numbers[f->nbase++] = base.targets[i].number;
	}
done:
	free(base.action);
	free(base.author);
	free(base.reason);
	for (i = 0; i < base.target_count; i++)
		free(base.targets[i].endpoint);
	free(base.targets);
	return error;
}

static size_t side_text(char *buf, size_t n, const mvms_rollout_side *s)
{
	size_t i, used;

	used = (size_t)snprintf(buf, n, "%llu %llu", (unsigned long long)s->requests,
				(unsigned long long)s->errors);
	for (i = 0; i <= MVMS_LATENCY_BUCKETS && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, " %llu",
					 (unsigned long long)s->buckets[i]);
	return used;
}

int mvms_rollout__set_mark(mvms_rollout_row *row, const mvms_rollout_figures *f)
{
	char buf[2 * (MVMS_LATENCY_BUCKETS + 3) * 21 + 4], *m;
	size_t used = side_text(buf, sizeof(buf), &f->canary);

	if (used < sizeof(buf) - 1) {
		buf[used++] = ' ';
		side_text(buf + used, sizeof(buf) - used, &f->base);
	}
	if (!(m = strdup(buf)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	free(row->mark);
	row->mark = m;
	return 0;
}

static void side_sub(mvms_rollout_side *s, const char **p)
{
	uint64_t v[MVMS_LATENCY_BUCKETS + 3];
	char *end;
	size_t i;

	for (i = 0; i < MVMS_LATENCY_BUCKETS + 3; i++) {
		v[i] = strtoull(*p, &end, 10);
		if (end == *p)
			return; /* no (or a short) mark: the window is everything */
		*p = end;
	}
	s->requests -= v[0] <= s->requests ? v[0] : s->requests;
	s->errors -= v[1] <= s->errors ? v[1] : s->errors;
	for (i = 0; i <= MVMS_LATENCY_BUCKETS; i++)
		s->buckets[i] -= v[i + 2] <= s->buckets[i] ? v[i + 2] : s->buckets[i];
}

void mvms_rollout__window(mvms_rollout_figures *f, const mvms_rollout_row *row)
{
	const char *p = row->mark ? row->mark : "";

	side_sub(&f->canary, &p);
	side_sub(&f->base, &p);
}

static double rate(const mvms_rollout_side *s)
{
	return s->requests ? (double)s->errors / (double)s->requests : 0;
}

static double p95(const mvms_rollout_side *s)
{
	return mvms_counters_quantile_ms(s->buckets, s->requests, 0.95);
}

void mvms_rollout__describe(char *buf, size_t n, const mvms_rollout_row *row,
			    const mvms_rollout_figures *f)
{
	size_t used, i;

	used = (size_t)snprintf(buf, n, "v%lld %llu req %llu err (%.1f%%) p95 %.0fms",
				(long long)row->r.version, (unsigned long long)f->canary.requests,
				(unsigned long long)f->canary.errors, 100 * rate(&f->canary),
				p95(&f->canary));
	for (i = 0; i < f->nbase && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%sv%lld", i ? "+" : "; ",
					 (long long)f->base_numbers[i]);
	if (f->nbase && used < n)
		snprintf(buf + used, n - used, " %llu req %llu err (%.1f%%) p95 %.0fms",
			 (unsigned long long)f->base.requests, (unsigned long long)f->base.errors,
			 100 * rate(&f->base), p95(&f->base));
}

int mvms_rollout__deploy_step(mvms_deployment **out, mvms_store *st, const mvms_rollout_row *row,
			      size_t step, const char *endpoint, const char *reason)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	char spec[300];
	double others = 0, w;
	int p = step < row->r.step_count ? row->r.steps[step] : 100;
	size_t i;
	int error = 0;

	MVMS_TRY(mvms_deploy_get(&d, st, row->r.model, row->r.env));
	for (i = 0; i < d->target_count; i++)
		if (d->targets[i].number != row->r.version)
			others += d->targets[i].weight;
	/* Weights are relative: the canary's share p of the whole, the others' kept as they are. */
	w = p >= 100 || others == 0 ? 0 : round((double)p * others / (100.0 - p));
	o.weight = w == 0 ? 0 : w < 1 ? 1 : w > 1000000 ? 1000000 : (int)w;
	o.endpoint = endpoint;
	o.reason = reason;
	/* The step after a shadow phase is the driver's (outside_change knows it as its own). */
	o.author = step == 0 && !row->r.shadowing ? row->r.author : DRIVER;
	o.expected_revision = row->r.revision;
	snprintf(spec, sizeof(spec), "%s@v%lld", row->r.model, (long long)row->r.version);
	/* After a shadow phase the canary serves with the endpoint it was the shadow with. */
	if (!endpoint && d->shadow && d->shadow->number == row->r.version && *d->shadow->endpoint)
		o.endpoint = d->shadow->endpoint;
	/* The public operation, so that whatever guards a deploy guards each step too. */
	error = mvms_deploy(out, st, spec, row->r.env, &o);
done:
	mvms_deployment_free(d);
	return error;
}

int mvms_rollout__deploy_shadow(mvms_deployment **out, mvms_store *st,
				const mvms_rollout_row *row, const char *endpoint, const char *reason)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	char spec[300];

	o.shadow_percent = 100; /* the phase is judged on answers: every request that can be */
	o.endpoint = endpoint;
	o.reason = reason;
	o.author = row->r.author;
	o.expected_revision = row->r.revision;
	snprintf(spec, sizeof(spec), "%s@v%lld", row->r.model, (long long)row->r.version);
	return mvms_deploy(out, st, spec, row->r.env, &o);
}

static cJSON *side_json(const mvms_rollout_side *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "requests", (double)s->requests);
	cJSON_AddNumberToObject(o, "errors", (double)s->errors);
	cJSON_AddNumberToObject(o, "error_rate", rate(s));
	cJSON_AddNumberToObject(o, "p95_ms", p95(s));
	return o;
}

int mvms_rollout__event(mvms_store *st, const mvms_rollout_row *row, const char *event,
			const mvms_rollout_figures *f)
{
	cJSON *doc, *a;
	char *body = NULL, ver[32];
	size_t i;
	int error = 0;

	if (!row->r.notify || !*row->r.notify)
		return 0;
	doc = cJSON_CreateObject();
	snprintf(ver, sizeof(ver), "v%lld", (long long)row->r.version);
	cJSON_AddStringToObject(doc, "event", event);
	cJSON_AddNumberToObject(doc, "rollout", (double)row->r.id);
	cJSON_AddStringToObject(doc, "model", row->r.model);
	cJSON_AddStringToObject(doc, "env", row->r.env);
	cJSON_AddStringToObject(doc, "version", ver);
	cJSON_AddStringToObject(doc, "version_id", row->r.version_id);
	cJSON_AddStringToObject(doc, "state", row->r.state);
	cJSON_AddNumberToObject(doc, "step", (double)row->r.step + 1);
	a = cJSON_AddArrayToObject(doc, "steps");
	for (i = 0; i < row->r.step_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(row->r.steps[i]));
	cJSON_AddNumberToObject(doc, "revision", (double)row->r.revision);
	cJSON_AddStringToObject(doc, "reason", row->r.reason);
	if (f) {
		cJSON_AddItemToObject(doc, "canary", side_json(&f->canary));
		cJSON_AddItemToObject(doc, "baseline", side_json(&f->base));
	}
	cJSON_AddNumberToObject(doc, "at", (double)time(NULL));
	body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	MVMS_CHECK_ALLOC(body, error);
	error = mvms_rollout_events_add(st->db, row->r.id, row->r.notify, body,
					mvms_rollout__now_ms());
done:
	free(body);
	return error;
}

/* Why the step's window fails the guards ("" when it passes), into @why. */
static void verdict(char *why, size_t n, const mvms_rollout *r, const mvms_rollout_figures *f)
{
	double er = rate(&f->canary), lat = p95(&f->canary);
	unsigned long long req = (unsigned long long)f->canary.requests;

	why[0] = '\0';
	if (r->max_error_rate >= 0 && er > r->max_error_rate)
		snprintf(why, n, "error rate %.1f%% > %g%% over %llu requests", 100 * er,
			 100 * r->max_error_rate, req);
	else if (r->max_p95_ms > 0 && lat > r->max_p95_ms)
		snprintf(why, n, "p95 %.0fms > %gms over %llu requests", lat, r->max_p95_ms, req);
	else if (r->compare_baseline && f->base.requests > 0 && er > rate(&f->base) + 0.01)
		snprintf(why, n, "error rate %.1f%% > baseline %.1f%% + 1 point over %llu requests",
			 100 * er, 100 * rate(&f->base), req);
	else if (r->compare_baseline && f->base.requests > 0 && lat > 1.5 * p95(&f->base) &&
		 lat > p95(&f->base) + 10)
		snprintf(why, n, "p95 %.0fms > 1.5 x baseline %.0fms over %llu requests", lat,
			 p95(&f->base), req);
}

/* Writes @row's new @state/@reason (from "running"); a notification of @event. */
static int settle(mvms_store *st, mvms_rollout_row *row, const char *state, const char *reason,
		  const char *event, const mvms_rollout_figures *f)
{
	char *s = strdup(state), *r = strdup(reason);
	int rc;

	if (!s || !r) {
		free(s);
		free(r);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	free(row->r.state);
	free(row->r.reason);
	row->r.state = s;
	row->r.reason = r;
	row->r.updated_at = (int64_t)time(NULL);
	if ((rc = mvms_rollouts_update(st->db, row, "running")) <= 0)
		return rc; /* paused or aborted meanwhile: theirs is the last word */
	return mvms_rollout__event(st, row, event, f);
}

static int roll_back(mvms_store *st, mvms_rollout_row *row, const char *why,
		     const mvms_rollout_figures *f, const char *figures)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	char reason[1024];
	int error;

	if (row->r.shadowing)
		snprintf(reason, sizeof(reason), "rollout #%lld: auto-rollback in the shadow phase, "
			 "before serving any traffic: %s", (long long)row->r.id, why);
	else
		snprintf(reason, sizeof(reason), "rollout #%lld: auto-rollback at step %zu/%zu "
			 "(%d%%): %s%s%s", (long long)row->r.id, row->r.step + 1, row->r.step_count,
			 row->r.steps[row->r.step], why, figures ? "; " : "", figures ? figures : "");
	o.author = DRIVER;
	o.reason = reason;
	/* As a compare-and-swap: another server of the store may have judged the step first. */
	o.expected_revision = row->r.revision;
	if ((error = mvms_deploy_rollback(&d, st, row->r.model, row->r.env, row->r.base_revision,
					  &o)) < 0)
		return error == MVMS_ECONFLICT ? 0 : error; /* looked at again next tick */
	row->r.revision = d->revision;
	mvms_deployment_free(d);
	return settle(st, row, "rolled_back", reason, "rolled_back", f);
}

/* The environment is at another revision than the rollout wrote: one of its own (a crash or
 * another server between its deploy and its record) is taken over; any other stops it. */
static int outside_change(mvms_store *st, mvms_rollout_row *row)
{
	mvms_deployment *d = NULL;
	char mine[64], reason[512];
	int error = 0;

	MVMS_TRY(mvms_deploy_get(&d, st, row->r.model, row->r.env));
	snprintf(mine, sizeof(mine), "rollout #%lld: ", (long long)row->r.id);
	if (!strcmp(d->author, DRIVER) && !strncmp(d->reason, mine, strlen(mine))) {
		row->r.revision = d->revision;
		error = mvms_rollouts_update(st->db, row, "running");
		error = error < 0 ? error : 0;
		goto done;
	}
	snprintf(reason, sizeof(reason), "rollout #%lld: stopped at step %zu/%zu: revision %lld of "
		 "%s was made outside the rollout (by %s)", (long long)row->r.id, row->r.step + 1,
		 row->r.step_count, (long long)d->revision, row->r.env, d->author);
	error = settle(st, row, "superseded", reason, "superseded", NULL);
done:
	mvms_deployment_free(d);
	return error;
}

/* A rollout in its shadow phase: once the interval has passed and @fn (the server's shadow
 * counters) says the shadow compared enough answers, its first step if they pass, else a
 * rollback. 1 when it moved, 0 when not yet. */
static int judge_shadow(mvms_store *st, mvms_rollout_row *row, int64_t now_ms,
			mvms_rollout_shadow_fn fn, void *arg)
{
	mvms_rollout_figures totals;
	mvms_deployment *d = NULL;
	char why[256], more[256], reason[1024];
	double diff = row->r.max_diff_rate >= 0 ? row->r.max_diff_rate : 1;
	double err = row->r.max_error_rate >= 0 ? row->r.max_error_rate : 1;
	uint64_t need = (uint64_t)row->r.shadow_first;
	int error = 0;

	if (!fn || now_ms - row->r.step_started_ms < row->r.step_interval_ms)
		return 0;
	if (fn(arg, row->r.model, row->r.env, row->r.version, need, diff, err, why, sizeof(why))) {
		snprintf(reason, sizeof(reason), "rollout #%lld: step 1/%zu (%d%%): shadow phase "
			 "passed: %s", (long long)row->r.id, row->r.step_count, row->r.steps[0], why);
		if ((error = mvms_rollout__deploy_step(&d, st, row, 0, NULL, reason)) < 0) {
			if (error == MVMS_ECONFLICT)
				return 0;
			snprintf(why, sizeof(why), "step refused: %.200s", mvms_error_last());
			MVMS_TRY(roll_back(st, row, why, NULL, NULL));
			return 1;
		}
		row->r.revision = d->revision;
		mvms_deployment_free(d);
		row->r.shadowing = 0;
		row->r.step = 0;
		row->r.step_started_ms = now_ms;
		MVMS_TRY(mvms_rollout__totals(&totals, st, row));
		MVMS_TRY(mvms_rollout__set_mark(row, &totals));
		MVMS_TRY(settle(st, row, "running", reason, "step", NULL));
		return 1;
	}
	/* Not clean: with no limits either, it only lacks compared answers; wait for them. */
	if (!fn(arg, row->r.model, row->r.env, row->r.version, need, 1, 1, more, sizeof(more)))
		return 0;
	MVMS_TRY(roll_back(st, row, why, NULL, NULL));
	return 1;
done:
	return error;
}

/* Takes the next step of @row if its time has come: 1 when it moved, 0 when not yet. */
static int judge(mvms_store *st, mvms_rollout_row *row, int64_t now_ms,
		 mvms_rollout_shadow_fn fn, void *arg)
{
	mvms_rollout_figures f, totals;
	mvms_deployment *d = NULL;
	char why[256], figures[512], reason[1024];
	int64_t cur;
	int error = 0, last = row->r.step + 1 >= row->r.step_count;

	MVMS_TRY(mvms_deploy_revision(&cur, st, row->r.model, row->r.env));
	if (cur != row->r.revision) {
		MVMS_TRY(outside_change(st, row));
		return 1;
	}
	if (row->r.shadowing)
		return judge_shadow(st, row, now_ms, fn, arg);
	if (now_ms - row->r.step_started_ms < row->r.step_interval_ms)
		return 0;
	MVMS_TRY(mvms_rollout__totals(&totals, st, row));
	f = totals;
	mvms_rollout__window(&f, row);
	if ((int64_t)f.canary.requests < row->r.min_requests || f.canary.requests == 0)
		return 0;
	mvms_rollout__describe(figures, sizeof(figures), row, &f);
	verdict(why, sizeof(why), &row->r, &f);
	if (*why) {
		MVMS_TRY(roll_back(st, row, why, &f, figures));
		return 1;
	}
	if (last)
		snprintf(reason, sizeof(reason), "rollout #%lld: promoted after step %zu/%zu (%d%%) "
			 "passed: %s", (long long)row->r.id, row->r.step + 1, row->r.step_count,
			 row->r.steps[row->r.step], figures);
	else
		snprintf(reason, sizeof(reason), "rollout #%lld: step %zu/%zu (%d%%): step %zu passed: "
			 "%s", (long long)row->r.id, row->r.step + 2, row->r.step_count,
			 row->r.steps[row->r.step + 1], row->r.step + 1, figures);
	if ((error = mvms_rollout__deploy_step(&d, st, row, last ? row->r.step_count : row->r.step + 1,
					       NULL, reason)) < 0) {
		if (error == MVMS_ECONFLICT)
			return 0; /* changed meanwhile: looked at again next time */
		/* The step was refused (a policy, a deleted version): back to where it was. */
		snprintf(why, sizeof(why), "step refused: %.200s", mvms_error_last());
		MVMS_TRY(roll_back(st, row, why, &f, figures));
		return 1;
	}
	row->r.revision = d->revision;
	mvms_deployment_free(d);
	if (last)
		return (error = settle(st, row, "succeeded", reason, "succeeded", &f)) < 0 ? error : 1;
	row->r.step++;
	row->r.step_started_ms = now_ms;
	MVMS_TRY(mvms_rollout__set_mark(row, &totals));
	MVMS_TRY(settle(st, row, "running", reason, "step", &f));
	return 1;
done:
	return error;
}

int mvms_rollout_drive(mvms_store *st, int64_t now_ms, int *changed)
{
	return mvms_rollout_drive_shadow(st, now_ms, NULL, NULL, changed);
}

int mvms_rollout_drive_shadow(mvms_store *st, int64_t now_ms, mvms_rollout_shadow_fn fn,
			      void *arg, int *changed)
{
	mvms_rollout_row row;
	int64_t *ids = NULL;
	size_t n = 0, i;
	int error = 0, rc;

	MVMS_LOCAL_ONLY(st, "rollout_drive");
	if (changed)
		*changed = 0;
	MVMS_TRY(mvms_rollouts_ids(&ids, &n, st->db, "running"));
	for (i = 0; i < n; i++) {
		if ((rc = mvms_rollouts_read(&row, st->db, ids[i], 0, NULL)) < 0) {
			error = rc;
			continue;
		}
		if (rc > 0 && !strcmp(row.r.state, "running")) {
			if ((rc = judge(st, &row, now_ms, fn, arg)) < 0)
				error = rc; /* said in the error message; the others go on */
			else if (changed)
				*changed += rc;
		}
		mvms_rollout_row_clear(&row);
	}
done:
	free(ids);
	return error;
}

static size_t discard(void *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One POST of @body to @url: 0 on a 2xx answer. */
static int post(const char *url, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	long code = 0;
	CURLcode rc;

	if (!c)
		return -1;
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && code >= 200 && code < 300 ? 0 : -1;
}

int mvms_rollout_notify(mvms_store *st, int64_t now_ms, size_t max, int *sent)
{
	mvms_rollout_event_row *ev = NULL;
	size_t n = 0, i;
	int error = 0, tries;

	MVMS_LOCAL_ONLY(st, "rollout_notify");
	if (sent)
		*sent = 0;
	MVMS_TRY(mvms_rollout_events_due(&ev, &n, st->db, now_ms, max));
	for (i = 0; i < n; i++) {
		tries = ev[i].attempts + 1;
		if (post(ev[i].url, ev[i].body) == 0) {
			MVMS_TRY(mvms_rollout_events_set(st->db, ev[i].id, "sent", tries, now_ms));
			if (sent)
				(*sent)++;
		} else {
			MVMS_TRY(mvms_rollout_events_set(st->db, ev[i].id,
							 tries >= NOTIFY_ATTEMPTS ? "failed" : "pending",
							 tries, mvms_rollout__now_ms() +
							 ((int64_t)NOTIFY_BACKOFF_MS << (tries - 1))));
		}
	}
done:
	mvms_rollout_events_free(ev, n);
	return error;
}
