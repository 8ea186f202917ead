/* SPDX-License-Identifier: MIT */
/*
 * Object ids: BLAKE2b with a 32-byte output (libsodium crypto_generichash), shown as
 * 64 lower-case hex digits. Chunks, files, tensors, packs and versions are all named so.
 */
#ifndef MVMS_OID_H
#define MVMS_OID_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVMS_OID_RAWSZ 32
#define MVMS_OID_HEXSZ 64

typedef struct mvms_oid {
	unsigned char id[MVMS_OID_RAWSZ];
} mvms_oid;

/** BLAKE2b-256 of @p len bytes at @p data. */
void mvms_oid_hash(mvms_oid *out, const void *data, size_t len);

/** Writes 64 hex digits and a NUL into @p out (65 bytes). */
void mvms_oid_fmt(char *out, const mvms_oid *id);

/** Parses exactly 64 hex digits (either case). @return 0 or MVMS_EINVALID. */
int mvms_oid_parse(mvms_oid *out, const char *hex);

/** memcmp order of the raw bytes. */
int mvms_oid_cmp(const mvms_oid *a, const mvms_oid *b);

/** 1 if all 32 bytes are zero. */
int mvms_oid_is_zero(const mvms_oid *id);

#ifdef __cplusplus
}
#endif
#endif
