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
/* ZSTD_c_literalCompressionMode: see mvms_codec__planes_setup. */
#define ZSTD_STATIC_LINKING_ONLY
/* GCC vectorises the plane loops only when asked (-O2 before GCC 12 does not, GCC 12's -O2
 * cost model refuses their interleaved loads): with it decoding bf16 planes ran 2x and
 * encoding 1.5x faster (CPU time over the 64 KiB pieces of a 16 MiB bf16 model, GCC 12).
 * Clang vectorises at -O2. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif
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
	/* A float's exponent plane holds few repeats, only a skewed byte distribution: what
	 * it needs is zstd's Huffman coding of literals, hardly its match finder. On bf16
	 * exponent planes (std 0.02 weights, 32 KiB planes) the best of the settings tried is
	 * the fast strategy with a large acceleration (targetLength 64: it looks for matches
	 * sparsely) and Huffman literals forced on (an acceleration turns them off by
	 * default): 0.323 of the plane (order-0 entropy: 0.314) at about zstd -3's speed per
	 * byte, against 0.345 at a quarter of that speed for level 1 with 7-byte matches, and
	 * 0.324 for level 19. Turning matching off entirely (targetLength 65536) gains 0.05%
	 * of a bf16 chunk but loses the repeats of structured tensors (a causal mask: 2.2x
	 * zstd -3's size at 64, 17x with no matching). The store's level does not change this. */
	size_t r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_compressionLevel, 1);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_strategy, ZSTD_fast);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_minMatch, 7);
	if (ZSTD_isError(r))
		return mvms_error_set(MVMS_ERROR, "codec: zstd parameters: %s", ZSTD_getErrorName(r));
	/* An experimental parameter (stable in value since zstd 1.4): a libzstd that refuses
	 * it keeps matching on, which is slower and 7% larger but still correct. */
	r = ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_literalCompressionMode, 1 /* huffman */);
	if (!ZSTD_isError(r))
		ZSTD_CCtx_setParameter(c->pctx, ZSTD_c_targetLength, 64);
	return 0;
}

/* ---- transforms ---- */

/* Byte-wise formulas (no wider loads): the same on any host, and the compiler vectorises
 * them. bf16 v = hi:lo: exponent = hi << 1 | lo >> 7, sign|mantissa = (hi & 0x80) |
 * (lo & 0x7f). f32 v = b3:b2:b1:b0: exponent = b3 << 1 | b2 >> 7, then sign << 7 | (b2 &
 * 0x7f), b1, b0. */
