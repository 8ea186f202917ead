/* SPDX-License-Identifier: MIT */
/*
 * Per-chunk compression with a codec byte: zstd at a configurable level, raw when
 * compression does not shrink the chunk. One mvms_codec per thread (it holds zstd
 * contexts, reused across chunks). It does not hash: the caller verifies.
 */
#ifndef MVMS_CODEC_H
#define MVMS_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum mvms_codec_id {
	MVMS_CODEC_RAW = 0,  /* stored as is */
	MVMS_CODEC_ZSTD = 1, /* one zstd frame */
};

typedef struct mvms_codec mvms_codec;

/** @return 0 or MVMS_EINVALID for a level outside zstd's range (1..22 accepted, 0 = 3). */
int mvms_codec_new(mvms_codec **out, int level);
void mvms_codec_free(mvms_codec *c);

/** Capacity that mvms_codec_encode needs for a chunk of @raw_len bytes. */
size_t mvms_codec_bound(size_t raw_len);

/**
 * Compresses @len bytes at @src into @dst (capacity @dst_cap >= mvms_codec_bound(len)).
 * Sets *codec_out and *out_len. When zstd does not make it smaller the bytes are copied
 * and the codec is MVMS_CODEC_RAW.
 */
int mvms_codec_encode(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		      size_t dst_cap, const void *src, size_t len);

/**
 * Decodes @src_len stored bytes into exactly @raw_len bytes at @dst.
 * @return 0, MVMS_EINVALID for an unknown codec, MVMS_EMISMATCH when the stored bytes
 * are corrupt or decode to another length.
 */
int mvms_codec_decode(mvms_codec *c, void *dst, size_t raw_len, uint8_t codec,
		      const void *src, size_t src_len);

#endif
