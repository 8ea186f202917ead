/* SPDX-License-Identifier: MIT */
/*
 * Per-version /predict counters and latency histograms (vstats.c): what `status`, /metrics
 * and the rollout driver read. One table per server process, behind one lock.
 */
#ifndef MVMS_SRV_VSTATS_H
#define MVMS_SRV_VSTATS_H

#include <stdint.h>
#include <event2/buffer.h>

#define NB 13                  /* latency bucket bounds (vstats.c) */

typedef struct vstat {
	char model[129], env[101];
	int64_t number;
	uint64_t requests, errors;
	uint64_t buckets[NB + 1];      /* latency, last is +Inf */
	double latency_sum, upstream_sum;
} vstat;

/* Counts one answered /predict request of version @number of @env of @model. */
void srv_vstats_record(const char *model, const char *env, int64_t number, int ok, double secs,
		       double upstream);
/* A copy of the counters of a version (all zero when it has none). */
void srv_vstats_get(vstat *out, const char *model, const char *env, int64_t number);
/* A quantile from the histogram: the upper bound of the bucket that holds it. */
double srv_vstats_quantile(const vstat *v, double q);

#endif
