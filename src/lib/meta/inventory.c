/* SPDX-License-Identifier: MIT */
/*
 * The SQL of verify's inventory: packs, their chunk rows, contents and manifests (see
 * inventory.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include "inventory.h"
#include "mvms/oid.h"

int mvms_inventory_packs(int64_t **rows_out, mvms_oid **ids_out, size_t *n_out, uint64_t *total,
			 mvms_db *db)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT id, oid, size FROM packs ORDER BY id");
	int64_t *rows = NULL;
	mvms_oid *pids = NULL;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*rows_out = NULL;
	*ids_out = NULL;
	*n_out = 0;
	*total = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "verify: list packs")) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *r = realloc(rows, cap * sizeof(*r));
			mvms_oid *p = r ? realloc(pids, cap * sizeof(*p)) : NULL;
			if (r)
				rows = r;
			if (p)
				pids = p;
			if (!r || !p) {
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
		}
		rows[n] = sqlite3_column_int64(s, 0);
		if (mvms_db_column_oid(&pids[n], s, 1) < 0)
			continue;
		*total += (uint64_t)sqlite3_column_int64(s, 2);
		n++;
	}
	MVMS_TRY(rc);
	*rows_out = rows;
	*ids_out = pids;
	*n_out = n;
	rows = NULL;
	pids = NULL;
done:
	sqlite3_reset(s);
	free(rows);
	free(pids);
	return error;
}

int mvms_inventory_pack_size(uint64_t *out, mvms_db *db, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT size FROM packs WHERE id = ?");
	int rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if ((rc = mvms_db_step_row(db, s, "verify: a pack's size")) <= 0)
		return rc;
	*out = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int mvms_inventory_pack_chunks(mvms_db *db, int64_t row,
			       int (*cb)(const mvms_inventory_chunk *ch, void *payload), void *payload)
{
	static const char q[] =
		"SELECT oid, offset, raw_len, stored_len, codec FROM chunks WHERE pack_id = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_inventory_chunk ch;
	int rc = 0, stop = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while (!stop && (rc = mvms_db_step_row(db, s, "verify: a pack's chunks")) > 0) {
		if (mvms_db_column_oid(&ch.id, s, 0) < 0)
			continue;
		ch.offset = (uint64_t)sqlite3_column_int64(s, 1);
		ch.raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		ch.stored_len = (uint32_t)sqlite3_column_int64(s, 3);
		ch.codec = (uint8_t)sqlite3_column_int(s, 4);
		stop = cb(&ch, payload);
	}
	sqlite3_reset(s);
	return stop ? stop : rc;
}

int mvms_inventory_contents(int64_t *rows, mvms_oid *ids, uint64_t *sizes, uint64_t *counts,
			    size_t max, size_t *n, size_t *read, int64_t *after, mvms_db *db)
{
	static const char q[] =
		"SELECT c.id, c.oid, c.size, c.chunk_count FROM contents c WHERE EXISTS "
		"(SELECT 1 FROM files f WHERE f.content_id = c.id) AND c.id > ? ORDER BY c.id LIMIT ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc = 0;

	*n = *read = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, *after);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while (*read < max && (rc = mvms_db_step_row(db, s, "verify: list contents")) > 0) {
		(*read)++;
		rows[*n] = *after = sqlite3_column_int64(s, 0);
		sizes[*n] = (uint64_t)sqlite3_column_int64(s, 2);
		counts[*n] = (uint64_t)sqlite3_column_int64(s, 3);
		if (mvms_db_column_oid(&ids[*n], s, 1) == 0)
			(*n)++;
		else
			mvms_error_clear();
	}
	sqlite3_reset(s);
	return rc < 0 ? rc : 0;
}

int mvms_inventory_same_chunks(mvms_db *db, int64_t row, const mvms_oid *list, size_t n)
{
	static const char q[] =
		"SELECT ch.oid FROM content_chunks cc JOIN chunks ch ON ch.id = cc.chunk_id "
		"WHERE cc.content_id = ? ORDER BY cc.seq";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	size_t i = 0;
	int same = 1, rc;
	mvms_oid id;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = mvms_db_step_row(db, s, "verify: a content's chunks")) > 0) {
		if (i >= n || mvms_db_column_oid(&id, s, 0) < 0 || mvms_oid_cmp(&id, &list[i]) != 0) {
			same = 0;
			break;
		}
		i++;
	}
	sqlite3_reset(s);
	if (rc < 0)
		return rc;
	return same && i == n;
}

int mvms_inventory_next_manifest(mvms_oid *id, char *who, size_t whosz, int64_t *after,
				 mvms_db *db)
{
	static const char q[] =
		"SELECT v.oid, m.name, v.number, v.id FROM versions v JOIN models m ON m.id = v.model_id "
		"WHERE v.id > ? AND v.deleted_at = 0 ORDER BY v.id LIMIT 1";
	sqlite3_stmt *s;
	int rc;

	for (;;) {
		if (!(s = mvms_db_stmt(db, q)))
			return MVMS_ERROR;
		sqlite3_bind_int64(s, 1, *after);
		if ((rc = mvms_db_step_row(db, s, "verify: list versions")) <= 0)
			return rc;
		snprintf(who, whosz, "%s@v%lld", (const char *)sqlite3_column_text(s, 1),
			 (long long)sqlite3_column_int64(s, 2));
		*after = sqlite3_column_int64(s, 3);
		rc = mvms_oid_parse(id, (const char *)sqlite3_column_text(s, 0));
		sqlite3_reset(s);
		if (rc == 0)
			return 1;
		/* Not a version id: nothing to look up by it. */
		mvms_error_clear();
	}
}
