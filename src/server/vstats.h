/* SPDX-License-Identifier: MIT */
/*
 * Per-version /predict counters and latency histograms (vstats.c): what `status`, /metrics
 * and the rollout driver read. One table per server process, behind one lock.
 */
#ifndef MVMS_SRV_VSTATS_H
#define MVMS_SRV_VSTATS_H

#include <math.h>
#include <stdint.h>
#include <event2/buffer.h>
#include "mvms.h"

#define NB MVMS_LATENCY_BUCKETS /* latency bucket bounds (mvms_latency_bounds) */

typedef struct vstat {
	char model[129], env[101];
	int64_t number;
	uint64_t requests, errors;
	uint64_t buckets[NB + 1];      /* latency, last is +Inf */
	double latency_sum, upstream_sum;
	struct {                       /* what the store has of them (driver.c) */
		uint64_t requests, errors, buckets[NB + 1];
		double latency_sum, upstream_sum;
	} saved;
} vstat;

/* Counts one answered /predict request of version @number of @env of @model. */
void srv_vstats_record(const char *model, const char *env, int64_t number, int ok, double secs,
		       double upstream);
/* A copy of the counters of a version (all zero when it has none). */
void srv_vstats_get(vstat *out, const char *model, const char *env, int64_t number);
/* A quantile from the histogram: the upper bound of the bucket that holds it. */
double srv_vstats_quantile(const vstat *v, double q);
/* The same over any histogram of mvms_latency_bounds() buckets (NB + 1, the last +Inf):
 * the shadow counters (shadow.c) use it too. */
static inline double srv_hist_quantile(const uint64_t *buckets, uint64_t requests, double q)
{
	const double *bd = mvms_latency_bounds();
	uint64_t want = (uint64_t)ceil(q * (double)requests), seen = 0;
	size_t b;

	if (!requests)
		return 0;
	for (b = 0; b <= NB; b++) {
		seen += buckets[b];
		if (seen >= want)
			return b < NB ? bd[b] : bd[NB - 1] * 2;
	}
	return 0;
}

/* Sets the counters (and what the store has) to the stored ones, at start-up. */
void srv_vstats_seed(const mvms_counters *list, size_t n);
/* What was counted since the last call (*out: mvms_counters_list_free), marked as stored;
 * srv_vstats_unsave gives it back when storing it failed. */
int srv_vstats_unsaved(mvms_counters **out, size_t *n);
void srv_vstats_unsave(const mvms_counters *list, size_t n);

#endif
