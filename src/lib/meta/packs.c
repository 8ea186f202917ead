/* SPDX-License-Identifier: MIT */
/*
 * The packs and chunks tables: a pack is indexed (its row and one row per chunk) only once
 * it is durable in the backend, under the write lock that gc removes under; chunk look-ups
 * by id (is it stored? its row) for dedup and for content rows.
 */
#include <stdio.h>
#include <time.h>
#include "common.h"
#include "packs.h"
#include "bases.h"

/* Steps @s, which returns at most one row: 1 with a row, 0 when done, or the error. */
static int step_row(mvms_db *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mvms_db_error(db, rc, what);
}

/*
 * A pack that could not be indexed (say, the disk filled up at the database step) is junk
 * nothing will use: remove it now rather than leave it to gc. Not when another writer
 * indexed the same pack meanwhile, nor while another writer holds a lease (it may have
 * written the very same pack, same chunks in the same order, and not indexed it yet): both
 * checked under the write lock, which needs no disk space. Keeps @error's code and says
 * once what happened to the pack.
 */
static int drop_unindexed(mvms_store *st, const mvms_oid *pid, int error)
{
	static const char q[] =
		"SELECT (SELECT count(*) FROM packs WHERE oid = ?1) + (SELECT count(*) FROM leases "
		"WHERE expires_at > ?2 AND id != ?3)";
	sqlite3_stmt *s;
	char key[MVMS_KEY_MAX], msg[768];
	const char *fate = "it is left for 'mvms-store gc' to remove";
	int rc;

	snprintf(msg, sizeof(msg), "%s", mvms_error_last());
	mvms_object_key(key, sizeof(key), "packs", pid);
	if (mvms_db_begin(st->db) == 0) {
		if ((s = mvms_db_stmt(st->db, q))) {
			mvms_db_bind_oid(s, 1, pid);
			sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
			sqlite3_bind_text(s, 3, st->lease, -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) == 0 &&
			    (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOVE) &&
			    mvms_backend_remove(st->be, key) == 0)
				fate = "it was removed";
			sqlite3_reset(s);
		}
		mvms_db_rollback(st->db);
	}
	return mvms_error_set(error, "push: the database could not record pack %s (%s); %s; "
			      "nothing was committed", key, msg, fate);
}

int mvms_packs__index(mvms_store *st, const mvms_oid *pid, uint64_t size,
		      const mvms_pack_entry *entries, size_t count)
{
	static const char q_pack[] =
		"INSERT OR IGNORE INTO packs(oid, size, chunk_count, created_at) VALUES (?, ?, ?, ?)";
	static const char q_pack_id[] = "SELECT id FROM packs WHERE oid = ?";
	static const char q_chunk[] =
		"INSERT OR IGNORE INTO chunks(oid, pack_id, offset, raw_len, stored_len, codec, base) "
		"VALUES (?, ?, ?, ?, ?, ?, ?)";
	int64_t pack_row = 0;
	sqlite3_stmt *s;
	char key[MVMS_KEY_MAX];
	uint64_t have;
	size_t i;
	int error = 0, began = 0, there = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	/* Under the lock gc removes under: a gc that took an old copy of this very pack (same
	 * chunks, same order) as it was written again has done so by now, and none can after
	 * the rows are in. A backend that cannot answer (down) says nothing of the kind: the
	 * pack was just written, and indexing it spares a re-run its upload. */
	mvms_object_key(key, sizeof(key), "packs", pid);
	if ((error = mvms_backend_stat(&have, st->be, key)) == MVMS_ENOTFOUND) {
		error = mvms_error_set(MVMS_ECONFLICT, "push: a gc removed %s as it was written; "
				       "nothing was committed: push again", key);
		goto done;
	}
	mvms_error_clear();
	error = 0;
	there = 1;
	if (!(s = mvms_db_stmt(st->db, q_pack))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, pid);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)count);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "add pack"));
	if (!(s = mvms_db_stmt(st->db, q_pack_id))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, pid);
	error = step_row(st->db, s, "look up pack");
	if (error == 1)
		pack_row = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (error == 0)
		error = mvms_error_set(MVMS_ERROR, "push: pack %s has no row right after it was "
				       "added", key);
	if (error < 0)
		goto done;
	error = 0;
	if (!(s = mvms_db_stmt(st->db, q_chunk))) {
		error = MVMS_ERROR;
		goto done;
	}
	for (i = 0; i < count; i++) {
		mvms_db_bind_oid(s, 1, &entries[i].id);
		sqlite3_bind_int64(s, 2, pack_row);
		sqlite3_bind_int64(s, 3, (int64_t)entries[i].offset);
		sqlite3_bind_int64(s, 4, entries[i].raw_len);
		sqlite3_bind_int64(s, 5, entries[i].stored_len);
		sqlite3_bind_int(s, 6, entries[i].codec);
		if (entries[i].codec == MVMS_CODEC_DELTA)
			mvms_db_bind_oid(s, 7, &entries[i].base);
		else
			sqlite3_bind_null(s, 7);
		MVMS_TRY(mvms_db_step_done(st->db, s, "add chunk"));
	}
	/* After every row of the pack: a base may be in the same pack. */
	MVMS_TRY(mvms_bases__check_index(st, entries, count));
	/* A pack is a sign of life: the lease of the push that wrote it goes on (no extra
	 * sync to disk: same transaction). */
	MVMS_TRY(mvms_lease__tick(st, 1));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	if (error < 0 && there && error != MVMS_ECONFLICT)
		error = drop_unindexed(st, pid, error);
	return error;
}

