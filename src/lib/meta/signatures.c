/* SPDX-License-Identifier: MIT */
/*
 * The SQL of signed releases (signatures.h): signature index rows and environment policies,
 * and freeing the records it reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "signatures.h"

int mvms_sigrows_insert(mvms_db *db, int64_t version_row, const mvms_signature *s,
			int64_t now)
{
	/* The id is the hash of the file, which names its version: the same object twice is
	 * the same row, kept as first indexed. */
	sqlite3_stmt *q = mvms_db_stmt(db, "INSERT OR IGNORE INTO signatures(object, version_id, "
					   "key_id, public_key, statement, signed_at, created_at) "
					   "VALUES (?, ?, ?, ?, ?, ?, ?)");

	if (!q)
		return MVMS_ERROR;
	sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, version_row);
	sqlite3_bind_text(q, 3, s->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, s->public_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, s->statement, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, s->signed_at);
	sqlite3_bind_int64(q, 7, now);
	return mvms_db_step_done(db, q, "index signature");
}

static int read_row(mvms_signature *s, sqlite3_stmt *q)
{
	const char *t;
	int error = 0;

	memset(s, 0, sizeof(*s));
	t = (const char *)sqlite3_column_text(q, 0);
	snprintf(s->id, sizeof(s->id), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(q, 1);
	snprintf(s->key_id, sizeof(s->key_id), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(q, 2);
	snprintf(s->public_key, sizeof(s->public_key), "%s", t ? t : "");
	s->statement = mvms_db_column_strdup(q, 3);
	MVMS_CHECK_ALLOC(s->statement, error);
	s->signed_at = sqlite3_column_int64(q, 4);
done:
	return error;
}

int mvms_sigrows_list(mvms_signature **out, size_t *count, mvms_db *db, int64_t version_row)
{
	sqlite3_stmt *q = mvms_db_stmt(db, "SELECT object, key_id, public_key, statement, signed_at "
					   "FROM signatures WHERE version_id = ? "
					   "ORDER BY created_at, signed_at, object");
	mvms_signature *list = NULL, *grown;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!q)
		return MVMS_ERROR;
	sqlite3_bind_int64(q, 1, version_row);
	while ((rc = mvms_db_step_row(db, q, "list signatures")) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			grown = realloc(list, cap * sizeof(*list));
			MVMS_CHECK_ALLOC(grown, error);
			list = grown;
		}
		n++;
		MVMS_TRY(read_row(&list[n - 1], q));
	}
	error = rc;
done:
	sqlite3_reset(q);
	if (error < 0) {
		mvms_signature_list_free(list, n);
	} else {
		*out = list;
		*count = n;
	}
	return error;
}

int mvms_sigrows_used(mvms_db *db, const char *id)
{
	sqlite3_stmt *q = mvms_db_stmt(db, "SELECT 1 FROM signatures WHERE object = ?");
	int rc;

	if (!q)
		return MVMS_ERROR;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = mvms_db_step_row(db, q, "signature in use");
	sqlite3_reset(q);
	return rc;
}

int mvms_sigrows_policy_set(mvms_db *db, const char *env, const char *const *keys,
			    const char *const *ids, size_t n, int64_t now)
{
	sqlite3_stmt *q = mvms_db_stmt(db, "DELETE FROM env_policies WHERE env = ?");
	size_t i;
	int error = 0;

	if (!q)
		return MVMS_ERROR;
	sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
	MVMS_TRY(mvms_db_step_done(db, q, "clear policy"));
	for (i = 0; i < n; i++) {
		if (!(q = mvms_db_stmt(db, "INSERT OR IGNORE INTO env_policies(env, public_key, key_id, "
					   "created_at) VALUES (?, ?, ?, ?)")))
			return MVMS_ERROR;
		sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, now);
		MVMS_TRY(mvms_db_step_done(db, q, "set policy"));
	}
done:
	return error;
}

int mvms_sigrows_policy_get(char ***keys, size_t *count, mvms_db *db, const char *env)
{
	sqlite3_stmt *q = mvms_db_stmt(db, "SELECT public_key FROM env_policies WHERE env = ? "
					   "ORDER BY public_key");
	char **list = NULL, **grown;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*keys = NULL;
	*count = 0;
	if (!q)
		return MVMS_ERROR;
	sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
	while ((rc = mvms_db_step_row(db, q, "read policy")) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			grown = realloc(list, cap * sizeof(*list));
			MVMS_CHECK_ALLOC(grown, error);
			list = grown;
		}
		list[n] = mvms_db_column_strdup(q, 0);
		MVMS_CHECK_ALLOC(list[n], error);
		n++;
	}
	error = rc;
done:
	sqlite3_reset(q);
	if (error < 0) {
		mvms_env_policy_free(list, n);
	} else {
		*keys = list;
		*count = n;
	}
	return error;
}

void mvms_signature_free(mvms_signature *s)
{
	mvms_signature_list_free(s, 1);
}

void mvms_signature_list_free(mvms_signature *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++) {
		free(list[i].statement);
		free(list[i].problem);
		free(list[i].text);
	}
	free(list);
}

void mvms_env_policy_free(char **keys, size_t count)
{
	size_t i;

	if (!keys)
		return;
	for (i = 0; i < count; i++)
		free(keys[i]);
	free(keys);
}
