/* SPDX-License-Identifier: MIT */
/*
 * The SQL of "which versions reach this object" (see reach.h).
 */
#include <fnmatch.h>
#include <stdlib.h>
#include "reach.h"
#include "mvms/oid.h"

/* The ids of the models whose names match @glob, sorted (rows come by id). */
int mvms_reach_models(int64_t **out, size_t *count, mvms_db *db, const char *glob)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT id, name FROM models ORDER BY id");
	int64_t *ids = NULL, *t;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "list models")) > 0) {
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
	if ((error = rc) < 0)
		goto done;
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
static int first_covered(int *hit, mvms_db *db, sqlite3_stmt *s, const int64_t *models,
			 size_t nmodels)
{
	int rc;

	*hit = 0;
	while ((rc = mvms_db_step_row(db, s, "look up an object's models")) > 0)
		if (has_id(models, nmodels, sqlite3_column_int64(s, 0))) {
			*hit = 1;
			break;
		}
	sqlite3_reset(s);
	return rc < 0 ? rc : 0;
}

int mvms_reach_held(int *hit, mvms_db *db, enum mvms_reach_kind kind, const mvms_oid *id,
		    const int64_t *models, size_t nmodels)
{
	/* The model of every version that holds the object, one row each (repeats allowed). */
	/* A deleted version's manifest is held by nothing: its files are gone. */
	static const char q_manifest[] =
		"SELECT model_id FROM versions WHERE oid = ? AND deleted_at = 0";
	static const char q_file[] =
		"SELECT v.model_id FROM contents c JOIN files f ON f.content_id = c.id "
		"JOIN versions v ON v.id = f.version_id WHERE c.oid = ?";
	/* A delta's base is held by whoever holds the delta (a pull needs both). */
	static const char q_chunk[] =
		"SELECT v.model_id FROM chunks ch JOIN content_chunks cc ON cc.chunk_id = ch.id "
		"JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id WHERE ch.oid = ?1 UNION ALL "
		"SELECT v.model_id FROM chunks ch JOIN content_chunks cc ON cc.chunk_id = ch.id "
		"JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id WHERE ch.base = ?1";
	sqlite3_stmt *s = mvms_db_stmt(db, kind == MVMS_REACH_MANIFEST ? q_manifest
					   : kind == MVMS_REACH_FILE ? q_file : q_chunk);
	char hex[MVMS_OID_HEXSZ + 1];

	*hit = 0;
	if (!s)
		return MVMS_ERROR;
	if (kind == MVMS_REACH_MANIFEST) {
		/* Version ids are kept as lower-case hex text. */
		mvms_oid_fmt(hex, id);
		sqlite3_bind_text(s, 1, hex, -1, SQLITE_TRANSIENT);
	} else {
		mvms_db_bind_oid(s, 1, id);
	}
	return first_covered(hit, db, s, models, nmodels);
}

/* Fills @out from a query of (model name, version number) rows bound already. */
static int users(mvms_buf *out, mvms_db *db, sqlite3_stmt *s)
{
	int n = 0, rc;

	while ((rc = mvms_db_step_row(db, s, "list the versions that use an object")) > 0)
		mvms_buf_printf(out, "%s%s@v%lld", n++ ? ", " : "",
				(const char *)sqlite3_column_text(s, 0),
				(long long)sqlite3_column_int64(s, 1));
	return rc;
}

#define USERS_OF_CHUNKS \
	"SELECT DISTINCT m.name, v.number FROM chunks ch " \
	"JOIN content_chunks cc ON cc.chunk_id = ch.id JOIN files f ON f.content_id = cc.content_id " \
	"JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id "

int mvms_reach_pack_users(mvms_buf *out, mvms_db *db, int64_t pack_row)
{
	sqlite3_stmt *s = mvms_db_stmt(db, USERS_OF_CHUNKS "WHERE ch.pack_id = ?1 OR ch.base IN "
				       "(SELECT oid FROM chunks WHERE pack_id = ?1) "
				       "ORDER BY m.name, v.number");

	mvms_buf_clear(out);
	mvms_buf_puts(out, "");
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, pack_row);
	return users(out, db, s);
}

int mvms_reach_chunk_users(mvms_buf *out, mvms_db *db, const mvms_oid *chunk)
{
	/* With the versions whose deltas need it as their base: a damaged base breaks them. */
	sqlite3_stmt *s = mvms_db_stmt(db, USERS_OF_CHUNKS "WHERE ch.oid = ?1 OR ch.base = ?1 "
				       "ORDER BY m.name, v.number");

	mvms_buf_clear(out);
	mvms_buf_puts(out, "");
	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, chunk);
	return users(out, db, s);
}

int mvms_reach_content_users(mvms_buf *out, mvms_db *db, int64_t content)
{
	static const char q[] =
		"SELECT DISTINCT m.name, v.number FROM files f JOIN versions v ON v.id = f.version_id "
		"JOIN models m ON m.id = v.model_id WHERE f.content_id = ? ORDER BY m.name, v.number";
	sqlite3_stmt *s = mvms_db_stmt(db, q);

	mvms_buf_clear(out);
	mvms_buf_puts(out, "");
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	return users(out, db, s);
}
