/* SPDX-License-Identifier: MIT */
/*
 * Which models reach an object: the models whose names match a glob, and whether some
 * version of one of them holds a manifest, a chunk list or a chunk. Answered through the
 * indexes the store keeps anyway (versions.oid, contents.oid, files_content,
 * content_chunks_chunk). Used by ops/access.c for model-scoped tokens.
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

#endif
