/* SPDX-License-Identifier: MIT */
/*
 * What merge.c shares with merge_layout.c (the per-tensor merge of files whose layout is the
 * same on both sides): the merge in progress and how a path's outcome is recorded.
 */
#ifndef MVMS_MERGE_INT_H
#define MVMS_MERGE_INT_H

#include "store_int.h"
#include "dag_int.h"

typedef struct merge_ctx merge_ctx;

mvms_store *mvms_merge__store(const merge_ctx *c);
int mvms_merge__strategy(const merge_ctx *c);      /* MVMS_MERGE_NONE, OURS or THEIRS */
size_t mvms_merge__conflicts(const merge_ctx *c);  /* conflicts found so far */
int mvms_merge__conflict(merge_ctx *c, const char *path, const char *tensor, const char *kind,
			 const char *base_id, const char *ours_id, const char *theirs_id);
/* @f, as it is, in the result. */
int mvms_merge__take(merge_ctx *c, const mvms_vfile *f);
/* @f's path and mode with the bytes of @built (a temporary file, removed at the end of the
 * merge; taken over, removed at once on failure) of @size bytes, counted as merged tensor
 * by tensor. */
int mvms_merge__take_built(merge_ctx *c, const mvms_vfile *f, char *built, uint64_t size);

/* merge_layout.c: merges a tensor file changed on both sides (@b the base) tensor by tensor
 * when both sides have the same tensors at the same places and the same bytes outside them:
 * the result is ours' file with each tensor's bytes from the side that changed it, a valid
 * file of the same format whatever it is. *merged 0: the layouts differ (nothing done);
 * 1: decided (the file taken, or tensor conflicts added). */
int mvms_merge__same_layout(int *merged, merge_ctx *c, const mvms_vfile *b, const mvms_vfile *o,
			    const mvms_vfile *t);

#endif
