/* SPDX-License-Identifier: MIT */
/*
 * Streaming BLAKE2b-256 (libsodium), and the derived ids: a file's or tensor's id is the
 * hash of its ordered list of (chunk id, length) pairs, so no byte is hashed twice.
 */
#ifndef MVMS_HASH_H
#define MVMS_HASH_H

#include <sodium.h>
#include "common.h"

typedef struct mvms_hasher {
	crypto_generichash_state st;
} mvms_hasher;

void mvms_hasher_init(mvms_hasher *h);
void mvms_hasher_update(mvms_hasher *h, const void *data, size_t len);
void mvms_hasher_final(mvms_hasher *h, mvms_oid *out);

/* Adds one chunk (32 id bytes then its length as u64 LE) to a file or tensor id. */
void mvms_hasher_add_chunk(mvms_hasher *h, const mvms_oid *chunk, uint64_t len);

#endif
