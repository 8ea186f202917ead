/* SPDX-License-Identifier: MIT */
/*
 * The store's private state, shared by the operation modules (push, pull, refs, verify).
 */
#ifndef MVMS_STORE_INT_H
#define MVMS_STORE_INT_H

#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/chunker.h"
#include "mvms/backend.h"
#include "db.h"

#define MVMS_PACK_SIZE_DEFAULT (64ull * 1024 * 1024)
#define MVMS_LEVEL_DEFAULT 3

struct mvms_store {
	char *path;                  /* the store directory */
	mvms_db *db;
	mvms_backend *be;
	char backend_name[16];
	mvms_chunker_params chunker; /* recorded at init: changing it changes every id */
	int level;
	uint64_t pack_size;
};

/* Row id of a model by name: MVMS_ENOTFOUND when absent. */
int mvms_store__model_id(int64_t *out, mvms_store *st, const char *name);
/* Registers @name unless it exists; *out is its row id. */
int mvms_store__model_ensure(int64_t *out, mvms_store *st, const char *name);
/* The model row id and uid of a version row. */
int mvms_store__model_uid(char *uid_out, mvms_store *st, int64_t model_id);

/* Resolves a spec to a versions row id (and fills info when info_out is not NULL). */
int mvms_refs__resolve_row(int64_t *row_out, mvms_version_info **info_out, mvms_store *st,
			   const char *spec);
/* Loads a version by row id. */
int mvms_version__load(mvms_version_info **out, mvms_store *st, int64_t row);
/* Branch head row id (0 with MVMS_ENOTFOUND when the branch does not exist). */
int mvms_refs__branch_head(int64_t *out, mvms_store *st, int64_t model_id, const char *branch);

/* "unknown" / $MVMS_AUTHOR / $USER. */
const char *mvms_store__default_author(void);

#endif
