/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts: a canary version is given a growing share of an environment's
 * traffic in steps ("5,25,50,100"), and at each step, once the interval has passed and
 * enough requests were seen, it moves on or is rolled back automatically by guards on its
 * error rate and p95 latency (absolute, and optionally against the versions it replaces).
 * Every step is a deployment revision (mvms_deploy / mvms_deploy_rollback), so deploy-log
 * shows it with the figures that decided it.
 *
 * The state lives in the store. A server that serves the store drives it (mvms_rollout_drive
 * on a timer), so a rollout recorded by a local CLI moves once a server runs on that store,
 * and survives that server's restart. The per-version counters the guards read are kept in
 * the store too (mvms_counters_add / mvms_counters_list), and notifications (--notify) are
 * kept as an outbox the server delivers (mvms_rollout_notify).
 */
#ifndef MVMS_ROLLOUT_H
#define MVMS_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Latency histogram bounds (seconds) of the per-version counters; one more bucket, +Inf. */
#define MVMS_LATENCY_BUCKETS 13
const double *mvms_latency_bounds(void);

/* The counters of one version of one environment (or an amount to add to them). */
typedef struct mvms_counters {
	char *model, *env;
	int64_t number;
	uint64_t requests, errors;
	uint64_t buckets[MVMS_LATENCY_BUCKETS + 1];
	double latency_sum, upstream_sum;
} mvms_counters;

/** The @q quantile (0..1) of a histogram in milliseconds, linear within the bucket that holds
 * it as Prometheus' histogram_quantile does (the +Inf bucket answers its lower bound). */
double mvms_counters_quantile_ms(const uint64_t *buckets, uint64_t requests, double q);

/** Adds @n amounts to the stored counters, in one transaction (local stores only). */
int mvms_counters_add(mvms_store *st, const mvms_counters *add, size_t n);
/** Every stored counter (local stores only). Free with mvms_counters_list_free. */
int mvms_counters_list(mvms_counters **out, size_t *count, mvms_store *st);
void mvms_counters_list_free(mvms_counters *list, size_t count);

#define MVMS_ROLLOUT_MAX_STEPS 20

#define MVMS_ROLLOUT_OPTIONS_VERSION 1
typedef struct mvms_rollout_options {
	unsigned int version;
	int steps[MVMS_ROLLOUT_MAX_STEPS]; /* canary share in percent, rising, 1 to 100 */
	size_t step_count;
	int64_t step_interval_ms;  /* at least this long at each step (>= 100) */
	double max_error_rate;     /* 0..1; < 0: no guard */
	double max_p95_ms;         /* > 0; < 0: no guard */
	int64_t min_requests;      /* canary requests needed at a step before it is judged */
	int compare_baseline;      /* also judge against the versions it replaces */
	const char *endpoint;      /* the canary's inference server (NULL: the recorded one) */
	const char *notify;        /* http(s) URL that gets a JSON event per change, or NULL */
	const char *reason, *author;
	/* A shadow phase first (0: none): the canary is the environment's shadow (100% of
	 * requests copied, none served) until at least shadow_first answers were compared with
	 * at most max_diff_rate of them differing (< 0: no limit) and at most max_error_rate of
	 * its copies failing; then the first step, else a rollback. */
	int64_t shadow_first;
	double max_diff_rate;
} mvms_rollout_options;
#define MVMS_ROLLOUT_OPTIONS_INIT                                                              \
	{ MVMS_ROLLOUT_OPTIONS_VERSION, { 0 }, 0, 300000, -1, -1, 100, 0, NULL, NULL, NULL, NULL, \
	  0, -1 }

typedef struct mvms_rollout {
	int64_t id;
	char *model, *env;
	int64_t version;           /* the canary's number */
	char version_id[MVMS_VERSION_ID_HEXSZ + 1];
	char *state;               /* running, paused, succeeded, rolled_back, aborted, superseded */
	int steps[MVMS_ROLLOUT_MAX_STEPS];
	size_t step_count, step;   /* step: index of the share in force */
	int64_t step_interval_ms;
	double max_error_rate, max_p95_ms;
	int64_t min_requests;
	int compare_baseline;
	char *notify;
	int64_t base_revision, revision, step_started_ms;
	char *reason, *author;     /* reason: what the rollout did last, and why */
	int64_t created_at, updated_at;
	int64_t shadow_first;      /* answers the shadow phase needs (0: no shadow phase) */
	double max_diff_rate;      /* < 0: no limit */
	int shadowing;             /* 1 while in the shadow phase (serving nothing yet) */
} mvms_rollout;

void mvms_rollout_free(mvms_rollout *r);

/**
 * Starts a rollout of @spec in @env: records it and deploys the first step (the canary at
 * steps[0] percent next to the versions that serve @env now). MVMS_EINVALID for bad options
 * or an environment with nothing else deployed, MVMS_ECONFLICT when a rollout of @env is
 * running or paused, MVMS_ENOTFOUND for an unknown version.
 */
int mvms_rollout_start(mvms_rollout **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_rollout_options *opts);

/** The newest rollout of @env; MVMS_ENOTFOUND when it never had one. */
int mvms_rollout_get(mvms_rollout **out, mvms_store *st, const char *model, const char *env);

enum mvms_rollout_action { MVMS_ROLLOUT_PAUSE = 1, MVMS_ROLLOUT_RESUME, MVMS_ROLLOUT_ABORT };

/**
 * Pauses, resumes or aborts (rolls back now, to the revision before the rollout) the
 * rollout of @env. MVMS_ENOTFOUND when there is none; MVMS_ECONFLICT when its state does not
 * allow it (pausing a paused or finished one, ...).
 */
int mvms_rollout_control(mvms_rollout **out, mvms_store *st, const char *model, const char *env,
			 int action, const char *author, const char *reason);

/**
 * One pass of the driver over the running rollouts of a local store at @now_ms (Unix time in
 * ms): each that has waited its interval and seen enough requests advances, succeeds or is
 * rolled back. *changed (may be NULL) is the number it moved. Errors of one rollout are
 * recorded in its reason and do not stop the others.
 */
int mvms_rollout_drive(mvms_store *st, int64_t now_ms, int *changed);

/**
 * Whether the shadow figures of version @number in @env pass: 1 when at least @min_compared
 * answers were compared and the difference and error rates are within the limits, else 0;
 * @why says the figures. Only a server has them (its shadow counters), so it passes this.
 */
typedef int (*mvms_rollout_shadow_fn)(void *arg, const char *model, const char *env,
				      int64_t number, uint64_t min_compared, double max_diff_rate,
				      double max_error_rate, char *why, size_t why_len);
/**
 * mvms_rollout_drive, and rollouts in their shadow phase judged with @fn: those that passed
 * move to their first step, those whose shadow failed are rolled back. With @fn NULL (as
 * mvms_rollout_drive) rollouts in their shadow phase wait.
 */
int mvms_rollout_drive_shadow(mvms_store *st, int64_t now_ms, mvms_rollout_shadow_fn fn,
			      void *arg, int *changed);

/**
 * Posts the due notifications (at most @max), each with a short timeout; one that fails is
 * tried again later with back-off (0.25 s doubling, 8 attempts), then given up. Blocking:
 * call it from a thread of its own (the server's driver thread), never from a request.
 */
int mvms_rollout_notify(mvms_store *st, int64_t now_ms, size_t max, int *sent);

#ifdef __cplusplus
}
#endif
#endif
