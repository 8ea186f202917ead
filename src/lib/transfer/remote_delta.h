/* SPDX-License-Identifier: MIT */
/*
 * A remote push's fine-tune deltas (remote_delta.c): the parent files its staging pairs new
 * tensor chunks with, asked of the server. Internal to transfer/.
 */
#ifndef MVMS_REMOTE_DELTA_H
#define MVMS_REMOTE_DELTA_H

#include "bases.h"

typedef struct mvms_remote_parents {
	struct mvms_remote *r;
	const char *const *models;   /* parent k is version ids[k] (hex) of models[k] */
	const char *const *ids;
	size_t n;
} mvms_remote_parents;

/* A mvms_bases_parent_fn with @ctx a mvms_remote_parents: the file at @path in the first
 * parent that has it with tensors, as the server stores it; *out NULL when none does or
 * the server does not say (no deltas for that file). */
int mvms_remote__parent_file(mvms_bases_parent **out, void *ctx, const char *path);

/* A pack of chunks @ids of the cache @st, as mvms_sync_export_chunks builds it, but with
 * every delta record decoded (its base from the cache, else the server while the fetch hook
 * is set) and stored full: for a server that refused the deltas. *inflated: how many. */
int mvms_remote__export_full(void **out, size_t *out_len, mvms_oid *pack_id, size_t *inflated,
			     mvms_store *st, const mvms_oid *ids, size_t n);

#endif
