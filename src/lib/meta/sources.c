/* SPDX-License-Identifier: MIT */
/*
 * Sources: files outside a store that hold chunks byte for byte (schema/005_sources.sql).
 * A remote pull's cache records each file it writes instead of copying its chunks into
 * packs, and later pulls read chunks from there (pull.c, checking each against its id).
 * This module records a file, answers which chunks a store has in packs or in sources,
 * and forgets files that changed or went away. It does not read chunks: pull.c does.
 * A file is recorded with its chunk list whole (schema/015_source_lists.sql); the per-chunk
 * rows lookups use are written later, by the first lookup that needs them (settle).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "store_int.h"

static int64_t mtime_ns(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static int drop(mvms_store *st, int64_t id)
{
	static const char *const q[] = {
		"DELETE FROM source_chunks WHERE source_id = ?",
		"DELETE FROM source_lists WHERE source_id = ?",
		"DELETE FROM sources WHERE id = ?",
	};
	sqlite3_stmt *s;
	size_t i;
	int error = 0;

	for (i = 0; i < MVMS_ARRAY_SIZE(q); i++) {
		if (!(s = mvms_db_stmt(st->db, q[i]))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, id);
		MVMS_TRY(mvms_db_step_done(st->db, s, "forget a source"));
	}
done:
	return error;
}

/* Writes the source_chunks rows of source @id from its chunk list @e (@n entries of 40
 * bytes: id, little-endian length), in the caller's transaction. */
static int index_list(mvms_store *st, int64_t id, const unsigned char *e, size_t n)
{
	static const char q_chunk[] =
		"INSERT INTO source_chunks (source_id, chunk, offset, length) VALUES (?, ?, ?, ?)";
	sqlite3_stmt *s;
	uint64_t off = 0;
	size_t i;
	int error = 0;

	for (i = 0; i < n; i++, e += 40) {
		mvms_oid cid;
		uint64_t len = mvms_le64_get(e + 32);
		if (!(s = mvms_db_stmt(st->db, q_chunk))) {
			error = MVMS_ERROR;
			goto done;
		}
		memcpy(cid.id, e, MVMS_OID_RAWSZ);
		sqlite3_bind_int64(s, 1, id);
		mvms_db_bind_oid(s, 2, &cid);
		sqlite3_bind_int64(s, 3, (int64_t)off);
		sqlite3_bind_int64(s, 4, (int64_t)len);
		MVMS_TRY(mvms_db_step_done(st->db, s, "index a source"));
		off += len;
	}
done:
	return error;
}

int mvms_sources_settle(mvms_store *st)
{
	static const char q_lists[] = "SELECT source_id, list FROM source_lists";
	static const char q_done[] = "DELETE FROM source_lists WHERE source_id = ?";
	sqlite3_stmt *s = NULL, *d;
	uint64_t has = 0;
	int error = 0, began = 0, rc;

	MVMS_TRY(mvms_store__u64(&has, st, "SELECT EXISTS (SELECT 1 FROM source_lists)",
				 "look for unindexed sources"));
	if (!has)
		goto done;
	/* Under the write lock, read again: another process may have settled them meanwhile. */
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	/* Its own statement: index_list and the delete use cached ones while it steps. */
	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q_lists, -1, &s, NULL) != SQLITE_OK) {
		error = mvms_db_error(st->db, sqlite3_errcode(mvms_db_handle(st->db)), "list sources");
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);
		const unsigned char *e = sqlite3_column_blob(s, 1);
		/* A list that is not whole entries was not written by add: the file is forgotten
		 * (its chunks come from elsewhere; its list goes with it), not trusted. */
		if (len % 40 != 0 || (len > 0 && !e)) {
			MVMS_TRY(drop(st, id));
			continue;
		}
		MVMS_TRY(index_list(st, id, e, len / 40));
		if (!(d = mvms_db_stmt(st->db, q_done))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(d, 1, id);
		MVMS_TRY(mvms_db_step_done(st->db, d, "index a source"));
	}
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "index sources");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	error = mvms_db_commit(st->db);
	began = 0;
	if (error == 0)
		st->sources_unsettled = 0;
done:
	sqlite3_finalize(s);
	if (began)
		mvms_db_rollback(st->db);
	return error;
}

int mvms_sources_settle_mine(mvms_store *st)
{
	return st->sources_unsettled ? mvms_sources_settle(st) : 0;
}

