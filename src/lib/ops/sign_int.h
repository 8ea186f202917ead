/* SPDX-License-Identifier: MIT */
/*
 * What ops/sign.c, ops/sign_policy.c, ops/deploy.c and the client layer share of signed
 * releases: checking one signature file against a version, and the deploy hook.
 */
#ifndef MVMS_SIGN_INT_H
#define MVMS_SIGN_INT_H

#include "store_int.h"
#include "mvms/sign.h"

/*
 * Fills @s from signature file @bytes (its id is their hash, its text a copy) and judges it
 * for version @version_id of the model whose uid is @model_uid: s->valid 1, or 0 with
 * s->problem saying why (unparsable, bad Ed25519 signature, another version, another
 * model). When @want_id is not NULL the bytes must also hash to it (a stored object). 0, or
 * MVMS_ERROR when out of memory: an invalid signature is not an error here.
 */
int mvms_sign__judge(mvms_signature *s, const void *bytes, size_t len, const char *version_id,
		     const char *model_uid, const char *want_id);

/* The signatures of versions row @row (version id @vid, model uid @uid), each read from the
 * backend and judged; local stores only. */
int mvms_sign__list_row(mvms_signature **out, size_t *count, mvms_store *st, int64_t row,
			const char *vid, const char *uid);

/* 1 when @list holds a valid signature by one of @keys (canonical text). */
int mvms_sign__has_valid(const mvms_signature *list, size_t n, const char *const *keys,
			 size_t nkeys);

/*
 * The deploy hook (ops/deploy.c, inside its transaction): 0 when environment @env has no
 * signature policy or each of versions rows @rows[0..n) has a valid signature by one of its
 * keys; MVMS_EPOLICY naming the first that has none.
 */
int mvms_sign__deploy_check(mvms_store *st, const char *env, const int64_t *rows, size_t n,
			    const char *what);

#endif
