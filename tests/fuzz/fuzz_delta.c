/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: delta records (codec 5, core/codec_delta.c), which a pull, a server's
 * pack check, verify and repack decode through a base. First byte: below 0x80, a decode:
 * a u16 little-endian raw length, then that many base bytes (bit 0 of the first byte set,
 * or too few bytes: the base is missing), then the stored bytes; it must answer 0,
 * MVMS_EMISMATCH or MVMS_ENOTFOUND (missing base), never write past the raw length, and
 * ask for a base only of that length. From 0x80 up, an encode: dtype = BF16, F16 or F32 by
 * the byte, the rest split in halves (base, new bytes); a delta it makes must be a record
 * the packs accept and decode back to the new bytes through that base.
 * Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "mvms/errors.h"

typedef struct base_src {
	const uint8_t *bytes;    /* NULL: missing */
	size_t len;
} base_src;

static int base_cb(void *ctx, mvms_codec *c, const mvms_oid *id, size_t raw_len, void *out)
{
	base_src *b = ctx;

	(void)c;
	(void)id;
	if (!b->bytes)
		return mvms_error_set(MVMS_ENOTFOUND, "fuzz: no base");
	if (raw_len != b->len)
		__builtin_trap(); /* a base is always asked for at the delta's own length */
	memcpy(out, b->bytes, raw_len);
	return 0;
}

static mvms_codec *codec(base_src *src)
{
	/* One context for the process, as a pull worker keeps one: buffers (and the kept
	 * base) meet the next input. */
	static mvms_codec *c;

	if (!c && mvms_codec_new(&c, 0) < 0)
		__builtin_trap();
	mvms_codec_set_base(c, base_cb, src); /* also forgets the kept base */
	return c;
}

static void decode(const uint8_t *data, size_t size)
{
	size_t raw_len = (size_t)data[1] | (size_t)data[2] << 8, off = 3;
	base_src src = { NULL, raw_len };
	unsigned char *dst;
	int rc;

	if (!(data[0] & 1) && size - off >= raw_len) {
		src.bytes = data + off;
		off += raw_len;
	}
	if (!(dst = malloc(raw_len + 1)))
		return;
	dst[raw_len] = 0x5a;
	rc = mvms_codec_decode(codec(&src), dst, raw_len, MVMS_CODEC_DELTA, data + off, size - off);
	if (rc != 0 && rc != MVMS_EMISMATCH && rc != MVMS_ENOTFOUND)
		__builtin_trap();
	if (rc == MVMS_ENOTFOUND && src.bytes)
		__builtin_trap();
	if (rc == 0 && !mvms_codec_stored_ok(MVMS_CODEC_DELTA, raw_len, size - off))
		__builtin_trap();
	if (dst[raw_len] != 0x5a)
		__builtin_trap();
	free(dst);
}

static void encode(const uint8_t *data, size_t size)
{
	static const enum mvms_dtype dts[] = { MVMS_DTYPE_BF16, MVMS_DTYPE_F16, MVMS_DTYPE_F32 };
	size_t len = (size - 1) / 2, n = 0;
	const uint8_t *base = data + 1, *src = data + 1 + len;
	base_src bs = { base, len };
	unsigned char *enc = malloc(len ? len : 1), *dec = malloc(len ? len : 1);
	mvms_oid id;
	mvms_codec *c = codec(&bs);

	memset(&id, 0xab, sizeof(id));
	if (!enc || !dec)
		goto done;
	if (mvms_codec_encode_delta(c, dts[(data[0] & 0x7f) % 3], &id, base, &n, enc, len, src,
				    len) < 0)
		__builtin_trap();
	if (!n)
		goto done;
	if (!mvms_codec_stored_ok(MVMS_CODEC_DELTA, len, n) || memcmp(enc, id.id, 32) != 0)
		__builtin_trap();
	if (mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, enc, n) != 0 ||
	    memcmp(dec, src, len) != 0)
		__builtin_trap();
done:
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	if (data[0] & 0x80)
		encode(data, size);
	else
		decode(data, size);
	return 0;
}
