/* SPDX-License-Identifier: MIT */
/*
 * The codec's state, shared by codec.c (codec byte, zstd, raw, the choice) and
 * codec_planes.c (byte planes: transforms, the plane table, the layout guess).
 */
#ifndef MVMS_CODEC_INT_H
#define MVMS_CODEC_INT_H

#include <zstd.h>
#include "codec.h"

struct mvms_codec {
	ZSTD_CCtx *cctx;         /* whole chunks, at the store's level */
	ZSTD_CCtx *pctx;         /* planes, with the parameters codec_planes.c tunes */
	ZSTD_DCtx *dctx;
	int level;
	int text_level;          /* zstd level for chunks that look like text (codec.c) */
	unsigned char *scratch;  /* planes of one chunk (encode: regrouped input; decode: output) */
	size_t scratch_cap;
	unsigned char *alt;      /* the second candidate when two encodings are tried */
	size_t alt_cap;
	/* deltas (codec_delta.c) */
	mvms_codec_base_fn base_fn; /* where bases come from; NULL: deltas cannot be decoded */
	void *base_ctx;
	unsigned char *base;     /* the last base read, kept for the next delta on it */
	size_t base_cap, base_len;
	mvms_oid base_id;
	int base_valid;
	int base_decoding;       /* the callback runs for a delta's decode (not hashed) */
	unsigned char *delta;    /* encode: the transformed chunk; the second candidate */
	size_t delta_cap;
	unsigned char *delta2;
	size_t delta2_cap;
};

/* Grows *buf to at least @need bytes: 0 or MVMS_ERROR (out of memory). */
int mvms_codec__reserve(unsigned char **buf, size_t *cap, size_t need);

/* Sets pctx's parameters for planes, given the store's zstd level. */
int mvms_codec__planes_setup(mvms_codec *c);

/*
 * Encodes @len bytes as @width planes with codec @codec (PLANES, BF16 or F32) into @dst if
 * the result is at most @limit bytes (dst holds at least @limit). *out_len is the stored
 * length, or 0 when it would not fit in @limit. @return 0 or MVMS_ERROR (out of memory).
 */
int mvms_codec__planes_encode(mvms_codec *c, size_t *out_len, uint8_t codec, unsigned width,
			      void *dst, size_t limit, const void *src, size_t len);

/*
 * 1 when the planes payload @p (@len bytes, as mvms_codec__planes_encode wrote it) shows
 * structure that one zstd frame may code better: for F32, a low mantissa plane that
 * shrank (trained weights leave both incompressible). Reads the plane table only.
 */
int mvms_codec__planes_structured(uint8_t codec, const void *p, size_t len);

/* Decodes a PLANES, BF16 or F32 payload: 0, MVMS_EMISMATCH (corrupt) or MVMS_ERROR. */
int mvms_codec__planes_decode(mvms_codec *c, uint8_t codec, void *dst, size_t raw_len,
			      const void *src, size_t src_len);

/*
 * For bytes of unknown layout that zstd stores in @zstd_len bytes: the element width (2 or 4)
 * whose byte planes look clearly smaller by their byte statistics, or 0 when grouping is not
 * worth trying. One pass over the bytes, no compression.
 */
unsigned mvms_codec__planes_guess(const void *src, size_t len, size_t zstd_len);

/* Decodes a DELTA payload (codec_delta.c): 0, MVMS_EMISMATCH (corrupt), MVMS_ENOTFOUND (no
 * base), MVMS_EINVALID (no way to read bases) or MVMS_ERROR. */
int mvms_codec__delta_decode(mvms_codec *c, void *dst, size_t raw_len, const void *src,
			     size_t src_len);

#endif
