/* SPDX-License-Identifier: MIT */
/*
 * Chunk lists kept in chunk-list packs ("lists/ab/<id>", docs/formats.md, level 14): the
 * content_lists rows (content id -> list pack and offset) and reading a content's chunk
 * list wherever it is, a list pack or its own "files/ab/<id>" object (stores made before
 * level 14, large lists, contents a remote push sent). Writing list packs is the push's
 * (transfer/push_lists.c); gc's use of these rows is ops/sweep.c.
 */
#ifndef MVMS_CLISTS_H
#define MVMS_CLISTS_H

#include "store_int.h"

/* The list pack object: "MVMSLPAK" | u32 version = 1 | u32 count, then count chunk lists,
 * each exactly as a "files" object (32 B header, 40 B entries), back to back. Its id is
 * the BLAKE2b-256 of all its bytes. */
#define MVMS_LPAK_HDR 16
#define MVMS_FMAP_HDR 32
#define MVMS_FMAP_ENTRY 40
/* A chunk list longer than this keeps its own "files" object (and a list pack is closed
 * once it reaches MVMS_LPAK_MAX): memory and a catch-up's reads stay bounded. */
#define MVMS_LPAK_ITEM_MAX (1u << 20)
#define MVMS_LPAK_MAX (8u << 20)

/* In the commit's write transaction, before the contents row: content @content's chunk
 * list is at @offset in list pack @pack. */
int mvms_clists__add(mvms_store *st, const mvms_oid *content, const mvms_oid *pack,
		     uint64_t offset);
/* Where content @content's chunk list is: its list pack and offset (0), or MVMS_ENOTFOUND
 * (then it is "files/ab/<content>"). */
int mvms_clists__locate(mvms_oid *pack, uint64_t *offset, mvms_store *st,
			const mvms_oid *content);
/* The chunk list of @content as the bytes of a "files" object (header and entries; free()),
 * from its list pack or its own object, checked: well formed and hashing to @content.
 * @count, when not 0, is its expected entry count (one read instead of two from a list
 * pack). MVMS_ENOTFOUND when neither is there. */
int mvms_clists__read(void **out, size_t *out_len, mvms_store *st, const mvms_oid *content,
		      uint64_t count);
/* gc: 1 when list pack @pack holds the chunk list of a content that stays (with @dry, as
 * mvms_gcrows_content_kept: one some file uses or written after @cutoff), 0 when not. */
int mvms_clists__pack_kept(mvms_db *db, const mvms_oid *pack, int dry, int64_t cutoff);
/* verify: calls @cb for every content id with its list pack; stops on a negative return. */
typedef int (*mvms_clists_cb)(const mvms_oid *content, const mvms_oid *pack, uint64_t offset,
			      void *payload);
int mvms_clists__each(mvms_db *db, mvms_clists_cb cb, void *payload);

#endif
