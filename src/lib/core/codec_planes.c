/* SPDX-License-Identifier: MIT */
/*
 * Byte planes, the codecs PLANES, BF16 and F32 (docs/formats.md, "Compression"). A float's
 * bytes are not alike: in trained weights the exponent carries ~2.6 bits of entropy and the
 * mantissa almost 8, and zstd on the interleaved bytes finds neither. Regrouped so that
 * plane k holds part k of every element, the exponent plane shrinks to about a third and
 * the mantissa planes are stored raw (no time is spent compressing what cannot shrink).
 *
 * Payload: u8 planes | planes x (u8 method | u32 stored length) | the planes' stored bytes
 * in order | the raw_len % planes trailing bytes as they are. Each plane holds
 * raw_len / planes bytes; method 0 is raw, 1 one zstd frame declaring that length.
 *
 * Transforms (elements little-endian, as in safetensors files):
 *   PLANES  plane k = byte k of each element (2, 4 or 8 planes)
 *   BF16    plane 0 = the 8 exponent bits (v >> 7); plane 1 = sign << 7 | the 7 mantissa bits
 *   F32     plane 0 = the 8 exponent bits (v >> 23); the 24 bits sign << 23 | mantissa are
 *           planes 1, 2, 3 from the high byte down
 * so the exponent has a byte of its own (plain byte planes split it over two bytes for
 * bf16, costing ~1% of the chunk).
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "codec_int.h"

#define PLANE_RAW 0
#define PLANE_ZSTD 1
#define PLANES_MAX 8
#define TABLE_LEN(n) (1u + 5u * (n))

/* Planes whose byte statistics promise less than 1% saving are stored raw untried: zstd
 * cannot do better than their order-0 entropy there (no repeats in a mantissa). */
#define SKIP_PERMILLE 990
/* Unknown layout: grouping is tried when its estimate is below 97% of what zstd made; the
 * 3% margin covers the estimate's bias on small chunks. */
#define GUESS_PERCENT 97
/* Below this, unknown bytes are not worth a look. */
#define GUESS_MIN_LEN 4096

int mvms_codec__planes_setup(mvms_codec *c)
{
	/* Measured on bf16 exponent planes (docs/formats.md): level 1 with the fast strategy
	 * and 7-byte minimum matches comes within 10% of the plane's order-0 entropy at the
	 * best speed; shorter matches cost more than the literals they replace. Higher store
	 * levels (10+) keep their level, still with long matches only. */
	int level = c->level >= 10 ? c->level : 1;
	size_t r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_compressionLevel, level);

	if (!ZSTD_isError(r) && level < 10)
		r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_strategy, ZSTD_fast);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_minMatch, 7);
	if (ZSTD_isError(r))
		return mvms_error_set(MVMS_ERROR, "codec: zstd parameters: %s", ZSTD_getErrorName(r));
	return 0;
}

/* ---- transforms ---- */

static void split(uint8_t codec, unsigned w, unsigned char *planes, const unsigned char *s,
		  size_t n)
{
	size_t i;
	unsigned k;

	if (codec == MVMS_CODEC_BF16) {
		unsigned char *e = planes, *m = planes + n;
		for (i = 0; i < n; i++) {
			unsigned v = (unsigned)s[2 * i] | (unsigned)s[2 * i + 1] << 8;
			e[i] = (unsigned char)(v >> 7);
			m[i] = (unsigned char)(((v >> 8) & 0x80u) | (v & 0x7fu));
		}
	} else if (codec == MVMS_CODEC_F32) {
		unsigned char *p0 = planes, *p1 = planes + n, *p2 = p1 + n, *p3 = p2 + n;
		for (i = 0; i < n; i++) {
			const unsigned char *b = s + 4 * i;
			uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				     (uint32_t)b[3] << 24;
			uint32_t r = (v >> 31) << 23 | (v & 0x7fffffu);
			p0[i] = (unsigned char)(v >> 23);
			p1[i] = (unsigned char)(r >> 16);
			p2[i] = (unsigned char)(r >> 8);
			p3[i] = (unsigned char)r;
		}
	} else if (w == 2) {
		/* The common cases get their own loops: the compiler vectorises them. */
		for (i = 0; i < n; i++) {
			planes[i] = s[2 * i];
			planes[n + i] = s[2 * i + 1];
		}
	} else {
		for (k = 0; k < w; k++)
			for (i = 0; i < n; i++)
				planes[k * n + i] = s[w * i + k];
	}
}

