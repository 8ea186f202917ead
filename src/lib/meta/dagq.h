/* SPDX-License-Identifier: MIT */
/*
 * The DAG and diff queries of ops/lineage.c and ops/diff.c: a version's record for a
 * lineage node, its parents or children, its generation, the chunks of a content or of a
 * version. (A version's files and a content's tensors, for diff and merge: dag_int.h.)
 */
#ifndef MVMS_DAGQ_H
#define MVMS_DAGQ_H

#include "db.h"
#include "mvms/dag.h"

/* Fills @n's id, model, number, message and created_at from version row @row: 1, or 0 when
 * there is no such row. */
int mvms_dagq_node(mvms_lineage_node *n, mvms_db *db, int64_t row);
/* The parents (@up, in position order) or children of version row @row, with their
 * positions, into the growing arrays *rows and *pos (capacity *cap); *n of them. */
int mvms_dagq_neighbours(int64_t **rows, int **pos, size_t *n, size_t *cap, mvms_db *db,
			 int64_t row, int up);
/* The generation of version row @row: 1, or 0 when there is no such row. */
int mvms_dagq_generation(int64_t *out, mvms_db *db, int64_t row);
/* The parents of version row @row in position order with their generations: *out is
 * malloc()ed pairs (row, generation), *n pairs. */
int mvms_dagq_parents(int64_t **out, size_t *n, mvms_db *db, int64_t row);

/* Calls @cb with every chunk row of content @content and its raw length; of version @row
 * (each chunk once). A negative return of @cb stops and is returned. */
int mvms_dagq_content_chunks(mvms_db *db, int64_t content,
			     int (*cb)(int64_t chunk, uint64_t len, void *payload), void *payload);
int mvms_dagq_version_chunks(mvms_db *db, int64_t row, int (*cb)(int64_t chunk, void *payload),
			     void *payload);
/* Calls @cb with every chunk row of version @row once, with its stored (compressed payload)
 * length: what the diff counts as the bytes the store keeps for a version. */
int mvms_dagq_version_chunks_stored(mvms_db *db, int64_t row,
				    int (*cb)(int64_t chunk, uint64_t stored_len, void *payload),
				    void *payload);

#endif
