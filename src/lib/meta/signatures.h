/* SPDX-License-Identifier: MIT */
/*
 * The SQL of signed releases (schema/008_signatures.sql): the signatures index (a row per
 * signature object, under the version it signs) and the env_policies table. Formats and
 * checks are core/sig.c's and ops/sign.c's.
 */
#ifndef MVMS_SIGNATURES_H
#define MVMS_SIGNATURES_H

#include "db.h"
#include "mvms/sign.h"

/* Indexes signature object @s->id under versions row @version_row (its key id, public key,
 * statement and time from @s). A row for the same object already there is kept. */
int mvms_sigrows_insert(mvms_db *db, int64_t version_row, const mvms_signature *s,
			int64_t now);

/* The rows of version row @version_row, oldest first: id, key_id, public_key, statement
 * and signed_at filled (the rest is the caller's); free with mvms_signature_list_free. */
int mvms_sigrows_list(mvms_signature **out, size_t *count, mvms_db *db, int64_t version_row);

/* 1 when a row names signature object @id (hex), 0 when none (gc keeps the object while
 * one does). */
int mvms_sigrows_used(mvms_db *db, const char *id);

/* Replaces @env's keys with @keys (their ids @ids); @n 0 clears the policy. Inside the
 * caller's transaction. */
int mvms_sigrows_policy_set(mvms_db *db, const char *env, const char *const *keys,
			    const char *const *ids, size_t n, int64_t now);
/* @env's keys, sorted (*count 0: no policy); free with mvms_env_policy_free. */
int mvms_sigrows_policy_get(char ***keys, size_t *count, mvms_db *db, const char *env);

#endif