static void join(uint8_t codec, unsigned w, unsigned char *d, const unsigned char *const *p,
		 size_t n)
{
	size_t i;
	unsigned k;

	if (codec == MVMS_CODEC_BF16) {
		for (i = 0; i < n; i++) {
			unsigned e = p[0][i], m = p[1][i];
			unsigned v = (m & 0x80u) << 8 | e << 7 | (m & 0x7fu);
			d[2 * i] = (unsigned char)v;
			d[2 * i + 1] = (unsigned char)(v >> 8);
		}
	} else if (codec == MVMS_CODEC_F32) {
		for (i = 0; i < n; i++) {
			uint32_t r = (uint32_t)p[1][i] << 16 | (uint32_t)p[2][i] << 8 | p[3][i];
			uint32_t v = (r >> 23) << 31 | (uint32_t)p[0][i] << 23 | (r & 0x7fffffu);
			unsigned char *b = d + 4 * i;
			b[0] = (unsigned char)v;
			b[1] = (unsigned char)(v >> 8);
			b[2] = (unsigned char)(v >> 16);
			b[3] = (unsigned char)(v >> 24);
		}
	} else if (w == 2) {
		for (i = 0; i < n; i++) {
			d[2 * i] = p[0][i];
			d[2 * i + 1] = p[1][i];
		}
	} else {
		for (k = 0; k < w; k++)
			for (i = 0; i < n; i++)
				d[w * i + k] = p[k][i];
	}
}

/* ---- byte statistics ---- */

/* log2(x) in 16.16 fixed point for x >= 1, within 0.01 (log2(1 + f) ~ f + 0.3466 f (1 - f));
 * no libm in the library. */
static uint64_t log2_q16(uint64_t x)
{
	unsigned e = 63u - (unsigned)__builtin_clzll(x);
	uint64_t f = e >= 16 ? (x >> (e - 16)) & 0xffffu : (x << (16 - e)) & 0xffffu;

	return ((uint64_t)e << 16) + f + (((f * (65536u - f)) >> 16) * 22714u >> 16);
}

/* Order-0 entropy of @n bytes with histogram @h, in bits, 16.16 fixed point. */
static uint64_t cost_q16(const uint32_t *h, uint64_t n)
{
	uint64_t bits = 0, ln;
	unsigned s;

	if (n == 0)
		return 0;
	ln = log2_q16(n);
	for (s = 0; s < 256; s++)
		if (h[s])
			bits += (uint64_t)h[s] * (ln - log2_q16(h[s]));
	return bits;
}

/* 1 when @n bytes at @p promise to shrink by at least 1% under an entropy coder. */
static int worth_compressing(const unsigned char *p, size_t n)
{
	uint32_t h[256] = { 0 };
	size_t i;

	for (i = 0; i < n; i++)
		h[p[i]]++;
	/* bits / 8 < n * SKIP / 1000, in 16.16 */
	return cost_q16(h, n) / 8 * 1000 < ((uint64_t)n << 16) * SKIP_PERMILLE;
}

unsigned mvms_codec__planes_guess(const void *src, size_t len, size_t zstd_len)
{
	const unsigned char *s = src;
	uint32_t h[4][256], h2[2][256];
	uint64_t n, e2, e4, limit;
	size_t i;
	unsigned k, b;

	if (len < GUESS_MIN_LEN || len > UINT32_MAX)
		return 0;
	memset(h, 0, sizeof(h));
	n = len / 4;
	for (i = 0; i < n * 4; i += 4) {
		h[0][s[i]]++;
		h[1][s[i + 1]]++;
		h[2][s[i + 2]]++;
		h[3][s[i + 3]]++;
	}
	for (k = 0; k < 2; k++)
		for (b = 0; b < 256; b++)
			h2[k][b] = h[k][b] + h[k + 2][b];
	e2 = cost_q16(h2[0], 2 * n) + cost_q16(h2[1], 2 * n);
	e4 = 0;
	for (k = 0; k < 4; k++)
		e4 += cost_q16(h[k], n);
	/* Compare with zstd over the same 4n bytes, in bits 16.16. */
	limit = ((uint64_t)zstd_len * 8 * (n * 4) / len << 16) / 100 * GUESS_PERCENT;
	/* Four planes only when they are clearly better than two (they always look a little
	 * better: more histograms fit the sample more closely). */
	if (e4 < e2 / 100 * 97)
		return e4 < limit ? 4 : 0;
	return e2 < limit ? 2 : 0;
}

/* ---- encode ---- */

