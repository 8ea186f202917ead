/* SPDX-License-Identifier: MIT */
/*
 * The delta bases a remote pull's or push's cache lacks, fetched ahead and in batches
 * (remote_prefetch.c): the records receiver (a push: its reading thread) names the bases of
 * each block's delta records before the workers decode (encode) it; a thread of the prefetcher's own asks the server for all
 * that are waiting in one POST /v1/chunks, and the workers' base reads take them from
 * memory. Internal to transfer/.
 */
#ifndef MVMS_PREFETCH_H
#define MVMS_PREFETCH_H

#include "remote_int.h"

typedef struct mvms_prefetch mvms_prefetch;

/* Starts a prefetcher for @r (a curl handle and a thread of its own), and makes it the
 * way @r's cache gets bases it lacks until mvms_prefetch__free. */
int mvms_prefetch__new(mvms_prefetch **out, mvms_remote *r);
/* The receiving thread: the deltas about to be decoded need bases @ids[0..n) (repeats
 * allowed); those the cache lacks are fetched. A mvms_sync__want_fn with @ctx the
 * prefetcher. */
int mvms_prefetch__want(void *ctx, const mvms_oid *ids, size_t n);
/* One naming of @id taken back: nobody will read it for that one (a remote push found the
 * chunk stored already). The record, asked for or not, is let go when none remain. */
void mvms_prefetch__unwant(void *ctx, const mvms_oid *id);
/* Requests it made so far. */
uint64_t mvms_prefetch__requests(const mvms_prefetch *p);
/* Stops the thread (after the workers that read bases have stopped), puts @r's own base
 * fetch back, adds its requests to @r's stats and frees what it holds. NULL is a no-op. */
void mvms_prefetch__free(mvms_prefetch *p);

#endif
