/* SPDX-License-Identifier: MIT */
/*
 * The records receiver of a remote pull: a file arrives as its stored records (the server's
 * records stream); the receiving thread cuts them into blocks and hands each to the pull's
 * workers (pull_write.c), which decode, verify and write its chunks at their place in the
 * file while curl keeps receiving; the receiving thread checks finished blocks in file
 * order (the file id, progress, the cache's copy). Blocks in flight are bounded
 * (RECV_QUEUE): when they are all out, the receiving thread helps the workers.
 */
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

/* Blocks of whole records with the workers, at most: receiving overlaps decoding. */
#define RECV_QUEUE 8

typedef struct recv_block {
	struct recv_block *next;
	unsigned char *data;      /* records back to back */
	size_t len;
	pull_chunk *chunks;       /* one per record, in_off into data */
	size_t n;
	uint64_t raw;
	pull_window w;            /* its tasks, with the workers */
} recv_block;

struct mvms_sync__recv {
	/* The block being filled, and the record arriving at its end. */
	recv_block *cur;
	size_t cap, ccur;         /* cur's data and chunks capacity */
	size_t have, need;        /* bytes of the arriving record, its size (0: header not in) */
	const unsigned char *fm;
	size_t n, next;           /* chunks of the file; the next one expected */
	pull_ctx c;               /* the workers, their codecs and buffers; c.fd is the file */
	const char *path;
	mvms_hasher fh;
	struct mvms_chunk_sink *sink;
	mvms_progress_cb progress;
	void *payload;
	recv_block *head, *tail;  /* blocks with the workers, in file order */
	size_t queued;
	uint64_t at;              /* where the next block's bytes go in the file */
	mvms_sync__want_fn want;  /* told the bases of a block's deltas */
	void *want_ctx;
	mvms_oid *bases;
	size_t cbases;
	int error;                /* the first error: the transfer stops */
	char msg[400];
};

static void recv_block_free(recv_block *b)
{
	if (b) {
		free(b->data);
		free(b->chunks);
		free(b->w.tasks);
		free(b);
	}
}

static int recv_failed(mvms_sync__recv *rv, int error)
{
	if (rv->error == 0) {
		rv->error = error;
		snprintf(rv->msg, sizeof(rv->msg), "%s", mvms_error_last());
	}
	return error;
}

/* Waits for the oldest block with the workers, checks it (every chunk, in file order),
 * adds its chunks to the file's id and hands its records to the cache's copy. */
static int recv_retire(mvms_sync__recv *rv)
{
	recv_block *b = rv->head;
	pull_ctx *c = &rv->c;
	size_t i;
	int error = 0;

	rv->head = b->next;
	if (!rv->head)
		rv->tail = NULL;
	rv->queued--;
	mvms_pull__window_wait(c, &b->w);
	for (i = 0; i < b->n; i++)
		if (b->chunks[i].error < 0) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: a chunk arrived corrupt "
					       "(the server's copy may be damaged: run verify there): %s",
					       rv->path, b->chunks[i].errmsg);
			goto done;
		}
	for (i = 0; i < b->w.n; i++)
		if (b->w.tasks[i].error < 0) {
			error = mvms_error_set(b->w.tasks[i].error, "pull: %s: %s", rv->path,
					       b->w.tasks[i].msg);
			goto done;
		}
	for (i = 0; i < b->n; i++)
		mvms_hasher_add_chunk(&rv->fh, &b->chunks[i].id, b->chunks[i].raw_len);
	c->done_bytes += b->raw;
	if (rv->progress)
		rv->progress(c->done_bytes, c->total_bytes, rv->payload);
	if (rv->sink) {
		error = mvms_sync__sink_add_records(rv->sink, b->data, b->len, b->n);
		b->data = NULL;
	}
done:
	recv_block_free(b);
	return error;
}

/* Stops the workers after a failure: what they have not started is skipped, every block
 * waited for and dropped. */
static void recv_drop(mvms_sync__recv *rv)
{
	recv_block *b;

	atomic_store(&rv->c.stop, 1);
	while ((b = rv->head) != NULL) {
		rv->head = b->next;
		mvms_pull__window_wait(&rv->c, &b->w);
		recv_block_free(b);
	}
	rv->tail = NULL;
	rv->queued = 0;
	atomic_store(&rv->c.stop, 0);
}

