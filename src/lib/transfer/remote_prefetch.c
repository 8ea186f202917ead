/* SPDX-License-Identifier: MIT */
/*
 * Delta bases for a remote pull whose cache lacks them, fetched ahead and in batches (see
 * prefetch.h). The records receiver names each block's bases before the workers get it; a
 * thread of ours asks the server for every base waiting in one POST /v1/chunks (a pack of
 * the records as stored) while the stream goes on, so a file of N deltas costs a few
 * requests, not N. Records are kept compressed, each until the last delta that named it
 * has read it, so memory is bounded by the blocks in flight. A worker's base read waits for
 * its base, decodes and checks it (the codec checks the id); a base nobody named ahead is
 * fetched alone (remote_bases.c). Nothing is written to the cache. Which bases the cache has
 * is asked on a database connection of the prefetcher's own: with pull --cache-copy the
 * cache handle's connection belongs to the sink's thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prefetch.h"
#include "bases.h"
#include "pack.h"

#define PF_BUCKETS 1024u
#define PF_BATCH 4096u                       /* ids per request: the server's limit */
#define PF_BATCH_BYTES (64u * 1024 * 1024)   /* and raw bytes */

typedef struct pf_entry {
	mvms_oid id;
	int state;               /* 0 waiting, 1 asked, 2 here, <0 failed (the error) */
	unsigned refs;           /* deltas named it that have not read it yet */
	unsigned char *rec;      /* its record (header and stored bytes) */
	size_t len;
	char msg[300];
	struct pf_entry *hnext, *qnext;
} pf_entry;

struct mvms_prefetch {
	mvms_remote *r;
	mvms_store *look;        /* the cache on a connection of ours: a sink (pull --cache-copy)
				  * owns the cache handle's connection on its own thread */
	mvms_remote own;         /* @r's settings with a curl handle of the thread's own */
	pthread_t thread;
	int started, closing;
	pthread_mutex_t mu;
	pthread_cond_t more, here;
	pf_entry *table[PF_BUCKETS];
	pf_entry *qhead, *qtail;
	mvms_codec **codecs;     /* idle codecs for the workers' decodes */
	size_t ncodecs, ccodecs;
};

static pf_entry **slot(mvms_prefetch *p, const mvms_oid *id)
{
	pf_entry **e = &p->table[(id->id[0] | (unsigned)id->id[1] << 8) % PF_BUCKETS];

	while (*e && mvms_oid_cmp(&(*e)->id, id) != 0)
		e = &(*e)->hnext;
	return e;
}

/* Under the lock: drops @n references to @e (never below one while others remain: a base
 * read more often than it was named stays until the end); frees it at none, once it is no
 * longer waiting or asked for (here, or failed). */
static void release(mvms_prefetch *p, pf_entry *e, unsigned n)
{
	pf_entry **s;

	e->refs -= n < e->refs ? n : e->refs;
	if (e->refs > 0 || e->state == 0 || e->state == 1)
		return;
	s = slot(p, &e->id);
	*s = e->hnext;
	free(e->rec);
	free(e);
}

int mvms_prefetch__want(void *ctx, const mvms_oid *ids, size_t n)
{
	mvms_prefetch *p = ctx;
	unsigned char *have = calloc(n + 1, 1);
	size_t i, added = 0;
	int error = 0;

	MVMS_CHECK_ALLOC(have, error);
	if (!p->look)
		MVMS_TRY(mvms_store_open(&p->look, p->r->cache->path, 0));
	MVMS_TRY(mvms_sources_have(have, p->look, ids, n));
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < n; i++) {
		pf_entry **s, *e;
		if (have[i])
			continue;
		s = slot(p, &ids[i]);
		if ((e = *s) != NULL) {
			e->refs++;
			continue;
		}
		if (!(e = calloc(1, sizeof(*e)))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		e->id = ids[i];
		e->refs = 1;
		*s = e;
		if (p->qtail)
			p->qtail->qnext = e;
		else
			p->qhead = e;
		p->qtail = e;
		added++;
	}
	if (added)
		pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->mu);
done:
	free(have);
	return error;
}

void mvms_prefetch__unwant(void *ctx, const mvms_oid *id)
{
	mvms_prefetch *p = ctx;
	pf_entry *e;

	pthread_mutex_lock(&p->mu);
	/* Still queued, it is dropped when its turn comes (fetch_main); asked, on arrival. */
	if ((e = *slot(p, id)) != NULL)
		release(p, e, 1);
	pthread_mutex_unlock(&p->mu);
}

