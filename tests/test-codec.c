/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the per-chunk codec (core/codec.c, codec_planes.c): zstd round trips at
 * several levels and sizes, raw storage when zstd does not shrink the bytes, the level range,
 * refusal of corrupt stored bytes (flipped bits, truncation, wrong length, unknown codec
 * byte); byte planes: round trips for every dtype and odd lengths, which codec each kind of
 * bytes gets and how small (bf16 weights under 0.70x raw), never more than 2% over zstd -3
 * for unknown layouts, corrupt plane tables refused, and records of the old codecs decode.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "tap.h"
#include "testdata.h"
#include "codec.h"

/* Encodes with @dtype, decodes, compares; *codec and *enc_len tell what was stored. */
static int round_trip_as(mvms_codec *c, enum mvms_dtype dtype, const unsigned char *src,
			 size_t len, uint8_t *codec, size_t *enc_len)
{
	size_t cap = mvms_codec_bound(len);
	unsigned char *enc = malloc(cap ? cap : 1), *dec = malloc(len ? len : 1);
	int rc = -1;

	if (!enc || !dec)
		goto done;
	if (mvms_codec_encode_as(c, dtype, codec, enc_len, enc, cap, src, len) < 0)
		goto done;
	if (!mvms_codec_stored_ok(*codec, len, *enc_len) && len)
		goto done;
	memset(dec, 0xa5, len);
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
			if (round_trip_as(c, MVMS_DTYPE_UNKNOWN, text, sizes[j], &codec, &enc_len) < 0)
				all_ok = 0;
			/* Text of 4 KiB and more always shrinks: it must be stored compressed. */
			if (sizes[j] >= 4096 && (codec != MVMS_CODEC_ZSTD || enc_len >= sizes[j]))
				zstd_used = 0;
			if (round_trip_as(c, MVMS_DTYPE_UNKNOWN, noise, sizes[j], &codec, &enc_len) < 0)
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

/* ---- byte planes ---- */

/* Weights as training leaves them: close to normal(0, std), from four uniforms
 * (Irwin-Hall, as tests/mkmodel), deterministic per seed. */
static float weight(uint64_t *x, float std)
{
	uint64_t a;
	int32_t s;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	a = *x;
	s = (int32_t)((a & 0xffff) + ((a >> 16) & 0xffff) + ((a >> 32) & 0xffff) + (a >> 48)) -
	    131070;
	return (float)s * (std / 37837.2f); /* sqrt((65536^2 - 1) / 3) */
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* @len bytes of little-endian elements of @dtype (BF16, F16, F32, F64; else int8-like). */
static void fill_weights(unsigned char *p, size_t len, enum mvms_dtype dtype, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
	size_t i = 0, k;

	while (i < len) {
		float v = weight(&x, 0.02f);
		uint32_t u = f32_bits(v);
		unsigned char b[8];
		size_t w;

		if (dtype == MVMS_DTYPE_BF16) {
			u = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
			w = 2;
		} else if (dtype == MVMS_DTYPE_F16) {
			/* values this small are normal halves or flush to a signed zero */
			uint32_t a = u & 0x7fffffffu;
			u = (u >> 16 & 0x8000u) | (a < 0x38800000u ? 0 : (a - (112u << 23)) >> 13);
			w = 2;
		} else if (dtype == MVMS_DTYPE_F64) {
			double d = v;
			memcpy(b, &d, 8); /* little-endian host, as the formats */
			w = 8;
		} else if (dtype == MVMS_DTYPE_F32) {
			w = 4;
		} else {
			u = (uint32_t)(int32_t)(v * 2000.0f); /* int8-like: small integers */
			w = 1;
		}
		if (dtype != MVMS_DTYPE_F64)
			for (k = 0; k < 4; k++)
				b[k] = (unsigned char)(u >> (8 * k));
		for (k = 0; k < w && i < len; k++)
			p[i++] = b[k];
	}
}

static void test_planes_round_trips(void)
{
	static const enum mvms_dtype dtypes[] = { MVMS_DTYPE_UNKNOWN, MVMS_DTYPE_BF16,
						  MVMS_DTYPE_F16, MVMS_DTYPE_F32, MVMS_DTYPE_F64,
						  MVMS_DTYPE_I8, MVMS_DTYPE_I32 };
	/* odd lengths: not a multiple of 2, 4 or 8, so every transform has a tail */
	static const size_t sizes[] = { 0, 1, 2, 3, 5, 7, 9, 255, 4097, 65539, (1u << 20) + 3 };
	enum { MAXLEN = (1 << 20) + 3 };
	unsigned char *buf = malloc(MAXLEN);
	mvms_codec *c = NULL;
	size_t i, j, k, enc_len;
	uint8_t codec;
	int all_ok = 1, used[8] = { 0 };

	if (!buf || mvms_codec_new(&c, 0) < 0) {
		ok(0, "planes round trips: setup");
		goto done;
	}
	for (i = 0; i < MVMS_ARRAY_SIZE(dtypes); i++)
		for (k = 0; k < 4; k++) {
			/* data of every dtype, text, noise and zeros under every hint */
			if (k == 0)
				fill_weights(buf, MAXLEN, dtypes[i], i + 1);
			else if (k == 1)
				fill_text(buf, MAXLEN, (uint32_t)i);
			else if (k == 2)
				fill_random(buf, MAXLEN, (uint32_t)i);
			else
				memset(buf, 0, MAXLEN);
			for (j = 0; j < MVMS_ARRAY_SIZE(sizes); j++) {
				if (round_trip_as(c, dtypes[i], buf, sizes[j], &codec, &enc_len) < 0) {
					diag("dtype %d data %zu len %zu: codec %u failed", (int)dtypes[i],
					     k, sizes[j], (unsigned)codec);
					all_ok = 0;
				}
				if (codec < 8)
					used[codec] = 1;
			}
		}
	ok(all_ok, "round trip: every dtype hint x weights, text, noise, zeros x 0 B to 1 MiB + 3");
	ok(used[MVMS_CODEC_RAW] && used[MVMS_CODEC_ZSTD] && used[MVMS_CODEC_PLANES] &&
		   used[MVMS_CODEC_BF16] && used[MVMS_CODEC_F32],
	   "all five codecs were used by those round trips");
done:
	mvms_codec_free(c);
	free(buf);
}

/* zstd -3 of the same bytes, as the CLI tool makes it. */
static size_t zstd3(const unsigned char *src, size_t len)
{
	size_t cap = ZSTD_compressBound(len), n;
	void *out = malloc(cap);

	n = out ? ZSTD_compress(out, cap, src, len, 3) : 0;
	free(out);
	return ZSTD_isError(n) ? 0 : n;
}

static void test_planes_choice(void)
{
	static const struct {
		enum mvms_dtype data, hint;
		uint8_t codec;
		double max_ratio;
		const char *what;
	} cases[] = {
		{ MVMS_DTYPE_BF16, MVMS_DTYPE_BF16, MVMS_CODEC_BF16, 0.69, "bf16 weights as BF16" },
		{ MVMS_DTYPE_F16, MVMS_DTYPE_F16, MVMS_CODEC_PLANES, 0.87, "f16 weights as F16" },
		{ MVMS_DTYPE_F32, MVMS_DTYPE_F32, MVMS_CODEC_F32, 0.87, "f32 weights as F32" },
		{ MVMS_DTYPE_F64, MVMS_DTYPE_F64, MVMS_CODEC_PLANES, 0.80, "f64 weights as F64" },
		{ MVMS_DTYPE_BF16, MVMS_DTYPE_UNKNOWN, MVMS_CODEC_PLANES, 0.70,
		  "bf16 weights of unknown layout: guessed byte planes" },
		{ MVMS_DTYPE_I8, MVMS_DTYPE_I8, MVMS_CODEC_ZSTD, 0.95, "int8-like bytes: zstd" },
	};
	enum { LEN = 64 * 1024 + 1 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(LEN));
	mvms_codec *c = NULL;
	size_t i, enc_len = 0;
	uint8_t codec = 0;

	if (!src || !enc || mvms_codec_new(&c, 0) < 0) {
		ok(0, "planes choice: setup");
		goto done;
	}
	for (i = 0; i < MVMS_ARRAY_SIZE(cases); i++) {
		fill_weights(src, LEN, cases[i].data, 7);
		if (mvms_codec_encode_as(c, cases[i].hint, &codec, &enc_len, enc,
					 mvms_codec_bound(LEN), src, LEN) < 0) {
			ok(0, "%s: encode", cases[i].what);
			continue;
		}
		diag("%s: codec %u, %.4f of raw, zstd -3 %.4f", cases[i].what, (unsigned)codec,
		     (double)enc_len / LEN, (double)zstd3(src, LEN) / LEN);
		ok(codec == cases[i].codec && (double)enc_len <= cases[i].max_ratio * LEN,
		   "%s: codec %u (want %u), %zu bytes <= %.2f x raw", cases[i].what,
		   (unsigned)codec, (unsigned)cases[i].codec, enc_len, cases[i].max_ratio);
	}
	fill_random(src, LEN, 9);
	mvms_codec_encode_as(c, MVMS_DTYPE_BF16, &codec, &enc_len, enc, mvms_codec_bound(LEN),
			     src, LEN);
	ok(codec == MVMS_CODEC_RAW && enc_len == LEN, "random bytes hinted BF16: stored raw");
	memset(src, 0, LEN);
	mvms_codec_encode_as(c, MVMS_DTYPE_F32, &codec, &enc_len, enc, mvms_codec_bound(LEN), src,
			     LEN);
	ok(enc_len < LEN / 100, "zeros hinted F32: under 1%% of raw (%zu bytes, codec %u)", enc_len,
	   (unsigned)codec);
	/* A causal mask as GPT-2 checkpoints store it: rows of F32 ones then zeros. Its
	 * exponent plane is runs; with matching off in the planes it took 3% of raw. */
	for (i = 0; i + 4 <= LEN; i += 4) {
		size_t row = i / 4096, col = (i / 4) % 1024;
		uint32_t one = col <= row * 16 ? 0x3f800000u : 0;
		memcpy(src + i, &one, 4);
	}
	mvms_codec_encode_as(c, MVMS_DTYPE_F32, &codec, &enc_len, enc, mvms_codec_bound(LEN), src,
			     LEN);
	ok(enc_len < LEN / 100, "a 0/1 causal mask hinted F32: under 1%% of raw (%zu bytes, codec "
	   "%u, zstd -3 %zu)", enc_len, (unsigned)codec, zstd3(src, LEN));
	fill_text(src, LEN, 4);
	mvms_codec_encode(c, &codec, &enc_len, enc, mvms_codec_bound(LEN), src, LEN);
	ok(codec == MVMS_CODEC_ZSTD, "text of unknown layout: zstd");
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
}

/* JSON-like lines: keys, numbers and punctuation, like a tokenizer or config file. */
static void fill_json(unsigned char *p, size_t len, uint32_t seed)
{
	size_t i = 0;
	char line[96];

	while (i < len) {
		int n;
		seed = seed * 1103515245u + 12345u;
		n = snprintf(line, sizeof(line), "{\"token\": \"t%u\", \"id\": %u, \"score\": -%u.%02u},\n",
			     seed >> 20, (seed >> 8) & 0xffff, (seed >> 4) & 15, seed & 63);
		if ((size_t)n > len - i)
			n = (int)(len - i);
		memcpy(p + i, line, (size_t)n);
		i += (size_t)n;
	}
}

static void test_unknown_never_worse(void)
{
	enum { LEN = 128 * 1024 - 5 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(LEN));
	mvms_codec *c = NULL;
	size_t k, enc_len = 0, z;
	uint8_t codec = 0;
	int all_ok = 1;

	if (!src || !enc || mvms_codec_new(&c, 0) < 0) {
		ok(0, "never worse: setup");
		goto done;
	}
	for (k = 0; k < 8; k++) {
		if (k < 4)
			fill_weights(src, LEN, (enum mvms_dtype[]){ MVMS_DTYPE_BF16, MVMS_DTYPE_F16,
				     MVMS_DTYPE_F32, MVMS_DTYPE_I8 }[k], k);
		else if (k == 4)
			fill_json(src, LEN, 3);
		else if (k == 5)
			fill_text(src, LEN, 3);
		else if (k == 6)
			fill_random(src, LEN, 3);
		else /* half noise, half text: grouping must not be fooled */
			fill_random(src, LEN / 2, 5), fill_text(src + LEN / 2, LEN - LEN / 2, 5);
		z = zstd3(src, LEN);
		if (mvms_codec_encode(c, &codec, &enc_len, enc, mvms_codec_bound(LEN), src, LEN) < 0 ||
		    (double)enc_len > 1.02 * (double)(z < LEN ? z : LEN)) {
			diag("input %zu: codec %u, %zu bytes, zstd -3 %zu", k, (unsigned)codec,
			     enc_len, z);
			all_ok = 0;
		}
	}
	ok(all_ok, "unknown layout (floats, int8, JSON, text, noise): never 2%% over zstd -3");
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
}

/* A tokenizer-like vocabulary (bench/codec's generator in C): made-up word pieces of
 * common syllables with their ids, one `"piece": id,` per line as tokenizer.json has them. */
static void fill_vocab(unsigned char *p, size_t len, uint32_t seed)
{
	static const char *syll[] = { "an", "er", "th", "ing", "qu", "ez", "ol", "ta", "mi",
				      "ro", "s", "k", "p", "u" };
	size_t i = 0;
	unsigned id = 0;
	char line[96];

	while (i < len) {
		int n = snprintf(line, sizeof(line), "    \"%s", (seed >> 7) % 10 < 3 ? "\u0120" : "");
		unsigned parts;

		seed = seed * 1103515245u + 12345u;
		parts = 1 + (seed >> 16) % 4;
		while (parts--) {
			seed = seed * 1103515245u + 12345u;
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s",
				      syll[(seed >> 16) % MVMS_ARRAY_SIZE(syll)]);
		}
		n += snprintf(line + n, sizeof(line) - (size_t)n, "\": %u,\n", id++);
		if ((size_t)n > len - i)
			n = (int)(len - i);
		memcpy(p + i, line, (size_t)n);
		i += (size_t)n;
	}
}

/* A tokenizer-like JSON file cut into 64 KiB chunks, each its own frame, against `zstd -3`
 * of the whole file: the per-chunk frames lose the window across chunks, which the text
 * level of codec.c wins back. The bar is "never 2% over"; this data is held to not over at
 * all (0.969x with the text level, 1.008x without it, so the check fails without it). */
static void test_text_chunks(void)
{
	enum { CHUNK = 64 * 1024, N = 16, LEN = CHUNK * N };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(CHUNK));
	mvms_codec *c = NULL;
	size_t k, enc_len = 0, sum = 0, z;
	uint8_t codec = 0;

	if (!src || !enc || mvms_codec_new(&c, 0) < 0) {
		ok(0, "text chunks: setup");
		goto done;
	}
	fill_vocab(src, LEN, 11);
	for (k = 0; k < N; k++) {
		if (mvms_codec_encode(c, &codec, &enc_len, enc, mvms_codec_bound(CHUNK),
				      src + k * CHUNK, CHUNK) < 0)
			break;
		sum += enc_len;
	}
	z = zstd3(src, LEN);
	ok(k == N && sum <= z,
	   "JSON in 64 KiB chunks: %zu bytes, no more than zstd -3 of the whole (%zu, %.4fx)",
	   sum, z, z ? (double)sum / (double)z : 0.0);
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
}

