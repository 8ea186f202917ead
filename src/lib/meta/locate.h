/* SPDX-License-Identifier: MIT */
/*
 * Where a file's bytes are: the queries a pull and the server's reads make of the chunk
 * index (contents, content_chunks, chunks, packs) and of the sources (files outside the
 * store that hold chunks). Read only; the SQL of pull, the records stream, range reads and
 * the protocol's chunk exports.
 */
#ifndef MVMS_LOCATE_H
#define MVMS_LOCATE_H

#include "store_int.h"

/* A chunk of a file, and where its record is. */
typedef struct mvms_chunk_loc {
	mvms_oid id, pack;
	uint64_t at;              /* the record's offset in the pack */
	uint32_t raw_len, stored; /* the chunk's bytes; the record's stored bytes (after its header) */
	uint8_t codec;
	uint64_t file_off;        /* the chunk's offset in the file */
} mvms_chunk_loc;

/* The chunks of a file in file order, read on a statement of the cursor's own (callers run
 * other, cached statements while it is open). */
typedef struct mvms_locate_cursor mvms_locate_cursor;

/* The chunks of content row @content that overlap bytes [start, end). */
int mvms_locate__open(mvms_locate_cursor **out, mvms_store *st, int64_t content, uint64_t start,
		      uint64_t end);
/* The same by the content's id (start 0 and end UINT64_MAX: every chunk); nothing (no
 * rows) when no content has it. */
int mvms_locate__open_oid(mvms_locate_cursor **out, mvms_store *st, const mvms_oid *content,
			  uint64_t start, uint64_t end);
/* 1 with *loc; 0 at the end (and at every call after); <0 on a database error. */
int mvms_locate__next(mvms_chunk_loc *loc, mvms_locate_cursor *c);
void mvms_locate__close(mvms_locate_cursor *c);

/* File @path of version @version_id (hex): its content row, id and size. 1 when found, 0
 * when the version has no such file, <0 on error. */
int mvms_locate__file(int64_t *content, mvms_oid *id, uint64_t *size, mvms_store *st,
		      const char *version_id, const char *path);
/* The length of content row @content as its records: a header per chunk and its stored
 * bytes. */
int mvms_locate__records_size(uint64_t *bytes, mvms_store *st, int64_t content);
/* Where chunk @id is stored in a pack (id, pack, at, raw_len, stored, codec; file_off 0).
 * 1 when a pack holds it, 0 when none does, <0 on error. */
int mvms_locate__chunk(mvms_chunk_loc *loc, mvms_store *st, const mvms_oid *id);
/* A source file holding chunk @id: its row id, its path (a new string: free it), the
 * chunk's offset and length in it. 1 when found, 0 when no source has it, <0 on error. */
int mvms_locate__source(int64_t *source, char **path, uint64_t *offset, uint32_t *len,
			mvms_store *st, const mvms_oid *id);

#endif
