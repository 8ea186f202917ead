/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the per-chunk codec (mvms_codec_decode, with the byte planes of
 * codec_planes.c), which decodes stored records read back from packs and received from
 * peers. First byte: below 0x80, a decode: codec = byte & 7 (5..7 are unknown codecs),
 * then a u24 little-endian raw length and the stored bytes; it must answer 0,
 * MVMS_EMISMATCH or (unknown codec only) MVMS_EINVALID, and never write past raw_len.
 * From 0x80 up, an encode: dtype = byte & 15 and the rest are the raw bytes; what is
 * encoded must be a record the packs accept and decode back to exactly those bytes.
 * Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "mvms/errors.h"

static mvms_codec *codec(void)
{
	/* One context for the process, as a pull worker keeps one: scratch buffers grow and
	 * are reused across inputs, so state left by one input meets the next. */
	static mvms_codec *c;

	if (!c && mvms_codec_new(&c, 0) < 0)
		__builtin_trap();
	return c;
}

static void decode(const uint8_t *data, size_t size)
{
	uint8_t id = data[0] & 7;
	size_t raw_len, stored_len = size - 4;
	unsigned char *dst;
	int rc;

	raw_len = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16;
	/* one guard byte past raw_len: a decoder must not touch it */
	dst = malloc(raw_len + 1);
	if (!dst)
		return;
	dst[raw_len] = 0x5a;
	rc = mvms_codec_decode(codec(), dst, raw_len, id, data + 4, stored_len);
	/* EINVALID: an unknown codec, or a delta (no store here to read its base from). */
	if (rc != 0 && rc != MVMS_EMISMATCH &&
	    !(rc == MVMS_EINVALID && (!mvms_codec_known(id) || id == MVMS_CODEC_DELTA)))
		__builtin_trap();
	if (rc == 0 && !mvms_codec_known(id))
		__builtin_trap();
	if (dst[raw_len] != 0x5a)
		__builtin_trap();
	free(dst);
}

static void encode(const uint8_t *data, size_t size)
{
	const uint8_t *src = data + 1;
	size_t len = size - 1, cap = mvms_codec_bound(len), out_len = 0;
	unsigned char *enc = malloc(cap ? cap : 1), *dec = malloc(len ? len : 1);
	uint8_t id = 0xff;

	if (!enc || !dec)
		goto done;
	if (mvms_codec_encode_as(codec(), (enum mvms_dtype)(data[0] & 15), &id, &out_len, enc, cap,
				 src, len) < 0)
		__builtin_trap();
	if (len && !mvms_codec_stored_ok(id, len, out_len))
		__builtin_trap();
	if (mvms_codec_decode(codec(), dec, len, id, enc, out_len) < 0)
		__builtin_trap();
	if (len && memcmp(dec, src, len) != 0)
		__builtin_trap();
done:
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		encode(data, size);
	else if (size >= 4)
		decode(data, size);
	mvms_error_clear();
	return 0;
}