/* Decoding @enc (edited) must fail with EMISMATCH or give other bytes than @src, never
 * crash. 1 when it did. */
static int refused(mvms_codec *c, unsigned char *dec, const unsigned char *src, size_t len,
		   uint8_t codec, const unsigned char *enc, size_t enc_len)
{
	int rc = mvms_codec_decode(c, dec, len, codec, enc, enc_len);

	return rc == MVMS_EMISMATCH || (rc == 0 && memcmp(dec, src, len) != 0);
}

static void test_planes_corrupt(void)
{
	enum { LEN = 64 * 1024 + 3 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(LEN)),
		      *dec = malloc(LEN + 8);
	mvms_codec *c = NULL;
	size_t enc_len = 0, k;
	uint8_t codec = 0;
	int all = 1;

	if (!src || !enc || !dec || mvms_codec_new(&c, 0) < 0) {
		ok(0, "planes corrupt: setup");
		goto done;
	}
	fill_weights(src, LEN, MVMS_DTYPE_BF16, 11);
	mvms_codec_encode_as(c, MVMS_DTYPE_BF16, &codec, &enc_len, enc, mvms_codec_bound(LEN), src,
			     LEN);
	is_int(codec, MVMS_CODEC_BF16, "bf16 weights: codec BF16");
	is_int(enc[0], 2, "its plane table says 2 planes");
	is_int(enc[1], 1, "the exponent plane is zstd");
	is_int(enc[6], 0, "the sign|mantissa plane is raw");
	for (k = 0; k < enc_len; k++)
		if (mvms_codec_decode(c, dec, LEN, codec, enc, k) != MVMS_EMISMATCH)
			all = 0;
	ok(all, "every truncation of the record: EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN - 1, codec, enc, enc_len), MVMS_EMISMATCH,
	       "raw length one short: EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN + 2, codec, enc, enc_len), MVMS_EMISMATCH,
	       "raw length two long (one more element): EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN, MVMS_CODEC_F32, enc, enc_len), MVMS_EMISMATCH,
	       "a BF16 payload read as F32 (2 planes for a 4-plane codec): EMISMATCH");
	is_int(mvms_codec_decode(c, dec, LEN, 6, enc, enc_len), MVMS_EINVALID,
	       "codec 6: EINVALID");
	is_int(mvms_codec_decode(c, dec, LEN, 255, enc, enc_len), MVMS_EINVALID,
	       "codec 255: EINVALID");
	ok(!mvms_codec_known(6) && mvms_codec_known(MVMS_CODEC_DELTA), "codec 6 unknown, 5 known "
	   "(deltas: tests/test-delta.c)");
	ok(!mvms_codec_stored_ok(MVMS_CODEC_BF16, 100, 100) &&
		   mvms_codec_stored_ok(MVMS_CODEC_BF16, 100, 99) &&
		   !mvms_codec_stored_ok(MVMS_CODEC_PLANES, 100, 0),
	   "plane records are shorter than raw and not empty");
	/* Every bit of the plane table, flipped: refused. Every bit of the first 4 KiB of the
	 * zstd plane: refused, or decoded (zstd may not notice a flip in, say, its window size;
	 * the callers hash what is decoded), never another error or a crash. */
	all = 1;
	for (k = 0; k < enc_len && k < 11 + 4096; k++) {
		unsigned char save = enc[k];
		unsigned x;
		for (x = 1; x < 256; x <<= 1) {
			int rc;
			enc[k] = (unsigned char)(save ^ x);
			if (k < 11 && !refused(c, dec, src, LEN, codec, enc, enc_len)) {
				diag("table byte %zu ^ %u not refused", k, x);
				all = 0;
			}
			rc = mvms_codec_decode(c, dec, LEN, codec, enc, enc_len);
			if (rc != 0 && rc != MVMS_EMISMATCH)
				all = 0;
		}
		enc[k] = save;
	}
	ok(all, "a flipped bit in the plane table is refused; in the exponent plane, never a crash");
	enc[0] = 3;
	is_int(mvms_codec_decode(c, dec, LEN, codec, enc, enc_len), MVMS_EMISMATCH,
	       "3 planes for BF16: EMISMATCH");
	enc[0] = 2;
	enc[1] = 2;
	is_int(mvms_codec_decode(c, dec, LEN, codec, enc, enc_len), MVMS_EMISMATCH,
	       "plane method 2: EMISMATCH");
	enc[1] = 1;
	is_int(mvms_codec_decode(c, dec, LEN, codec, enc, enc_len), 0, "the intact record decodes");
	ok(memcmp(dec, src, LEN) == 0, "to the original bytes");
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
	free(dec);
}

