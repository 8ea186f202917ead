/* SPDX-License-Identifier: MIT */
/*
 * The chunk sink: a remote pull's cache writer. Chunks (blocks of records in pack form)
 * go through a bounded queue to a worker thread that stores those the cache lacks in packs,
 * so writing the cache overlaps the download. Also mvms_sync__repeats, which finds the
 * chunks a batch holds twice.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "mvms/sync.h"
#include "codec.h"
#include "packs.h"
#include "pack.h"

/* Chunks go to a worker thread through a bounded queue, so writing the cache (packs,
 * fsync, index) overlaps the download instead of adding to it. They travel as blocks of
 * records in pack form (a remote pull hands over the records as they arrived), so a block
 * the cache lacks entirely is one write, with no copy. The worker is the only user of the
 * store's database while the sink lives. */
#define SINK_QUEUE_MAX (64u * 1024 * 1024)
#define SINK_WAKE (2u * 1024 * 1024)

typedef struct sink_item {
	struct sink_item *next;
	unsigned char *data;       /* records back to back: 41-byte header, stored bytes */
	size_t len, n;             /* bytes, records */
} sink_item;

static void sink_item_free(sink_item *it)
{
	if (it) {
		free(it->data);
		free(it);
	}
}

struct mvms_chunk_sink {
	mvms_store *st;
	mvms_pack_writer *w;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	sink_item *head, *tail;
	size_t queued;             /* bytes queued or being stored */
	int waiting;               /* the producer waits for room */
	int closing;
	int error;                 /* the worker's first error */
	char msg[512];
};

static int sink_flush(mvms_chunk_sink *s)
{
	mvms_pack_writer *w = s->w;

	if (!w)
		return 0;
	s->w = NULL;
	return mvms_packs__commit(NULL, s->st, w);
}

/* Stores the records of @it the cache lacks (@missing, one flag each), kept as they arrived
 * (compressed by the server, or raw): compressing here would hold up the download. */
static int sink_store(mvms_chunk_sink *s, const sink_item *it, const unsigned char *missing)
{
	size_t i, off, all = 1;
	int error = 0;

	for (i = 0; i < it->n; i++)
		all &= missing[i] != 0;
	if (!s->w)
		MVMS_TRY(mvms_pack_writer_new(&s->w, s->st->be));
	if (all) {
		MVMS_TRY(mvms_pack_writer_add_records(s->w, it->data, it->len));
	} else {
		for (i = 0, off = 0; i < it->n; i++) {
			mvms_pack_record r;
			mvms_pack_record_get(&r, it->data + off);
			if (missing[i])
				MVMS_TRY(mvms_pack_writer_add(s->w, &r.id, r.codec, r.raw_len,
							      it->data + off + MVMS_PACK_RECORD_HDR,
							      r.stored_len));
			off += MVMS_PACK_RECORD_HDR + (size_t)r.stored_len;
		}
	}
	if (mvms_pack_writer_size(s->w) >= s->st->pack_size)
		MVMS_TRY(sink_flush(s));
done:
	return error;
}

/* What cmp_by_id compares by, for the one qsort of mvms_sync__repeats in this thread. */
static _Thread_local const mvms_oid *sort_ids;

static int cmp_by_id(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = mvms_oid_cmp(&sort_ids[x], &sort_ids[y]);

	return c ? c : (x > y) - (x < y);
}

int mvms_sync__repeats(unsigned char *repeat, const mvms_oid *ids, size_t n)
{
	size_t *order = NULL, i;
	int error = 0;

	memset(repeat, 0, n);
	if (n < 2)
		return 0;
	order = malloc(n * sizeof(*order));
	MVMS_CHECK_ALLOC(order, error);
	for (i = 0; i < n; i++)
		order[i] = i;
	sort_ids = ids;
	qsort(order, n, sizeof(*order), cmp_by_id);
	sort_ids = NULL;
	/* Equal ids sort by position: each one after the first of its run is a repeat. */
	for (i = 1; i < n; i++)
		if (mvms_oid_cmp(&ids[order[i]], &ids[order[i - 1]]) == 0)
			repeat[order[i]] = 1;
done:
	free(order);
	return error;
}

/* Which records of a batch the cache lacks, in one read transaction: a lookup per chunk on
 * its own would take and drop SQLite's file lock each time (4 fcntl calls a chunk). */
static int sink_missing(unsigned char **flags, size_t *cap, mvms_chunk_sink *s, sink_item *batch)
{
	unsigned char *repeat = NULL;
	mvms_oid *ids = NULL;
	sink_item *it;
	size_t n = 0, i, k, off;
	int error = 0;

	for (it = batch; it; it = it->next)
		n += it->n;
	if (n > *cap) {
		unsigned char *t = realloc(*flags, n);
		MVMS_CHECK_ALLOC(t, error);
		*flags = t;
		*cap = n;
	}
	ids = malloc((n + 1) * sizeof(*ids));
	MVMS_CHECK_ALLOC(ids, error);
	for (it = batch, i = 0; it; it = it->next)
		for (k = 0, off = 0; k < it->n; k++, i++) {
			mvms_pack_record r;
			mvms_pack_record_get(&r, it->data + off);
			ids[i] = r.id;
			off += MVMS_PACK_RECORD_HDR + (size_t)r.stored_len;
		}
	MVMS_TRY(mvms_sync_missing(*flags, s->st, ids, n));
	/* A chunk twice in one batch (a file that repeats itself) is stored once. */
	repeat = malloc(n + 1);
	MVMS_CHECK_ALLOC(repeat, error);
	MVMS_TRY(mvms_sync__repeats(repeat, ids, n));
	for (i = 0; i < n; i++)
		if (repeat[i])
			(*flags)[i] = 0;
done:
	free(repeat);
	free(ids);
	return error;
}

