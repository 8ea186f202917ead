/* SPDX-License-Identifier: MIT */
/*
 * The records receiver of a remote pull: a file arrives as its stored records (the server's
 * records stream); the receiver cuts them into blocks, a decoder thread decodes and verifies
 * every chunk in parallel (the pull context's pool) while curl keeps receiving, writes the
 * bytes and checks the file id. Blocks in flight are bounded (RECV_QUEUE).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hash.h"
#include "pack.h"
#include "manifest.h"
#include "pull_int.h"
#include "bases.h"

/* ---- a file arriving as its stored records ---- */

/* Blocks of whole records waiting for the decoder, at most: receiving overlaps decoding. */
#define RECV_QUEUE 4

typedef struct recv_block {
	struct recv_block *next;
	unsigned char *data;      /* records back to back */
	size_t len;
	pull_chunk *chunks;       /* one per record, in_off into data */
	size_t n;
	uint64_t raw;
} recv_block;

struct mvms_sync__recv {
	/* The receiver's side: the block being filled, and the record arriving at its end. */
	recv_block *cur;
	size_t cap, ccur;         /* cur's data and chunks capacity */
	size_t have, need;        /* bytes of the arriving record, its size (0: header not in) */
	const unsigned char *fm;
	size_t n, next;           /* chunks of the file; the next one expected */
	/* The decoder's side. */
	pull_ctx c;               /* pool, codecs, output buffer */
	int fd;
	const char *path;
	mvms_hasher fh;
	struct mvms_chunk_sink *sink;
	mvms_progress_cb progress;
	void *payload;
	/* Between them. */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	recv_block *head, *tail;
	size_t queued;
	int closing;
	int error;                /* the decoder's first error, and its message */
	char msg[400];
};

static void recv_block_free(recv_block *b)
{
	if (b) {
		free(b->data);
		free(b->chunks);
		free(b);
	}
}

/* The decoder: hands a block's records to the pool, which checks and decodes them in
 * parallel while the decoder writes the block before (recv_finish). */
static int recv_submit(mvms_sync__recv *rv, recv_block *b, pull_step *s)
{
	return mvms_pull__step_submit(&rv->c, s, b->chunks, b->n, b->data);
}

/* Waits for a block's records, writes their bytes, caches them. */
static int recv_finish(mvms_sync__recv *rv, recv_block *b, pull_step *s)
{
	pull_ctx *c = &rv->c;
	size_t i;
	int error = 0;

	mvms_pull__step_wait(c, s);
	for (i = 0; i < b->n; i++) {
		const pull_chunk *ch = &b->chunks[i];
		if (ch->error < 0) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: a chunk arrived corrupt "
					       "(the server's copy may be damaged: run verify there): %s",
					       rv->path, ch->errmsg);
			goto done;
		}
		mvms_hasher_add_chunk(&rv->fh, &ch->id, ch->raw_len);
	}
	MVMS_TRY(mvms_write_full(rv->fd, s->out, s->out_len, rv->path));
	c->done_bytes += s->out_len;
	if (rv->progress)
		rv->progress(c->done_bytes, c->total_bytes, rv->payload);
	if (rv->sink) {
		error = mvms_sync__sink_add_records(rv->sink, b->data, b->len, b->n);
		b->data = NULL;
	}
done:
	return error;
}

static void recv_failed(mvms_sync__recv *rv, int error)
{
	pthread_mutex_lock(&rv->lock);
	rv->error = error;
	snprintf(rv->msg, sizeof(rv->msg), "%s", mvms_error_last());
	pthread_cond_broadcast(&rv->room);
	pthread_mutex_unlock(&rv->lock);
}

static void *recv_main(void *arg)
{
	mvms_sync__recv *rv = arg;
	recv_block *b, *prev = NULL;
	pull_step *ps = NULL, *s;
	int error = 0;

	for (;;) {
		pthread_mutex_lock(&rv->lock);
		while (!rv->head && !rv->closing)
			pthread_cond_wait(&rv->more, &rv->lock);
		if ((b = rv->head) != NULL) {
			rv->head = b->next;
			if (!rv->head)
				rv->tail = NULL;
			rv->queued--;
			pthread_cond_signal(&rv->room);
		}
		pthread_mutex_unlock(&rv->lock);
		s = NULL;
		if (b && error == 0) {
			s = &rv->c.step[ps == &rv->c.step[0]];
			if ((error = recv_submit(rv, b, s)) < 0)
				recv_failed(rv, error);
		}
		if (prev) {
			/* Written while the pool decodes b: the order of the file stays. After a
			 * failure a block is only waited for (the pool may still read it). */
			int e = error == 0 ? recv_finish(rv, prev, ps) : 0;
			mvms_pull__step_wait(&rv->c, ps);
			if (error == 0 && e < 0)
				recv_failed(rv, error = e);
			recv_block_free(prev);
		}
		prev = NULL;
		ps = s;
		if (b && s && s->queued)
			prev = b;
		else
			recv_block_free(b);
		if (!b)
			break;
	}
	return NULL;
}