/* Records written before byte planes existed: a zstd frame made by zstd 1.5.4 -3 (with a
 * content size and a checksum) and a raw record still decode. */
static void test_old_records(void)
{
	static const unsigned char frame[] = {
		0x28, 0xb5, 0x2f, 0xfd, 0x64, 0xc0, 0x05, 0xed, 0x02, 0x00, 0xa2, 0x05, 0x11, 0x15,
		0x90, 0x29, 0x39, 0xab, 0x5a, 0x31, 0x96, 0xec, 0x51, 0xf1, 0x33, 0x33, 0x51, 0x59,
		0x11, 0x21, 0xb1, 0xb3, 0x3b, 0x13, 0x03, 0xfa, 0xb8, 0x9c, 0x3e, 0x2e, 0xa7, 0x8f,
		0xcb, 0xe9, 0xe3, 0x72, 0xfa, 0xb8, 0x9c, 0x3e, 0x2e, 0xa7, 0x8f, 0xcb, 0xe9, 0xe3,
		0x72, 0xfa, 0xb8, 0x5c, 0xf9, 0x04, 0x81, 0x82, 0x20, 0x12, 0x87, 0x23, 0x29, 0x09,
		0x61, 0x50, 0x38, 0x14, 0x86, 0x0c, 0xe4, 0x58, 0x00, 0x0c, 0x01, 0x40, 0xa8, 0x11,
		0xe0, 0xef, 0x7f, 0x07, 0xe0, 0xe7, 0x11, 0x28, 0x04, 0xff, 0x08, 0xc1, 0xfd, 0x05,
		0xc1, 0x53, 0x3b, 0x90, 0xaa, 0x75, 0x78, 0xf6, 0xcf
	};
	char want[1729], got[1728];
	mvms_codec *c = NULL;
	size_t n = 0, i;

	/* the frame holds "layer.<i % 7>.weight tensor bf16 " for i in 0..63 */
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "layer.%zu.weight tensor bf16 ",
				      i % 7);
	if (n != sizeof(got) || mvms_codec_new(&c, 0) < 0) {
		ok(0, "old records: setup");
		goto done;
	}
	is_int(mvms_codec_decode(c, got, n, MVMS_CODEC_ZSTD, frame, sizeof(frame)), 0,
	       "an old zstd record (codec 1) decodes");
	ok(memcmp(got, want, n) == 0, "to its text");
	is_int(mvms_codec_decode(c, got, 16, MVMS_CODEC_RAW, "0123456789abcdef", 16), 0,
	       "an old raw record (codec 0) decodes");
	ok(memcmp(got, "0123456789abcdef", 16) == 0, "to its bytes");
