/* SPDX-License-Identifier: MIT */
/*
 * The contents, content_chunks and tensors tables (contents.c): a file content, its chunk
 * list and its tensors.
 */
#ifndef MVMS_CONTENTS_H
#define MVMS_CONTENTS_H

#include "store_int.h"

struct mvms_tlayout;

/* The row of content @id; MVMS_ENOTFOUND (no message) when there is none. */
int mvms_contents__row(int64_t *out, mvms_store *st, const mvms_oid *id);
/* The size of content @id; MVMS_ENOTFOUND (no message) when there is none. */
int mvms_contents__size(uint64_t *out, mvms_store *st, const mvms_oid *id);
/* Adds a file content (its chunk list and tensors) unless it exists; *out is its row.
 * MVMS_ECONFLICT when one of its chunks is in no pack any more (a gc removed it). Run it
 * in the caller's write transaction. */
int mvms_contents__add(int64_t *out, mvms_store *st, const mvms_oid *id, uint64_t size,
		       const mvms_chunk_ref *chunks, size_t nchunks,
		       const struct mvms_tlayout *sf, const mvms_oid *tensor_ids);

#endif
