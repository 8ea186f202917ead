/* SPDX-License-Identifier: MIT */
/*
 * The SQL of gc and version delete: reachability of a version, references to packs, chunk
 * lists and manifests, and removal of unused rows. See gcrows.h.
 */
#include <stdio.h>
#include "gcrows.h"
#include "mvms/oid.h"

int mvms_gcrows_holder(char *out, size_t n, mvms_db *db, int64_t row)
{
	static const char q[] =
		"WITH RECURSIVE roots(id, what) AS ("
		"  SELECT version_id, 'branch ' || name FROM branches UNION ALL"
		"  SELECT version_id, 'tag ' || name FROM tags UNION ALL"
		"  SELECT t.version_id, 'deployment ' || t.env FROM deployment_targets t"
		"   WHERE t.revision = (SELECT max(revision) FROM deployment_revisions r"
		"                       WHERE r.model_id = t.model_id AND r.env = t.env)),"
		" reach(id, what) AS (SELECT id, what FROM roots UNION"
		"  SELECT vp.parent, reach.what FROM version_parents vp JOIN reach ON vp.child = reach.id)"
		" SELECT what FROM reach WHERE id = ? LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	out[0] = '\0';
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(db, s, "reachability")) <= 0)
		return rc;
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return 0;
}

static int count_row(int64_t *out, mvms_db *db, const char *sql, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(db, sql);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(db, s, "count")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ERROR, "db: count: no result");
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_gcrows_children(int64_t *out, mvms_db *db, int64_t row)
{
	return count_row(out, db, "SELECT count(*) FROM version_parents WHERE parent = ?", row);
}

int mvms_gcrows_deployed(int64_t *out, mvms_db *db, int64_t row)
{
	return count_row(out, db, "SELECT count(*) FROM deployment_targets WHERE version_id = ?", row);
}

/* Runs each statement of @q (one ? or ?1, bound to @value) to completion, in order. */
static int run_each(mvms_db *db, const char *const *q, size_t n, int64_t value, const char *what)
{
	sqlite3_stmt *s;
	size_t i;
	int error = 0;

	for (i = 0; i < n; i++) {
		if (!(s = mvms_db_stmt(db, q[i])))
			return MVMS_ERROR;
		sqlite3_bind_int64(s, 1, value);
		MVMS_TRY(mvms_db_step_done(db, s, what));
	}
done:
	return error;
}

int mvms_gcrows_delete_version(mvms_db *db, int64_t row)
{
	static const char *const q[] = {
		"DELETE FROM files WHERE version_id = ?",
		"DELETE FROM version_meta WHERE version_id = ?",
		"DELETE FROM version_parents WHERE child = ?",
		"DELETE FROM versions WHERE id = ?",
	};

	return run_each(db, q, MVMS_ARRAY_SIZE(q), row, "delete version");
}

/* 1 when the query (binding ?1 = an id, ?2 = the cutoff when it has one) finds a row. */
static int exists(mvms_db *db, const char *sql, const mvms_oid *id, const char *text,
		  int64_t cutoff)
{
	sqlite3_stmt *s = mvms_db_stmt(db, sql);
	int rc;

	if (!s)
		return MVMS_ERROR;
	if (text)
		sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
	else
		mvms_db_bind_oid(s, 1, id);
	if (sqlite3_bind_parameter_count(s) > 1)
		sqlite3_bind_int64(s, 2, cutoff);
	rc = mvms_db_step_row(db, s, "gc");
	sqlite3_reset(s);
	return rc;
}

int mvms_gcrows_pack_used(mvms_db *db, const mvms_oid *pack, int dry, int64_t cutoff)
{
	static const char strict[] =
		"SELECT 1 FROM packs p JOIN chunks c ON c.pack_id = p.id JOIN content_chunks cc "
		"ON cc.chunk_id = c.id WHERE p.oid = ?1 LIMIT 1";
	static const char q_dry[] =
		"SELECT 1 FROM packs p JOIN chunks c ON c.pack_id = p.id JOIN content_chunks cc "
		"ON cc.chunk_id = c.id JOIN contents ct ON ct.id = cc.content_id WHERE p.oid = ?1 AND "
		"(ct.created_at > ?2 OR EXISTS (SELECT 1 FROM files f WHERE f.content_id = ct.id)) LIMIT 1";

	return exists(db, dry ? q_dry : strict, pack, NULL, cutoff);
}

