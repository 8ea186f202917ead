/* SPDX-License-Identifier: MIT */
/*
 * Signature policies (mvms/sign.h): the keys an environment requires, which versions
 * satisfy them, and the hook ops/deploy.c calls inside every deploy and rollback so that
 * no path into an environment (a person, a script, an automatic rollout step) skips it.
 * An environment name stands for the same stage in every model of the store, so a policy
 * is per name, store-wide: a new model cannot reach "prod" unsigned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sodium.h>
#include "sign_int.h"
#include "sig.h"
#include "signatures.h"
#include "mvms/deploy.h"
#include "transport.h"

int mvms_sign__has_valid(const mvms_signature *list, size_t n, const char *const *keys,
			 size_t nkeys)
{
	size_t i, k;

	for (i = 0; i < n; i++)
		for (k = 0; list[i].valid && k < nkeys; k++)
			if (strcmp(list[i].public_key, keys[k]) == 0)
				return 1;
	return 0;
}

/* "3fa9c1d2e4b5a6f7, 0a1b2c3d4e5f6a7b" (key id prefixes of @keys) into @out. */
static void key_ids(char *out, size_t size, const char *const *keys, size_t nkeys)
{
	unsigned char pk[MVMS_SIG_PK_BYTES];
	char id[MVMS_KEY_ID_HEXSZ + 1];
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < nkeys && used + 20 < size; i++) {
		if (mvms_sig__pk_parse(pk, keys[i]) < 0) {
			mvms_error_clear();
			continue;
		}
		mvms_sig__key_id(id, pk);
		used += (size_t)snprintf(out + used, size - used, "%s%.16s", used ? ", " : "", id);
	}
}

/* Canonical texts of @keys into *out (mvms_env_policy_free); MVMS_EINVALID for a bad one. */
static int canon_keys(char ***out, char ***ids, const char *const *keys, size_t nkeys)
{
	unsigned char pk[MVMS_SIG_PK_BYTES];
	size_t i;
	int error = 0;

	*out = calloc(nkeys + 1, sizeof(char *));
	*ids = calloc(nkeys + 1, sizeof(char *));
	if (!*out || !*ids) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < nkeys; i++) {
		MVMS_TRY(mvms_sig__pk_parse(pk, keys[i]));
		(*out)[i] = malloc(MVMS_PUBKEY_TEXTSZ + 1);
		(*ids)[i] = malloc(MVMS_KEY_ID_HEXSZ + 1);
		MVMS_CHECK_ALLOC((*out)[i], error);
		MVMS_CHECK_ALLOC((*ids)[i], error);
		mvms_sig__pk_format((*out)[i], pk);
		(*out)[i][MVMS_PUBKEY_TEXTSZ] = '\0';
		mvms_sig__key_id((*ids)[i], pk);
	}
done:
	return error;
}

int mvms_signature_require(mvms_version_info **out, mvms_store *st, const char *spec,
			   const char *const *keys, size_t nkeys)
{
	mvms_version_info *v = NULL;
	mvms_signature *list = NULL;
	char **canon = NULL, **ids = NULL, *exact = NULL, names[512];
	size_t n = 0;
	int error = 0;

	if (out)
		*out = NULL;
	if (nkeys == 0)
		return mvms_error_set(MVMS_EINVALID, "require a signature: no key given");
	MVMS_TRY(canon_keys(&canon, &ids, keys, nkeys));
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	/* By id, so that what is checked is what the caller then acts on. */
	if (asprintf(&exact, "%s@%s", v->model, v->id) < 0) {
		exact = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_signature_list(&list, &n, st, exact));
	if (!mvms_sign__has_valid(list, n, (const char *const *)canon, nkeys)) {
		key_ids(names, sizeof(names), (const char *const *)canon, nkeys);
		error = mvms_error_set(MVMS_EPOLICY, "%s@v%lld (%.12s) has no valid signature by "
				       "key %s", v->model, (long long)v->number, v->id, names);
		goto done;
	}
	if (out) {
		*out = v;
		v = NULL;
	}
done:
	mvms_env_policy_free(canon, nkeys);
	mvms_env_policy_free(ids, nkeys);
	mvms_signature_list_free(list, n);
	mvms_version_info_free(v);
	free(exact);
	return error;
}

int mvms_env_policy_set(mvms_store *st, const char *env, const char *const *keys, size_t nkeys)
{
	MVMS_TRANSPORT_CALL(st, env_policy_set, (st, env, keys, nkeys));
	char **canon = NULL, **ids = NULL;
	int error = 0, began = 0;

	MVMS_TRY(mvms_deploy_env_check(env));
	if (nkeys > 64) {
		error = mvms_error_set(MVMS_EINVALID, "env policy: at most 64 keys, not %zu", nkeys);
		goto done;
	}
	MVMS_TRY(canon_keys(&canon, &ids, keys, nkeys));
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_sigrows_policy_set(st->db, env, (const char *const *)canon,
					 (const char *const *)ids, nkeys, (int64_t)time(NULL)));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_env_policy_free(canon, nkeys);
	mvms_env_policy_free(ids, nkeys);
	return error;
}

int mvms_env_policy_get(char ***keys, size_t *count, mvms_store *st, const char *env)
{
	MVMS_TRANSPORT_CALL(st, env_policy_get, (keys, count, st, env));
	int error = 0;

	*keys = NULL;
	*count = 0;
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_sigrows_policy_get(keys, count, st->db, env));
done:
	return error;
}

/* 0 when versions row @row has a valid signature by one of @keys; else MVMS_EPOLICY. */
static int row_signed(mvms_store *st, const char *env, int64_t row, char **keys, size_t nkeys,
		      const char *what)
{
	mvms_version_info *v = NULL;
	mvms_signature *list = NULL;
	int64_t model_id;
	char uid[33], names[512];
	size_t n = 0;
	int error = 0;

	MVMS_TRY(mvms_version__load(&v, st, row));
	MVMS_TRY(mvms_version__model(&model_id, st, row));
	MVMS_TRY(mvms_store__model_uid(uid, st, model_id));
	MVMS_TRY(mvms_sign__list_row(&list, &n, st, row, v->id, uid));
	if (!mvms_sign__has_valid(list, n, (const char *const *)keys, nkeys)) {
		key_ids(names, sizeof(names), (const char *const *)keys, nkeys);
		error = mvms_error_set(MVMS_EPOLICY, "%s: environment %s requires a valid signature "
				       "by key %s; %s@v%lld (%.12s) has none (mvms-store sign)",
				       what, env, names, v->model, (long long)v->number, v->id);
	}
done:
	mvms_signature_list_free(list, n);
	mvms_version_info_free(v);
	return error;
}

int mvms_sign__deploy_check(mvms_store *st, const char *env, const int64_t *rows, size_t n,
			    const char *what)
{
	char **keys = NULL;
	size_t nkeys = 0, i;
	int error = 0;

	MVMS_TRY(mvms_sigrows_policy_get(&keys, &nkeys, st->db, env));
	if (nkeys == 0)
		goto done;
	if (sodium_init() < 0) {
		error = mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
		goto done;
	}
	for (i = 0; i < n; i++)
		MVMS_TRY(row_signed(st, env, rows[i], keys, nkeys, what));
done:
	mvms_env_policy_free(keys, nkeys);
	return error;
}