int mvms_sources_add(mvms_store *st, const char *path, const mvms_oid *content, const void *fm,
		     size_t n)
{
	static const char q_old[] = "SELECT id FROM sources WHERE path = ?";
	static const char q_add[] =
		"INSERT INTO sources (path, content, size, mtime_ns, ino, added_at) "
		"VALUES (?, ?, ?, ?, ?, ?)";
	static const char q_list[] = "INSERT INTO source_lists (source_id, list) VALUES (?, ?)";
	const unsigned char *e = (const unsigned char *)fm + 32;
	char *abs = NULL;
	struct stat sb;
	sqlite3_stmt *s;
	uint64_t off = 0;
	int64_t id;
	size_t i;
	int error = 0, began = 0, rc;

	if (!(abs = realpath(path, NULL)) || stat(abs, &sb) < 0) {
		error = mvms_error_set(MVMS_ERROR, "sources: %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		error = mvms_error_set(MVMS_EINVALID, "sources: %s is not a regular file", abs);
		goto done;
	}
	for (i = 0; i < n; i++)
		off += mvms_le64_get(e + i * 40 + 32);
	if ((uint64_t)sb.st_size != off) {
		error = mvms_error_set(MVMS_EMISMATCH, "sources: %s is %lld bytes, its chunks %llu", abs,
				       (long long)sb.st_size, (unsigned long long)off);
		goto done;
	}
	if (n > (size_t)INT32_MAX / 40) {
		error = mvms_error_set(MVMS_EINVALID, "sources: %s has too many chunks to record", abs);
		goto done;
	}
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	if (!(s = mvms_db_stmt(st->db, q_old))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, abs, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "record a source");
		goto done;
	}
	if (id)
		MVMS_TRY(drop(st, id));
	if (!(s = mvms_db_stmt(st->db, q_add))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, abs, -1, SQLITE_STATIC);
	mvms_db_bind_oid(s, 2, content);
	sqlite3_bind_int64(s, 3, (int64_t)sb.st_size);
	sqlite3_bind_int64(s, 4, mtime_ns(&sb));
	sqlite3_bind_int64(s, 5, (int64_t)sb.st_ino);
	sqlite3_bind_int64(s, 6, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "record a source"));
	id = sqlite3_last_insert_rowid(mvms_db_handle(st->db));
	if (!(s = mvms_db_stmt(st->db, q_list))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, e, (int)(n * 40), SQLITE_STATIC);
	MVMS_TRY(mvms_db_step_done(st->db, s, "record a source"));
	error = mvms_db_commit(st->db);
	began = 0;
	if (error == 0)
		st->sources_unsettled = 1;
done:
	if (began)
		mvms_db_rollback(st->db);
	free(abs);
	return error;
}

int mvms_sources_prune(size_t *dropped, mvms_store *st)
{
	static const char q_all[] = "SELECT id, path, size, mtime_ns, ino FROM sources";
	sqlite3_stmt *s = NULL;
	int64_t *stale = NULL, *t;
	size_t nstale = 0, cap = 0, i;
	int error = 0, began = 0, rc;

	if (dropped)
		*dropped = 0;
	/* Its own statement: the drops below use the cached ones. */
	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q_all, -1, &s, NULL) != SQLITE_OK) {
		error = mvms_db_error(st->db, sqlite3_errcode(mvms_db_handle(st->db)), "list sources");
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct stat sb;
		const char *p = (const char *)sqlite3_column_text(s, 1);
		if (p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (int64_t)sb.st_size == sqlite3_column_int64(s, 2) &&
		    mtime_ns(&sb) == sqlite3_column_int64(s, 3) &&
		    (int64_t)sb.st_ino == sqlite3_column_int64(s, 4))
			continue;
		if (nstale == cap) {
			cap = cap ? cap * 2 : 16;
			t = realloc(stale, cap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			stale = t;
		}
		stale[nstale++] = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "list sources");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (nstale == 0)
		goto done;
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	for (i = 0; i < nstale; i++)
		MVMS_TRY(drop(st, stale[i]));
	error = mvms_db_commit(st->db);
	began = 0;
	if (error == 0 && dropped)
		*dropped = nstale;
done:
	if (began)
		mvms_db_rollback(st->db);
	sqlite3_finalize(s);
	free(stale);
	return error;
}

int mvms_sources_forget(mvms_store *st, int64_t id)
{
	int error = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	if ((error = drop(st, id)) < 0) {
		mvms_db_rollback(st->db);
		goto done;
	}
	error = mvms_db_commit(st->db);
done:
	return error;
}

int mvms_sources_count(uint64_t *out, mvms_store *st)
{
	*out = 0;
	return mvms_store__u64(out, st, "SELECT count(*) FROM sources", "count sources");
}

int mvms_sources_have(unsigned char *have, mvms_store *st, const mvms_oid *ids, size_t n)
{
	static const char q[] =
		"SELECT EXISTS (SELECT 1 FROM chunks WHERE oid = ?1) OR "
		"EXISTS (SELECT 1 FROM source_chunks WHERE chunk = ?1)";
	sqlite3_stmt *s;
	uint64_t any = 0;
	size_t i;
	int error = 0, began = 0, rc;

	/* The files this handle recorded are looked up too (a pull's later files). */
	MVMS_TRY(mvms_sources_settle_mine(st));
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	memset(have, 0, n);
	/* A fresh cache holds nothing: one question instead of one per chunk. */
	MVMS_TRY(mvms_store__u64(&any, st, "SELECT EXISTS (SELECT 1 FROM chunks) OR "
				 "EXISTS (SELECT 1 FROM source_chunks)", "look up chunks"));
	if (!any)
		goto done;
	for (i = 0; i < n; i++) {
		if (!(s = mvms_db_stmt(st->db, q))) {
			error = MVMS_ERROR;
			goto done;
		}
		mvms_db_bind_oid(s, 1, &ids[i]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			error = mvms_db_error(st->db, rc, "look up chunks");
			goto done;
		}
		have[i] = (unsigned char)sqlite3_column_int(s, 0);
		sqlite3_reset(s);
	}
done:
	mvms_db_read_end(st->db, began);
	return error;
}
