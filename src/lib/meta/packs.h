/* SPDX-License-Identifier: MIT */
/*
 * The packs and chunks tables (packs.c): indexing a written pack, and chunk look-ups by id.
 */
#ifndef MVMS_PACKS_H
#define MVMS_PACKS_H

#include "store_int.h"
#include "pack.h"

/* Indexes a durable pack and its chunks (one transaction; existing rows are kept). When
 * the database cannot, the pack is removed unless someone may need it, and the message
 * says which. MVMS_ECONFLICT when a gc removed the pack as it was written. */
int mvms_packs__index(mvms_store *st, const mvms_oid *pid, uint64_t size,
		      const mvms_pack_entry *entries, size_t count);
/* Finishes pack writer @w (which it frees, whatever the result) and indexes the pack;
 * *size_out (may be NULL) is its size. */
int mvms_packs__commit(uint64_t *size_out, mvms_store *st, mvms_pack_writer *w);
/* missing[i] = 1 when no pack holds chunk ids[i] (one read transaction for n > 1). */
int mvms_packs__missing(unsigned char *missing, mvms_store *st, const mvms_oid *ids, size_t n);
/* The same look-ups on connection @db, in whatever read transaction its caller holds
 * (packs_look.c: a second connection's, shared by a batch of them). */
int mvms_packs__missing_on(unsigned char *missing, mvms_db *db, const mvms_oid *ids, size_t n);
/* The chunk's row id; MVMS_ENOTFOUND (no message) when no pack holds it. */
int mvms_packs__chunk_row(int64_t *out, mvms_store *st, const mvms_oid *id);
/* The raw length of stored chunk @id; MVMS_ENOTFOUND (no message) when it is not stored. */
int mvms_packs__chunk_len(uint64_t *out, mvms_store *st, const mvms_oid *id);

#endif
