/* SPDX-License-Identifier: MIT */
/*
 * The uploader: background threads that finish (upload) full packs while the push thread
 * keeps chunking, and index each pack (a callback, on the thread that finished it) once its
 * upload is done, so a pack is never indexed before it is durable.
 */
#ifndef MVMS_UPLOADER_H
#define MVMS_UPLOADER_H

#include "pack.h"

typedef struct mvms_uploader mvms_uploader;

/* Called for each pack whose upload succeeded, on an uploader thread, one call at a time:
 * what it touches that the push thread also uses needs a lock. An error is reported by the
 * next harvest. */
typedef int (*mvms_uploader_done_cb)(void *arg, const mvms_oid *pid, uint64_t size,
				     const mvms_pack_entry *entries, size_t count);

int mvms_uploader_start(mvms_uploader **out);
/* Queues @w (which it owns from now on, whatever the result), waiting while too many are
 * in flight, then harvests the finished ones as mvms_uploader_harvest(u, 0, ...). */
int mvms_uploader_add(mvms_uploader *u, mvms_pack_writer *w, mvms_uploader_done_cb done,
		      void *arg);
/* Frees the packs whose upload (and callback) finished and reports the first failure among
 * them; with @all, waits for every one first. Every successful upload was handed to its
 * callback even after another failed. */
int mvms_uploader_harvest(mvms_uploader *u, int all);
/* Waits until no pack is queued, uploading or in its callback; reports nothing (the next
 * harvest does). NULL is fine. */
void mvms_uploader_wait(mvms_uploader *u);
/* Stops the threads (after the uploads in flight) and frees everything; NULL is fine. */
void mvms_uploader_stop(mvms_uploader *u);

#endif
