/* SPDX-License-Identifier: MIT */
/*
 * The SQL of the version DAG and of diffs: lineage nodes and edges, generations, the chunks
 * of contents and versions (dagq.h), and a version's files and a content's tensors
 * (dag_int.h), read by ops/lineage.c, ops/diff.c and ops/merge.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include "dagq.h"
#include "dag_int.h"

int mvms_dagq_node(mvms_lineage_node *n, mvms_db *db, int64_t row)
{
	static const char q[] =
		"SELECT v.oid, m.name, v.number, v.message, v.created_at, v.deleted_at FROM versions v "
		"JOIN models m ON m.id = v.model_id WHERE v.id = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(db, s, "lineage: read a version")) <= 0)
		return rc;
	snprintf(n->id, sizeof(n->id), "%s", (const char *)sqlite3_column_text(s, 0));
	n->model = mvms_db_column_strdup(s, 1);
	n->number = sqlite3_column_int64(s, 2);
	n->message = mvms_db_column_strdup(s, 3);
	n->created_at = sqlite3_column_int64(s, 4);
	n->deleted_at = sqlite3_column_int64(s, 5);
	sqlite3_reset(s);
	if (!n->model || !n->message)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 1;
}

int mvms_dagq_neighbours(int64_t **rows, int **pos, size_t *n, size_t *cap, mvms_db *db,
			 int64_t row, int up)
{
	static const char q_up[] =
		"SELECT parent, position FROM version_parents WHERE child = ? ORDER BY position";
	static const char q_down[] =
		"SELECT child, position FROM version_parents WHERE parent = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, up ? q_up : q_down);
	int error = 0, rc;

	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(db, s, "lineage: read edges")) > 0) {
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 8;
			int64_t *tn = realloc(*rows, ncap * sizeof(*tn));
			int *tp = tn ? realloc(*pos, ncap * sizeof(*tp)) : NULL;
			if (tn)
				*rows = tn;
			if (tp)
				*pos = tp;
			if (!tn || !tp) {
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			*cap = ncap;
		}
		(*rows)[*n] = sqlite3_column_int64(s, 0);
		(*pos)[*n] = sqlite3_column_int(s, 1);
		(*n)++;
	}
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

int mvms_dagq_generation(int64_t *out, mvms_db *db, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT generation FROM versions WHERE id = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(db, s, "read a version's generation")) <= 0)
		return rc;
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 1;
}

int mvms_dagq_parents(int64_t **out, size_t *n, mvms_db *db, int64_t row)
{
	static const char q[] =
		"SELECT vp.parent, v.generation FROM version_parents vp "
		"JOIN versions v ON v.id = vp.parent WHERE vp.child = ? ORDER BY vp.position";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int64_t *list = NULL, *t;
	size_t k = 0;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(db, s, "read parents")) > 0) {
		t = realloc(list, (k + 1) * 2 * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		list = t;
		list[2 * k] = sqlite3_column_int64(s, 0);
		list[2 * k + 1] = sqlite3_column_int64(s, 1);
		k++;
	}
	MVMS_TRY(rc);
	*out = list;
	*n = k;
	list = NULL;
done:
	sqlite3_reset(s);
	free(list);
	return error;
}

int mvms_dagq_content_chunks(mvms_db *db, int64_t content,
			     int (*cb)(int64_t chunk, uint64_t len, void *payload), void *payload)
{
	static const char q[] =
		"SELECT cc.chunk_id, ch.raw_len FROM content_chunks cc JOIN chunks ch ON ch.id = cc.chunk_id "
		"WHERE cc.content_id = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	while ((rc = mvms_db_step_row(db, s, "diff: chunk list")) > 0)
		MVMS_TRY(cb(sqlite3_column_int64(s, 0), (uint64_t)sqlite3_column_int64(s, 1), payload));
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

int mvms_dagq_version_chunks(mvms_db *db, int64_t row, int (*cb)(int64_t chunk, void *payload),
			     void *payload)
{
	static const char q[] =
		"SELECT DISTINCT cc.chunk_id FROM files f JOIN content_chunks cc ON cc.content_id = f.content_id "
		"WHERE f.version_id = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(db, s, "diff: chunks")) > 0)
		MVMS_TRY(cb(sqlite3_column_int64(s, 0), payload));
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

int mvms_dagq_version_chunks_stored(mvms_db *db, int64_t row,
				    int (*cb)(int64_t chunk, uint64_t stored_len, void *payload),
				    void *payload)
{
	/* DISTINCT before the join: a chunk two files (or one file twice) use is kept once. */
	static const char q[] =
		"SELECT ch.id, ch.stored_len FROM chunks ch WHERE ch.id IN (SELECT cc.chunk_id FROM files f "
		"JOIN content_chunks cc ON cc.content_id = f.content_id WHERE f.version_id = ?)";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(db, s, "diff: stored chunks")) > 0)
		MVMS_TRY(cb(sqlite3_column_int64(s, 0), (uint64_t)sqlite3_column_int64(s, 1), payload));
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