int mvms_sync__recv_new(mvms_sync__recv **out, int fd, const char *path, const void *fm, size_t n,
			struct mvms_chunk_sink *sink, mvms_progress_cb progress, void *payload,
			uint64_t done, uint64_t total)
{
	mvms_sync__recv *rv = calloc(1, sizeof(*rv));
	int error = 0;

	*out = NULL;
	MVMS_CHECK_ALLOC(rv, error);
	pthread_mutex_init(&rv->lock, NULL);
	pthread_cond_init(&rv->more, NULL);
	pthread_cond_init(&rv->room, NULL);
	MVMS_TRY(mvms_pull__ctx_init(&rv->c, NULL, NULL));
	rv->c.done_bytes = done;
	rv->c.total_bytes = total;
	rv->fm = fm;
	rv->n = n;
	rv->fd = fd;
	rv->path = path;
	rv->sink = sink;
	rv->progress = progress;
	rv->payload = payload;
	mvms_hasher_init(&rv->fh);
	if (pthread_create(&rv->thread, NULL, recv_main, rv) != 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: cannot start the decoder thread");
		goto done;
	}
	rv->started = 1;
	*out = rv;
	rv = NULL;
done:
	mvms_sync__recv_free(rv);
	return error;
}

void mvms_sync__recv_bases(mvms_sync__recv *rv, mvms_store *st)
{
	unsigned w;

	for (w = 0; w < mvms_pool_size(rv->c.pool); w++)
		mvms_bases__attach(st, rv->c.codecs[w]);
}

/* Hands the filled block to the decoder (waiting while RECV_QUEUE blocks wait). */
static int recv_push(mvms_sync__recv *rv)
{
	recv_block *b = rv->cur;
	int error = 0;

	rv->cur = NULL;
	rv->cap = rv->ccur = 0;
	pthread_mutex_lock(&rv->lock);
	while (rv->queued >= RECV_QUEUE && rv->error == 0)
		pthread_cond_wait(&rv->room, &rv->lock);
	if ((error = rv->error) == 0) {
		if (rv->tail)
			rv->tail->next = b;
		else
			rv->head = b;
		rv->tail = b;
		rv->queued++;
		b = NULL;
		pthread_cond_signal(&rv->more);
	}
	pthread_mutex_unlock(&rv->lock);
	if (error < 0)
		error = mvms_error_set(error, "%s", rv->msg);
	recv_block_free(b);
	return error;
}

/* Room for @need more bytes in the block being filled (a new block when there is none). */
static int recv_room(mvms_sync__recv *rv, size_t need)
{
	int error = 0;

	if (!rv->cur) {
		rv->cur = calloc(1, sizeof(*rv->cur));
		MVMS_CHECK_ALLOC(rv->cur, error);
	}
	if (rv->cur->len + need > rv->cap) {
		/* A block closes after ROUND_BYTES of chunks: this is enough but for huge chunks. */
		size_t want = rv->cur->len + need + ROUND_BYTES + ROUND_BYTES / 4;
		unsigned char *t = realloc(rv->cur->data, want);
		MVMS_CHECK_ALLOC(t, error);
		rv->cur->data = t;
		rv->cap = want;
	}
done:
	return error;
}

/* The header of the arriving record is in: it must name the chunk the file has next, with
 * its length, and a codec and stored size the cache's pack writer accepts too (else a bad
 * stream could make us buffer without end, or fail only when the cache is written). Sets
 * rv->need. */
static int recv_header(mvms_sync__recv *rv)
{
	const unsigned char *e;
	char hex[MVMS_OID_HEXSZ + 1], got[MVMS_OID_HEXSZ + 1];
	mvms_pack_record h;
	mvms_oid want;
	int error = 0;

	if (rv->next >= rv->n) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: more bytes than the file has",
				       rv->path);
		goto done;
	}
	mvms_pack_record_get(&h, rv->cur->data + rv->cur->len);
	e = rv->fm + 32 + rv->next * 40;
	memcpy(want.id, e, MVMS_OID_RAWSZ);
	mvms_oid_fmt(hex, &want);
	if (mvms_oid_cmp(&want, &h.id) != 0) {
		mvms_oid_fmt(got, &h.id);
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: the server sent chunk %.16s where "
				       "chunk %.16s belongs", rv->path, got, hex);
		goto done;
	}
	if (h.raw_len != mvms_le64_get(e + 32)) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: chunk %.16s came as %u bytes, its file "
				       "lists %llu", rv->path, hex, (unsigned)h.raw_len,
				       (unsigned long long)mvms_le64_get(e + 32));
		goto done;
	}
	if (!mvms_pack_record_ok(h.codec, h.raw_len, h.stored_len)) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: chunk %.16s came with codec %u and %u "
				       "stored bytes for %u: not a record this store can keep", rv->path,
				       hex, (unsigned)h.codec, (unsigned)h.stored_len, (unsigned)h.raw_len);
		goto done;
	}
	rv->need = MVMS_PACK_RECORD_HDR + (size_t)h.stored_len;
	MVMS_TRY(recv_room(rv, rv->need));
