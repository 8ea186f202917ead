/* SPDX-License-Identifier: MIT */
/*
 * The uploader: background threads that finish (upload) full packs while the push thread
 * keeps chunking. The push thread indexes each pack once its upload is done, through a
 * callback, so a pack is never indexed before it is durable.
 */
#ifndef MVMS_UPLOADER_H
#define MVMS_UPLOADER_H

#include "pack.h"

typedef struct mvms_uploader mvms_uploader;

/* Called on the push thread for each pack whose upload succeeded. */
typedef int (*mvms_uploader_done_cb)(void *arg, const mvms_oid *pid, uint64_t size,
				     const mvms_pack_entry *entries, size_t count);

int mvms_uploader_start(mvms_uploader **out);
/* Queues @w (which it owns from now on, whatever the result), waiting while too many are
 * in flight, then harvests the finished ones as mvms_uploader_harvest(u, 0, ...). */
int mvms_uploader_add(mvms_uploader *u, mvms_pack_writer *w, mvms_uploader_done_cb done,
		      void *arg);
/* Hands each pack whose upload finished to @done; with @all, waits for every one first.
 * Every successful upload is handed over even after another failed; the first error wins. */
int mvms_uploader_harvest(mvms_uploader *u, int all, mvms_uploader_done_cb done, void *arg);
/* Stops the threads (after the uploads in flight) and frees everything; NULL is fine. */
void mvms_uploader_stop(mvms_uploader *u);

#endif