int mvms_sync__recv_new(mvms_sync__recv **out, int fd, const char *path, const void *fm, size_t n,
			struct mvms_chunk_sink *sink, mvms_progress_cb progress, void *payload,
			uint64_t done, uint64_t total)
{
	mvms_sync__recv *rv = calloc(1, sizeof(*rv));
	int error = 0;

	*out = NULL;
	MVMS_CHECK_ALLOC(rv, error);
	MVMS_TRY(mvms_pull__ctx_init(&rv->c, NULL, NULL));
	rv->c.done_bytes = done;
	rv->c.total_bytes = total;
	rv->c.fd = fd;
	rv->fm = fm;
	rv->n = n;
	rv->path = path;
	rv->sink = sink;
	rv->progress = progress;
	rv->payload = payload;
	mvms_hasher_init(&rv->fh);
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

void mvms_sync__recv_prefetch(mvms_sync__recv *rv, mvms_sync__want_fn fn, void *ctx)
{
	rv->want = fn;
	rv->want_ctx = ctx;
}

/* Names the bases of @b's delta records to the prefetcher, before a worker needs one. */
static int recv_want(mvms_sync__recv *rv, const recv_block *b)
{
	size_t i, n = 0;
	int error = 0;

	if (!rv->want)
		return 0;
	if (b->n > rv->cbases) {
		mvms_oid *t = realloc(rv->bases, b->n * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		rv->bases = t;
		rv->cbases = b->n;
	}
	for (i = 0; i < b->n; i++) {
		const unsigned char *rec = b->data + b->chunks[i].in_off;
		mvms_pack_record h;
		mvms_pack_record_get(&h, rec);
		if (h.codec == MVMS_CODEC_DELTA &&
		    mvms_codec_delta_base(&rv->bases[n], rec + MVMS_PACK_RECORD_HDR, h.stored_len) == 0)
			n++;
	}
	if (n)
		error = rv->want(rv->want_ctx, rv->bases, n);
done:
	return error;
}

/* Hands the filled block to the workers; retires the blocks they finished (all of them
 * when done), waiting for the oldest while RECV_QUEUE are out. */
static int recv_push(mvms_sync__recv *rv, int all)
{
	recv_block *b = rv->cur;
	int error = 0;

	rv->cur = NULL;
	rv->cap = rv->ccur = 0;
	if (b && b->n) {
		if (error == 0)
			error = recv_want(rv, b);
		if (error == 0)
			error = mvms_pull__window_plan(&rv->c, &b->w, b->chunks, b->n, rv->at, b->data);
		if (error < 0) {
			recv_block_free(b);
			goto done;
		}
		rv->at += b->raw;
		mvms_pull__window_submit(&rv->c, &b->w);
		if (rv->tail)
			rv->tail->next = b;
		else
			rv->head = b;
		rv->tail = b;
		rv->queued++;
	} else {
		recv_block_free(b);
	}
	while (rv->head && (all || rv->queued > RECV_QUEUE || mvms_pool_job_done(&rv->head->w.job)))
		MVMS_TRY(recv_retire(rv));
done:
	if (error < 0) {
		recv_failed(rv, error);
		recv_drop(rv);
	}
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
		/* A block closes after ROUND_BYTES of records: this is enough but for huge records. */
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
	/* A block is bounded by the memory it holds, its records: a block of deltas covers
	 * more of the file, so their bases are named further ahead, in larger batches. */
	if (b->len >= ROUND_BYTES || b->raw >= 8 * ROUND_BYTES)
		MVMS_TRY(recv_push(rv, 0));
done:
	return error;
}

int mvms_sync__recv_add(mvms_sync__recv *rv, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error = 0;

	if (rv->error < 0)
		return mvms_error_set(rv->error, "%s", rv->msg);
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
done:
	return error;
}

int mvms_sync__recv_finish(mvms_sync__recv *rv, const mvms_oid *want)
{
	mvms_oid got;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	if (rv->error < 0) {
		error = mvms_error_set(rv->error, "%s", rv->msg);
		goto done;
	}
	MVMS_TRY(recv_push(rv, 1));
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
	recv_drop(rv);
	mvms_pull__ctx_dispose(&rv->c);
	recv_block_free(rv->cur);
	free(rv->bases);
	free(rv);
}