/* The asked records out of the pack the server sent, or why not. */
static int take_pack(mvms_prefetch *p, pf_entry **asked, size_t n, const mvms_buf *resp)
{
	mvms_pack_entry *e = NULL;
	size_t ne = 0, i, k;
	uint64_t size = 0;
	int error = 0;

	MVMS_TRY(mvms_pack_read_index_mem(&e, &ne, &size, resp->ptr, resp->size, NULL));
	pthread_mutex_lock(&p->mu);
	for (i = 0, k = 0; i < n; i++) {
		/* In the order asked; a repeat or a gap is looked up from the start. */
		if (k >= ne || mvms_oid_cmp(&e[k].id, &asked[i]->id) != 0)
			for (k = 0; k < ne && mvms_oid_cmp(&e[k].id, &asked[i]->id) != 0; k++)
				;
		if (k == ne || e[k].codec == MVMS_CODEC_DELTA ||
		    e[k].offset + MVMS_PACK_RECORD_HDR + e[k].stored_len > resp->size) {
			asked[i]->state = MVMS_EMISMATCH;
			snprintf(asked[i]->msg, sizeof(asked[i]->msg), "remote: the server's pack holds "
				 "no full record of the delta base");
		} else if (!(asked[i]->rec = malloc(MVMS_PACK_RECORD_HDR + (size_t)e[k].stored_len))) {
			asked[i]->state = MVMS_ERROR;
			snprintf(asked[i]->msg, sizeof(asked[i]->msg), "out of memory");
		} else {
			asked[i]->len = MVMS_PACK_RECORD_HDR + (size_t)e[k].stored_len;
			memcpy(asked[i]->rec, (const unsigned char *)resp->ptr + e[k].offset, asked[i]->len);
			asked[i]->state = 2;
		}
		k++;
	}
	pthread_mutex_unlock(&p->mu);
done:
	free(e);
	return error;
}

/* One request for @n bases; every one of them is here or failed after it. */
static void fetch_batch(mvms_prefetch *p, pf_entry **asked, size_t n, mvms_oid *ids)
{
	mvms_buf resp = MVMS_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < n; i++)
		ids[i] = asked[i]->id;
	MVMS_TRY(mvms_http__post_ids(&resp, &p->own, "/v1/chunks", ids, n, "delta bases"));
	MVMS_TRY(take_pack(p, asked, n, &resp));
done:
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < n; i++) {
		if (error < 0 && asked[i]->state == 1) {
			asked[i]->state = error;
			snprintf(asked[i]->msg, sizeof(asked[i]->msg), "%s", mvms_error_last());
		}
		/* Our pin (fetch_main) let go: a record nobody wants any more (a push found its
		 * chunk stored while it was asked for) is freed now. */
		release(p, asked[i], 1);
	}
	pthread_cond_broadcast(&p->here);
	pthread_mutex_unlock(&p->mu);
	mvms_buf_dispose(&resp);
}

static void *fetch_main(void *arg)
{
	mvms_prefetch *p = arg;
	pf_entry **asked = calloc(PF_BATCH, sizeof(*asked));
	mvms_oid *ids = calloc(PF_BATCH, sizeof(*ids));
	size_t n;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		uint64_t bytes = 0;
		while (!p->qhead && !p->closing)
			pthread_cond_wait(&p->more, &p->mu);
		if (p->closing)
			break;
		/* Everything waiting, in the order named: the receiver runs ahead meanwhile, so
		 * the next batch is as large as what arrived during this one. */
		for (n = 0; p->qhead && n < PF_BATCH && bytes < PF_BATCH_BYTES && asked && ids;) {
			pf_entry *e = p->qhead;
			p->qhead = e->qnext;
			if (!p->qhead)
				p->qtail = NULL;
			if (e->refs == 0) {
				/* Unwanted while it waited: not asked for. */
				e->state = 2;
				release(p, e, 0);
				continue;
			}
			e->state = 1;
			e->refs++; /* pinned until fetch_batch is done with it: an unwant meanwhile
				    * must not free it under us */
			asked[n++] = e;
			bytes += 128u * 1024; /* at most a chunk's bytes */
		}
		if (!asked || !ids) {
			/* Out of memory: fail what waits rather than leave workers waiting. */
			for (; p->qhead; p->qhead = p->qhead->qnext) {
				p->qhead->state = MVMS_ERROR;
				snprintf(p->qhead->msg, sizeof(p->qhead->msg), "out of memory");
			}
			p->qtail = NULL;
			pthread_cond_broadcast(&p->here);
			continue;
		}
		if (n == 0)
			continue; /* all of them unwanted */
		pthread_mutex_unlock(&p->mu);
		fetch_batch(p, asked, n, ids);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	free(asked);
	free(ids);
	return NULL;
}

