/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: API tokens. Create/verify round trips for each scope; wrong secrets, unknown
 * ids, malformed strings, expired and revoked tokens all give MVMS_EAUTH; listing shows no
 * secret; model globs; bad arguments; tokens survive reopening; only a hash is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tap.h"
#include "store_int.h"
#include "mvms/token.h"

static char dir[] = "/tmp/mvms-test-token-XXXXXX";

static int verify_code(mvms_store *st, const char *token)
{
	mvms_token_info *t = NULL;
	int error = mvms_token_verify(&t, st, token);

	if (error < 0 && t)
		error = -1000; /* *out must be NULL on failure */
	mvms_token_info_free(t);
	return error;
}

/* 1 when the last error message contains no part of @secret (the text after the id). */
static int message_clean(const char *token)
{
	const char *secret = token && strlen(token) > 22 ? token + 22 : NULL;

	return !secret || !strstr(mvms_error_last(), secret);
}

/* Counts rows of the tokens table whose hash or any text column contains @needle. */
static int table_contains(mvms_store *st, const char *needle)
{
	sqlite3_stmt *s = NULL;
	int found = 0, col;

	if (sqlite3_prepare_v2(mvms_db_handle(st->db), "SELECT * FROM tokens", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (col = 0; col < sqlite3_column_count(s); col++) {
			const void *p = sqlite3_column_blob(s, col);
			int n = sqlite3_column_bytes(s, col);
			if (p && n > 0 && memmem(p, (size_t)n, needle, strlen(needle)))
				found++;
		}
	}
	sqlite3_finalize(s);
	return found;
}

int main(void)
{
	static const int scopes[] = { MVMS_SCOPE_READ, MVMS_SCOPE_WRITE, MVMS_SCOPE_ADMIN };
	mvms_store *st = NULL;
	mvms_token_info *info = NULL, *t = NULL, *list = NULL;
	char *tok[3] = { NULL, NULL, NULL }, *acme = NULL, *old = NULL, *rev = NULL, *x = NULL;
	char path[512], bad[128], ids[3][17];
	size_t n = 0, i;
	int64_t now = (int64_t)time(NULL);
	int all_clean;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store", dir);
	if (mvms_store_init(&st, path, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	is_int(mvms_db_level(st->db), mvms_db_level_latest(), "schema at the newest level");

	/* Round trips. */
	for (i = 0; i < 3; i++) {
		is_int(mvms_token_create(&tok[i], &info, st, scopes[i], "*", 0, "ci"), 0, "create");
		ok(tok[i] && strlen(tok[i]) == 65 && strncmp(tok[i], "mvms_", 5) == 0 &&
			   tok[i][21] == '_' && info && strncmp(tok[i] + 5, info->id, 16) == 0,
		   "scope %d: token is mvms_<id>_<43 chars> and names its id", scopes[i]);
		snprintf(ids[i], sizeof(ids[i]), "%s", info ? info->id : "");
		mvms_token_info_free(info);
		info = NULL;
		is_int(mvms_token_verify(&t, st, tok[i] ? tok[i] : ""), 0, "verify");
		ok(t && t->scope == scopes[i] && strcmp(t->id, ids[i]) == 0 &&
			   strcmp(t->models, "*") == 0 && strcmp(t->description, "ci") == 0 &&
			   t->expires_at == 0 && t->revoked_at == 0 && t->created_at >= now - 5,
		   "scope %d: verify returns the token's record", scopes[i]);
		mvms_token_info_free(t);
		t = NULL;
	}
	ok(strcmp(ids[0], ids[1]) != 0 && strcmp(tok[0] + 22, tok[1] + 22) != 0,
	   "two tokens differ in id and secret");
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, "*", 0, NULL), 0,
	       "info_out and description are optional");
	free(x);
	x = NULL;

	/* Written for Hugging Face clients, which want tokens that start with hf_. */
	snprintf(bad, sizeof(bad), "hf_%s", tok[0]);
	is_int(verify_code(st, bad), 0, "hf_ + a token verifies as the token");
	snprintf(bad, sizeof(bad), "hf_hf_%s", tok[0]);
	is_int(verify_code(st, bad), MVMS_EAUTH, "hf_ twice is refused");
	snprintf(bad, sizeof(bad), "hf_%s", tok[0] + 5);
	is_int(verify_code(st, bad), MVMS_EAUTH, "hf_ instead of mvms_ is refused");
	snprintf(bad, sizeof(bad), "hf_%s", tok[0]);
	bad[33] = bad[33] == 'A' ? 'B' : 'A';
	is_int(verify_code(st, bad), MVMS_EAUTH, "hf_ + a wrong secret is refused");

	/* Rejections. */
	snprintf(bad, sizeof(bad), "%s", tok[0]);
	bad[30] = bad[30] == 'A' ? 'B' : 'A';
	is_int(verify_code(st, bad), MVMS_EAUTH, "wrong secret");
	ok(strstr(mvms_error_last(), "not recognised") && message_clean(bad),
	   "wrong secret: message names no secret (%s)", mvms_error_last());
	snprintf(bad, sizeof(bad), "mvms_0123456789abcdef%s", tok[0] + 21);
	is_int(verify_code(st, bad), MVMS_EAUTH, "unknown id");
	ok(message_clean(bad), "unknown id: message names no secret");
	snprintf(bad, sizeof(bad), "mvms_%s%s", ids[1], tok[0] + 21);
	is_int(verify_code(st, bad), MVMS_EAUTH, "another token's id with this secret");
	is_int(verify_code(st, ""), MVMS_EAUTH, "empty string");
	ok(strcmp(mvms_error_last(), "token: malformed") == 0, "empty: 'token: malformed'");
	is_int(verify_code(st, NULL), MVMS_EAUTH, "NULL token");
	is_int(verify_code(st, tok[0] + 5), MVMS_EAUTH, "no prefix");
	snprintf(bad, sizeof(bad), "MVMS_%s", tok[0] + 5);
	is_int(verify_code(st, bad), MVMS_EAUTH, "wrong-case prefix");
	snprintf(bad, sizeof(bad), "%s", tok[0]);
	bad[7] = 'g';
	is_int(verify_code(st, bad), MVMS_EAUTH, "bad hex in the id");
	snprintf(bad, sizeof(bad), "%s", tok[0]);
	bad[5] = 'A';
	is_int(verify_code(st, bad), MVMS_EAUTH, "upper-case hex in the id");
	snprintf(bad, sizeof(bad), "%sA", tok[0]);
	is_int(verify_code(st, bad), MVMS_EAUTH, "too long");
	ok(strcmp(mvms_error_last(), "token: malformed") == 0 && message_clean(bad),
	   "too long: malformed, and the secret is not echoed");
	snprintf(bad, sizeof(bad), "%.64s", tok[0]);
	is_int(verify_code(st, bad), MVMS_EAUTH, "too short");
	snprintf(bad, sizeof(bad), "%s", tok[0]);
	bad[21] = '-';
	is_int(verify_code(st, bad), MVMS_EAUTH, "bad separator");
	snprintf(bad, sizeof(bad), "%s", tok[0]);
	bad[40] = '+';
	is_int(verify_code(st, bad), MVMS_EAUTH, "standard base64 '+' is not base64url");
	{
		/* 43 characters carry 258 bits: the last one's 2 low bits must be zero. */
		static const char b64url[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *p;
		snprintf(bad, sizeof(bad), "%s", tok[0]);
		p = strchr(b64url, bad[64]);
		bad[64] = p ? b64url[(p - b64url) ^ 1] : '!';
		is_int(verify_code(st, bad), MVMS_EAUTH, "non-canonical last character");
		ok(strcmp(mvms_error_last(), "token: malformed") == 0,
		   "non-canonical: malformed (%s)", mvms_error_last());
	}
	snprintf(bad, sizeof(bad), "%s ", tok[0]);
	is_int(verify_code(st, bad), MVMS_EAUTH, "trailing space");

	/* Expired and revoked. */
	is_int(mvms_token_create(&old, NULL, st, MVMS_SCOPE_WRITE, "*", now - 60, "old"), 0,
	       "create an already expired token");
	is_int(verify_code(st, old), MVMS_EAUTH, "expired token refused");
	ok(strstr(mvms_error_last(), "expired") && message_clean(old), "expired: says so (%s)",
	   mvms_error_last());
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_WRITE, "*", now + 3600, "soon"), 0,
	       "create a token expiring in an hour");
	is_int(verify_code(st, x), 0, "not yet expired token accepted");
	free(x);
	x = NULL;
	is_int(mvms_token_create(&rev, &info, st, MVMS_SCOPE_ADMIN, "*", 0, "to revoke"), 0,
	       "create a token to revoke");
	is_int(verify_code(st, rev), 0, "accepted before revocation");
	is_int(mvms_token_revoke(st, info->id), 0, "revoke");
	is_int(verify_code(st, rev), MVMS_EAUTH, "revoked token refused");
	ok(strstr(mvms_error_last(), "revoked") && message_clean(rev), "revoked: says so (%s)",
	   mvms_error_last());
	is_int(mvms_token_revoke(st, info->id), 0, "revoking twice is fine");
	is_int(mvms_token_revoke(st, "0123456789abcdef"), MVMS_ENOTFOUND, "revoke an unknown id");
	is_int(mvms_token_revoke(st, "xyz"), MVMS_EINVALID, "revoke a malformed id");
	is_int(mvms_token_revoke(st, rev), MVMS_EINVALID, "revoke given a whole token");
	ok(message_clean(rev), "... and the message does not echo it");
	mvms_token_info_free(info);
	info = NULL;
	is_int(verify_code(st, tok[2]), 0, "other tokens unaffected by a revocation");

	/* Globs. */
	is_int(mvms_token_create(&acme, NULL, st, MVMS_SCOPE_WRITE, "acme/*", 0, ""), 0,
	       "create with glob acme/*");
	is_int(mvms_token_verify(&t, st, acme), 0, "verify acme token");
	ok(t && mvms_token_allows_model(t, "acme/llama") == 1, "acme/* allows acme/llama");
	ok(t && mvms_token_allows_model(t, "other/llama") == 0, "acme/* refuses other/llama");
	ok(t && mvms_token_allows_model(t, "acme") == 0, "acme/* refuses acme");
	mvms_token_info_free(t);
	t = NULL;
	is_int(mvms_token_verify(&t, st, tok[0]), 0, "verify a '*' token");
	ok(t && mvms_token_allows_model(t, "acme/llama") && mvms_token_allows_model(t, "x") &&
		   mvms_token_allows_model(t, "other/llama"),
	   "'*' allows every model");
	mvms_token_info_free(t);
	t = NULL;
	{
		mvms_token_info g = { .models = "m[0-9]" };
		ok(mvms_token_allows_model(&g, "m7") && !mvms_token_allows_model(&g, "mx"),
		   "bracket globs");
		ok(!mvms_token_allows_model(NULL, "m7") && !mvms_token_allows_model(&g, NULL),
		   "allows_model with NULL is 0");
	}

	/* Bad arguments. */
	is_int(mvms_token_create(&x, NULL, st, 0, "*", 0, ""), MVMS_EINVALID, "scope 0");
	ok(x == NULL, "no token on failure");
	is_int(mvms_token_create(&x, NULL, st, 4, "*", 0, ""), MVMS_EINVALID, "scope 4");
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, "", 0, ""), MVMS_EINVALID,
	       "empty glob");
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, NULL, 0, ""), MVMS_EINVALID,
	       "NULL glob");
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, "acme/{a,b}", 0, ""),
	       MVMS_EINVALID, "glob with braces");
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, "a b", 0, ""), MVMS_EINVALID,
	       "glob with a space");
	{
		char longglob[300];
		memset(longglob, 'a', 257);
		longglob[257] = '\0';
		is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, longglob, 0, ""),
		       MVMS_EINVALID, "glob of 257 characters");
		longglob[256] = '\0';
		is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, longglob, 0, ""), 0,
		       "glob of 256 characters");
		free(x);
		x = NULL;
	}
	is_int(mvms_token_create(&x, NULL, st, MVMS_SCOPE_READ, "*", -5, ""), MVMS_EINVALID,
	       "negative expiry");

	/* Listing. */
	is_int(mvms_token_list(&list, &n, st), 0, "list");
	is_int(n, 9, "nine tokens listed (revoked and expired included)");
	all_clean = 1;
	for (i = 0; i < n; i++) {
		if (i > 0 && (list[i].created_at < list[i - 1].created_at ||
			      (list[i].created_at == list[i - 1].created_at &&
			       strcmp(list[i].id, list[i - 1].id) <= 0)))
			all_clean = 0;
	}
	ok(all_clean, "sorted by creation time, then id");
	all_clean = 1;
	for (i = 0; i < n; i++) {
		const char *secrets[] = { tok[0], tok[1], tok[2], acme, old, rev };
		size_t k;
		for (k = 0; k < MVMS_ARRAY_SIZE(secrets); k++)
			if (strstr(list[i].models, secrets[k] + 22) ||
			    strstr(list[i].description, secrets[k] + 22))
				all_clean = 0;
	}
	ok(all_clean, "no secret appears in the list");
	{
		int revoked = 0, expiring = 0;
		for (i = 0; i < n; i++) {
			revoked += list[i].revoked_at != 0;
			expiring += list[i].expires_at != 0;
		}
		is_int(revoked, 1, "list shows the one revoked token");
		is_int(expiring, 2, "list shows the two expiring tokens");
	}
	mvms_token_list_free(list, n);
	list = NULL;
	/* The free functions accept NULL (a crash here fails the program). */
	mvms_token_list_free(NULL, 3);
	mvms_token_info_free(NULL);

	/* Only a hash is stored. */
	all_clean = 1;
	for (i = 0; i < 3; i++)
		if (table_contains(st, tok[i] + 22) != 0 || table_contains(st, tok[i]) != 0)
			all_clean = 0;
	ok(all_clean, "the tokens table holds no secret, whole or in part");
	{
		sqlite3_stmt *s = NULL;
		int len = -1;
		if (sqlite3_prepare_v2(mvms_db_handle(st->db),
				       "SELECT length(hash), typeof(hash) = 'blob' FROM tokens WHERE id = ?",
				       -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_text(s, 1, ids[0], -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 1))
				len = sqlite3_column_int(s, 0);
		}
		sqlite3_finalize(s);
		is_int(len, 32, "the stored hash is a 32-byte blob");
	}

	/* Reopening. */
	mvms_store_free(st);
	st = NULL;
	is_int(mvms_store_open(&st, path, 0), 0, "reopen the store");
	is_int(verify_code(st, tok[1]), 0, "token verifies after reopening");
	is_int(verify_code(st, rev), MVMS_EAUTH, "revocation survives reopening");
	is_int(verify_code(st, old), MVMS_EAUTH, "expiry survives reopening");

	for (i = 0; i < 3; i++)
		free(tok[i]);
	free(acme);
	free(old);
	free(rev);
	mvms_store_free(st);
	snprintf(bad, sizeof(bad), "rm -rf %s", dir);
	if (system(bad) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
