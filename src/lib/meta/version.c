/* SPDX-License-Identifier: MIT */
/*
 * Reading versions: loading one by row, a model's history (log), a version's files.
 * Creating versions is push_commit.c (rows: commit.c); naming them is refs.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "transport.h"

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **tmp = realloc(*v, (*n + 1) * sizeof(char *));

	if (!tmp)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*v = tmp;
	if (!(tmp[*n] = strdup(s)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	(*n)++;
	return 0;
}

int mvms_version__load(mvms_version_info **out, mvms_store *st, int64_t row)
{
	static const char q_version[] =
		"SELECT v.oid, m.name, v.number, v.message, v.author, v.created_at, v.file_count, "
		"v.logical_bytes FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = ?";
	static const char q_parents[] =
		"SELECT pv.oid, pm.name, pv.number FROM version_parents vp "
		"JOIN versions pv ON pv.id = vp.parent JOIN models pm ON pm.id = pv.model_id "
		"WHERE vp.child = ? ORDER BY vp.position";
	static const char q_meta[] =
		"SELECT key, value FROM version_meta WHERE version_id = ? ORDER BY key";
	static const char q_refs[] =
		"SELECT 'branch:' || name FROM branches WHERE version_id = ?1 "
		"UNION ALL SELECT 'tag:' || name FROM tags WHERE version_id = ?1";
	mvms_version_info *v = NULL;
	sqlite3_stmt *s;
	size_t n;
	int error = 0, rc;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	MVMS_CHECK_ALLOC(v, error);
	if (!(s = mvms_db_stmt(st->db, q_version))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		error = rc == SQLITE_DONE ? mvms_error_set(MVMS_ENOTFOUND, "version not found")
					  : mvms_db_error(st->db, rc, "read version");
		sqlite3_reset(s);
		goto done;
	}
	snprintf(v->id, sizeof(v->id), "%s", (const char *)sqlite3_column_text(s, 0));
	v->model = mvms_db_column_strdup(s, 1);
	v->number = sqlite3_column_int64(s, 2);
	v->message = mvms_db_column_strdup(s, 3);
	v->author = mvms_db_column_strdup(s, 4);
	v->created_at = sqlite3_column_int64(s, 5);
	v->file_count = (uint64_t)sqlite3_column_int64(s, 6);
	v->logical_bytes = (uint64_t)sqlite3_column_int64(s, 7);
	sqlite3_reset(s);
	if (!v->model || !v->message || !v->author) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}

	if (!(s = mvms_db_stmt(st->db, q_parents))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		mvms_version_parent *tmp = realloc(v->parents, (v->parent_count + 1) * sizeof(*tmp));
		if (!tmp) {
			sqlite3_reset(s);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		v->parents = tmp;
		n = v->parent_count++;
		memset(&tmp[n], 0, sizeof(tmp[n]));
		snprintf(tmp[n].id, sizeof(tmp[n].id), "%s", (const char *)sqlite3_column_text(s, 0));
		tmp[n].model = mvms_db_column_strdup(s, 1);
		tmp[n].number = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);

	if (!(s = mvms_db_stmt(st->db, q_meta))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t kn = v->meta_count;
		if ((error = strv_push(&v->meta_keys, &kn, (const char *)sqlite3_column_text(s, 0))) < 0 ||
		    (error = strv_push(&v->meta_values, &v->meta_count,
				       (const char *)sqlite3_column_text(s, 1))) < 0) {
			sqlite3_reset(s);
			goto done;
		}
	}
	sqlite3_reset(s);

	if (!(s = mvms_db_stmt(st->db, q_refs))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((error = strv_push(&v->refs, &v->ref_count,
				       (const char *)sqlite3_column_text(s, 0))) < 0) {
			sqlite3_reset(s);
			goto done;
		}
	}
	sqlite3_reset(s);
	*out = v;
	v = NULL;
done:
	mvms_version_info_free(v);
	return error;
}

int mvms_version__model(int64_t *out, mvms_store *st, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT model_id FROM versions WHERE id = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(st->db, s, "read a version's model")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "version #%lld not found",
						    (long long)row);
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

void mvms_version_info_redact(mvms_version_info *v)
{
	size_t i;

	if (!v)
		return;
	free(v->model);
	free(v->message);
	free(v->author);
	for (i = 0; i < v->parent_count; i++)
		free(v->parents[i].model);
	free(v->parents);
	for (i = 0; i < v->meta_count; i++) {
		free(v->meta_keys[i]);
		free(v->meta_values[i]);
	}
	free(v->meta_keys);
	free(v->meta_values);
	for (i = 0; i < v->ref_count; i++)
		free(v->refs[i]);
	free(v->refs);
	v->model = v->message = v->author = NULL;
	v->parents = NULL;
	v->meta_keys = v->meta_values = v->refs = NULL;
	v->parent_count = v->meta_count = v->ref_count = 0;
	v->number = v->created_at = 0;
	v->file_count = v->logical_bytes = 0;
}

void mvms_version_info_free(mvms_version_info *v)
{
	mvms_version_info_redact(v);
	free(v);
}

void mvms_version_list_free(mvms_version_info **list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		mvms_version_info_free(list[i]);
	free(list);
}

int mvms_version__load_rows(mvms_version_info ***out, size_t *count, mvms_store *st,
			    const int64_t *rows, size_t n)
{
	mvms_version_info **list;
	size_t i, loaded = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	list = calloc(n + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	for (i = 0; i < n; i++) {
		MVMS_TRY(mvms_version__load(&list[i], st, rows[i]));
		loaded++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_version_list_free(list, loaded);
	return error;
}

int mvms_version_log(mvms_version_info ***out, size_t *count, mvms_store *st,
		     const char *model, const char *branch)
{
	MVMS_TRANSPORT_CALL(st, version_log, (out, count, st, model, branch));
	static const char q_all[] =
		"SELECT id FROM versions WHERE model_id = ? ORDER BY number DESC";
	/* Everything reachable from the head, across models (a fine-tune shows its base). */
	static const char q_branch[] =
		"WITH RECURSIVE anc(id) AS (SELECT ?1 UNION "
		"SELECT vp.parent FROM version_parents vp JOIN anc ON vp.child = anc.id) "
		"SELECT v.id FROM versions v JOIN anc ON v.id = anc.id "
		"ORDER BY v.created_at DESC, v.model_id = ?2 DESC, v.number DESC";
	int64_t model_id, head = 0, *rows = NULL, *rtmp;
	size_t nrows = 0;
	sqlite3_stmt *s;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (branch)
		MVMS_TRY(mvms_refs__branch_head(&head, st, model_id, branch));
	if (!(s = mvms_db_stmt(st->db, branch ? q_branch : q_all))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, branch ? head : model_id);
	if (branch)
		sqlite3_bind_int64(s, 2, model_id);
	/* Collect row ids first: loading a version uses other cached statements. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rtmp = realloc(rows, (nrows + 1) * sizeof(*rows));
		if (!rtmp) {
			sqlite3_reset(s);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		rows = rtmp;
		rows[nrows++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "log");
		goto done;
	}
	error = mvms_version__load_rows(out, count, st, rows, nrows);
done:
	free(rows);
	return error;
}

int mvms_version__row(int64_t *out, mvms_store *st, const char *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT id FROM versions WHERE oid = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((rc = mvms_db_step_row(st->db, s, "find a version")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "version %.12s not found", id);
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_version__row_exists(mvms_store *st, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT 1 FROM versions WHERE id = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	rc = mvms_db_step_row(st->db, s, "look up a version");
	sqlite3_reset(s);
	return rc;
}

int mvms_version_files(mvms_file_info **out, size_t *count, mvms_store *st,
		       const mvms_version_info *v)
{
	MVMS_TRANSPORT_CALL(st, version_files, (out, count, st, v));
	static const char q[] =
		"SELECT f.path, f.mode, c.size, c.oid, c.format, c.chunk_count, "
		"(SELECT count(*) FROM tensors t WHERE t.content_id = c.id) "
		"FROM files f JOIN contents c ON c.id = f.content_id WHERE f.version_id = ? "
		"ORDER BY f.path";
	mvms_file_info *list = NULL, *tmp;
	size_t n = 0;
	int64_t row = 0;
	sqlite3_stmt *s;
	int error = 0, rc;
	mvms_oid id;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_version__row(&row, st, v->id));
	if (!(s = mvms_db_stmt(st->db, q))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		tmp = realloc(list, (n + 1) * sizeof(*list));
		if (!tmp) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		list = tmp;
		memset(&list[n], 0, sizeof(list[n]));
		list[n].path = mvms_db_column_strdup(s, 0);
		list[n].mode = (unsigned)sqlite3_column_int(s, 1);
		list[n].size = (uint64_t)sqlite3_column_int64(s, 2);
		if ((error = mvms_db_column_oid(&id, s, 3)) < 0) {
			n++;
			break;
		}
		mvms_oid_fmt(list[n].id, &id);
		list[n].format = mvms_db_column_strdup(s, 4);
		list[n].chunks = (uint64_t)sqlite3_column_int64(s, 5);
		list[n].tensor_count = (uint64_t)sqlite3_column_int64(s, 6);
		n++;
		if (!list[n - 1].path || !list[n - 1].format) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
	}
	sqlite3_reset(s);
	if (error < 0)
		goto done;
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "list files");
		goto done;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_file_list_free(list, n);
	return error;
}

void mvms_file_list_free(mvms_file_info *files, size_t count)
{
	size_t i;

	if (!files)
		return;
	for (i = 0; i < count; i++) {
		free(files[i].path);
		free(files[i].format);
	}
	free(files);
}