/* The base reader of the cache while the prefetcher runs (a mvms_bases_fetch_fn): a base
 * named ahead is waited for and decoded here; another is fetched alone. */
static int fetch_base(void *ctx, const mvms_oid *id, size_t raw_len, void *out, int hash)
{
	mvms_prefetch *p = ctx;
	mvms_codec *c = NULL;
	pf_entry *e;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	pthread_mutex_lock(&p->mu);
	if (!(e = *slot(p, id))) {
		pthread_mutex_unlock(&p->mu);
		return mvms_remote__fetch_base(p->r, id, raw_len, out, hash);
	}
	e->refs++; /* ours while we read it: it stays even if its namers are done */
	while (e->state == 0 || e->state == 1)
		pthread_cond_wait(&p->here, &p->mu);
	if (p->ncodecs)
		c = p->codecs[--p->ncodecs];
	pthread_mutex_unlock(&p->mu);
	mvms_oid_fmt(hex, id);
	if (e->state < 0) {
		error = mvms_error_set(e->state, "delta base %.16s: %s", hex, e->msg);
		goto done;
	}
	if (!c)
		MVMS_TRY(mvms_codec_new(&c, 0));
	/* No base reader on these codecs: a delta here (the server's pack said full) fails. */
	MVMS_TRY((hash ? mvms_pack_decode_record : mvms_pack_decode_base)(c, out, (uint32_t)raw_len,
									id, e->rec, e->len));
done:
	pthread_mutex_lock(&p->mu);
	if (c && p->ncodecs < p->ccodecs)
		p->codecs[p->ncodecs++] = c;
	else
		mvms_codec_free(c);
	/* Ours, and one namer's (each delta that named it reads it once); a failed one stays
	 * for the others that wait on it. */
	release(p, e, e->refs > 1 ? 2 : 1);
	pthread_mutex_unlock(&p->mu);
	return error;
}

int mvms_prefetch__new(mvms_prefetch **out, mvms_remote *r)
{
	mvms_prefetch *p = calloc(1, sizeof(*p));
	int error = 0;

	*out = NULL;
	MVMS_CHECK_ALLOC(p, error);
	p->r = r;
	p->own = *r;
	memset(&p->own.stats, 0, sizeof(p->own.stats));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->here, NULL);
	p->ccodecs = 16;
	p->codecs = calloc(p->ccodecs, sizeof(*p->codecs));
	MVMS_CHECK_ALLOC(p->codecs, error);
	/* Set up as the pull's own handle (copied now, while nothing else uses it). */
	if (!(p->own.curl = curl_easy_duphandle(r->curl))) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if (pthread_create(&p->thread, NULL, fetch_main, p) != 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: cannot start the delta base fetcher");
		goto done;
	}
	p->started = 1;
	mvms_bases__set_fetch(r->cache, fetch_base, p);
	*out = p;
	p = NULL;
done:
	mvms_prefetch__free(p);
	return error;
}

uint64_t mvms_prefetch__requests(const mvms_prefetch *p)
{
	return p ? p->own.stats.requests : 0;
}

void mvms_prefetch__free(mvms_prefetch *p)
{
	size_t i;

	if (!p)
		return;
	if (p->started) {
		mvms_bases__set_fetch(p->r->cache, mvms_remote__fetch_base, p->r);
		pthread_mutex_lock(&p->mu);
		p->closing = 1;
		pthread_cond_signal(&p->more);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	p->r->stats.requests += p->own.stats.requests;
	p->r->stats.bytes_sent += p->own.stats.bytes_sent;
	p->r->stats.bytes_received += p->own.stats.bytes_received;
	for (i = 0; i < PF_BUCKETS; i++)
		while (p->table[i]) {
			pf_entry *e = p->table[i];
			p->table[i] = e->hnext;
			free(e->rec);
			free(e);
		}
	for (i = 0; i < p->ncodecs; i++)
		mvms_codec_free(p->codecs[i]);
	free(p->codecs);
	if (p->own.curl)
		curl_easy_cleanup(p->own.curl);
	mvms_store_free(p->look);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->more);
	pthread_cond_destroy(&p->here);
	free(p);
}
