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

/* Stored in every pack record and index entry: never renumber. docs/formats.md gives the
 * payload of each. */
enum mvms_codec_id {
	MVMS_CODEC_RAW = 0,   /* stored as is */
	MVMS_CODEC_ZSTD = 1,  /* one zstd frame */
	MVMS_CODEC_PLANES = 2, /* byte planes: byte k of every element together (2, 4 or 8 planes) */
	MVMS_CODEC_BF16 = 3,  /* bfloat16: an exponent plane and a sign|mantissa plane */
	MVMS_CODEC_F32 = 4,   /* float32: an exponent plane and three sign|mantissa planes */
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

#endif
