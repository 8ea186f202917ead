/* SPDX-License-Identifier: MIT */
/*
 * Writing a new version: its versions row (numbered after the model's last version), its
 * parents, its metadata and its files, in the committer's write transaction (push_commit.c
 * moves the branch in the same one, refs.c).
 */
#include <stdio.h>
#include "common.h"
#include "commit.h"

static int next_number(int64_t *out, mvms_store *st, int64_t model_id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT coalesce(max(number), 0) + 1 FROM versions "
					       "WHERE model_id = ?");
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		error = mvms_db_error(st->db, rc == SQLITE_DONE ? SQLITE_ERROR : rc,
				      "number the version");
	sqlite3_reset(s);
	return error;
}

int mvms_commit__add_version(int64_t *row, int64_t *number, mvms_store *st,
			     const mvms_commit__version *v)
{
	static const char q_version[] =
		"INSERT INTO versions(oid, model_id, number, message, author, created_at, file_count, "
		"logical_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	static const char q_parent[] =
		"INSERT INTO version_parents(child, position, parent) VALUES (?, ?, ?)";
	static const char q_meta[] =
		"INSERT INTO version_meta(version_id, key, value) VALUES (?, ?, ?)";
	static const char q_tombstone[] =
		"SELECT id, number FROM versions WHERE oid = ? AND model_id = ? AND deleted_at != 0";
	static const char q_revive[] =
		"UPDATE versions SET deleted_at = 0, deleted_by = '' WHERE id = ?";
	mvms_db *db = st->db;
	sqlite3_stmt *s;
	size_t i;
	int error = 0, found;

	/* The very version (same id: same parents, files, message, author and time) that was
	 * deleted: it comes back to life under its old number; its parents and metadata are
	 * still there, only its files are added again (by the caller). */
	if (!(s = mvms_db_stmt(db, q_tombstone))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, v->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v->model_id);
	MVMS_TRY(found = mvms_db_step_row(db, s, "look for a deleted version"));
	if (found > 0) {
		*row = sqlite3_column_int64(s, 0);
		*number = sqlite3_column_int64(s, 1);
		sqlite3_reset(s);
		if (!(s = mvms_db_stmt(db, q_revive))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, *row);
		error = mvms_db_step_done(db, s, "revive a deleted version");
		goto done;
	}
	MVMS_TRY(next_number(number, st, v->model_id));
	if (!(s = mvms_db_stmt(db, q_version))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, v->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v->model_id);
	sqlite3_bind_int64(s, 3, *number);
	sqlite3_bind_text(s, 4, v->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, v->author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, v->time);
	sqlite3_bind_int64(s, 7, (int64_t)v->file_count);
	sqlite3_bind_int64(s, 8, (int64_t)v->logical_bytes);
	error = mvms_db_step_done(db, s, "add version");
	if (error == MVMS_EEXISTS)
		error = mvms_error_set(MVMS_EEXISTS, "push: version %.12s exists already", v->id);
	if (error < 0)
		goto done;
	*row = sqlite3_last_insert_rowid(mvms_db_handle(db));
	for (i = 0; i < v->nparents; i++) {
		if (!(s = mvms_db_stmt(db, q_parent))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, *row);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int64(s, 3, v->parents[i]);
		MVMS_TRY(mvms_db_step_done(db, s, "add parent"));
	}
	for (i = 0; i < v->meta_count; i++) {
		if (!(s = mvms_db_stmt(db, q_meta))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, *row);
		sqlite3_bind_text(s, 2, v->meta_keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, v->meta_values[i], -1, SQLITE_STATIC);
		MVMS_TRY(mvms_db_step_done(db, s, "add metadata"));
	}
done:
	return error;
}

int mvms_commit__add_file(mvms_store *st, int64_t version_row, const char *path, unsigned mode,
			  int64_t content)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "INSERT INTO files(version_id, path, mode, "
					       "content_id) VALUES (?, ?, ?, ?)");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, version_row);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)mode);
	sqlite3_bind_int64(s, 4, content);
	return mvms_db_step_done(st->db, s, "add file");
}
