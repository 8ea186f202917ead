/* SPDX-License-Identifier: MIT */
/*
 * What a model-scoped token may read by hash: an object (a manifest, a chunk list, a chunk)
 * is covered by a model glob when some version of a model whose name matches the glob holds
 * it. The database answers, through the indexes the store keeps anyway (versions.oid,
 * contents.oid, files_content, content_chunks_chunk): no index of its own to keep in step.
 * An object the database does not know is covered by nothing, so that a missing object and
 * another model's object look the same to the caller.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include "mvms/token.h"
#include "store_int.h"

/* The ids of the models whose names match @glob, sorted (rows come by id). */
static int covered_models(int64_t **out, size_t *count, mvms_store *st, const char *glob)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT id, name FROM models ORDER BY id");
	int64_t *ids = NULL, *t;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 1);
		if (!name || fnmatch(glob, name, 0) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(t = realloc(ids, cap * sizeof(*t)))) {
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			ids = t;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "list models");
		goto done;
	}
	*out = ids;
	*count = n;
	ids = NULL;
done:
	sqlite3_reset(s);
	free(ids);
	return error;
}

static int has_id(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return 1;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Steps @s (bound to one object) through the models of the versions that hold it until one
 * is in @models: *hit 1 then, else 0. Stops at the first: a scoped pull asks about objects of
 * its own model, so the answer is usually the first row.
 */
static int first_covered(int *hit, mvms_store *st, sqlite3_stmt *s, const int64_t *models,
			 size_t nmodels)
{
	int rc, error = 0;

	*hit = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (has_id(models, nmodels, sqlite3_column_int64(s, 0))) {
			*hit = 1;
			break;
		}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		error = mvms_db_error(st->db, rc, "look up an object's models");
	sqlite3_reset(s);
	return error;
}

int mvms_token_covers_objects(unsigned char *covered, mvms_store *st, const char *glob,
			      const char *kind, const mvms_oid *ids, size_t n)
{
	/* The model of every version that holds the object, one row each (repeats allowed). */
	static const char q_manifest[] = "SELECT model_id FROM versions WHERE oid = ?";
	static const char q_file[] =
		"SELECT v.model_id FROM contents c JOIN files f ON f.content_id = c.id "
		"JOIN versions v ON v.id = f.version_id WHERE c.oid = ?";
	static const char q_chunk[] =
		"SELECT v.model_id FROM chunks ch JOIN content_chunks cc ON cc.chunk_id = ch.id "
		"JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id WHERE ch.oid = ?";
	const char *sql;
	char hex[MVMS_OID_HEXSZ + 1];
	int64_t *models = NULL;
	size_t nmodels = 0, i;
	sqlite3_stmt *s;
	int error = 0, began = 0, hit;

	for (i = 0; i < n; i++)
		covered[i] = 0;
	if (!glob || !*glob)
		return mvms_error_set(MVMS_EINVALID, "covers: empty model glob");
	if (!strcmp(kind, "manifests"))
		sql = q_manifest;
	else if (!strcmp(kind, "files"))
		sql = q_file;
	else if (!strcmp(kind, "chunks"))
		sql = q_chunk;
	else
		return mvms_error_set(MVMS_EINVALID, "covers: object kind '%s': want manifests, files "
				      "or chunks", kind);
	/* One read transaction: the models and every look-up see the same database. */
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	MVMS_TRY(covered_models(&models, &nmodels, st, glob));
	if (nmodels == 0)
		goto done;
	if (!(s = mvms_db_stmt(st->db, sql))) {
		error = MVMS_ERROR;
		goto done;
	}
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		if (sql == q_manifest) {
			/* Version ids are kept as lower-case hex text. */
			mvms_oid_fmt(hex, &ids[i]);
			sqlite3_bind_text(s, 1, hex, -1, SQLITE_TRANSIENT);
		} else {
			mvms_db_bind_oid(s, 1, &ids[i]);
		}
		MVMS_TRY(first_covered(&hit, st, s, models, nmodels));
		covered[i] = (unsigned char)hit;
	}
done:
	mvms_db_read_end(st->db, began);
	free(models);
	return error;
}
