/* SPDX-License-Identifier: MIT */
/*
 * API tokens for the HTTP server: a token is shown once at creation; the store keeps only
 * its hash. Each token has a scope (read, write, admin), a model glob and an expiry.
 */
#ifndef MVMS_TOKEN_H
#define MVMS_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/oid.h"
#include "mvms/store.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mvms_token_scope {
	MVMS_SCOPE_READ = 1,
	MVMS_SCOPE_WRITE = 2,   /* includes read */
	MVMS_SCOPE_ADMIN = 3,   /* includes write */
};

typedef struct mvms_token_info {
	char id[17];            /* public id: 16 hex digits (also the token's prefix) */
	int scope;              /* enum mvms_token_scope */
	char *models;           /* glob of model names it may touch ("*": all) */
	int64_t created_at;
	int64_t expires_at;     /* 0: never */
	char *description;
	int64_t revoked_at;     /* 0: not revoked (only mvms_token_list returns revoked ones) */
} mvms_token_info;

/**
 * Creates a token. *token_out (free()) is the secret, shown once: "mvms_<id>_<secret>".
 * @return 0 or MVMS_EINVALID (bad scope or glob).
 */
int mvms_token_create(char **token_out, mvms_token_info **info_out, mvms_store *st, int scope,
		      const char *models, int64_t expires_at, const char *description);
/**
 * Checks a presented token (constant-time comparison of hashes). The token may also be
 * written with an "hf_" prefix ("hf_mvms_<id>_<secret>"), for Hugging Face clients that
 * refuse tokens without it.
 * @return 0 with *out set, or MVMS_EAUTH (unknown, malformed, revoked or expired).
 */
int mvms_token_verify(mvms_token_info **out, mvms_store *st, const char *token);
/** 1 when @model matches the token's glob, else 0. */
int mvms_token_allows_model(const mvms_token_info *t, const char *model);
/**
 * Whether a token whose model glob is @glob may read objects by hash: for each of the @n
 * objects of @kind ("manifests": version ids, "files": file ids, "chunks": chunk ids),
 * covered[i] = 1 when a version of a model whose name matches @glob (fnmatch, as the token)
 * holds it, else 0. An object no version holds (or that does not exist) is 0.
 * @return 0, or MVMS_EINVALID (bad kind or empty glob), MVMS_ERROR.
 */
int mvms_token_covers_objects(unsigned char *covered, mvms_store *st, const char *glob,
			      const char *kind, const mvms_oid *ids, size_t n);
int mvms_token_list(mvms_token_info **out, size_t *count, mvms_store *st);
/**
 * What the caller may do: on a handle opened with mvms_store_connect, the scope and model
 * glob of the token it sends, as the server sees it (GET /v1/whoami; scope 0 and models NULL
 * with no token where the server refuses anonymous reads; read and "*" where it allows
 * them); on a local store, admin over "*" (whoever opens the files may do anything). Only
 * scope and models are set (the id is empty). MVMS_EAUTH when the server refuses the token.
 */
int mvms_token_whoami(mvms_token_info **out, mvms_store *st);
/** MVMS_ENOTFOUND when no such id. */
int mvms_token_revoke(mvms_store *st, const char *id);
void mvms_token_info_free(mvms_token_info *t);
void mvms_token_list_free(mvms_token_info *list, size_t count);

#ifdef __cplusplus
}
#endif
#endif
