/* SPDX-License-Identifier: MIT */
/*
 * Per-chunk compression with a codec byte: zstd at a configurable level, raw when
 * compression does not shrink the chunk, or byte planes (codec_planes.c) for tensor data:
 * the bytes of each element are regrouped so that the low-entropy ones (a float's exponent)
 * sit together, and each group is compressed on its own. One mvms_codec per thread (it holds
 * zstd contexts and a scratch buffer, reused across chunks). It does not hash: the caller
 * verifies.
 */
#ifndef MVMS_CODEC_H
#define MVMS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "dtype.h"
#include "mvms/oid.h"

/* Stored in every pack record and index entry: never renumber. docs/formats.md gives the
 * payload of each. */
enum mvms_codec_id {
	MVMS_CODEC_RAW = 0,   /* stored as is */
	MVMS_CODEC_ZSTD = 1,  /* one zstd frame */
	MVMS_CODEC_PLANES = 2, /* byte planes: byte k of every element together (2, 4 or 8 planes) */
	MVMS_CODEC_BF16 = 3,  /* bfloat16: an exponent plane and a sign|mantissa plane */
	MVMS_CODEC_F32 = 4,   /* float32: an exponent plane and three sign|mantissa planes */
	MVMS_CODEC_DELTA = 5, /* against a base chunk of the same length (codec_delta.c) */
};

typedef struct mvms_codec mvms_codec;

/** @return 0 or MVMS_EINVALID for a level outside zstd's range (1..22 accepted, 0 = 3). */
int mvms_codec_new(mvms_codec **out, int level);
void mvms_codec_free(mvms_codec *c);

/** Capacity that mvms_codec_encode needs for a chunk of @raw_len bytes. */
size_t mvms_codec_bound(size_t raw_len);

/** 1 when @codec is one of enum mvms_codec_id (this build can decode it), else 0. */
int mvms_codec_known(uint8_t codec);

/**
 * 1 when a record of codec @codec may hold @stored_len bytes for @raw_len raw bytes (a known
 * codec; raw: the same length; zstd: at most mvms_codec_bound; planes: fewer than raw, the
 * encoder only picks them when they are smaller), else 0. Says nothing about the bytes.
 */
int mvms_codec_stored_ok(uint8_t codec, size_t raw_len, size_t stored_len);

/**
 * Compresses @len bytes at @src into @dst (capacity @dst_cap >= mvms_codec_bound(len)).
 * Sets *codec_out and *out_len. When zstd does not make it smaller the bytes are copied
 * and the codec is MVMS_CODEC_RAW. The layout is not known: byte planes are used only when
 * a cheap look at the bytes says they may win, and only when they are smaller than zstd.
 */
int mvms_codec_encode(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		      size_t dst_cap, const void *src, size_t len);

/**
 * The same for bytes known to be elements of @dtype (a chunk inside one tensor): 16- and
 * 32-bit floats are stored as byte planes (codec BF16, F32 or PLANES), any other dtype as
 * mvms_codec_encode does. A trailing part element (len not a multiple of the element size)
 * is fine.
 */
int mvms_codec_encode_as(mvms_codec *c, enum mvms_dtype dtype, uint8_t *codec_out,
			 size_t *out_len, void *dst, size_t dst_cap, const void *src, size_t len);

/**
 * Decodes @src_len stored bytes into exactly @raw_len bytes at @dst.
 * @return 0, MVMS_EINVALID for an unknown codec, MVMS_EMISMATCH when the stored bytes
 * are corrupt or decode to another length.
 */
int mvms_codec_decode(mvms_codec *c, void *dst, size_t raw_len, uint8_t codec,
		      const void *src, size_t src_len);

/* ---- deltas (codec_delta.c) ----
 * A delta record's payload: 32 B base chunk id | u8 transform | u8 inner codec | the inner
 * codec's payload (docs/formats.md). The base is a full (non-delta) record of the same raw
 * length; the transform is undone against its raw bytes after the inner payload is decoded. */
#define MVMS_CODEC_DELTA_HDR 34

/*
 * Where a codec finds a base's raw bytes: fills @out (@raw_len bytes) with the chunk @base,
 * which must be stored as a full record (not a delta) and hash to its id. It may use @c to
 * decode that record (never to decode a delta: the codec is not re-entered for one).
 * @return 0 or a negative MVMS_E* with the message set (MVMS_ENOTFOUND: no such base).
 */
typedef int (*mvms_codec_base_fn)(void *ctx, mvms_codec *c, const mvms_oid *base,
				  size_t raw_len, void *out);

/** Lets @c decode deltas: bases come from @fn (NULL: a delta cannot be decoded). The last
 * base is kept, so chunks sharing it cost one read. */
void mvms_codec_set_base(mvms_codec *c, mvms_codec_base_fn fn, void *ctx);

/**
 * Encodes @len bytes at @src (elements of @dtype) as a delta against @base (@len raw bytes
 * of the chunk @base_id) into @dst, if the record is at most @limit bytes (@dst holds
 * @limit). *out_len is its length, or 0 when no delta fits (or @dtype has none).
 */
int mvms_codec_encode_delta(mvms_codec *c, enum mvms_dtype dtype, const mvms_oid *base_id,
			    const void *base, size_t *out_len, void *dst, size_t limit,
			    const void *src, size_t len);

/** Reads the full record @id (@raw_len bytes) into @out through the codec's base callback
 * (a push reads the bases it diffs against this way). */
int mvms_codec_read_base(mvms_codec *c, const mvms_oid *id, size_t raw_len, void *out);

/** For a base callback: 1 when the base is read to decode a delta, whose own hash check
 * covers the base's bytes (the callback may skip hashing them), 0 when it is read to encode
 * one (a push: a wrong base must be caught now, or the delta would be made against it). */
int mvms_codec_base_for_decode(const mvms_codec *c);

/** The base chunk a delta payload names: 0, or MVMS_EMISMATCH when it is too short. */
int mvms_codec_delta_base(mvms_oid *out, const void *payload, size_t len);

#endif
