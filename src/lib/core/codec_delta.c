/* SPDX-License-Identifier: MIT */
/*
 * Delta records (codec 5): a chunk of a fine-tuned tensor stored against the parent
 * version's chunk at the same place (its base, always a full record of the same length).
 * The new elements are turned into their difference from the base's (XOR, or an integer
 * difference zigzag-mapped so that small changes of either sign are small numbers), which
 * leaves mostly zero high bytes; those bytes are grouped into planes and compressed as
 * codec_planes.c does. Decoding asks the codec's base callback for the base's raw bytes
 * (the store reads them: meta/bases.c, which for a decode leaves their hash to the result's
 * check below) and keeps the last one. It does not hash
 * the result: the caller checks it against the chunk id as for any codec.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "common.h"
#include "codec_int.h"

/* Transforms (the payload's byte 32). */
enum {
	DELTA_XOR = 0,    /* byte by byte */
	DELTA_SUB16 = 1,  /* u16 elements: zigzag(new - base), trailing byte XOR */
	DELTA_SUB32 = 2,  /* u32 elements: zigzag(new - base), trailing bytes XOR */
	DELTA_OPS
};

void mvms_codec_set_base(mvms_codec *c, mvms_codec_base_fn fn, void *ctx)
{
	c->base_fn = fn;
	c->base_ctx = ctx;
	c->base_valid = 0;
}

int mvms_codec_read_base(mvms_codec *c, const mvms_oid *id, size_t raw_len, void *out)
{
	if (!c->base_fn)
		return mvms_error_set(MVMS_EINVALID, "codec: no store to read a base from");
	c->base_valid = 0; /* the callback may use the codec's buffers */
	c->base_decoding = 0;
	return c->base_fn(c->base_ctx, c, id, raw_len, out);
}

int mvms_codec_base_for_decode(const mvms_codec *c)
{
	return c->base_decoding;
}

int mvms_codec_delta_base(mvms_oid *out, const void *payload, size_t len)
{
	if (len <= MVMS_CODEC_DELTA_HDR)
		return mvms_error_set(MVMS_EMISMATCH, "codec: delta record of %zu bytes", len);
	memcpy(out->id, payload, MVMS_OID_RAWSZ);
	return 0;
}

/*
 * The transforms run over whole blocks of DBLK bytes as native integers, a fixed trip count
 * the compiler's -O2 vectorizer takes (a pull of a fine-tuned version spent a fifth of its
 * time in the byte-at-a-time loops), and byte by byte over the tail. The blocks need a
 * little-endian host; another runs the byte loops throughout, with the same results.
 */
#define DBLK 64
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DELTA_BLOCKS 1
#else
#define DELTA_BLOCKS 0
#endif

static uint16_t zz16(uint16_t v)
{
	return (uint16_t)((uint16_t)(v << 1) ^ (uint16_t)(0u - (v >> 15)));
}

static uint16_t unzz16(uint16_t z)
{
	return (uint16_t)((z >> 1) ^ (uint16_t)(0u - (z & 1u)));
}

static uint32_t zz32(uint32_t v)
{
	return (v << 1) ^ (0u - (v >> 31));
}

static uint32_t unzz32(uint32_t z)
{
	return (z >> 1) ^ (0u - (z & 1u));
}

/* d = transform(s, b), @len bytes (little-endian elements). */
static void forward(unsigned op, unsigned char *restrict d, const unsigned char *restrict s,
		    const unsigned char *restrict b, size_t len)
{
	size_t i = 0;
	int k;

	for (; DELTA_BLOCKS && i + DBLK <= len; i += DBLK) {
		if (op == DELTA_SUB16) {
			uint16_t x[DBLK / 2], y[DBLK / 2];
			memcpy(x, s + i, DBLK);
			memcpy(y, b + i, DBLK);
			for (k = 0; k < DBLK / 2; k++)
				x[k] = zz16((uint16_t)(x[k] - y[k]));
			memcpy(d + i, x, DBLK);
		} else if (op == DELTA_SUB32) {
			uint32_t x[DBLK / 4], y[DBLK / 4];
			memcpy(x, s + i, DBLK);
			memcpy(y, b + i, DBLK);
			for (k = 0; k < DBLK / 4; k++)
				x[k] = zz32(x[k] - y[k]);
			memcpy(d + i, x, DBLK);
		} else {
			for (k = 0; k < DBLK; k++)
				d[i + (size_t)k] = s[i + (size_t)k] ^ b[i + (size_t)k];
		}
	}
	if (op == DELTA_SUB16) {
		for (; i + 2 <= len; i += 2) {
			uint16_t x = (uint16_t)(s[i] | s[i + 1] << 8), y = (uint16_t)(b[i] | b[i + 1] << 8);
			uint16_t z = zz16((uint16_t)(x - y));
			d[i] = (unsigned char)z;
			d[i + 1] = (unsigned char)(z >> 8);
		}
	} else if (op == DELTA_SUB32) {
		for (; i + 4 <= len; i += 4)
			mvms_le32_put(d + i, zz32(mvms_le32_get(s + i) - mvms_le32_get(b + i)));
	}
	for (; i < len; i++)
		d[i] = s[i] ^ b[i];
}

