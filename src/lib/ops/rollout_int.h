/* SPDX-License-Identifier: MIT */
/*
 * What rollout.c (start, look, pause/resume/abort) and rollout_drive.c (the driver and the
 * notifications) share: the figures of a step, its deploy, its notification.
 */
#ifndef MVMS_OPS_ROLLOUT_INT_H
#define MVMS_OPS_ROLLOUT_INT_H

#include "store_int.h"
#include "mvms/deploy.h"
#include "mvms/rollout.h"
#include "rollouts.h"

/* Counters of one side of a comparison: the canary, or the versions it replaces together. */
typedef struct mvms_rollout_side {
	uint64_t requests, errors;
	uint64_t buckets[MVMS_LATENCY_BUCKETS + 1];
} mvms_rollout_side;

/* What a step was judged on: the window since the step began. */
typedef struct mvms_rollout_figures {
	mvms_rollout_side canary, base;
	int64_t base_numbers[16];
	size_t nbase;
} mvms_rollout_figures;

int64_t mvms_rollout__now_ms(void);
/* The stored totals now (canary, baseline), for a mark or a window. */
int mvms_rollout__totals(mvms_rollout_figures *out, mvms_store *st, const mvms_rollout_row *row);
/* row->mark := the totals of @f (a new step starts from here). */
int mvms_rollout__set_mark(mvms_rollout_row *row, const mvms_rollout_figures *f);
/* @f minus the step's mark: the step's window. */
void mvms_rollout__window(mvms_rollout_figures *f, const mvms_rollout_row *row);
/* "v2: 412 requests, 29 errors (7.0%), p95 48 ms; v1: ..." into @buf. */
void mvms_rollout__describe(char *buf, size_t n, const mvms_rollout_row *row,
			    const mvms_rollout_figures *f);
/* Deploys step @step of @row (the canary's share next to the others) as a new revision. */
int mvms_rollout__deploy_step(mvms_deployment **out, mvms_store *st, const mvms_rollout_row *row,
			      size_t step, const char *endpoint, const char *reason);
/* The shadow phase's deploy: the canary as the environment's shadow (100% copied). */
int mvms_rollout__deploy_shadow(mvms_deployment **out, mvms_store *st,
				const mvms_rollout_row *row, const char *endpoint, const char *reason);
/* Queues a notification of @event for @row (nothing when it has no --notify URL). */
int mvms_rollout__event(mvms_store *st, const mvms_rollout_row *row, const char *event,
			const mvms_rollout_figures *f);

#endif
