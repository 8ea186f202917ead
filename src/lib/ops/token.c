/* SPDX-License-Identifier: MIT */
/*
 * API tokens: "mvms_<16 hex id>_<43 base64url chars>". The id is public and names a row of
 * the tokens table; the secret (32 random bytes) is returned once by create and only its
 * BLAKE2b-256 hash is kept, compared in constant time by verify. Scope and model globs are
 * checked here only for validity: deciding what a request needs is the server's job.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sodium.h>
#include "mvms/token.h"
#include "store_int.h"
#include "tokens.h"
#include "transport.h"

#define TOKEN_PREFIX "mvms_"
#define TOKEN_PREFIX_LEN 5
#define ID_BYTES 8
#define ID_HEX (2 * ID_BYTES)
#define SECRET_BYTES 32
/* base64 without padding: 4 characters per 3 bytes, rounded up: ceil(32 * 4 / 3) = 43. */
#define SECRET_B64 43
/* "mvms_" + id + "_" + secret = 65 characters. */
#define TOKEN_LEN (TOKEN_PREFIX_LEN + ID_HEX + 1 + SECRET_B64)
#define HASH_BYTES crypto_generichash_BYTES
#define GLOB_MAX 256
#define CREATE_TRIES 4

static int is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int is_b64url(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static int scope_check(int scope)
{
	if (scope != MVMS_SCOPE_READ && scope != MVMS_SCOPE_WRITE && scope != MVMS_SCOPE_ADMIN)
		return mvms_error_set(MVMS_EINVALID, "token: bad scope %d (1 read, 2 write, 3 admin)",
				      scope);
	return 0;
}

/* Model-name characters (letters, digits, '.', '_', '-', '/') plus the glob's '*', '?', '[', ']'. */
static int glob_check(const char *glob)
{
	size_t i, n = glob ? strlen(glob) : 0;

	if (n == 0 || n > GLOB_MAX)
		return mvms_error_set(MVMS_EINVALID, "token: model glob must be 1 to %d characters",
				      GLOB_MAX);
	for (i = 0; i < n; i++) {
		char c = glob[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/' || c == '*' || c == '?' || c == '[' ||
		      c == ']'))
			return mvms_error_set(MVMS_EINVALID,
					      "token: bad model glob '%s': only model-name characters "
					      "and '*', '?', '[', ']' are allowed", glob);
	}
	return 0;
}

static void hash_secret(unsigned char out[HASH_BYTES], const unsigned char secret[SECRET_BYTES])
{
	crypto_generichash(out, HASH_BYTES, secret, SECRET_BYTES, NULL, 0);
}

/* Splits a presented token into its id and raw secret. The secret must be the canonical
 * encoding (re-encoding gives the same text), so that one secret has one spelling. */
static int parse_token(char id[ID_HEX + 1], unsigned char secret[SECRET_BYTES], const char *token)
{
	char again[SECRET_B64 + 1];
	const char *b64;
	size_t n = token ? strnlen(token, TOKEN_LEN + 1) : 0, bin_len = 0;
	int error = 0;

	if (n != TOKEN_LEN || memcmp(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0 ||
	    !is_lower_hex(token + TOKEN_PREFIX_LEN, ID_HEX) || token[TOKEN_PREFIX_LEN + ID_HEX] != '_') {
		error = mvms_error_set(MVMS_EAUTH, "token: malformed");
		goto done;
	}
	b64 = token + TOKEN_PREFIX_LEN + ID_HEX + 1;
	if (!is_b64url(b64, SECRET_B64) ||
	    sodium_base642bin(secret, SECRET_BYTES, b64, SECRET_B64, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != SECRET_BYTES) {
		error = mvms_error_set(MVMS_EAUTH, "token: malformed");
		goto done;
	}
	sodium_bin2base64(again, sizeof(again), secret, SECRET_BYTES,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (sodium_memcmp(again, b64, SECRET_B64) != 0) {
		error = mvms_error_set(MVMS_EAUTH, "token: malformed");
		goto done;
	}
	memcpy(id, token + TOKEN_PREFIX_LEN, ID_HEX);
	id[ID_HEX] = '\0';
done:
	sodium_memzero(again, sizeof(again));
	if (error < 0)
		sodium_memzero(secret, SECRET_BYTES);
	return error;
}

int mvms_token_create(char **token_out, mvms_token_info **info_out, mvms_store *st, int scope,
		      const char *models, int64_t expires_at, const char *description)
{
	MVMS_TRANSPORT_CALL(st, token_create, (token_out, info_out, st, scope, models, expires_at, description));
	unsigned char raw_id[ID_BYTES], secret[SECRET_BYTES], hash[HASH_BYTES];
	char id[ID_HEX + 1], b64[SECRET_B64 + 1];
	mvms_token_info *info = NULL, row;
	char *token = NULL;
	int64_t now = (int64_t)time(NULL);
	int error = 0, tries;

	if (token_out)
		*token_out = NULL;
	if (info_out)
		*info_out = NULL;
	if (!token_out || !st) {
		error = mvms_error_set(MVMS_EINVALID, "token: create: missing argument");
		goto done;
	}
	MVMS_TRY(scope_check(scope));
	MVMS_TRY(glob_check(models));
	if (expires_at < 0) {
		error = mvms_error_set(MVMS_EINVALID, "token: negative expiry time");
		goto done;
	}
	if (!description)
		description = "";
	randombytes_buf(secret, sizeof(secret));
	hash_secret(hash, secret);
	memset(&row, 0, sizeof(row));
	row.scope = scope;
	row.models = (char *)models;
	row.description = (char *)description;
	row.created_at = now;
	row.expires_at = expires_at;
	/* 64 random bits make a collision unlikely; the primary key makes it harmless. */
	for (tries = 0;; tries++) {
		randombytes_buf(raw_id, sizeof(raw_id));
		mvms_hex_encode(id, raw_id, sizeof(raw_id));
		memcpy(row.id, id, sizeof(row.id));
		error = mvms_tokens_insert(st->db, &row, hash, sizeof(hash));
		if (error != MVMS_EEXISTS || tries + 1 >= CREATE_TRIES)
			break;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	token = malloc(TOKEN_LEN + 1);
	MVMS_CHECK_ALLOC(token, error);
	snprintf(token, TOKEN_LEN + 1, "%s%s_%s", TOKEN_PREFIX, id, b64);
	if (info_out) {
		info = calloc(1, sizeof(*info));
		MVMS_CHECK_ALLOC(info, error);
		memcpy(info->id, id, sizeof(info->id));
		info->scope = scope;
		info->created_at = now;
		info->expires_at = expires_at;
		info->models = strdup(models);
		MVMS_CHECK_ALLOC(info->models, error);
		info->description = strdup(description);
		MVMS_CHECK_ALLOC(info->description, error);
	}
done:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
	if (error < 0) {
		if (token)
			sodium_memzero(token, TOKEN_LEN + 1);
		free(token);
		mvms_token_info_free(info);
	} else {
		*token_out = token;
		if (info_out)
			*info_out = info;
	}
	return error;
}

int mvms_token_verify(mvms_token_info **out, mvms_store *st, const char *token)
{
	MVMS_LOCAL_ONLY(st, "token_verify");
	unsigned char secret[SECRET_BYTES], want[HASH_BYTES], got[HASH_BYTES];
	char id[ID_HEX + 1], tbuf[32];
	mvms_token_info *t = NULL;
	int64_t now = (int64_t)time(NULL);
	time_t tt;
	struct tm tm;
	int error = 0, rc, match;

	if (out)
		*out = NULL;
	memset(secret, 0, sizeof(secret));
	if (!out || !st) {
		error = mvms_error_set(MVMS_EINVALID, "token: verify: missing argument");
		goto done;
	}
	/* Hugging Face clients (@huggingface/hub) refuse a token that does not start with
	 * "hf_": the same token written "hf_mvms_..." is accepted (docs/hf-compat.md). */
	if (token && strncmp(token, "hf_" TOKEN_PREFIX, 3 + TOKEN_PREFIX_LEN) == 0)
		token += 3;
	MVMS_TRY(parse_token(id, secret, token));
	hash_secret(got, secret);
	MVMS_TRY(rc = mvms_tokens_get(&t, want, sizeof(want), st->db, id));
	/* An unknown id and a wrong secret read the same, so that the reply tells nothing
	 * about which ids exist. The id is public, so looking it up needs no constant time. */
	match = sodium_memcmp(want, got, sizeof(want)) == 0;
	if (rc == 0 || !match) {
		error = mvms_error_set(MVMS_EAUTH, "token %s: not recognised", id);
		goto done;
	}
	if (t->revoked_at != 0) {
		error = mvms_error_set(MVMS_EAUTH, "token %s: revoked", id);
		goto done;
	}
	if (t->expires_at != 0 && now >= t->expires_at) {
		tt = (time_t)t->expires_at;
		if (gmtime_r(&tt, &tm))
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		else
			snprintf(tbuf, sizeof(tbuf), "%lld", (long long)t->expires_at);
		error = mvms_error_set(MVMS_EAUTH, "token %s: expired at %s", id, tbuf);
		goto done;
	}
done:
	sodium_memzero(secret, sizeof(secret));
	if (error < 0) {
		mvms_token_info_free(t);
	} else {
		*out = t;
		error = 0;
	}
	return error;
}

int mvms_token_allows_model(const mvms_token_info *t, const char *model)
{
	if (!t || !t->models || !model)
		return 0;
	return fnmatch(t->models, model, 0) == 0;
}

int mvms_token_list(mvms_token_info **out, size_t *count, mvms_store *st)
{
	MVMS_TRANSPORT_CALL(st, token_list, (out, count, st));
	if (out)
		*out = NULL;
	if (count)
		*count = 0;
	if (!out || !count || !st)
		return mvms_error_set(MVMS_EINVALID, "token: list: missing argument");
	return mvms_tokens_list(out, count, st->db);
}

int mvms_token_whoami(mvms_token_info **out, mvms_store *st)
{
	MVMS_TRANSPORT_CALL(st, token_whoami, (out, st));
	mvms_token_info *t = NULL;
	int error = 0;

	if (out)
		*out = NULL;
	if (!out || !st)
		return mvms_error_set(MVMS_EINVALID, "token: whoami: missing argument");
	/* A local store has no token: its files are the access control. */
	MVMS_CHECK_ALLOC(t = calloc(1, sizeof(*t)), error);
	t->scope = MVMS_SCOPE_ADMIN;
	MVMS_CHECK_ALLOC(t->models = strdup("*"), error);
	MVMS_CHECK_ALLOC(t->description = strdup(""), error);
	*out = t;
	t = NULL;
done:
	mvms_token_info_free(t);
	return error;
}

int mvms_token_revoke(mvms_store *st, const char *id)
{
	MVMS_TRANSPORT_CALL(st, token_revoke, (st, id));
	int error = 0, found;

	if (!st || !id || strlen(id) != ID_HEX || !is_lower_hex(id, ID_HEX)) {
		/* Not echoed: someone may have pasted the whole token. */
		error = mvms_error_set(MVMS_EINVALID, "token: bad id (want the 16 hex digits "
				       "after \"mvms_\", as 'token list' shows)");
		goto done;
	}
	MVMS_TRY(mvms_tokens_revoke(&found, st->db, id, (int64_t)time(NULL)));
	if (!found)
		error = mvms_error_set(MVMS_ENOTFOUND, "token %s: not found", id);
done:
	return error;
}