/* In place: d = inverse(d, b). */
static void inverse(unsigned op, unsigned char *restrict d, const unsigned char *restrict b,
		    size_t len)
{
	size_t i = 0;
	int k;

	for (; DELTA_BLOCKS && i + DBLK <= len; i += DBLK) {
		if (op == DELTA_SUB16) {
			uint16_t z[DBLK / 2], y[DBLK / 2];
			memcpy(z, d + i, DBLK);
			memcpy(y, b + i, DBLK);
			for (k = 0; k < DBLK / 2; k++)
				z[k] = (uint16_t)(y[k] + unzz16(z[k]));
			memcpy(d + i, z, DBLK);
		} else if (op == DELTA_SUB32) {
			uint32_t z[DBLK / 4], y[DBLK / 4];
			memcpy(z, d + i, DBLK);
			memcpy(y, b + i, DBLK);
			for (k = 0; k < DBLK / 4; k++)
				z[k] = y[k] + unzz32(z[k]);
			memcpy(d + i, z, DBLK);
		} else {
			for (k = 0; k < DBLK; k++)
				d[i + (size_t)k] ^= b[i + (size_t)k];
		}
	}
	if (op == DELTA_SUB16) {
		for (; i + 2 <= len; i += 2) {
			uint16_t z = (uint16_t)(d[i] | d[i + 1] << 8), y = (uint16_t)(b[i] | b[i + 1] << 8);
			uint16_t x = (uint16_t)(y + unzz16(z));
			d[i] = (unsigned char)x;
			d[i + 1] = (unsigned char)(x >> 8);
		}
	} else if (op == DELTA_SUB32) {
		for (; i + 4 <= len; i += 4)
			mvms_le32_put(d + i, mvms_le32_get(b + i) + unzz32(mvms_le32_get(d + i)));
	}
	for (; i < len; i++)
		d[i] ^= b[i];
}

/* The transformed chunk in c->delta as planes (or one zstd frame) after a header naming
 * @op, into @dst if at most @limit bytes: *out_len, or 0 when it does not fit. With
 * @planes_only, a chunk whose planes do not fit is not tried as one frame either. */
static int encode_op(mvms_codec *c, size_t *out_len, unsigned op, unsigned width,
		     const mvms_oid *base_id, unsigned char *dst, size_t limit, size_t len,
		     int planes_only)
{
	size_t room = limit - MVMS_CODEC_DELTA_HDR, n = 0;
	uint8_t inner = MVMS_CODEC_PLANES;
	int error = 0;

	*out_len = 0;
	if (limit <= MVMS_CODEC_DELTA_HDR + 1)
		goto done;
	if (width > 1 && len > width)
		MVMS_TRY(mvms_codec__planes_encode(c, &n, MVMS_CODEC_PLANES, width,
						   dst + MVMS_CODEC_DELTA_HDR, room, c->delta, len));
	if (n && n * 8 < len) {
		/* Mostly zeros (a tensor that hardly moved): one frame finds the runs that the
		 * planes' entropy-tuned zstd does not (0.018x raw against 0.040x at 0.1% drift). */
		size_t z;
		MVMS_TRY(mvms_codec__reserve(&c->alt, &c->alt_cap, n));
		z = ZSTD_compressCCtx(c->cctx, c->alt, n, c->delta, len, c->level);
		if (!ZSTD_isError(z) && z < n) {
			memcpy(dst + MVMS_CODEC_DELTA_HDR, c->alt, z);
			inner = MVMS_CODEC_ZSTD;
			n = z;
		}
	}
	if (n == 0 && planes_only && width > 1 && len > width)
		goto done;
	if (n == 0) {
		size_t z = ZSTD_compressCCtx(c->cctx, dst + MVMS_CODEC_DELTA_HDR, room, c->delta,
					     len, c->level);
		if (ZSTD_isError(z) || z >= room)
			goto done;
		inner = MVMS_CODEC_ZSTD;
		n = z;
	}
	memcpy(dst, base_id->id, MVMS_OID_RAWSZ);
	dst[32] = (unsigned char)op;
	dst[33] = inner;
	*out_len = MVMS_CODEC_DELTA_HDR + n;
done:
	return error;
}

