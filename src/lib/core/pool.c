/* SPDX-License-Identifier: MIT */
/*
 * A small thread pool over a FIFO of parallel loops: workers sleep on a condition variable,
 * take the next index of the oldest unfinished loop, and the thread that submitted a loop
 * helps (as worker 0) while it waits for it. Whole loops queue, not single calls, so a push
 * hands over a batch of chunks with one lock round trip.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"
#include "pool.h"

struct mvms_pool {
	unsigned size;          /* threads including the caller */
	pthread_t *threads;
	pthread_mutex_t lock;
	pthread_cond_t wake;    /* work queued, or stop */
	pthread_cond_t idle;    /* a loop finished */
	mvms_pool_job *head, *tail; /* loops with indices left to hand out */
	int stop;
};

struct worker_arg {
	mvms_pool *p;
	unsigned index;
};

/* Under the lock: the next call to make, or NULL when no queued loop has one left. */
static mvms_pool_job *take(mvms_pool *p, size_t *i)
{
	mvms_pool_job *j = p->head;

	if (!j)
		return NULL;
	*i = j->next++;
	if (j->next == j->n) {
		p->head = j->qnext;
		if (!p->head)
			p->tail = NULL;
	}
	return j;
}

/* Runs call @i of @j outside the lock; wakes the waiter when it was the loop's last. */
static void call(mvms_pool *p, mvms_pool_job *j, size_t i, unsigned worker)
{
	j->fn(i, worker, j->ctx);
	if (atomic_fetch_add(&j->done, 1) + 1 == j->n) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->lock);
	}
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	mvms_pool *p = wa->p;
	unsigned index = wa->index;
	mvms_pool_job *j;
	size_t i;

	free(wa);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!(j = take(p, &i)))
			break; /* stop, and nothing left */
		pthread_mutex_unlock(&p->lock);
		call(p, j, i, index);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mvms_pool_new(mvms_pool **out, unsigned nthreads)
{
	mvms_pool *p = NULL;
	const char *env = getenv("MVMS_THREADS");
	int error = 0;
	unsigned i;

	*out = NULL;
	if (nthreads == 0 && env && atoi(env) > 0)
		nthreads = (unsigned)atoi(env);
	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = n > 0 ? (unsigned)n : 1;
		if (nthreads > 8)
			nthreads = 8;
	}
	if (nthreads > 32)
		nthreads = 32; /* asked for: I/O waits (durable small writes, uploads) */
	p = calloc(1, sizeof(*p));
	MVMS_CHECK_ALLOC(p, error);
	p->size = 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->threads = calloc(nthreads, sizeof(pthread_t));
	MVMS_CHECK_ALLOC(p->threads, error);
	for (i = 1; i < nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		MVMS_CHECK_ALLOC(wa, error);
		wa->p = p;
		wa->index = i;
		if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
			free(wa);
			break; /* fewer threads is slower, not wrong */
		}
		p->size++;
	}
	*out = p;
	p = NULL;
done:
	mvms_pool_free(p);
	return error;
}

unsigned mvms_pool_size(const mvms_pool *p)
{
	return p->size;
}

unsigned mvms_pool_threads_async(void)
{
	const char *env = getenv("MVMS_THREADS");
	long n;

	if (env && atoi(env) > 0)
		return (unsigned)atoi(env); /* as mvms_pool_new: 1 runs everything inline */
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > 8)
		n = 8;
	return n > 0 ? (unsigned)n + 1 : 2;
}

void mvms_pool_submit(mvms_pool *p, mvms_pool_job *job, size_t n, mvms_pool_fn fn, void *ctx)
{
	job->fn = fn;
	job->ctx = ctx;
	job->n = n;
	job->next = 0;
	job->qnext = NULL;
	atomic_store(&job->done, 0);
	if (n == 0)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->qnext = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

int mvms_pool_job_done(mvms_pool_job *job)
{
	return atomic_load(&job->done) == job->n;
}

void mvms_pool_wait(mvms_pool *p, mvms_pool_job *job)
{
	mvms_pool_job *j;
	size_t i;

	pthread_mutex_lock(&p->lock);
	while (atomic_load(&job->done) != job->n) {
		if ((j = take(p, &i))) {
			pthread_mutex_unlock(&p->lock);
			call(p, j, i, 0);
			pthread_mutex_lock(&p->lock);
		} else {
			pthread_cond_wait(&p->idle, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void mvms_pool_run(mvms_pool *p, size_t n, mvms_pool_fn fn, void *ctx)
{
	mvms_pool_job job;

	if (n == 0)
		return;
	if (p->size == 1 || n == 1) {
		size_t i;
		for (i = 0; i < n; i++)
			fn(i, 0, ctx);
		return;
	}
	mvms_pool_submit(p, &job, n, fn, ctx);
	mvms_pool_wait(p, &job);
}

void mvms_pool_free(mvms_pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (i = 1; i < p->size; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->idle);
	free(p->threads);
	free(p);
}
