/* SPDX-License-Identifier: MIT */
/*
 * The uploader thread pool of a push. Over the network a pack's commit is an upload that
 * takes seconds, on a local disk an fsync that waits for the pack's bytes to reach the
 * disk: background threads finish (upload, or write back) full packs,
 * UP_THREADS at once and at most UP_INFLIGHT queued or uploading, while the push thread
 * keeps chunking. The thread that finished a pack then indexes it in the database (the
 * callback, one at a time), so a pack is never indexed before it is durable, and the push
 * thread does not stop reading for the index's fsyncs (they were its longest stalls, with
 * every worker waiting for new slots). One PUT at a time left the link idle between packs;
 * memory stays a few packs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"
#include "uploader.h"

#define UP_THREADS 2
#define UP_INFLIGHT 3

typedef struct up_item {
	struct up_item *next;
	mvms_pack_writer *w;
	int error;
	char msg[512];
	mvms_oid pid;
	uint64_t size;
	const mvms_pack_entry *entries;
	size_t count;
	mvms_uploader_done_cb done;
	void *arg;
} up_item;

struct mvms_uploader {
	pthread_t thread[UP_THREADS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_mutex_t done_lock; /* one callback at a time */
	pthread_cond_t cond;
	up_item *todo, *todo_tail, *done;
	size_t inflight;         /* queued or uploading */
	int closing;
};

static void *uploader_main(void *arg)
{
	mvms_uploader *u = arg;
	up_item *it;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (!u->todo && !u->closing)
			pthread_cond_wait(&u->cond, &u->lock);
		if (!(it = u->todo))
			break;
		u->todo = it->next;
		if (!u->todo)
			u->todo_tail = NULL;
		pthread_mutex_unlock(&u->lock);
		it->error = mvms_pack_writer_finish(&it->pid, &it->size, &it->entries, &it->count, it->w);
		/* Every pack that made it is indexed, even after another failed: a re-run of the
		 * push must find it instead of uploading it again. */
		if (it->error == 0) {
			pthread_mutex_lock(&u->done_lock);
			it->error = it->done(it->arg, &it->pid, it->size, it->entries, it->count);
			pthread_mutex_unlock(&u->done_lock);
		}
		if (it->error < 0)
			snprintf(it->msg, sizeof(it->msg), "%s", mvms_error_last());
		pthread_mutex_lock(&u->lock);
		it->next = u->done;
		u->done = it;
		u->inflight--;
		pthread_cond_broadcast(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int mvms_uploader_start(mvms_uploader **out)
{
	mvms_uploader *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->done_lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	for (; u->nthreads < UP_THREADS; u->nthreads++)
		if (pthread_create(&u->thread[u->nthreads], NULL, uploader_main, u) != 0)
			break;
	if (u->nthreads == 0) {
		pthread_mutex_destroy(&u->lock);
		pthread_mutex_destroy(&u->done_lock);
		pthread_cond_destroy(&u->cond);
		free(u);
		return mvms_error_set(MVMS_ERROR, "push: cannot start the upload thread");
	}
	*out = u;
	return 0;
}

int mvms_uploader_harvest(mvms_uploader *u, int all)
{
	up_item *list, *it;
	char msg[sizeof(list->msg)];
	int error = 0;

	msg[0] = '\0';
	pthread_mutex_lock(&u->lock);
	while (all && u->inflight > 0)
		pthread_cond_wait(&u->cond, &u->lock);
	list = u->done;
	u->done = NULL;
	pthread_mutex_unlock(&u->lock);
	while ((it = list)) {
		list = it->next;
		if (it->error < 0 && error == 0) {
			/* The first failure is the one reported. */
			error = it->error;
			snprintf(msg, sizeof(msg), "%s", it->msg);
		}
		mvms_pack_writer_free(it->w);
		free(it);
	}
	return error < 0 ? mvms_error_set(error, "%s", msg) : 0;
}

void mvms_uploader_wait(mvms_uploader *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	while (u->inflight > 0)
		pthread_cond_wait(&u->cond, &u->lock);
	pthread_mutex_unlock(&u->lock);
}

int mvms_uploader_add(mvms_uploader *u, mvms_pack_writer *w, mvms_uploader_done_cb done,
		      void *arg)
{
	up_item *it = calloc(1, sizeof(*it));

	if (!it) {
		mvms_pack_writer_free(w);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	it->w = w;
	it->done = done;
	it->arg = arg;
	pthread_mutex_lock(&u->lock);
	/* Bounded: memory is a few packs, whatever the size of the push. */
	while (u->inflight >= UP_INFLIGHT)
		pthread_cond_wait(&u->cond, &u->lock);
	if (u->todo_tail)
		u->todo_tail->next = it;
	else
		u->todo = it;
	u->todo_tail = it;
	u->inflight++;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return mvms_uploader_harvest(u, 0);
}

void mvms_uploader_stop(mvms_uploader *u)
{
	up_item *it, *next;
	unsigned i;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->closing = 1;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	for (i = 0; i < u->nthreads; i++)
		pthread_join(u->thread[i], NULL);
	for (it = u->done; it; it = next) {
		next = it->next;
		mvms_pack_writer_free(it->w);
		free(it);
	}
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->done_lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