int mvms_codec__planes_encode(mvms_codec *c, size_t *out_len, uint8_t codec, unsigned width,
			      void *dst, size_t limit, const void *src, size_t len)
{
	unsigned char *d = dst;
	size_t n = len / width, tail = len % width, pos = TABLE_LEN(width), k;
	int error = 0;

	*out_len = 0;
	if (pos + tail > limit)
		goto done;
	MVMS_TRY(mvms_codec__reserve(&c->scratch, &c->scratch_cap, len));
	split(codec, width, c->scratch, src, n);
	d[0] = (unsigned char)width;
	for (k = 0; k < width; k++) {
		const unsigned char *p = c->scratch + k * n;
		size_t room = limit - tail - pos, z = 0;
		uint8_t method = PLANE_RAW;

		if (n && worth_compressing(p, n)) {
			z = ZSTD_compress2(c->pctx, d + pos, room, p, n);
			if (!ZSTD_isError(z) && z < n)
				method = PLANE_ZSTD;
		}
		if (method == PLANE_RAW) {
			if (n > room)
				goto done; /* no better than the limit: *out_len stays 0 */
			memcpy(d + pos, p, n);
			z = n;
		}
		d[1 + 5 * k] = method;
		mvms_le32_put(d + 2 + 5 * k, (uint32_t)z);
		pos += z;
	}
	if (tail)
		memcpy(d + pos, (const unsigned char *)src + n * width, tail);
	*out_len = pos + tail;
done:
	return error;
}

/* ---- decode ---- */

static int bad(const char *what)
{
	return mvms_error_set(MVMS_EMISMATCH, "codec: byte planes: %s", what);
}

static int plane_decode(mvms_codec *c, unsigned char *out, size_t n, const unsigned char *p,
			size_t len)
{
	unsigned long long fcs = ZSTD_getFrameContentSize(p, len);
	size_t r;

	/* The declared size first: a frame claiming another length is refused before work. */
	if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN ||
	    fcs != (unsigned long long)n)
		return bad("a plane's zstd frame does not declare the plane's length");
	r = ZSTD_decompressDCtx(c->dctx, out, n, p, len);
	if (ZSTD_isError(r))
		return mvms_error_set(MVMS_EMISMATCH, "codec: byte planes: zstd: %s",
				      ZSTD_getErrorName(r));
	if (r != n)
		return bad("a plane decodes to another length");
	return 0;
}

int mvms_codec__planes_decode(mvms_codec *c, uint8_t codec, void *dst, size_t raw_len,
			      const void *src, size_t src_len)
{
	const unsigned char *s = src, *planes[PLANES_MAX];
	unsigned width, k;
	size_t n, tail, pos, used = 0;
	uint64_t total = 0;
	int error = 0;

	if (src_len < 1) {
		error = bad("no plane table");
		goto done;
	}
	width = s[0];
	if ((codec == MVMS_CODEC_BF16 && width != 2) || (codec == MVMS_CODEC_F32 && width != 4) ||
	    (codec == MVMS_CODEC_PLANES && width != 2 && width != 4 && width != 8)) {
		error = mvms_error_set(MVMS_EMISMATCH, "codec %u: %u planes", (unsigned)codec, width);
		goto done;
	}
	pos = TABLE_LEN(width);
	n = raw_len / width;
	tail = raw_len % width;
	if (src_len < pos) {
		error = bad("truncated plane table");
		goto done;
	}
	for (k = 0; k < width; k++) {
		uint8_t method = s[1 + 5 * k];
		uint32_t len = mvms_le32_get(s + 2 + 5 * k);
		if (method > PLANE_ZSTD || (method == PLANE_RAW && len != n)) {
			error = bad("a plane's method or length is wrong");
			goto done;
		}
		total += len;
	}
	if (total + tail + pos != (uint64_t)src_len) {
		error = bad("plane lengths do not add up to the stored length");
		goto done;
	}
	for (k = 0; k < width; k++) {
		uint32_t len = mvms_le32_get(s + 2 + 5 * k);
		if (s[1 + 5 * k] == PLANE_ZSTD) {
			if (used == 0)
				MVMS_TRY(mvms_codec__reserve(&c->scratch, &c->scratch_cap, raw_len));
			MVMS_TRY(plane_decode(c, c->scratch + used, n, s + pos, len));
			planes[k] = c->scratch + used;
			used += n;
		} else {
			planes[k] = s + pos; /* raw planes are read where they are */
		}
		pos += len;
	}
	join(codec, width, dst, planes, n);
	if (tail)
		memcpy((unsigned char *)dst + n * width, s + pos, tail);
done:
	return error;
}