done:
	mvms_codec_free(c);
}

/* The sign|mantissa plane of a bf16 chunk is judged from a sample of it (codec_planes.c):
 * weights rounded to 3 mantissa bits (a quantised or low-precision export) must still have
 * that plane compressed, and full-precision weights must have it stored raw. */
static void test_planes_sampled(void)
{
	enum { LEN = 64 * 1024 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvms_codec_bound(LEN));
	mvms_codec *c = NULL;
	size_t i, full = 0, rounded = 0;
	uint8_t codec = 0;

	if (!src || !enc || mvms_codec_new(&c, 0) < 0) {
		ok(0, "planes sampled: setup");
		goto done;
	}
	fill_weights(src, LEN, MVMS_DTYPE_BF16, 11);
	mvms_codec_encode_as(c, MVMS_DTYPE_BF16, &codec, &full, enc, mvms_codec_bound(LEN), src,
			     LEN);
	for (i = 0; i < LEN; i += 2)
		src[i] &= 0xf0; /* low byte: exponent bit, 3 mantissa bits kept, 4 cleared */
	mvms_codec_encode_as(c, MVMS_DTYPE_BF16, &codec, &rounded, enc, mvms_codec_bound(LEN),
			     src, LEN);
	diag("bf16 chunk: %.4f of raw; with 3-bit mantissas %.4f", (double)full / LEN,
	     (double)rounded / LEN);
	ok(full > LEN / 2 + LEN / 8 && full < LEN * 69 / 100,
	   "full-precision bf16: the mantissa plane stays raw (%zu bytes)", full);
	ok(codec == MVMS_CODEC_BF16 && rounded < LEN / 2,
	   "bf16 with 3-bit mantissas: the mantissa plane is compressed too (%zu bytes)", rounded);
done:
	mvms_codec_free(c);
	free(src);
	free(enc);
}

int main(void)
{
	test_round_trips();
	test_levels();
	test_corrupt();
	test_planes_round_trips();
	test_planes_choice();
	test_planes_sampled();
	test_unknown_never_worse();
	test_text_chunks();
	test_planes_corrupt();
	test_old_records();
	return done_testing();
}
