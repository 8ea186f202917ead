/* SPDX-License-Identifier: MIT */
/*
 * A tiny fork-join thread pool: workers sleep on a condition variable, wake for each
 * parallel loop, take indices from an atomic counter, and the caller waits until all are
 * back. No queue, no futures: the hot paths need nothing more.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"
#include "pool.h"

struct mvms_pool {
	unsigned size;          /* threads including the caller */
	pthread_t *threads;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	unsigned long generation;
	unsigned busy;          /* workers still in the current loop */
	int stop;
	mvms_pool_fn fn;
	void *ctx;
	size_t n;
	atomic_size_t next;
};

struct worker_arg {
	mvms_pool *p;
	unsigned index;
};

static void drain(mvms_pool *p, unsigned worker)
{
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(i, worker, p->ctx);
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	mvms_pool *p = wa->p;
	unsigned index = wa->index;
	unsigned long seen = 0;

	free(wa);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->generation == seen)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		seen = p->generation;
		pthread_mutex_unlock(&p->lock);
		drain(p, index);
		pthread_mutex_lock(&p->lock);
		if (--p->busy == 0)
			pthread_cond_signal(&p->idle);
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
	}
	if (nthreads > 8)
		nthreads = 8;
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

void mvms_pool_run(mvms_pool *p, size_t n, mvms_pool_fn fn, void *ctx)
{
	if (n == 0)
		return;
	if (p->size == 1 || n == 1) {
		size_t i;
		for (i = 0; i < n; i++)
			fn(i, 0, ctx);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->size - 1;
	p->generation++;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	drain(p, 0);
	pthread_mutex_lock(&p->lock);
	while (p->busy > 0)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
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