int mvms_codec_encode_delta(mvms_codec *c, enum mvms_dtype dtype, const mvms_oid *base_id,
			    const void *base, size_t *out_len, void *dst, size_t limit,
			    const void *src, size_t len)
{
	unsigned width, op_sub;
	size_t n1 = 0, n2 = 0;
	int error = 0;

	*out_len = 0;
	switch (dtype) {
	case MVMS_DTYPE_BF16:
	case MVMS_DTYPE_F16: width = 2; op_sub = DELTA_SUB16; break;
	case MVMS_DTYPE_F32: width = 4; op_sub = DELTA_SUB32; break;
	default: goto done; /* deltas of other types were not measured to pay */
	}
	if (limit >= len)
		limit = len - 1; /* a delta record is always shorter than the raw bytes */
	if (len <= MVMS_CODEC_DELTA_HDR + 1 || limit <= MVMS_CODEC_DELTA_HDR + 1)
		goto done;
	MVMS_TRY(mvms_codec__reserve(&c->delta, &c->delta_cap, len));
	MVMS_TRY(mvms_codec__reserve(&c->delta2, &c->delta2_cap, limit));
	/* The difference first; XOR too where it could win (below), the smaller kept. (An
	 * earlier measurement on tests/mkdelta's bf16 model had XOR win on some chunks, 0.230x
	 * raw with the difference alone against 0.215x with both; today's code stores 0.194x
	 * there with or without XOR.) */
	forward(op_sub, c->delta, src, base, len);
	MVMS_TRY(encode_op(c, &n1, op_sub, width, base_id, dst, limit, len, 0));
	/* XOR only when the difference kept more than a third of the chunk. On every drift
	 * measured (bf16, f16 and f32 models, every value drifted 0.1%, 1% or 10%: mkmodel
	 * --drift) XOR never stored a byte less, and trying it cost a fifth of a drifted push's
	 * CPU; it can win where values flip sign (additive updates near zero), which leaves
	 * the difference large. */
	if (!n1 || n1 * 3 > len) {
		/* When the difference fitted, XOR must beat it in planes: its planes not fitting
		 * under the difference's size, one frame of it would not either, and trying it
		 * cost more than half of a drifted push's CPU (for no byte saved there). */
		forward(DELTA_XOR, c->delta, src, base, len);
		MVMS_TRY(encode_op(c, &n2, DELTA_XOR, width, base_id, c->delta2, n1 ? n1 : limit, len,
				   n1 != 0));
		if (n2 && (!n1 || n2 < n1)) {
			memcpy(dst, c->delta2, n2);
			n1 = n2;
		}
	}
	*out_len = n1;
done:
	return error;
}

/* c->base holds @raw_len bytes of @id, read through the callback unless already there. */
static int get_base(mvms_codec *c, const mvms_oid *id, size_t raw_len)
{
	int error = 0;

	if (c->base_valid && c->base_len == raw_len && mvms_oid_cmp(&c->base_id, id) == 0)
		return 0;
	if (!c->base_fn) {
		error = mvms_error_set(MVMS_EINVALID, "codec: a delta record, but no store to read "
				       "its base from");
		goto done;
	}
	c->base_valid = 0;
	MVMS_TRY(mvms_codec__reserve(&c->base, &c->base_cap, raw_len ? raw_len : 1));
	c->base_decoding = 1;
	error = c->base_fn(c->base_ctx, c, id, raw_len, c->base);
	c->base_decoding = 0;
	if (error < 0)
		goto done;
	c->base_id = *id;
	c->base_len = raw_len;
	c->base_valid = 1;
done:
	return error;
}

int mvms_codec__delta_decode(mvms_codec *c, void *dst, size_t raw_len, const void *src,
			     size_t src_len)
{
	const unsigned char *s = src;
	mvms_oid base;
	unsigned op, inner;
	int error = 0;

	if (src_len <= MVMS_CODEC_DELTA_HDR || src_len >= raw_len) {
		error = mvms_error_set(MVMS_EMISMATCH, "codec: delta: %zu stored bytes for %zu raw",
				       src_len, raw_len);
		goto done;
	}
	memcpy(base.id, s, MVMS_OID_RAWSZ);
	op = s[32];
	inner = s[33];
	if (op >= DELTA_OPS) {
		error = mvms_error_set(MVMS_EMISMATCH, "codec: delta: unknown transform %u", op);
		goto done;
	}
	/* No chains and no raw payload: the inner codec is zstd or byte planes. */
	if (inner < MVMS_CODEC_ZSTD || inner > MVMS_CODEC_F32 ||
	    !mvms_codec_stored_ok((uint8_t)inner, raw_len, src_len - MVMS_CODEC_DELTA_HDR)) {
		error = mvms_error_set(MVMS_EMISMATCH, "codec: delta: inner codec %u with %zu bytes",
				       inner, src_len - MVMS_CODEC_DELTA_HDR);
		goto done;
	}
	/* The base first: reading it may use this codec's buffers, the inner decode too. */
	MVMS_TRY(get_base(c, &base, raw_len));
	MVMS_TRY(mvms_codec_decode(c, dst, raw_len, (uint8_t)inner, s + MVMS_CODEC_DELTA_HDR,
				   src_len - MVMS_CODEC_DELTA_HDR));
	inverse(op, dst, c->base, raw_len);
done:
	return error;
}
