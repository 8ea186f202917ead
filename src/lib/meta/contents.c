/* SPDX-License-Identifier: MIT */
/*
 * The contents, content_chunks and tensors tables: a file content is its chunk list
 * (content_chunks, in order, with offsets) and, for a tensor file (tlayout.h), its tensors.
 * Rows are added by a commit (push, sync) in its write transaction.
 */
#include <stdio.h>
#include <time.h>
#include "common.h"
#include "contents.h"
#include "packs.h"
#include "tlayout.h"

int mvms_contents__row(int64_t *out, mvms_store *st, const mvms_oid *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT id FROM contents WHERE oid = ?");
	int rc, error = MVMS_ENOTFOUND;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		error = 0;
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "look up content");
	}
	sqlite3_reset(s);
	return error;
}

int mvms_contents__size(uint64_t *out, mvms_store *st, const mvms_oid *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT size FROM contents WHERE oid = ?");
	int error;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	error = mvms_db_step_row(st->db, s, "look up content");
	if (error == 1)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return error == 1 ? 0 : error == 0 ? MVMS_ENOTFOUND : error;
}

int mvms_contents__add(int64_t *out, mvms_store *st, const mvms_oid *id, uint64_t size,
		       const mvms_chunk_ref *chunks, size_t nchunks, const mvms_tlayout *sf,
		       const mvms_oid *tensor_ids)
{
	static const char q_content[] =
		"INSERT INTO contents(oid, size, chunk_count, format, created_at) VALUES (?, ?, ?, ?, ?)";
	static const char q_cc[] =
		"INSERT INTO content_chunks(content_id, seq, chunk_id, offset) VALUES (?, ?, ?, ?)";
	static const char q_tensor[] =
		"INSERT OR IGNORE INTO tensors(content_id, name, dtype, shape, offset, length, oid) "
		"VALUES (?, ?, ?, ?, ?, ?, ?)";
	mvms_db *db = st->db;
	sqlite3_stmt *s;
	int64_t row, chunk_row;
	uint64_t off = 0;
	size_t i;
	int error = 0;

	if ((error = mvms_contents__row(out, st, id)) != MVMS_ENOTFOUND)
		return error;
	error = 0;
	if (!(s = mvms_db_stmt(db, q_content)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)nchunks);
	sqlite3_bind_text(s, 4, sf ? mvms_tformat_name(sf->format) : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(db, s, "add content"));
	row = sqlite3_last_insert_rowid(mvms_db_handle(db));
	for (i = 0; i < nchunks; i++) {
		error = mvms_packs__chunk_row(&chunk_row, st, &chunks[i].id);
		if (error < 0 && error != MVMS_ENOTFOUND)
			goto done;
		if (error == MVMS_ENOTFOUND) {
			char hex[MVMS_OID_HEXSZ + 1];
			mvms_oid_fmt(hex, &chunks[i].id);
			/* The push found it stored, and a gc removed its unused pack since. */
			error = mvms_error_set(MVMS_ECONFLICT, "push: chunk %s is in no pack any more "
					       "(a gc removed it after this push found it); nothing "
					       "was committed: push again", hex);
			goto done;
		}
		if (!(s = mvms_db_stmt(db, q_cc))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int64(s, 3, chunk_row);
		sqlite3_bind_int64(s, 4, (int64_t)off);
		MVMS_TRY(mvms_db_step_done(db, s, "add content chunk"));
		off += chunks[i].len;
	}
	for (i = 0; sf && i < sf->count; i++) {
		const mvms_tensor_info *t = &sf->tensors[i];
		if (!(s = mvms_db_stmt(db, q_tensor))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, t->dtype, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, t->shape, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (int64_t)t->offset);
		sqlite3_bind_int64(s, 6, (int64_t)t->length);
		mvms_db_bind_oid(s, 7, &tensor_ids[i]);
		MVMS_TRY(mvms_db_step_done(db, s, "add tensor"));
	}
	*out = row;
done:
	return error;
}
