/* SPDX-License-Identifier: MIT */
/*
 * A fixed pool of worker threads: parallel loops (hashing and compressing the chunks of a
 * push, decoding and verifying them on pull), either run to the end by the caller
 * (mvms_pool_run, fork-join) or queued and left running while the caller goes on
 * (mvms_pool_submit / mvms_pool_wait), which is what lets push read and pack the next
 * batch while the workers hash and compress this one. The calling thread helps whenever
 * it waits, so a pool of 1 runs everything inline.
 */
#ifndef MVMS_POOL_H
#define MVMS_POOL_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct mvms_pool mvms_pool;

/* fn is called once for each i in [0, n); worker is in [0, mvms_pool_size()). */
typedef void (*mvms_pool_fn)(size_t i, unsigned worker, void *ctx);

/* A queued loop: the caller owns it and keeps it alive until mvms_pool_wait returned. */
typedef struct mvms_pool_job {
	mvms_pool_fn fn;
	void *ctx;
	size_t n;
	size_t next;               /* next index to hand out (under the pool's lock) */
	atomic_size_t done;        /* calls that returned */
	struct mvms_pool_job *qnext;
} mvms_pool_job;

/** @nthreads: total threads including the caller (at most 32); 0 = online CPUs (at most
 * 8), or $MVMS_THREADS when set. */
int mvms_pool_new(mvms_pool **out, unsigned nthreads);
unsigned mvms_pool_size(const mvms_pool *p);
/** The size of a pool whose caller mostly does other work (reads, writes, packs) while
 * the workers compute: one worker per online CPU besides the caller, or $MVMS_THREADS
 * (1: everything inline). */
unsigned mvms_pool_threads_async(void);
/** Runs fn over [0, n) and returns when every call has returned. */
void mvms_pool_run(mvms_pool *p, size_t n, mvms_pool_fn fn, void *ctx);
/** Queues @job (fn over [0, n), after the jobs queued before it) and returns at once. */
void mvms_pool_submit(mvms_pool *p, mvms_pool_job *job, size_t n, mvms_pool_fn fn, void *ctx);
/** 1 when every call of @job has returned. */
int mvms_pool_job_done(mvms_pool_job *job);
/** Returns when every call of @job has returned, running queued calls (of any job, in
 * queue order) in the caller meanwhile, as worker 0. Only one thread may submit to and
 * wait on a pool. */
void mvms_pool_wait(mvms_pool *p, mvms_pool_job *job);
void mvms_pool_free(mvms_pool *p);

#endif
