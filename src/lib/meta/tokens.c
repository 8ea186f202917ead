/* SPDX-License-Identifier: MIT */
/*
 * The SQL of API tokens (see tokens.h), and freeing the token records it reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokens.h"

#define TOKEN_COLUMNS "id, scope, models, created_at, expires_at, description, revoked_at"

int mvms_tokens_insert(mvms_db *db, const mvms_token_info *t, const unsigned char *hash,
		       size_t hashlen)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "INSERT INTO tokens(id, hash, scope, models, description, "
					   "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
	int error;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hash, (int)hashlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, t->scope);
	sqlite3_bind_text(s, 4, t->models, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, t->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, t->created_at);
	sqlite3_bind_int64(s, 7, t->expires_at);
	error = mvms_db_step_done(db, s, "create token");
	/* The hash was bound without a copy: the statement must not keep pointing at it. */
	sqlite3_clear_bindings(s);
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

int mvms_tokens_get(mvms_token_info **out, unsigned char *hash, size_t hashlen, mvms_db *db,
		    const char *id)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT " TOKEN_COLUMNS ", hash FROM tokens WHERE id = ?");
	mvms_token_info *t = NULL;
	const void *blob;
	int error = 0, rc = 0;

	*out = NULL;
	memset(hash, 0, hashlen);
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	MVMS_TRY(rc = mvms_db_step_row(db, s, "read token"));
	if (rc == 0)
		goto done;
	if ((blob = sqlite3_column_blob(s, 7)) && sqlite3_column_bytes(s, 7) == (int)hashlen)
		memcpy(hash, blob, hashlen);
	t = calloc(1, sizeof(*t));
	MVMS_CHECK_ALLOC(t, error);
	MVMS_TRY(read_row(t, s));
	*out = t;
	t = NULL;
	error = 1;
done:
	sqlite3_reset(s);
	mvms_token_info_free(t);
	return error;
}

int mvms_tokens_list(mvms_token_info **out, size_t *count, mvms_db *db)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY created_at, id");
	mvms_token_info *list = NULL, *grown;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "list tokens")) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(list, cap * sizeof(*list));
			MVMS_CHECK_ALLOC(grown, error);
			list = grown;
		}
		n++;
		MVMS_TRY(read_row(&list[n - 1], s));
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_token_list_free(list, n);
	} else {
		*out = list;
		*count = n;
	}
	return error;
}

int mvms_tokens_revoke(int *found, mvms_db *db, const char *id, int64_t now)
{
	/* Revoking twice keeps the first time: the record says when access ended. */
	sqlite3_stmt *s = mvms_db_stmt(db, "UPDATE tokens SET revoked_at = "
					   "CASE WHEN revoked_at = 0 THEN ?2 ELSE revoked_at END WHERE id = ?1");
	int error = 0;

	*found = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	MVMS_TRY(mvms_db_step_done(db, s, "revoke token"));
	*found = mvms_db_changes(db) != 0;
done:
	return error;
}

static void info_clear(mvms_token_info *t)
{
	free(t->models);
	free(t->description);
	t->models = t->description = NULL;
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
