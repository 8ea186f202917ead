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

#define TOKEN_COLUMNS "id, scope, models, created_at, expires_at, description, revoked_at"

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

/* Fills @t from a row selected with TOKEN_COLUMNS. */
static int read_row(mvms_token_info *t, sqlite3_stmt *s)
{
	const char *id = (const char *)sqlite3_column_text(s, 0);
	int error = 0;

	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id ? id : "");
	t->scope = sqlite3_column_int(s, 1);
	t->models = mvms_db_column_strdup(s, 2);
	MVMS_CHECK_ALLOC(t->models, error);
	t->created_at = sqlite3_column_int64(s, 3);
	t->expires_at = sqlite3_column_int64(s, 4);
	t->description = mvms_db_column_strdup(s, 5);
	MVMS_CHECK_ALLOC(t->description, error);
	t->revoked_at = sqlite3_column_int64(s, 6);
done:
	return error;
}

static void info_clear(mvms_token_info *t)
{
	free(t->models);
	free(t->description);
	t->models = t->description = NULL;
}

int mvms_token_create(char **token_out, mvms_token_info **info_out, mvms_store *st, int scope,
		      const char *models, int64_t expires_at, const char *description)
{
	unsigned char raw_id[ID_BYTES], secret[SECRET_BYTES], hash[HASH_BYTES];
	char id[ID_HEX + 1], b64[SECRET_B64 + 1];
	mvms_token_info *info = NULL;
	char *token = NULL;
	sqlite3_stmt *s;
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
	/* 64 random bits make a collision unlikely; the primary key makes it harmless. */
	for (tries = 0;; tries++) {
		randombytes_buf(raw_id, sizeof(raw_id));
		mvms_hex_encode(id, raw_id, sizeof(raw_id));
		s = mvms_db_stmt(st->db, "INSERT INTO tokens(id, hash, scope, models, description, "
					 "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
		if (!s) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, hash, sizeof(hash), SQLITE_STATIC);
		sqlite3_bind_int(s, 3, scope);
		sqlite3_bind_text(s, 4, models, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, description, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, now);
		sqlite3_bind_int64(s, 7, expires_at);
		error = mvms_db_step_done(st->db, s, "create token");
		sqlite3_clear_bindings(s);
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
	unsigned char secret[SECRET_BYTES], want[HASH_BYTES], got[HASH_BYTES];
	char id[ID_HEX + 1], tbuf[32];
	mvms_token_info *t = NULL;
	sqlite3_stmt *s = NULL;
	const void *blob;
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
	MVMS_TRY(parse_token(id, secret, token));
	hash_secret(got, secret);
	s = mvms_db_stmt(st->db, "SELECT " TOKEN_COLUMNS ", hash FROM tokens WHERE id = ?");
	if (!s) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "read token");
		goto done;
	}
	/* An unknown id and a wrong secret read the same, so that the reply tells nothing
	 * about which ids exist. The id is public, so looking it up needs no constant time. */
	memset(want, 0, sizeof(want));
	if (rc == SQLITE_ROW && (blob = sqlite3_column_blob(s, 7)) &&
	    sqlite3_column_bytes(s, 7) == (int)sizeof(want))
		memcpy(want, blob, sizeof(want));
	match = sodium_memcmp(want, got, sizeof(want)) == 0;
	if (rc != SQLITE_ROW || !match) {
		error = mvms_error_set(MVMS_EAUTH, "token %s: not recognised", id);
		goto done;
	}
	t = calloc(1, sizeof(*t));
	MVMS_CHECK_ALLOC(t, error);
	MVMS_TRY(read_row(t, s));
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
	if (s)
		sqlite3_reset(s);
	sodium_memzero(secret, sizeof(secret));
	if (error < 0)
		mvms_token_info_free(t);
	else
		*out = t;
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
	mvms_token_info *list = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	if (out)
		*out = NULL;
	if (count)
		*count = 0;
	if (!out || !count || !st) {
		error = mvms_error_set(MVMS_EINVALID, "token: list: missing argument");
		goto done;
	}
	s = mvms_db_stmt(st->db, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY created_at, id");
	if (!s) {
		error = MVMS_ERROR;
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(list, cap * sizeof(*list));
			MVMS_CHECK_ALLOC(grown, error);
			list = grown;
		}
		n++;
		MVMS_TRY(read_row(&list[n - 1], s));
	}
	if (rc != SQLITE_DONE)
		error = mvms_db_error(st->db, rc, "list tokens");
done:
	if (s)
		sqlite3_reset(s);
	if (error < 0) {
		mvms_token_list_free(list, n);
	} else {
		*out = list;
		*count = n;
	}
	return error;
}

int mvms_token_revoke(mvms_store *st, const char *id)
{
	sqlite3_stmt *s;
	int error = 0;

	if (!st || !id || strlen(id) != ID_HEX || !is_lower_hex(id, ID_HEX)) {
		/* Not echoed: someone may have pasted the whole token. */
		error = mvms_error_set(MVMS_EINVALID, "token: bad id (want the 16 hex digits "
				       "after \"mvms_\", as 'token list' shows)");
		goto done;
	}
	/* Revoking twice keeps the first time: the record says when access ended. */
	s = mvms_db_stmt(st->db, "UPDATE tokens SET revoked_at = "
				 "CASE WHEN revoked_at = 0 THEN ?2 ELSE revoked_at END WHERE id = ?1");
	if (!s) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "revoke token"));
	if (mvms_db_changes(st->db) == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "token %s: not found", id);
done:
	return error;
}

void mvms_token_info_free(mvms_token_info *t)
{
	if (!t)
		return;
	info_clear(t);
	free(t);
}

void mvms_token_list_free(mvms_token_info *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		info_clear(&list[i]);
	free(list);
}
