/* SPDX-License-Identifier: MIT */
/*
 * Object ids and streaming hashing: BLAKE2b-256 through libsodium's crypto_generichash.
 * Hex is lower case on output and either case on input; mvms_hex_encode is the one hex
 * encoder of the library (ids, SigV4 digests, model uids, token ids, temporary names).
 */
#include <sodium.h>
#include "hash.h"

/* libsodium picks its BLAKE2b compression function (AVX2, SSE4.1, SSSE3 or portable C) in
 * sodium_init() only; without it every hash runs the portable one, 10-12% slower (64 KiB
 * chunks, AVX2 host), and hashing is a third of a push's CPU and most of a re-push's. Done
 * when the library loads, before any thread can be hashing: the choice is a global
 * function pointer. A failure (no entropy source for randombytes) leaves the portable
 * code, which computes the same hashes; the functions that need randomness call
 * sodium_init() themselves and report it. */
__attribute__((constructor)) static void oid_sodium_init(void)
{
	if (sodium_init() < 0)
		return;
}

void mvms_hasher_init(mvms_hasher *h)
{
	crypto_generichash_init(&h->st, NULL, 0, MVMS_OID_RAWSZ);
}

void mvms_hasher_update(mvms_hasher *h, const void *data, size_t len)
{
	crypto_generichash_update(&h->st, data, len);
}

void mvms_hasher_final(mvms_hasher *h, mvms_oid *out)
{
	crypto_generichash_final(&h->st, out->id, MVMS_OID_RAWSZ);
}

void mvms_hasher_add_chunk(mvms_hasher *h, const mvms_oid *chunk, uint64_t len)
{
	unsigned char rec[MVMS_OID_RAWSZ + 8];

	memcpy(rec, chunk->id, MVMS_OID_RAWSZ);
	mvms_le64_put(rec + MVMS_OID_RAWSZ, len);
	crypto_generichash_update(&h->st, rec, sizeof(rec));
}

void mvms_oid_hash(mvms_oid *out, const void *data, size_t len)
{
	crypto_generichash(out->id, MVMS_OID_RAWSZ, data, len, NULL, 0);
}

void mvms_hex_encode(char *out, const void *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void mvms_oid_fmt(char *out, const mvms_oid *id)
{
	mvms_hex_encode(out, id->id, MVMS_OID_RAWSZ);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mvms_oid_parse(mvms_oid *out, const char *hex)
{
	size_t i;

	if (!hex || strlen(hex) != MVMS_OID_HEXSZ)
		return mvms_error_set(MVMS_EINVALID, "bad id '%.80s': want 64 hex digits",
				      hex ? hex : "");
	for (i = 0; i < MVMS_OID_RAWSZ; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return mvms_error_set(MVMS_EINVALID, "bad id '%.80s': not hex", hex);
		out->id[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int mvms_oid_cmp(const mvms_oid *a, const mvms_oid *b)
{
	return memcmp(a->id, b->id, MVMS_OID_RAWSZ);
}

int mvms_oid_is_zero(const mvms_oid *id)
{
	size_t i;

	for (i = 0; i < MVMS_OID_RAWSZ; i++)
		if (id->id[i])
			return 0;
	return 1;
}
