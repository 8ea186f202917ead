/* SPDX-License-Identifier: MIT */
/*
 * Which versions reach an object: whether some version of a model whose name matches a
 * glob holds a manifest, a chunk list or a chunk (ops/access.c, for model-scoped tokens),
 * and the versions a damaged pack, chunk or content breaks (ops/verify.c). Answered through
 * the indexes the store keeps anyway (versions.oid, contents.oid, files_content,
 * content_chunks_chunk).
 */
#ifndef MVMS_REACH_H
#define MVMS_REACH_H

#include "db.h"

enum mvms_reach_kind { MVMS_REACH_MANIFEST, MVMS_REACH_FILE, MVMS_REACH_CHUNK };

/* The ids of the models whose names match @glob (fnmatch), sorted (free()). */
int mvms_reach_models(int64_t **out, size_t *count, mvms_db *db, const char *glob);
/* *hit = 1 when a version of one of @models (sorted ids) holds object @id of @kind, else 0.
 * An object the database does not know is held by nothing. */
int mvms_reach_held(int *hit, mvms_db *db, enum mvms_reach_kind kind, const mvms_oid *id,
		    const int64_t *models, size_t nmodels);

/* "m@v1, m@v2": the versions whose files use a chunk of pack row @pack_row, chunk @chunk, or
 * content row @content ("" when none). */
int mvms_reach_pack_users(mvms_buf *out, mvms_db *db, int64_t pack_row);
int mvms_reach_chunk_users(mvms_buf *out, mvms_db *db, const mvms_oid *chunk);
int mvms_reach_content_users(mvms_buf *out, mvms_db *db, int64_t content);

#endif
