/* SPDX-License-Identifier: MIT */
/*
 * The rows gc reads and removes: whether a pack, a chunk list or a manifest is still
 * referenced (a deleted version's manifest is not: schema/007_history.sql), contents no
 * version uses, and a pack's index rows.
 * The queries alone; what to remove, and when, is decided in ops/gc.c and ops/sweep.c.
 */
#ifndef MVMS_GCROWS_H
#define MVMS_GCROWS_H

#include "db.h"

/* 1 when referenced, 0 when not, negative on a database error. With @dry (nothing was
 * removed yet) only rows that would stay count: contents some file uses or written after
 * @cutoff. */
int mvms_gcrows_pack_used(mvms_db *db, const mvms_oid *pack, int dry, int64_t cutoff);
int mvms_gcrows_content_kept(mvms_db *db, const mvms_oid *content, int dry, int64_t cutoff);
/* 1 when the pack has index rows, 1 when a version has manifest @id; 0 when not. */
int mvms_gcrows_pack_indexed(mvms_db *db, const mvms_oid *pack);
int mvms_gcrows_manifest_used(mvms_db *db, const mvms_oid *id);

/* Calls @cb for every pack row (its id and when it was written); a negative return of @cb
 * stops and is returned. Rows with a malformed id are skipped. */
typedef int (*mvms_gcrows_pack_cb)(const mvms_oid *pack, int64_t created_at, void *payload);
int mvms_gcrows_packs(mvms_db *db, mvms_gcrows_pack_cb cb, void *payload);

/* Contents written at or before @cutoff that no file uses: how many; drop them (with their
 * chunk lists and tensors). */
int mvms_gcrows_unused_contents(uint64_t *out, mvms_db *db, int64_t cutoff);
int mvms_gcrows_drop_unused_contents(mvms_db *db, int64_t cutoff);
/* Drops a pack's index rows (chunks, then the pack); *chunks += the chunk rows dropped. */
int mvms_gcrows_drop_pack(uint64_t *chunks, mvms_db *db, const mvms_oid *pack);

/* Rewriting packs that hold both used and unused chunks (ops/repack.c), so that no byte of
 * a deleted version is left in a pack some other version keeps. */
typedef struct mvms_gcrows_chunk {
	mvms_oid id;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	uint8_t codec;
} mvms_gcrows_chunk;
/* Packs written at or before @cutoff with both used and unused chunks (free()). With @dry
 * (nothing removed yet), chunks only contents that would go use count as unused. */
int mvms_gcrows_mixed_packs(mvms_oid **out, size_t *count, mvms_db *db, int dry, int64_t cutoff);
/* The used chunks of @pack by offset (free()); *dead counts the unused ones (@dry: as above). */
int mvms_gcrows_pack_chunks(mvms_gcrows_chunk **out, size_t *count, size_t *dead, mvms_db *db,
			    const mvms_oid *pack, int dry, int64_t cutoff);
/* In the caller's write transaction: indexes pack @to (@size bytes, holding @chunks at their
 * new offsets), moves those chunks' rows from @from to it and drops @from's other chunk rows
 * (*dropped += how many); @from's pack row stays for the sweep to remove with its object.
 * MVMS_ECONFLICT when one of the dropped chunks is used by now (roll back). */
int mvms_gcrows_move_chunks(uint64_t *dropped, mvms_db *db, const mvms_oid *from,
			    const mvms_oid *to, uint64_t size, const mvms_gcrows_chunk *chunks,
			    size_t n);

#endif
