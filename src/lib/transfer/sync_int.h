/* SPDX-License-Identifier: MIT */
/*
 * What sync.c shares with sync_commit.c: the chunk list (filemap) layout and the read of
 * one stored record that exports and the commit's tensor check both make.
 */
#ifndef MVMS_SYNC_INT_H
#define MVMS_SYNC_INT_H

#include "store_int.h"
#include "locate.h"

/* A chunk list: a 32-byte header, then per chunk its id and its length (le64). */
#define FILEMAP_HDR 32
#define FILEMAP_ENTRY 40

/* Reads the stored record (header and bytes) of chunk @id into *rec (grown as needed, its
 * size in *rec_cap) and says where it is in *loc. Its header must be the one the index
 * describes; the bytes are not decoded (whoever uses them decodes and checks them).
 * MVMS_ENOTFOUND when no pack holds the chunk. */
int mvms_sync__read_record(unsigned char **rec, size_t *rec_cap, mvms_store *st,
			   const mvms_oid *id, mvms_chunk_loc *loc);

#endif