done:
	return error;
}

/* The arriving record is whole: it joins the block, which goes to the decoder when full. */
static int recv_record(mvms_sync__recv *rv)
{
	recv_block *b = rv->cur;
	mvms_pack_record h;
	pull_chunk *ch;
	int error = 0;

	if (b->n == rv->ccur) {
		size_t ncap = rv->ccur ? rv->ccur * 2 : 64;
		pull_chunk *t = realloc(b->chunks, ncap * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		b->chunks = t;
		rv->ccur = ncap;
	}
	mvms_pack_record_get(&h, b->data + b->len);
	ch = &b->chunks[b->n++];
	memset(ch, 0, sizeof(*ch));
	ch->src = -1;
	ch->id = h.id;
	ch->raw_len = h.raw_len;
	ch->stored_len = h.stored_len;
	ch->in_off = b->len;
	b->len += rv->need;
	b->raw += ch->raw_len;
	rv->have = rv->need = 0;
	rv->next++;
	if (b->raw >= ROUND_BYTES)
		MVMS_TRY(recv_push(rv));
done:
	return error;
}

int mvms_sync__recv_add(mvms_sync__recv *rv, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error = 0;

	/* Each byte is copied once, from the caller's buffer to its place in a block. */
	while (len > 0) {
		size_t take;
		if (rv->need == 0) {
			MVMS_TRY(recv_room(rv, MVMS_PACK_RECORD_HDR));
			take = MVMS_PACK_RECORD_HDR - rv->have < len ? MVMS_PACK_RECORD_HDR - rv->have : len;
		} else {
			take = rv->need - rv->have < len ? rv->need - rv->have : len;
		}
		memcpy(rv->cur->data + rv->cur->len + rv->have, p, take);
		rv->have += take;
		p += take;
		len -= take;
		if (rv->need == 0 && rv->have == MVMS_PACK_RECORD_HDR)
			MVMS_TRY(recv_header(rv));
		if (rv->need != 0 && rv->have == rv->need)
			MVMS_TRY(recv_record(rv));
	}
	/* The decoder's errors stop the transfer here too, not only at the next push. */
	pthread_mutex_lock(&rv->lock);
	error = rv->error;
	pthread_mutex_unlock(&rv->lock);
	if (error < 0)
		error = mvms_error_set(error, "%s", rv->msg);
done:
	return error;
}

/* Stops the decoder after what is queued (or, with @drop, at once) and waits for it. */
static void recv_stop(mvms_sync__recv *rv, int drop)
{
	recv_block *b, *next;

	if (!rv->started)
		return;
	pthread_mutex_lock(&rv->lock);
	if (drop) {
		for (b = rv->head; b; b = next) {
			next = b->next;
			recv_block_free(b);
		}
		rv->head = rv->tail = NULL;
		rv->queued = 0;
	}
	rv->closing = 1;
	pthread_cond_signal(&rv->more);
	pthread_mutex_unlock(&rv->lock);
	pthread_join(rv->thread, NULL);
	rv->started = 0;
}

int mvms_sync__recv_finish(mvms_sync__recv *rv, const mvms_oid *want)
{
	mvms_oid got;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	if (rv->cur && rv->cur->n)
		error = recv_push(rv);
	recv_stop(rv, error < 0);
	if (error < 0)
		goto done;
	if (rv->error < 0) {
		error = mvms_error_set(rv->error, "%s", rv->msg);
		goto done;
	}
	mvms_hasher_final(&rv->fh, &got);
	if (rv->next != rv->n || rv->have != 0 || mvms_oid_cmp(&got, want) != 0) {
		mvms_oid_fmt(hex, want);
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: the file that arrived is short or "
				       "does not match its id %.16s", rv->path, hex);
	}
done:
	return error;
}

uint64_t mvms_sync__recv_done(const mvms_sync__recv *rv)
{
	return rv->c.done_bytes;
}

void mvms_sync__recv_free(mvms_sync__recv *rv)
{
	if (!rv)
		return;
	recv_stop(rv, 1);
	mvms_pull__ctx_dispose(&rv->c);
	pthread_mutex_destroy(&rv->lock);
	pthread_cond_destroy(&rv->more);
	pthread_cond_destroy(&rv->room);
	recv_block_free(rv->cur);
	free(rv);
}