static void split(uint8_t codec, unsigned w, unsigned char *restrict planes,
		  const unsigned char *restrict s, size_t n)
{
	size_t i;
	unsigned k;

	if (codec == MVMS_CODEC_BF16) {
		unsigned char *restrict e = planes, *restrict m = planes + n;
		for (i = 0; i < n; i++) {
			unsigned char lo = s[2 * i], hi = s[2 * i + 1];
			e[i] = (unsigned char)(hi << 1 | lo >> 7);
			m[i] = (unsigned char)((hi & 0x80) | (lo & 0x7f));
		}
	} else if (codec == MVMS_CODEC_F32) {
		unsigned char *restrict p0 = planes, *restrict p1 = planes + n;
		unsigned char *restrict p2 = p1 + n, *restrict p3 = p2 + n;
		for (i = 0; i < n; i++) {
			const unsigned char *b = s + 4 * i;
			p0[i] = (unsigned char)(b[3] << 1 | b[2] >> 7);
			p1[i] = (unsigned char)((b[3] & 0x80) | (b[2] & 0x7f));
			p2[i] = b[1];
			p3[i] = b[0];
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

static void join(uint8_t codec, unsigned w, unsigned char *restrict d,
		 const unsigned char *const *p, size_t n)
{
	size_t i;
	unsigned k;

	if (codec == MVMS_CODEC_BF16) {
		const unsigned char *restrict e = p[0], *restrict m = p[1];
		for (i = 0; i < n; i++) {
			d[2 * i] = (unsigned char)(e[i] << 7 | (m[i] & 0x7f));
			d[2 * i + 1] = (unsigned char)((m[i] & 0x80) | e[i] >> 1);
		}
	} else if (codec == MVMS_CODEC_F32) {
		const unsigned char *restrict p0 = p[0], *restrict p1 = p[1];
		const unsigned char *restrict p2 = p[2], *restrict p3 = p[3];
		for (i = 0; i < n; i++) {
			d[4 * i] = p3[i];
			d[4 * i + 1] = p2[i];
			d[4 * i + 2] = (unsigned char)(p0[i] << 7 | (p1[i] & 0x7f));
			d[4 * i + 3] = (unsigned char)((p1[i] & 0x80) | p0[i] >> 1);
		}
	} else if (w == 2) {
		const unsigned char *restrict a = p[0], *restrict b = p[1];
		for (i = 0; i < n; i++) {
			d[2 * i] = a[i];
			d[2 * i + 1] = b[i];
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

/* Adds the bytes of @n bytes at @p to the four tables @t (their sum is the histogram).
 * h[p[i]]++ alone is a chain of store-to-load dependencies whenever neighbouring bytes are
 * equal (the exponent plane is mostly a handful of values): four tables, fed from 8-byte
 * loads, let four increments run at once, as zstd's HIST_count does (1.6x faster on bf16
 * planes). The order in which bytes come out of a word does not matter to a histogram, so
 * the loads need no byte-order care. */
static void hist_add(uint32_t t[4][256], const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		uint64_t a, b;
		memcpy(&a, p + i, 8);
		memcpy(&b, p + i + 8, 8);
		t[0][a & 0xff]++;
		t[1][a >> 8 & 0xff]++;
		t[2][a >> 16 & 0xff]++;
		t[3][a >> 24 & 0xff]++;
		t[0][a >> 32 & 0xff]++;
		t[1][a >> 40 & 0xff]++;
		t[2][a >> 48 & 0xff]++;
		t[3][a >> 56]++;
		t[0][b & 0xff]++;
		t[1][b >> 8 & 0xff]++;
		t[2][b >> 16 & 0xff]++;
		t[3][b >> 24 & 0xff]++;
		t[0][b >> 32 & 0xff]++;
		t[1][b >> 40 & 0xff]++;
		t[2][b >> 48 & 0xff]++;
		t[3][b >> 56]++;
	}
	for (; i < n; i++)
		t[0][p[i]]++;
}

static void hist_sum(uint32_t h[256], uint32_t t[4][256])
{
	unsigned s;

	for (s = 0; s < 256; s++)
		h[s] = t[0][s] + t[1][s] + t[2][s] + t[3][s];
}

/* 16.16 bits per byte of @n bytes with histogram @h, against @permille of 8 bits: -1 below,
 * 1 at or above. @bias adds the Miller-Madow correction of an estimate from a sample
 * ((distinct - 1) / (2 ln 2) bits in all): the plain estimate is low by that much on average. */
static int cost_vs(const uint32_t *h, uint64_t n, int bias, unsigned permille)
{
	uint64_t bits = cost_q16(h, n);
	unsigned s, distinct = 0;

	if (bias) {
		for (s = 0; s < 256; s++)
			distinct += h[s] != 0;
		if (distinct > 1)
			bits += (uint64_t)(distinct - 1) * 47274u; /* 0.7213 bits, 16.16 */
	}
	/* bits / 8 < n * permille / 1000, in 16.16 */
	return bits / 8 * 1000 < (n << 16) * permille ? -1 : 1;
}

/* 1 when @n bytes at @p promise to shrink by at least 1% under an entropy coder. Planes of
 * at least 2 SAMPLE_BLOCKS x SAMPLE_BLOCK bytes are judged from SAMPLE_BLOCKS blocks spread
 * over them first (a quarter of a 32 KiB plane): a mantissa plane estimates at 0.992-0.995
 * of 8 bits there, against 0.995-0.996 over all of it (bf16, std 0.02), an exponent plane
 * at 0.31 (the sample's estimate gets the Miller-Madow correction). Only an estimate
 * between the two margins costs the full histogram, whose answer is then the one a full
 * count always gave. A sample can misjudge a plane whose bytes differ between the sampled
 * blocks and the rest; a plane kept raw that way was within the margin of the 1% bar or
 * is one no weight tensor makes. Stored bytes of bench/codec's inputs and of the 512 MiB
 * bf16 model are identical to a full count's. */
#define SAMPLE_BLOCK 64
#define SAMPLE_BLOCKS 128
#define SAMPLE_SKIP_PERMILLE 992
#define SAMPLE_TRY_PERMILLE 970
static int worth_compressing(const unsigned char *p, size_t n)
{
	uint32_t t[4][256], h[256];
	size_t k;

	if (n >= 2 * SAMPLE_BLOCKS * SAMPLE_BLOCK) {
		memset(t, 0, sizeof(t));
		for (k = 0; k < SAMPLE_BLOCKS; k++)
			hist_add(t, p + k * (n - SAMPLE_BLOCK) / (SAMPLE_BLOCKS - 1), SAMPLE_BLOCK);
		hist_sum(h, t);
		if (cost_vs(h, SAMPLE_BLOCKS * SAMPLE_BLOCK, 1, SAMPLE_SKIP_PERMILLE) > 0)
			return 0;
		if (cost_vs(h, SAMPLE_BLOCKS * SAMPLE_BLOCK, 1, SAMPLE_TRY_PERMILLE) < 0)
			return 1;
	}
	memset(t, 0, sizeof(t));
	hist_add(t, p, n);
	hist_sum(h, t);
	return cost_vs(h, n, 0, SKIP_PERMILLE) < 0;
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

		/* A bf16 exponent plane always shrinks (to about a third) unless the "weights"
		 * are noise, where zstd then gives up quickly and the plane stays raw: it is
		 * compressed untried, sparing its histogram (2% of a bf16 push's CPU). */
		if (n && ((codec == MVMS_CODEC_BF16 && k == 0) || worth_compressing(p, n))) {
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

int mvms_codec__planes_structured(uint8_t codec, const void *p, size_t len)
{
	const unsigned char *d = p;

	/* The two low mantissa bytes of trained fp32 weights are noise: their planes are
	 * stored raw (a few chunks of a mostly-zero tensor shrink by 1-2%). When one of them
	 * shrank the values repeat: a DFT basis (silero-vad's 128-point STFT, whose repeated
	 * rows zstd finds: 0.43 of the chunk against 0.80 in planes), tiled rows, exact constants.
	 * Those chunks, 0-10% of the fp32 chunks of the real models measured
	 * (bench/README.md), also get one zstd frame; the others pay nothing. */
	if (codec != MVMS_CODEC_F32 || len < TABLE_LEN(4) || d[0] != 4)
		return 0;
	return d[1 + 5 * 2] == PLANE_ZSTD || d[1 + 5 * 3] == PLANE_ZSTD;
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
	const unsigned char *s = src, *planes[PLANES_MAX] = { NULL };
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
