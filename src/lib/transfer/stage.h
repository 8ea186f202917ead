/* SPDX-License-Identifier: MIT */
/*
 * The local half of a remote push (stage.c): mvms_sync_stage (mvms/sync.h) stores the
 * files' chunks in the client's cache, and this says whether the server's head already
 * has exactly those files (then the push makes no version, as a local one).
 */
#ifndef MVMS_STAGE_H
#define MVMS_STAGE_H

#include "mvms/sync.h"

struct cJSON;
struct mvms_bases_parent;

struct mvms_push__base_hooks;

/* mvms_sync_stage_opts, with the parent files of a remote push's fine-tune deltas from
 * @parent_fn (push_spec.parent_fn; NULL: no deltas) and their bases named ahead through
 * @hooks (push_spec.base_hooks; NULL: none). */
int mvms_stage__run(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
		    const mvms_push_options *po,
		    int (*parent_fn)(struct mvms_bases_parent **, void *, const char *), void *ctx,
		    const struct mvms_push__base_hooks *hooks);

/* 1 when @head (the server's version JSON, with "file_list") has exactly @files. */
int mvms_stage__same_as_head(const struct cJSON *head, const mvms_sync_file *files, size_t n);

#endif
