/* SPDX-License-Identifier: MIT */
/*
 * The rows of a new version (commit.c): versions (with its number), version_parents,
 * version_meta and files. The caller holds the write transaction.
 */
#ifndef MVMS_COMMIT_H
#define MVMS_COMMIT_H

#include "store_int.h"

typedef struct mvms_commit__version {
	int64_t model_id;
	const char *id;              /* hex version id: the manifest's hash */
	const char *message, *author;
	int64_t time;
	size_t file_count;
	uint64_t logical_bytes;
	const int64_t *parents;      /* parent version rows, in order */
	size_t nparents;
	char *const *meta_keys, *const *meta_values;
	size_t meta_count;
} mvms_commit__version;

/* Adds the version row (numbered after the model's last), its parents and metadata;
 * *row and *number are the new version's. MVMS_EEXISTS when the version exists. A deleted
 * version (a tombstone) of that id is revived instead, under its number. */
int mvms_commit__add_version(int64_t *row, int64_t *number, mvms_store *st,
			     const mvms_commit__version *v);
/* Adds file @path of version @version_row, pointing at content row @content. */
int mvms_commit__add_file(mvms_store *st, int64_t version_row, const char *path, unsigned mode,
			  int64_t content);

#endif
