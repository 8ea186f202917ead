/* SPDX-License-Identifier: MIT */
/*
 * What sync.c shares with sync_commit.c and sync_layout.c: the chunk list (filemap) layout,
 * the read of one stored record that exports and the commit's tensor check both make, and
 * the tensor layouts of committed files.
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

/* A hook of mvms_sync__export: adds chunk @id (its stored record @rec, at @loc) to @w in a
 * form of its own and returns 1, or returns 0 to have the record copied as it is stored. */
struct mvms_pack_writer;
typedef int (*mvms_sync__export_hook)(struct mvms_pack_writer *w, const mvms_oid *id,
				      const unsigned char *rec, const mvms_chunk_loc *loc,
				      void *arg);
/* A pack in memory (*out, *out_len; its id in *pack_id when not NULL) of the stored records
 * of chunks @ids, each passed through @hook first when there is one. */
int mvms_sync__export(void **out, size_t *out_len, mvms_oid *pack_id, mvms_store *st,
		      const mvms_oid *ids, size_t n, mvms_sync__export_hook hook, void *arg);

/* sync_layout.c: a chunk list's chunk ids and lengths (the list checked before); the tensor
 * layout of a committed file read from its stored chunks (*out NULL for plain bytes); the
 * layouts (*out: one per manifest file, NULL for most) of the side files that the
 * manifest's ONNX models point into, for the files this commit adds. */
struct mvms_tlayout;
struct mvms_manifest;
int mvms_sync__filemap_refs(mvms_chunk_ref **out, const void *data, size_t n);
int mvms_sync__layout(struct mvms_tlayout **out, mvms_store *st, const char *path, uint64_t size,
		      const mvms_chunk_ref *refs, size_t n);
/* The same for a content the store has (@id, of @size bytes). */
int mvms_sync__stored_layout(struct mvms_tlayout **out, mvms_store *st, const mvms_oid *id,
			     const char *path, uint64_t size);
int mvms_sync__side_layouts(struct mvms_tlayout ***out, mvms_store *st,
			    const struct mvms_manifest *m, const mvms_oid *fm_ids,
			    const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps);

#endif