int mvms_packs__commit(uint64_t *size_out, mvms_store *st, mvms_pack_writer *w)
{
	const mvms_pack_entry *entries;
	size_t count;
	uint64_t size;
	mvms_oid pid;
	int error = 0;

	MVMS_TRY(mvms_pack_writer_finish(&pid, &size, &entries, &count, w));
	/* The pack is durable now; index it so that the next push (or a re-run of this one)
	 * finds its chunks, whether or not this push completes. */
	MVMS_TRY(mvms_packs__index(st, &pid, size, entries, count));
	if (size_out)
		*size_out = size;
done:
	mvms_pack_writer_free(w);
	return error;
}

int mvms_packs__missing_on(unsigned char *missing, mvms_db *db, const mvms_oid *ids, size_t n)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT 1 FROM chunks WHERE oid = ?");
	size_t i;
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		mvms_db_bind_oid(s, 1, &ids[i]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			error = mvms_db_error(db, rc, "look up chunk");
			goto done;
		}
		missing[i] = rc == SQLITE_DONE;
	}
done:
	sqlite3_reset(s);
	return error;
}

int mvms_packs__missing(unsigned char *missing, mvms_store *st, const mvms_oid *ids, size_t n)
{
	int error = 0, began = 0;

	if (n > 1)
		MVMS_TRY(mvms_db_read_begin(st->db, &began));
	error = mvms_packs__missing_on(missing, st->db, ids, n);
done:
	mvms_db_read_end(st->db, began);
	return error;
}


/* The one integer @sql (a look-up of chunks by oid) gives for chunk @id; MVMS_ENOTFOUND (no
 * message) when the chunk is not stored. */
static int chunk_int(int64_t *out, mvms_store *st, const char *sql, const mvms_oid *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int error;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	error = step_row(st->db, s, "look up chunk");
	if (error == 1)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return error == 1 ? 0 : error == 0 ? MVMS_ENOTFOUND : error;
}

int mvms_packs__chunk_row(int64_t *out, mvms_store *st, const mvms_oid *id)
{
	return chunk_int(out, st, "SELECT id FROM chunks WHERE oid = ?", id);
}

int mvms_packs__chunk_len(uint64_t *out, mvms_store *st, const mvms_oid *id)
{
	int64_t v = 0;
	int error = chunk_int(&v, st, "SELECT raw_len FROM chunks WHERE oid = ?", id);

	*out = (uint64_t)v;
	return error;
}