void mvms_dag__free_files(mvms_vfile *f, size_t n)
{
	size_t i;

	for (i = 0; f && i < n; i++)
		free(f[i].path);
	free(f);
}

int mvms_dag__load_files(mvms_vfile **out, size_t *count, mvms_store *st, int64_t row)
{
	static const char q[] =
		"SELECT f.path, f.mode, c.id, c.oid, c.size, c.format FROM files f "
		"JOIN contents c ON c.id = f.content_id WHERE f.version_id = ? ORDER BY f.path";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	mvms_vfile *list = NULL, *t;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(st->db, s, "diff: list files")) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			t = realloc(list, cap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			list = t;
		}
		memset(&list[n], 0, sizeof(list[n]));
		list[n].path = mvms_db_column_strdup(s, 0);
		n++;
		MVMS_CHECK_ALLOC(list[n - 1].path, error);
		list[n - 1].mode = (unsigned)sqlite3_column_int(s, 1);
		list[n - 1].content = sqlite3_column_int64(s, 2);
		MVMS_TRY(mvms_db_column_oid(&list[n - 1].oid, s, 3));
		list[n - 1].size = (uint64_t)sqlite3_column_int64(s, 4);
		list[n - 1].safetensors = strcmp((const char *)sqlite3_column_text(s, 5), "safetensors") == 0;
		list[n - 1].tensors = *(const char *)sqlite3_column_text(s, 5) != 0;
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_dag__free_files(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

void mvms_dag__free_tensors(mvms_vtensor *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++) {
		free(t[i].name);
		free(t[i].dtype);
		free(t[i].shape);
	}
	free(t);
}

int mvms_dag__load_tensors(mvms_vtensor **out, size_t *count, mvms_store *st, int64_t content)
{
	static const char q[] =
		"SELECT name, dtype, shape, length, oid, offset FROM tensors WHERE content_id = ? ORDER BY name";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	mvms_vtensor *list = NULL, *t;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	while ((rc = mvms_db_step_row(st->db, s, "diff: list tensors")) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			t = realloc(list, cap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			list = t;
		}
		memset(&list[n], 0, sizeof(list[n]));
		n++;
		list[n - 1].name = mvms_db_column_strdup(s, 0);
		list[n - 1].dtype = mvms_db_column_strdup(s, 1);
		list[n - 1].shape = mvms_db_column_strdup(s, 2);
		list[n - 1].length = (uint64_t)sqlite3_column_int64(s, 3);
		MVMS_TRY(mvms_db_column_oid(&list[n - 1].oid, s, 4));
		list[n - 1].offset = (uint64_t)sqlite3_column_int64(s, 5);
		if (!list[n - 1].name || !list[n - 1].dtype || !list[n - 1].shape) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_dag__free_tensors(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}
