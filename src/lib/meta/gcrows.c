/* SPDX-License-Identifier: MIT */
/*
 * The SQL of gc: references to packs, chunk lists and manifests, and removal of unused rows.
 * See gcrows.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gcrows.h"
#include "mvms/oid.h"

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
	/* A chunk is also used while a delta row names it as its base (level 11): bases
	 * go one gc after the last delta on them. */
	static const char strict[] =
		"SELECT 1 FROM packs p JOIN chunks c ON c.pack_id = p.id JOIN content_chunks cc "
		"ON cc.chunk_id = c.id WHERE p.oid = ?1 UNION ALL SELECT 1 FROM packs p JOIN "
		"chunks c ON c.pack_id = p.id JOIN chunks d ON d.base = c.oid WHERE p.oid = ?1 "
		"LIMIT 1";
	static const char q_dry[] =
		"SELECT 1 FROM packs p JOIN chunks c ON c.pack_id = p.id JOIN content_chunks cc "
		"ON cc.chunk_id = c.id JOIN contents ct ON ct.id = cc.content_id WHERE p.oid = ?1 AND "
		"(ct.created_at > ?2 OR EXISTS (SELECT 1 FROM files f WHERE f.content_id = ct.id)) "
		"UNION ALL SELECT 1 FROM packs p JOIN chunks c ON c.pack_id = p.id JOIN chunks d "
		"ON d.base = c.oid WHERE p.oid = ?1 LIMIT 1";

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

	/* Version ids are kept as lower-case hex text. A deleted version's row stays but its
	 * manifest (which lists its files) goes with them. */
	mvms_oid_fmt(hex, id);
	return exists(db, "SELECT 1 FROM versions WHERE oid = ?1 AND deleted_at = 0", NULL, hex, 0);
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
		/* Level 14: the place of its chunk list in a list pack, which gc keeps while any
		 * content row placed in it stays (sweep.c); a place whose content row is gone
		 * (never made by a commit, which writes both in one transaction) goes too. */
		"DELETE FROM content_lists WHERE oid IN (SELECT c.oid FROM contents c WHERE "
		"c.created_at <= ?1 AND NOT EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id)) "
		"OR NOT EXISTS (SELECT 1 FROM contents c WHERE c.oid = content_lists.oid)",
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

/* A chunk some content uses; in a dry run (nothing dropped yet) only contents that would stay
 * count: some file uses them or they are younger than the cutoff (?2). */
/* The base of a delta row (any: a kept delta must never lose its base). */
#define BASE_USED "EXISTS (SELECT 1 FROM chunks d WHERE d.base = c.oid)"
#define CHUNK_USED \
	"(EXISTS (SELECT 1 FROM content_chunks cc WHERE cc.chunk_id = c.id) OR " BASE_USED ")"
#define CHUNK_USED_DRY \
	"(EXISTS (SELECT 1 FROM content_chunks cc JOIN contents ct ON ct.id = cc.content_id " \
	"WHERE cc.chunk_id = c.id AND (ct.created_at > ?2 OR EXISTS (SELECT 1 FROM files f " \
	"WHERE f.content_id = ct.id))) OR " BASE_USED ")"
#define MIXED(used) \
	"SELECT p.oid FROM packs p WHERE p.created_at <= ?1 AND EXISTS (SELECT 1 FROM chunks c " \
	"WHERE c.pack_id = p.id AND NOT " used ") AND EXISTS (SELECT 1 FROM chunks c " \
	"WHERE c.pack_id = p.id AND " used ") AND ?2 IS NOT NULL ORDER BY p.id"

int mvms_gcrows_mixed_packs(mvms_oid **out, size_t *count, mvms_db *db, int dry, int64_t cutoff)
{
	/* Old packs holding both chunks some content uses and chunks none does. */
	static const char q[] = MIXED(CHUNK_USED);
	static const char q_dry[] = MIXED(CHUNK_USED_DRY);
	sqlite3_stmt *s = mvms_db_stmt(db, dry ? q_dry : q);
	mvms_oid *v = NULL, *t;
	size_t n = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, cutoff);
	sqlite3_bind_int64(s, 2, cutoff);
	while ((rc = mvms_db_step_row(db, s, "gc: packs to rewrite")) > 0) {
		if (!(t = realloc(v, (n + 1) * sizeof(*t)))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		v = t;
		if (mvms_db_column_oid(&v[n], s, 0) == 0)
			n++;
	}
	sqlite3_reset(s);
	if (error == 0 && rc < 0)
		error = rc;
	if (error < 0) {
		free(v);
		return error;
	}
	*out = v;
	*count = n;
	return 0;
}

