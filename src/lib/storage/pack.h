/* SPDX-License-Identifier: MIT */
/*
 * Packs: immutable objects holding many compressed chunks plus a trailing index, so a
 * pack can be listed and checked without SQLite. Layout (docs/formats.md):
 *
 *   header   16 B   "MVMSPACK" | u32 version (1) | u32 flags (0)
 *   records  each   u8 codec | u32 raw_len | u32 stored_len | 32 B chunk id | stored bytes
 *   index    each   32 B chunk id | u64 record offset | u32 raw_len | u32 stored_len | u8 codec
 *   trailer  56 B   u64 index offset | u32 count | u32 reserved (0) | 32 B index hash | "MVMSPEND"
 *
 * All integers little-endian. The pack id is the BLAKE2b-256 of the index bytes (which name
 * every chunk by its hash), and its key is "packs/<2 hex>/<64 hex>". This module writes and
 * parses packs; it does not decide which chunks go where (the store does).
 */
#ifndef MVMS_PACK_H
#define MVMS_PACK_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/oid.h"
#include "mvms/sys/backend.h"
#include "codec.h"

#define MVMS_PACK_HEADER_SIZE  16
#define MVMS_PACK_RECORD_HDR   41
#define MVMS_PACK_INDEX_ENTRY  49
#define MVMS_PACK_TRAILER_SIZE 56
#define MVMS_PACK_VERSION      1

typedef struct mvms_pack_entry {
	mvms_oid id;         /* BLAKE2b-256 of the raw chunk */
	uint64_t offset;     /* offset of the record header in the pack */
	uint32_t raw_len;    /* uncompressed length */
	uint32_t stored_len; /* bytes after the record header */
	uint8_t codec;       /* enum mvms_codec_id */
	mvms_oid base;       /* codec DELTA: the base chunk its record names (not in the pack's
			      * index: set by the writer, or by whoever decoded the record);
			      * zero otherwise */
} mvms_pack_entry;

/* One record's header (41 bytes: u8 codec | u32 raw_len | u32 stored_len | 32 B id). */
typedef struct mvms_pack_record {
	uint8_t codec;
	uint32_t raw_len, stored_len;
	mvms_oid id;
} mvms_pack_record;

/** Reads the record header at @hdr (MVMS_PACK_RECORD_HDR bytes). */
void mvms_pack_record_get(mvms_pack_record *out, const void *hdr);
/** Writes a record header at @hdr. */
void mvms_pack_record_put(void *hdr, const mvms_oid *id, uint8_t codec, uint32_t raw_len,
			  uint32_t stored_len);
/** 1 when a pack may hold a record of these fields: a known codec, a chunk length the
 * chunker can make, and a stored size the codec can produce (mvms_codec_stored_ok:
 * raw equal, zstd 1 to its bound, byte planes less than raw). Whoever takes records from outside checks this before buffering them. */
int mvms_pack_record_ok(uint8_t codec, uint32_t raw_len, uint32_t stored_len);
/** 1 when the header at @hdr is exactly the one an index entry describes (a record found
 * where the index says it is). */
int mvms_pack_record_is(const void *hdr, const mvms_oid *id, uint8_t codec, uint32_t raw_len,
			uint32_t stored_len);

typedef struct mvms_pack_writer mvms_pack_writer;

/** Starts a new pack on @be (nothing visible until finish). */
int mvms_pack_writer_new(mvms_pack_writer **out, mvms_backend *be);

/** Appends one chunk record with already-encoded bytes. */
int mvms_pack_writer_add(mvms_pack_writer *w, const mvms_oid *id, uint8_t codec,
			 uint32_t raw_len, const void *stored, uint32_t stored_len);

/**
 * Appends records already in pack form, back to back (41-byte header and stored bytes each),
 * each checked like mvms_pack_writer_add; a large run is written without a copy. On error
 * nothing of the run is added.
 */
int mvms_pack_writer_add_records(mvms_pack_writer *w, const void *records, size_t len);

/** Bytes written so far (header and records), to decide when a pack is full. */
uint64_t mvms_pack_writer_size(const mvms_pack_writer *w);

/** Records written so far. */
size_t mvms_pack_writer_count(const mvms_pack_writer *w);

/**
 * Writes index and trailer and commits the pack under its key. On success *id_out is the
 * pack id, *size_out its total size, and *entries_out and *count_out borrow the writer's
 * entry list (valid until mvms_pack_writer_free). MVMS_EINVALID on an empty pack.
 */
int mvms_pack_writer_finish(mvms_oid *id_out, uint64_t *size_out,
			    const mvms_pack_entry **entries_out, size_t *count_out,
			    mvms_pack_writer *w);

/** Frees the writer, aborting the object if it was not finished. NULL is a no-op. */
void mvms_pack_writer_free(mvms_pack_writer *w);

/**
 * Reads and checks a pack's trailer and index from @be: magic, index hash (which must equal
 * @expect_id when it is not NULL), entries inside the record area, in order, not
 * overlapping. *out is a malloc()ed array of *count entries (free()).
 * @return 0, MVMS_ENOTFOUND, MVMS_EMISMATCH (corrupt trailer or index, or another id).
 */
int mvms_pack_read_index(mvms_pack_entry **out, size_t *count, uint64_t *pack_size,
			 mvms_backend *be, const char *key, const mvms_oid *expect_id);

/**
 * mvms_pack_read_index of the pack at @data (@len bytes in memory, which it only borrows):
 * a pack that arrived over the network is read with the same checks as one on disk.
 */
int mvms_pack_read_index_mem(mvms_pack_entry **out, size_t *count, uint64_t *pack_size,
			     const void *data, size_t len, const mvms_oid *expect_id);

/**
 * Decodes one record at @rec (@rec_len bytes available, at least header + stored bytes):
 * the record header must name @expect and @raw_len, the bytes must decode to @raw_len
 * bytes at @dst whose BLAKE2b-256 is @expect.
 * @return 0 or MVMS_EMISMATCH (with a message naming the chunk).
 */
int mvms_pack_decode_record(mvms_codec *c, void *dst, uint32_t raw_len,
			    const mvms_oid *expect, const void *rec, size_t rec_len);

/**
 * mvms_pack_decode_record without the hash of the result: only for a delta's base, which
 * is decoded inside the delta's own mvms_pack_decode_record, whose hash covers every byte
 * of the base it used (a wrong base cannot make the right chunk). Hashing it too cost a
 * third of a fine-tuned version's pull. Every other check is made.
 */
int mvms_pack_decode_base(mvms_codec *c, void *dst, uint32_t raw_len, const mvms_oid *expect,
			  const void *rec, size_t rec_len);

#endif
