/* SPDX-License-Identifier: MIT */
/*
 * Per-chunk codec: one zstd frame per chunk, the raw bytes when zstd does not shrink them,
 * or byte planes (codec_planes.c) for tensor data, chosen by the chunk's dtype or, without
 * one, by a cheap look at its bytes. Each mvms_codec keeps its zstd contexts and scratch
 * buffers, reused for every chunk, so the hot path allocates nothing once warm. It does not
 * hash or verify ids: the callers (pack, store) do.
 */
#include <stdlib.h>
#include "common.h"
#include "codec_int.h"

/* zstd's own default; also what "level 0" means in zstd's API. */
#define CODEC_DEFAULT_LEVEL 3
/* ZSTD_maxCLevel() in every zstd release since 1.0; pinned here so the accepted range
 * does not depend on the library version installed. */
#define CODEC_MAX_LEVEL 22

/* A hinted chunk whose planes keep more than this share of it is also tried as one zstd
 * frame (a float tensor of odd content: constant, sparse, repeated rows); so is one whose
 * planes say it is structured (mvms_codec__planes_structured). */
#define PLANES_GOOD_PERCENT 95

/* Text is also tried at zstd level 5 when the store's level is 3 or 4 (the default, fast
 * "dfast" levels), and the smaller frame is kept. Each chunk is its own frame, so any chunk
 * reads alone; on text that costs 2-3% against one stream over the whole file, whose window
 * reaches back across chunks to earlier repeats (vocabularies, keys). Level 5 ("greedy")
 * wins that back on such text (tokenizer JSON: 1.024x -> 0.99x `zstd -3` of the file) but
 * is not always smaller than level 3 (word salad: 2.9% larger), hence both, for about 2.7x
 * the zstd time on text only. Float and binary chunks keep the store's level alone, and a
 * store made with --level 1 or 2 asked for speed and keeps it. "Text" is judged on a
 * sample: at least TEXT_PERCENT of its bytes printable ASCII or whitespace. */
#define TEXT_LEVEL 5
/* Only chunks of at least this many bytes get the second try. What level 5 wins back is
 * what a chunk's own frame lost of the whole file's window; a shorter chunk is nearly
 * always a whole small file (or the end of one), already exactly `zstd -3` of that file.
 * On 10,000 JSON files of 5.9 KB the second try saved 2.8% of the stored bytes (21.2 ->
 * 20.6 MiB) and cost 37% of the push (1.21 -> 0.76 s); level 4 alone kept 20.8 MiB in
 * 0.95 s. */
#define TEXT_ALT_MIN (16u * 1024)
#define TEXT_SAMPLE 4096
#define TEXT_PERCENT 95

int mvms_codec__reserve(unsigned char **buf, size_t *cap, size_t need)
{
	unsigned char *p;

	if (*cap >= need)
		return 0;
	p = realloc(*buf, need ? need : 1);
	if (!p)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*buf = p;
	*cap = need;
	return 0;
}

int mvms_codec_new(mvms_codec **out, int level)
{
	int error = 0;
	mvms_codec *c = NULL;

	*out = NULL;
	if (level == 0)
		level = CODEC_DEFAULT_LEVEL;
	if (level < 1 || level > CODEC_MAX_LEVEL) {
		error = mvms_error_set(MVMS_EINVALID, "codec: level %d: want 1..%d", level,
				       CODEC_MAX_LEVEL);
		goto done;
	}
	c = calloc(1, sizeof(*c));
	MVMS_CHECK_ALLOC(c, error);
	c->level = level;
	c->text_level = level >= 3 && level < TEXT_LEVEL ? TEXT_LEVEL : level;
	c->cctx = ZSTD_createCCtx();
	MVMS_CHECK_ALLOC(c->cctx, error);
	c->dctx = ZSTD_createDCtx();
	MVMS_CHECK_ALLOC(c->dctx, error);
	c->pctx = ZSTD_createCCtx();
	MVMS_CHECK_ALLOC(c->pctx, error);
	MVMS_TRY(mvms_codec__planes_setup(c));
	*out = c;
	c = NULL;
done:
	mvms_codec_free(c);
	return error;
}

void mvms_codec_free(mvms_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeCCtx(c->pctx);
	ZSTD_freeDCtx(c->dctx);
	free(c->scratch);
	free(c->alt);
	free(c->base);
	free(c->delta);
	free(c->delta2);
	free(c);
}

size_t mvms_codec_bound(size_t raw_len)
{
	size_t b = ZSTD_compressBound(raw_len);

	/* Past zstd's input limit compressBound returns an error code; encode then falls
	 * back to RAW, which needs raw_len bytes. */
	if (ZSTD_isError(b) || b < raw_len)
		b = raw_len;
	return b;
}

