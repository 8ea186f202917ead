/* SPDX-License-Identifier: MIT */
/*
 * Per-chunk codec: one zstd frame per chunk, or the raw bytes when zstd does not shrink
 * them. Each mvms_codec keeps one compression and one decompression context, reused for
 * every chunk, so the hot path allocates nothing. It does not hash or verify ids: the
 * callers (pack, store) do.
 */
#include <stdlib.h>
#include <zstd.h>
#include "common.h"
#include "codec.h"

/* zstd's own default; also what "level 0" means in zstd's API. */
#define CODEC_DEFAULT_LEVEL 3
/* ZSTD_maxCLevel() in every zstd release since 1.0; pinned here so the accepted range
 * does not depend on the library version installed. */
#define CODEC_MAX_LEVEL 22

struct mvms_codec {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	int level;
};

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
	c->cctx = ZSTD_createCCtx();
	MVMS_CHECK_ALLOC(c->cctx, error);
	c->dctx = ZSTD_createDCtx();
	MVMS_CHECK_ALLOC(c->dctx, error);
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
	ZSTD_freeDCtx(c->dctx);
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

int mvms_codec_encode(mvms_codec *c, uint8_t *codec_out, size_t *out_len, void *dst,
		      size_t dst_cap, const void *src, size_t len)
{
	int error = 0;
	size_t n;

	if (!c || dst_cap < len) {
		error = mvms_error_set(MVMS_EINVALID, "codec: encode: output capacity %zu < %zu",
				       dst_cap, len);
		goto done;
	}
	/* An error here is almost always dstSize_tooSmall on incompressible input; either
	 * way the raw bytes are a correct encoding, so no error escapes. */
	n = ZSTD_compressCCtx(c->cctx, dst, dst_cap, src, len, c->level);
	if (!ZSTD_isError(n) && n < len) {
		*codec_out = MVMS_CODEC_ZSTD;
		*out_len = n;
		goto done;
	}
	if (len)
		memcpy(dst, src, len);
	*codec_out = MVMS_CODEC_RAW;
	*out_len = len;
done:
	return error;
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
	default:
		error = mvms_error_set(MVMS_EINVALID, "codec: unknown codec %u", (unsigned)codec);
		goto done;
	}
done:
	return error;
}