static void *sink_main(void *arg)
{
	mvms_chunk_sink *s = arg;
	sink_item *batch, *it;
	unsigned char *flags = NULL;
	size_t cap = 0, i;
	int error = 0;

	for (;;) {
		/* Take everything queued: one wake-up and one lookup per batch, not per block. */
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->closing)
			pthread_cond_wait(&s->more, &s->lock);
		batch = s->head;
		s->head = s->tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (!batch)
			break;
		if (error == 0)
			error = sink_missing(&flags, &cap, s, batch);
		for (i = 0; batch; ) {
			it = batch;
			batch = it->next;
			if (error == 0)
				error = sink_store(s, it, flags + i);
			i += it->n;
			pthread_mutex_lock(&s->lock);
			s->queued -= it->len;
			if (error < 0 && !s->error) {
				s->error = error;
				snprintf(s->msg, sizeof(s->msg), "%s", mvms_error_last());
				pthread_cond_broadcast(&s->room);
			}
			if (s->waiting)
				pthread_cond_signal(&s->room);
			pthread_mutex_unlock(&s->lock);
			sink_item_free(it);
		}
	}
	if (error == 0 && (error = sink_flush(s)) < 0) {
		s->error = error;
		snprintf(s->msg, sizeof(s->msg), "%s", mvms_error_last());
	}
	free(flags);
	return NULL;
}

int mvms_chunk_sink_new(mvms_chunk_sink **out, mvms_store *st)
{
	mvms_chunk_sink *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	s->st = st;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->room, NULL);
	if (pthread_create(&s->thread, NULL, sink_main, s) != 0) {
		mvms_chunk_sink_free(s);
		return mvms_error_set(MVMS_ERROR, "cache: cannot start its writer thread");
	}
	s->started = 1;
	*out = s;
	return 0;
}

int mvms_sync__sink_add_records(mvms_chunk_sink *s, unsigned char *records, size_t len, size_t n)
{
	sink_item *it = malloc(sizeof(*it));
	int error;

	if (!it) {
		free(records);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	it->next = NULL;
	it->data = records;
	it->len = len;
	it->n = n;
	pthread_mutex_lock(&s->lock);
	while (s->queued + len > SINK_QUEUE_MAX && s->queued && !s->error) {
		s->waiting = 1;
		pthread_cond_signal(&s->more);
		pthread_cond_wait(&s->room, &s->lock);
	}
	s->waiting = 0;
	if ((error = s->error) == 0) {
		if (s->tail)
			s->tail->next = it;
		else
			s->head = it;
		s->tail = it;
		s->queued += len;
		it = NULL;
		/* Wake the worker for a batch, not for every block. */
		if (s->queued >= SINK_WAKE)
			pthread_cond_signal(&s->more);
	}
	pthread_mutex_unlock(&s->lock);
	sink_item_free(it);
	return error < 0 ? mvms_error_set(error, "%s", s->msg) : 0;
}

int mvms_chunk_sink_add(mvms_chunk_sink *s, const mvms_oid *id, const void *data, size_t len)
{
	unsigned char *rec;

	if (len == 0 || len > UINT32_MAX)
		return mvms_error_set(MVMS_EINVALID, "cache: a %zu-byte chunk", len);
	if (!(rec = malloc(MVMS_PACK_RECORD_HDR + len)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	mvms_pack_record_put(rec, id, MVMS_CODEC_RAW, (uint32_t)len, (uint32_t)len);
	memcpy(rec + MVMS_PACK_RECORD_HDR, data, len);
	return mvms_sync__sink_add_records(s, rec, MVMS_PACK_RECORD_HDR + len, 1);
}

int mvms_chunk_sink_finish(mvms_chunk_sink *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->closing = 1;
		pthread_cond_signal(&s->more);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->started = 0;
	}
	return s->error < 0 ? mvms_error_set(s->error, "%s", s->msg) : 0;
}

void mvms_chunk_sink_free(mvms_chunk_sink *s)
{
	sink_item *it, *next;

	if (!s)
		return;
	if (s->started) {
		/* Abandoned (the pull failed): drop what is queued, stop the worker. */
		pthread_mutex_lock(&s->lock);
		for (it = s->head; it; it = next) {
			next = it->next;
			sink_item_free(it);
		}
		s->head = s->tail = NULL;
		s->closing = 1;
		pthread_cond_signal(&s->more);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	mvms_pack_writer_free(s->w);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->more);
	pthread_cond_destroy(&s->room);
	free(s);
}