int mvms_codec_known(uint8_t codec)
{
	return codec <= MVMS_CODEC_DELTA;
}

int mvms_codec_stored_ok(uint8_t codec, size_t raw_len, size_t stored_len)
{
	switch (codec) {
	case MVMS_CODEC_RAW:
		return stored_len == raw_len;
	case MVMS_CODEC_ZSTD:
		return stored_len != 0 && stored_len <= mvms_codec_bound(raw_len);
	case MVMS_CODEC_PLANES:
	case MVMS_CODEC_BF16:
	case MVMS_CODEC_F32:
		return stored_len != 0 && stored_len < raw_len;
	case MVMS_CODEC_DELTA:
		/* Never chosen unless smaller than the raw bytes, like planes. */
		return stored_len > MVMS_CODEC_DELTA_HDR && stored_len < raw_len;
	default:
		return 0;
	}
}

/* Whether the first TEXT_SAMPLE bytes of a chunk look like text (see TEXT_PERCENT). */
static int looks_textual(const unsigned char *p, size_t len)
{
	size_t n = len < TEXT_SAMPLE ? len : TEXT_SAMPLE, text = 0;

	for (size_t i = 0; i < n; i++)
		text += (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\n' || p[i] == '\t' ||
			p[i] == '\r';
	return n && text * 100 >= n * TEXT_PERCENT;
}

/* One zstd frame at @level into @dst, or the raw bytes (codec RAW). */
static void encode_zstd_at(mvms_codec *c, int level, uint8_t *codec_out, size_t *out_len,
			   void *dst, size_t dst_cap, const void *src, size_t len)
{
	/* An error here is almost always dstSize_tooSmall on incompressible input; either
	 * way the raw bytes are a correct encoding, so no error escapes. */
	size_t n = ZSTD_compressCCtx(c->cctx, dst, dst_cap, src, len, level);

	if (!ZSTD_isError(n) && n < len) {
		*codec_out = MVMS_CODEC_ZSTD;
		*out_len = n;
		return;
	}
	if (len)
		memcpy(dst, src, len);
	*codec_out = MVMS_CODEC_RAW;
	*out_len = len;
}

/* One zstd frame at the store's level into @dst (for text, the smaller of that and a frame
 * at c->text_level), or the raw bytes (codec RAW). */
static int encode_zstd(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		       size_t dst_cap, const void *src, size_t len)
{
	int error = 0;
	uint8_t alt_codec;
	size_t alt_len;

	encode_zstd_at(c, c->level, codec_out, out_len, dst, dst_cap, src, len);
	if (c->text_level == c->level || *codec_out != MVMS_CODEC_ZSTD || len < TEXT_ALT_MIN ||
	    !looks_textual(src, len))
		goto done;
	MVMS_TRY(mvms_codec__reserve(&c->alt, &c->alt_cap, mvms_codec_bound(len)));
	encode_zstd_at(c, c->text_level, &alt_codec, &alt_len, c->alt, c->alt_cap, src, len);
	if (alt_codec == MVMS_CODEC_ZSTD && alt_len < *out_len) {
		memcpy(dst, c->alt, alt_len);
		*out_len = alt_len;
	}
done:
	return error;
}

/* Planes of @codec/@width into c->alt; they replace what @dst holds when smaller. */
static int try_planes(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		      uint8_t codec, unsigned width, const void *src, size_t len)
{
	size_t n;
	int error = 0;

	if (*out_len < 2)
		return 0;
	MVMS_TRY(mvms_codec__reserve(&c->alt, &c->alt_cap, *out_len - 1));
	MVMS_TRY(mvms_codec__planes_encode(c, &n, codec, width, c->alt, *out_len - 1, src, len));
	if (n) {
		memcpy(dst, c->alt, n);
		*codec_out = codec;
		*out_len = n;
	}
done:
	return error;
}

int mvms_codec_encode_as(mvms_codec *c, enum mvms_dtype dtype, uint8_t *codec_out,
			 size_t *out_len, void *dst, size_t dst_cap, const void *src, size_t len)
{
	int error = 0;
	uint8_t codec = MVMS_CODEC_RAW;
	unsigned width = 0, guess;
	size_t n = 0;

	if (!c || dst_cap < len) {
		error = mvms_error_set(MVMS_EINVALID, "codec: encode: output capacity %zu < %zu",
				       dst_cap, len);
		goto done;
	}
	switch (dtype) {
	case MVMS_DTYPE_BF16: codec = MVMS_CODEC_BF16; width = 2; break;
	case MVMS_DTYPE_F16: codec = MVMS_CODEC_PLANES; width = 2; break;
	case MVMS_DTYPE_F32: codec = MVMS_CODEC_F32; width = 4; break;
	case MVMS_DTYPE_F64: codec = MVMS_CODEC_PLANES; width = 8; break;
	default: break;
	}
	if (width && len > width) {
		/* The dtype is known: planes straight into dst, at most len - 1 bytes. */
		MVMS_TRY(mvms_codec__planes_encode(c, &n, codec, width, dst, len - 1, src, len));
		if (n && n * 100 <= len * PLANES_GOOD_PERCENT &&
		    !mvms_codec__planes_structured(codec, dst, n)) {
			*codec_out = codec;
			*out_len = n;
			goto done;
		}
		if (n) {
			/* Planes are kept unless one zstd frame beats them. */
			MVMS_TRY(mvms_codec__reserve(&c->alt, &c->alt_cap, mvms_codec_bound(len)));
			encode_zstd_at(c, c->level, codec_out, out_len, c->alt, c->alt_cap, src, len);
			if (*out_len < n)
				memcpy(dst, c->alt, *out_len);
			else {
				*codec_out = codec;
				*out_len = n;
			}
			goto done;
		}
	}
	MVMS_TRY(encode_zstd(c, codec_out, out_len, dst, dst_cap, src, len));
	/* Unknown layout (or planes that did not shrink): grouping only where the byte
	 * statistics say it wins, and only kept when it is smaller than zstd. */
	if (!width && (guess = mvms_codec__planes_guess(src, len, *out_len)) != 0)
		MVMS_TRY(try_planes(c, codec_out, out_len, dst, MVMS_CODEC_PLANES, guess, src, len));
done:
	return error;
}

int mvms_codec_encode(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		      size_t dst_cap, const void *src, size_t len)
{
	return mvms_codec_encode_as(c, MVMS_DTYPE_UNKNOWN, codec_out, out_len, dst, dst_cap, src,
				    len);
}

int mvms_codec_decode(mvms_codec *c, void *dst, size_t raw_len, uint8_t codec,
		      const void *src, size_t src_len)
{
	int error = 0;
	unsigned long long fcs;
	size_t n;

	switch (codec) {
	case MVMS_CODEC_RAW:
		if (src_len != raw_len) {
			error = mvms_error_set(MVMS_EMISMATCH,
					       "codec: raw chunk of %zu bytes, want %zu",
					       src_len, raw_len);
			goto done;
		}
		if (raw_len)
			memcpy(dst, src, raw_len);
		break;
	case MVMS_CODEC_ZSTD:
		if (!c) {
			error = mvms_error_set(MVMS_EINVALID, "codec: decode: no codec context");
			goto done;
		}
		/* Checking the declared size first rejects a frame that claims another length
		 * before any work, and gives a clearer message than a decoder error. */
		fcs = ZSTD_getFrameContentSize(src, src_len);
		if (fcs == ZSTD_CONTENTSIZE_ERROR) {
			error = mvms_error_set(MVMS_EMISMATCH, "codec: not a zstd frame");
			goto done;
		}
		if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != (unsigned long long)raw_len) {
			error = mvms_error_set(MVMS_EMISMATCH,
					       "codec: zstd frame declares %llu bytes, want %zu",
					       fcs, raw_len);
			goto done;
		}
		n = ZSTD_decompressDCtx(c->dctx, dst, raw_len, src, src_len);
		if (ZSTD_isError(n)) {
			error = mvms_error_set(MVMS_EMISMATCH, "codec: zstd: %s",
					       ZSTD_getErrorName(n));
			goto done;
		}
		if (n != raw_len) {
			error = mvms_error_set(MVMS_EMISMATCH,
					       "codec: zstd frame decodes to %zu bytes, want %zu",
					       n, raw_len);
			goto done;
		}
		break;
	case MVMS_CODEC_PLANES:
	case MVMS_CODEC_BF16:
	case MVMS_CODEC_F32:
		if (!c) {
			error = mvms_error_set(MVMS_EINVALID, "codec: decode: no codec context");
			goto done;
		}
		error = mvms_codec__planes_decode(c, codec, dst, raw_len, src, src_len);
		break;
	case MVMS_CODEC_DELTA:
		if (!c) {
			error = mvms_error_set(MVMS_EINVALID, "codec: decode: no codec context");
			goto done;
		}
		error = mvms_codec__delta_decode(c, dst, raw_len, src, src_len);
		break;
	default:
		error = mvms_error_set(MVMS_EINVALID, "codec: unknown codec %u", (unsigned)codec);
		goto done;
	}
done:
	return error;
}
