/* SPDX-License-Identifier: MIT */
/*
 * What the database says is stored, for verify: the packs with their sizes and chunk rows,
 * the contents some version's file uses with their chunk lists, and every version's
 * manifest id. Reads only; ops/verify.c compares them with the objects themselves.
 */
#ifndef MVMS_INVENTORY_H
#define MVMS_INVENTORY_H

#include "db.h"

/* Every pack row in id order: row ids, pack ids, and their total size (free() both). Rows
 * with a malformed id are left out. */
int mvms_inventory_packs(int64_t **rows, mvms_oid **ids, size_t *n, uint64_t *total, mvms_db *db);
/* The size the database records for pack row @row (0 when there is none). */
int mvms_inventory_pack_size(uint64_t *out, mvms_db *db, int64_t row);

/* One chunk row of a pack, as the database places it. */
typedef struct mvms_inventory_chunk {
	mvms_oid id;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	uint8_t codec;
} mvms_inventory_chunk;
/* Calls @cb for each chunk row of pack row @row (malformed ids skipped); a non-zero return
 * of @cb stops and is returned. */
int mvms_inventory_pack_chunks(mvms_db *db, int64_t row,
			       int (*cb)(const mvms_inventory_chunk *ch, void *payload), void *payload);

/* A page of the contents some file uses, after content row @after in row order: up to @max
 * rows into rows/ids/sizes/counts (chunk counts); *n rows kept (a malformed id is left
 * out), *read rows read (a page is full when *read == max), *after moved past them. */
int mvms_inventory_contents(int64_t *rows, mvms_oid *ids, uint64_t *sizes, uint64_t *counts,
			    size_t max, size_t *n, size_t *read, int64_t *after, mvms_db *db);
/* 1 when content row @row's chunks are @list[0..n) in order, 0 when not. */
int mvms_inventory_same_chunks(mvms_db *db, int64_t row, const mvms_oid *list, size_t n);

/* The next version after row *after (in row order) with a well-formed id: 1 with its
 * manifest id, "model@vN" in @who and *after moved to it; 0 when there is none. */
int mvms_inventory_next_manifest(mvms_oid *id, char *who, size_t whosz, int64_t *after,
				 mvms_db *db);

#endif
