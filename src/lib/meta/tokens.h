/* SPDX-License-Identifier: MIT */
/*
 * The tokens table: insert a token's row (its id and the hash of its secret), read one by
 * id, list, revoke. Token formats, secrets and checks are ops/token.c's.
 */
#ifndef MVMS_TOKENS_H
#define MVMS_TOKENS_H

#include "db.h"
#include "mvms/token.h"

/* Inserts the row of token @t->id with the secret's hash @hash (@hashlen bytes); its scope,
 * models, description, created_at and expires_at from @t. MVMS_EEXISTS when the id is
 * taken. */
int mvms_tokens_insert(mvms_db *db, const mvms_token_info *t, const unsigned char *hash,
		       size_t hashlen);
/* Reads the row of token @id: 1 with *out (mvms_token_info_free) and @hash filled (zeros
 * when the stored hash is not @hashlen bytes), 0 when there is none, negative on error. */
int mvms_tokens_get(mvms_token_info **out, unsigned char *hash, size_t hashlen, mvms_db *db,
		    const char *id);
/* Every token, oldest first (mvms_token_list_free). */
int mvms_tokens_list(mvms_token_info **out, size_t *count, mvms_db *db);
/* Sets revoked_at to @now unless it is set already; *found says whether @id exists. */
int mvms_tokens_revoke(int *found, mvms_db *db, const char *id, int64_t now);

#endif