#define PACK_CHUNKS(used) \
	"SELECT c.oid, c.offset, c.raw_len, c.stored_len, c.codec, " used " FROM chunks c " \
	"WHERE c.pack_id = (SELECT id FROM packs WHERE oid = ?1) AND ?2 IS NOT NULL ORDER BY c.offset"

int mvms_gcrows_pack_chunks(mvms_gcrows_chunk **out, size_t *count, size_t *dead, mvms_db *db,
			    const mvms_oid *pack, int dry, int64_t cutoff)
{
	static const char q[] = PACK_CHUNKS(CHUNK_USED);
	static const char q_dry[] = PACK_CHUNKS(CHUNK_USED_DRY);
	sqlite3_stmt *s = mvms_db_stmt(db, dry ? q_dry : q);
	mvms_gcrows_chunk *v = NULL, *t;
	size_t n = 0;
	int error = 0, rc;

	*out = NULL;
	*count = *dead = 0;
	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, pack);
	sqlite3_bind_int64(s, 2, cutoff);
	while ((rc = mvms_db_step_row(db, s, "gc: a pack's chunks")) > 0) {
		if (!sqlite3_column_int(s, 5)) {
			(*dead)++;
			continue;
		}
		if (!(t = realloc(v, (n + 1) * sizeof(*t)))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		v = t;
		if ((error = mvms_db_column_oid(&v[n].id, s, 0)) < 0)
			break;
		v[n].offset = (uint64_t)sqlite3_column_int64(s, 1);
		v[n].raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		v[n].stored_len = (uint32_t)sqlite3_column_int64(s, 3);
		v[n].codec = (uint8_t)sqlite3_column_int(s, 4);
		n++;
	}
	sqlite3_reset(s);
	if (error == 0 && rc < 0)
		error = rc;
	if (error < 0) {
		free(v);
		return error;
	}
	*out = v;
	*count = n;
	return 0;
}

int mvms_gcrows_move_chunks(uint64_t *dropped, mvms_db *db, const mvms_oid *from,
			    const mvms_oid *to, uint64_t size, const mvms_gcrows_chunk *chunks,
			    size_t n)
{
	static const char q_pack[] =
		"INSERT INTO packs(oid, size, chunk_count, created_at) VALUES (?, ?, ?, strftime('%s','now'))";
	static const char q_move[] =
		"UPDATE chunks SET pack_id = (SELECT id FROM packs WHERE oid = ?2), offset = ?3, "
		"stored_len = ?4, codec = ?5 WHERE oid = ?1 AND pack_id = (SELECT id FROM packs WHERE oid = ?6)";
	static const char q_left[] =
		"SELECT count(*) FROM chunks c WHERE c.pack_id = (SELECT id FROM packs WHERE oid = ?) "
		"AND " CHUNK_USED;
	static const char q_drop[] =
		"DELETE FROM chunks WHERE pack_id = (SELECT id FROM packs WHERE oid = ?)";
	sqlite3_stmt *s;
	size_t i;
	int error = 0, rc;

	if (!(s = mvms_db_stmt(db, q_pack)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, to);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)n);
	MVMS_TRY(mvms_db_step_done(db, s, "gc: index a rewritten pack"));
	for (i = 0; i < n; i++) {
		if (!(s = mvms_db_stmt(db, q_move)))
			return MVMS_ERROR;
		mvms_db_bind_oid(s, 1, &chunks[i].id);
		mvms_db_bind_oid(s, 2, to);
		sqlite3_bind_int64(s, 3, (int64_t)chunks[i].offset);
		sqlite3_bind_int64(s, 4, (int64_t)chunks[i].stored_len);
		sqlite3_bind_int(s, 5, chunks[i].codec);
		mvms_db_bind_oid(s, 6, from);
		MVMS_TRY(mvms_db_step_done(db, s, "gc: move a chunk"));
	}
	/* A commit that began to use one of the unused chunks meanwhile: leave this pack be. */
	if (!(s = mvms_db_stmt(db, q_left)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, from);
	MVMS_TRY(rc = mvms_db_step_row(db, s, "gc: chunks left in a pack"));
	rc = rc > 0 && sqlite3_column_int64(s, 0) > 0;
	sqlite3_reset(s);
	if (rc) {
		error = mvms_error_set(MVMS_ECONFLICT, "gc: a pack's unused chunk was used meanwhile");
		goto done;
	}
	if (!(s = mvms_db_stmt(db, q_drop)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, from);
	MVMS_TRY(mvms_db_step_done(db, s, "gc: drop unused chunks"));
	*dropped += (uint64_t)mvms_db_changes(db);
done:
	return error;
}
