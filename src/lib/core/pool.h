/* SPDX-License-Identifier: MIT */
/*
 * A fixed pool of worker threads that runs one parallel loop at a time: hashing and
 * compressing the chunks of a batch on push, decoding and verifying them on pull. The
 * calling thread takes part, so a pool of 1 runs everything inline.
 */
#ifndef MVMS_POOL_H
#define MVMS_POOL_H

#include <stddef.h>

typedef struct mvms_pool mvms_pool;

/* fn is called once for each i in [0, n); worker is in [0, mvms_pool_size()). */
typedef void (*mvms_pool_fn)(size_t i, unsigned worker, void *ctx);

/** @nthreads: total threads including the caller; 0 = online CPUs (at most 8), or
 * $MVMS_THREADS when set. */
int mvms_pool_new(mvms_pool **out, unsigned nthreads);
unsigned mvms_pool_size(const mvms_pool *p);
/** Runs fn over [0, n) and returns when every call has returned. */
void mvms_pool_run(mvms_pool *p, size_t n, mvms_pool_fn fn, void *ctx);
void mvms_pool_free(mvms_pool *p);

#endif
