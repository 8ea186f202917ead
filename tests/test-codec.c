/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the per-chunk codec (core/codec.c): zstd round trips at several levels and
 * sizes, raw storage when zstd does not shrink the bytes, the level range, and refusal of
 * corrupt stored bytes (flipped bits, truncation, wrong length, unknown codec byte).
 */
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "testdata.h"
#include "codec.h"

/* Encodes @len bytes and decodes them back; 0 when the round trip is exact. */
static int round_trip(mvms_codec *c, const unsigned char *src, size_t len, uint8_t *codec,
		      size_t *enc_len)
{
	size_t cap = mvms_codec_bound(len);
	unsigned char *enc = malloc(cap ? cap : 1), *dec = malloc(len ? len : 1);
	int rc = -1;

	if (!enc || !dec)
		goto done;
	if (mvms_codec_encode(c, codec, enc_len, enc, cap, src, len) < 0)
		goto done;
	if (mvms_codec_decode(c, dec, len, *codec, enc, *enc_len) < 0)
		goto done;
	rc = len && memcmp(dec, src, len) ? -1 : 0;
done:
	free(enc);
	free(dec);
	return rc;
}

static void test_round_trips(void)
{
	static const size_t sizes[] = { 0, 1, 100, 4096, 1u << 20 };
	static const int levels[] = { 0, 1, 3, 19 };
	unsigned char *text = malloc(1u << 20), *noise = malloc(1u << 20);
	mvms_codec *c = NULL;
	size_t i, j, enc_len;
	uint8_t codec;
	int all_ok = 1, zstd_used = 1, raw_used = 1;

	if (!text || !noise) {
		ok(0, "round trips: out of memory");
		goto done;
	}
	fill_text(text, 1u << 20, 7);
	fill_random(noise, 1u << 20, 7);
	for (i = 0; i < MVMS_ARRAY_SIZE(levels); i++) {
		if (mvms_codec_new(&c, levels[i]) < 0) {
			all_ok = 0;
			continue;
		}
		for (j = 0; j < MVMS_ARRAY_SIZE(sizes); j++) {
			if (round_trip(c, text, sizes[j], &codec, &enc_len) < 0)
				all_ok = 0;
			/* Text of 4 KiB and more always shrinks: it must be stored compressed. */
			if (sizes[j] >= 4096 && (codec != MVMS_CODEC_ZSTD || enc_len >= sizes[j]))
				zstd_used = 0;
			if (round_trip(c, noise, sizes[j], &codec, &enc_len) < 0)
				all_ok = 0;
			/* Random bytes never shrink: raw, byte for byte the same length. */
			if (sizes[j] && (codec != MVMS_CODEC_RAW || enc_len != sizes[j]))
				raw_used = 0;
		}
		mvms_codec_free(c);
		c = NULL;
	}
	ok(all_ok, "round trip: text and random bytes, 0 B to 1 MiB, levels 0, 1, 3, 19");
	ok(zstd_used, "text is stored as zstd, smaller than the input");
	ok(raw_used, "incompressible bytes are stored raw at their own length");
done:
	free(text);
	free(noise);
}

static void test_levels(void)
{
	mvms_codec *c = NULL;

	is_int(mvms_codec_new(&c, -1), MVMS_EINVALID, "level -1 refused");
	ok(c == NULL, "no codec made for a bad level");
	is_int(mvms_codec_new(&c, 23), MVMS_EINVALID, "level 23 refused");
	is_int(mvms_codec_new(&c, 22), 0, "level 22 accepted");
	mvms_codec_free(c);
	mvms_codec_free(NULL);
	ok(1, "mvms_codec_free(NULL) is safe");
}

static void test_corrupt(void)
{
	enum { LEN = 64 * 1024 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(LEN)), *dec = malloc(LEN);
	mvms_codec *c = NULL;
	size_t enc_len = 0, k;
	uint8_t codec = 0;
	int refused_all = 1;

	if (!src || !enc || !dec || mvms_codec_new(&c, 3) < 0) {
		ok(0, "corrupt: setup");
		goto done;
	}
	fill_text(src, LEN, 3);
	is_int(mvms_codec_encode(c, &codec, &enc_len, enc, mvms_codec_bound(LEN), src, LEN), 0,
	       "encode 64 KiB of text");
	is_int(codec, MVMS_CODEC_ZSTD, "it is zstd");

	is_int(mvms_codec_decode(c, dec, LEN - 1, codec, enc, enc_len), MVMS_EMISMATCH,
	       "zstd frame decoded to a length one short: EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN, codec, enc, enc_len / 2), MVMS_EMISMATCH,
	       "truncated zstd frame: EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN, codec, "not zstd", 8), MVMS_EMISMATCH,
	       "bytes that are no zstd frame: EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN, 7, enc, enc_len), MVMS_EINVALID,
	       "unknown codec byte: EINVALID");
	is_int(mvms_codec_decode(c, dec, LEN, MVMS_CODEC_RAW, enc, enc_len), MVMS_EMISMATCH,
	       "raw chunk of the wrong length: EMISMATCH");
	/* zstd frames carry a checksum only when asked; what matters is that no flipped byte
	 * decodes to the original without an error: either refused or different bytes. */
	for (k = 0; k < enc_len; k += 97) {
		int rc;
		enc[k] ^= 0x40;
		rc = mvms_codec_decode(c, dec, LEN, codec, enc, enc_len);
		if (rc == 0 && memcmp(dec, src, LEN) == 0)
			refused_all = 0;
		if (rc != 0 && rc != MVMS_EMISMATCH)
			refused_all = 0;
		enc[k] ^= 0x40;
	}
	ok(refused_all, "a flipped byte anywhere in the frame never decodes to the original silently");
	is_int(mvms_codec_decode(c, dec, LEN, codec, enc, enc_len), 0, "the intact frame decodes");
	ok(memcmp(dec, src, LEN) == 0, "to the original bytes");
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
	free(dec);
}

int main(void)
{
	test_round_trips();
	test_levels();
	test_corrupt();
	return done_testing();
}
