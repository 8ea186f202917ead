/* SPDX-License-Identifier: MIT */
/*
 * Where a file's bytes are (locate.h): the chunk index read for a pull, the server's
 * records stream, range reads and chunk exports, and the sources a remote pull's cache
 * reads chunks from. The only SQL of those paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "locate.h"
#include "db.h"
#include "pack.h"

struct mvms_locate_cursor {
	mvms_store *st;
	sqlite3_stmt *s;
	int done;                 /* stepping again after SQLITE_DONE would start over */
};

#define CHUNKS_COLS "SELECT ch.oid, p.oid, ch.offset, ch.raw_len, ch.stored_len, cc.offset, " \
	"ch.codec FROM content_chunks cc JOIN chunks ch ON ch.id = cc.chunk_id " \
	"JOIN packs p ON p.id = ch.pack_id "

static int cursor_open(mvms_locate_cursor **out, mvms_store *st, const char *q)
{
	mvms_locate_cursor *c = calloc(1, sizeof(*c));
	sqlite3 *h = mvms_db_handle(st->db);

	*out = NULL;
	if (!c)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	c->st = st;
	if (sqlite3_prepare_v2(h, q, -1, &c->s, NULL) != SQLITE_OK) {
		int error = mvms_db_error(st->db, sqlite3_errcode(h), "read chunk list");
		free(c);
		return error;
	}
	*out = c;
	return 0;
}

int mvms_locate__open(mvms_locate_cursor **out, mvms_store *st, int64_t content, uint64_t start,
		      uint64_t end)
{
	int error = cursor_open(out, st, CHUNKS_COLS "WHERE cc.content_id = ?1 "
				"AND cc.offset + ch.raw_len > ?2 AND cc.offset < ?3 ORDER BY cc.seq");

	if (error == 0) {
		sqlite3_bind_int64((*out)->s, 1, content);
		sqlite3_bind_int64((*out)->s, 2, (int64_t)start);
		sqlite3_bind_int64((*out)->s, 3, (int64_t)end);
	}
	return error;
}

int mvms_locate__open_oid(mvms_locate_cursor **out, mvms_store *st, const mvms_oid *content,
			  uint64_t start, uint64_t end)
{
	/* The whole file: every chunk, an empty one too. */
	int all = start == 0 && end == UINT64_MAX;
	int error = cursor_open(out, st, all ? CHUNKS_COLS "JOIN contents ct ON ct.id = cc.content_id "
				"WHERE ct.oid = ?1 ORDER BY cc.seq"
				: CHUNKS_COLS "JOIN contents ct ON ct.id = cc.content_id "
				"WHERE ct.oid = ?1 AND cc.offset + ch.raw_len > ?2 AND cc.offset < ?3 "
				"ORDER BY cc.seq");

	if (error == 0 && all) {
		mvms_db_bind_oid((*out)->s, 1, content);
	} else if (error == 0) {
		mvms_db_bind_oid((*out)->s, 1, content);
		sqlite3_bind_int64((*out)->s, 2, (int64_t)start);
		sqlite3_bind_int64((*out)->s, 3, (int64_t)end);
	}
	return error;
}

int mvms_locate__next(mvms_chunk_loc *loc, mvms_locate_cursor *c)
{
	int error = 0, rc;

	if (c->done)
		return 0;
	rc = sqlite3_step(c->s);
	if (rc == SQLITE_DONE) {
		c->done = 1;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return mvms_db_error(c->st->db, rc, "read chunk list");
	MVMS_TRY(mvms_db_column_oid(&loc->id, c->s, 0));
	MVMS_TRY(mvms_db_column_oid(&loc->pack, c->s, 1));
	loc->at = (uint64_t)sqlite3_column_int64(c->s, 2);
	loc->raw_len = (uint32_t)sqlite3_column_int64(c->s, 3);
	loc->stored = (uint32_t)sqlite3_column_int64(c->s, 4);
	loc->file_off = (uint64_t)sqlite3_column_int64(c->s, 5);
	loc->codec = (uint8_t)sqlite3_column_int(c->s, 6);
	return 1;
done:
	return error;
}

void mvms_locate__close(mvms_locate_cursor *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->s);
	free(c);
}

int mvms_locate__file(int64_t *content, mvms_oid *id, uint64_t *size, mvms_store *st,
		      const char *version_id, const char *path)
{
	static const char q[] =
		"SELECT c.id, c.oid, c.size FROM versions v JOIN files f ON f.version_id = v.id "
		"JOIN contents c ON c.id = f.content_id WHERE v.oid = ? AND f.path = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, version_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*content = sqlite3_column_int64(s, 0);
		error = mvms_db_column_oid(id, s, 1);
		*size = (uint64_t)sqlite3_column_int64(s, 2);
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "read file");
	}
	sqlite3_reset(s);
	return error < 0 ? error : rc == SQLITE_ROW;
}

int mvms_locate__records_size(uint64_t *bytes, mvms_store *st, int64_t content)
{
	static const char q[] =
		"SELECT count(*), total(ch.stored_len) FROM content_chunks cc "
		"JOIN chunks ch ON ch.id = cc.chunk_id WHERE cc.content_id = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*bytes = (uint64_t)sqlite3_column_int64(s, 0) * MVMS_PACK_RECORD_HDR +
			 (uint64_t)sqlite3_column_double(s, 1);
	else
		error = mvms_db_error(st->db, rc, "read file");
	sqlite3_reset(s);
	return error;
}

int mvms_locate__chunk(mvms_chunk_loc *loc, mvms_store *st, const mvms_oid *id)
{
	static const char q[] =
		"SELECT p.oid, ch.offset, ch.raw_len, ch.stored_len, ch.codec FROM chunks ch "
		"JOIN packs p ON p.id = ch.pack_id WHERE ch.oid = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	memset(loc, 0, sizeof(*loc));
	loc->id = *id;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		error = mvms_db_column_oid(&loc->pack, s, 0);
		loc->at = (uint64_t)sqlite3_column_int64(s, 1);
		loc->raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		loc->stored = (uint32_t)sqlite3_column_int64(s, 3);
		loc->codec = (uint8_t)sqlite3_column_int(s, 4);
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "look up a chunk");
	}
	sqlite3_reset(s);
	return error < 0 ? error : rc == SQLITE_ROW;
}

int mvms_locate__source(int64_t *source, char **path, uint64_t *offset, uint32_t *len,
			mvms_store *st, const mvms_oid *id)
{
	static const char q[] =
		"SELECT s.id, s.path, c.offset, c.length FROM source_chunks c "
		"JOIN sources s ON s.id = c.source_id WHERE c.chunk = ? LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	int error = 0, rc;

	*path = NULL;
	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*source = sqlite3_column_int64(s, 0);
		*path = mvms_db_column_strdup(s, 1);
		*offset = (uint64_t)sqlite3_column_int64(s, 2);
		*len = (uint32_t)sqlite3_column_int64(s, 3);
		if (!*path)
			error = mvms_error_set(MVMS_ERROR, "out of memory");
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "look up a source");
	}
	sqlite3_reset(s);
	return error < 0 ? error : rc == SQLITE_ROW;
}