int mvms_gcrows_content_kept(mvms_db *db, const mvms_oid *content, int dry, int64_t cutoff)
{
	static const char strict[] = "SELECT 1 FROM contents WHERE oid = ?1";
	static const char q_dry[] =
		"SELECT 1 FROM contents c WHERE c.oid = ?1 AND (c.created_at > ?2 OR "
		"EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id))";

	return exists(db, dry ? q_dry : strict, content, NULL, cutoff);
}

int mvms_gcrows_pack_indexed(mvms_db *db, const mvms_oid *pack)
{
	return exists(db, "SELECT 1 FROM packs WHERE oid = ?1", pack, NULL, 0);
}

int mvms_gcrows_manifest_used(mvms_db *db, const mvms_oid *id)
{
	char hex[MVMS_OID_HEXSZ + 1];

	/* Version ids are kept as lower-case hex text. */
	mvms_oid_fmt(hex, id);
	return exists(db, "SELECT 1 FROM versions WHERE oid = ?1", NULL, hex, 0);
}

int mvms_gcrows_packs(mvms_db *db, mvms_gcrows_pack_cb cb, void *payload)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT oid, created_at FROM packs");
	mvms_oid id;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "gc: packs")) > 0) {
		if (mvms_db_column_oid(&id, s, 0) < 0)
			continue;
		MVMS_TRY(cb(&id, sqlite3_column_int64(s, 1), payload));
	}
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}

int mvms_gcrows_unused_contents(uint64_t *out, mvms_db *db, int64_t cutoff)
{
	static const char q[] =
		"SELECT count(*) FROM contents c WHERE c.created_at <= ?1 AND NOT EXISTS "
		"(SELECT 1 FROM files f WHERE f.content_id = c.id)";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, cutoff);
	if ((rc = mvms_db_step_row(db, s, "gc: count unused contents")) <= 0)
		return rc;
	*out = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_gcrows_drop_unused_contents(mvms_db *db, int64_t cutoff)
{
	static const char *const q[] = {
		"DELETE FROM tensors WHERE content_id IN (SELECT c.id FROM contents c WHERE "
		"c.created_at <= ?1 AND NOT EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id))",
		"DELETE FROM content_chunks WHERE content_id IN (SELECT c.id FROM contents c WHERE "
		"c.created_at <= ?1 AND NOT EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id))",
		"DELETE FROM contents WHERE created_at <= ?1 AND NOT EXISTS "
		"(SELECT 1 FROM files f WHERE f.content_id = contents.id)",
	};

	return run_each(db, q, MVMS_ARRAY_SIZE(q), cutoff, "gc: drop unused contents");
}

int mvms_gcrows_drop_pack(uint64_t *chunks, mvms_db *db, const mvms_oid *pack)
{
	static const char q_count[] =
		"SELECT count(*) FROM chunks WHERE pack_id = (SELECT id FROM packs WHERE oid = ?)";
	static const char *const q[] = {
		"DELETE FROM chunks WHERE pack_id = (SELECT id FROM packs WHERE oid = ?)",
		"DELETE FROM packs WHERE oid = ?",
	};
	sqlite3_stmt *s;
	size_t i;
	int error = 0, rc;

	if (!(s = mvms_db_stmt(db, q_count)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, pack);
	MVMS_TRY(rc = mvms_db_step_row(db, s, "gc: count a pack's chunks"));
	if (rc > 0)
		*chunks += (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	for (i = 0; i < MVMS_ARRAY_SIZE(q); i++) {
		if (!(s = mvms_db_stmt(db, q[i])))
			return MVMS_ERROR;
		mvms_db_bind_oid(s, 1, pack);
		MVMS_TRY(mvms_db_step_done(db, s, "gc: drop pack rows"));
	}
done:
	return error;
}
