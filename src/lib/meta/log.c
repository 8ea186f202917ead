/* SPDX-License-Identifier: MIT */
/*
 * The store's log: the bucket is the truth, the database a cache of it (docs/formats.md,
 * "The log"). Every transaction that changes a logged row (log_ops.c) is committed by
 * creating the next entry `log/<20-digit seq>` only if it is absent: of two writers, one
 * wins, the other rolls back and catches up. Catching up applies the entries after the last
 * one this database has, with capture off; an entry's file contents get their chunk rows
 * from their chunk lists and the bucket's packs. Also: the first entry of a store that
 * predates the log (a snapshot of its rows), refresh and reindex. It does not decide which
 * operations retry (their callers do, with mvms_log__lost).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "log_int.h"
#include "clists.h"
#include "transport.h"
#include "hash.h"
#include "pack.h"
#include "mvms/backend.h"

#define LOG_ENTRY_MAX (1024u * 1024 * 1024)

static void seq_key(char *out, size_t n, int64_t seq)
{
	snprintf(out, n, "log/%020" PRId64, seq);
}

/* The last entry this database has applied; -1 when it has not started (an older store). */
static int seq_get(int64_t *out, mvms_store *st)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT value FROM config WHERE key = 'log_seq'");
	int error;

	*out = -1;
	if (!s)
		return MVMS_ERROR;
	error = mvms_db_step_row(st->db, s, "read the log position");
	if (error == 1)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return error < 0 ? error : 0;
}

static int seq_set(mvms_store *st, int64_t seq)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "INSERT OR REPLACE INTO config(key, value) "
					       "VALUES ('log_seq', ?)");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, seq);
	return mvms_db_step_done(st->db, s, "record the log position");
}

/* mvms_db_commit's hook: the transaction's changes become entry seq + 1, or nothing. */
static int on_commit(void *arg, const char *ops, size_t len)
{
	mvms_store *st = arg;
	mvms_buf b = MVMS_BUF_INIT;
	char key[64];
	int64_t seq;
	int error = 0;

	st->log_lost = 0;
	MVMS_TRY(seq_get(&seq, st));
	if (seq < 0)
		seq = 0;
	seq_key(key, sizeof(key), seq + 1);
	if (mvms_buf_printf(&b, "{\"format\":1,\"seq\":%" PRId64 ",\"time\":%lld,\"ops\":[",
			    seq + 1, (long long)time(NULL)) < 0 ||
	    mvms_buf_put(&b, ops, len) < 0 || mvms_buf_puts(&b, "]}\n") < 0) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	error = mvms_backend_put_if_absent(st->be, key, b.ptr, b.size);
	if (error == MVMS_EEXISTS) {
		st->log_lost = 1;
		error = mvms_error_set(MVMS_ECONFLICT, "store: another writer committed %s first; "
				       "nothing was committed: try again", key);
	} else if (error == MVMS_ENOTSUPPORTED) {
		error = mvms_error_set(MVMS_ENOTSUPPORTED, "store: this S3 server does not support "
				       "conditional writes (%s); nothing was committed: open the "
				       "store with MVMS_SINGLE_WRITER=1 if this database is its only "
				       "writer", mvms_error_last());
	}
	if (error < 0)
		goto done;
	MVMS_TRY(seq_set(st, seq + 1));
done:
	mvms_buf_dispose(&b);
	return error;
}

static int create_triggers(mvms_store *st)
{
	mvms_buf sql = MVMS_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < mvms_log__nspecs; i++) {
		const mvms_log_spec *sp = &mvms_log__specs[i];
		const char *p;
		mvms_buf_clear(&sql);
		if (mvms_buf_printf(&sql, "CREATE TEMP TRIGGER IF NOT EXISTS mvms_log_%zu AFTER %s "
				    "ON main.%s BEGIN SELECT mvms_log_op(", i, sp->event,
				    sp->table) < 0) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		/* R. is the new row of an insert. */
		for (p = sp->capture; *p; p++) {
			if (p[0] == 'R' && p[1] == '.' && mvms_buf_puts(&sql, "NEW") < 0)
				error = MVMS_ERROR;
			else if (!(p[0] == 'R' && p[1] == '.') && mvms_buf_put(&sql, p, 1) < 0)
				error = MVMS_ERROR;
		}
		if (error < 0 || mvms_buf_puts(&sql, "); END;") < 0) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		MVMS_TRY(mvms_db_exec(st->db, sql.ptr));
	}
done:
	mvms_buf_dispose(&sql);
	return error;
}

/* An older store's rows, captured as if each were inserted now (its first entry). */
static int snapshot(mvms_store *st)
{
	mvms_buf sql = MVMS_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < mvms_log__nspecs; i++) {
		const mvms_log_spec *sp = &mvms_log__specs[i];
		if (!sp->order)
			continue;
		mvms_buf_clear(&sql);
		if (mvms_buf_printf(&sql, "SELECT count(mvms_log_op(%s)) FROM %s AS R ORDER BY %s",
				    sp->capture, sp->table, sp->order) < 0) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		MVMS_TRY(mvms_db_exec(st->db, sql.ptr));
	}
done:
	mvms_buf_dispose(&sql);
	return error;
}

/* At open: a database without a log position starts one, with a first entry holding its
 * rows when it has any (a store made before the log; once). */
static int start(mvms_store *st)
{
	int64_t seq, rows = 0;
	uint64_t n;
	char key[64];
	int error = 0;

	MVMS_TRY(seq_get(&seq, st));
	if (seq >= 0)
		goto done;
	/* Entry 0 marks the log's start and proves the backend creates only-if-absent: a
	 * server that cannot (Swift: 501) is refused here, at init, not at the first push. */
	seq_key(key, sizeof(key), 0);
	error = mvms_backend_put_if_absent(st->be, key, "{\"format\":1,\"seq\":0}\n", 21);
	if (error == MVMS_ENOTSUPPORTED) {
		error = mvms_error_set(MVMS_ENOTSUPPORTED, "store: this S3 server does not support "
				       "conditional writes (%s), so several servers cannot share the "
				       "bucket; for a store whose only writer is this database, set "
				       "MVMS_SINGLE_WRITER=1 (docs/backends.md)", mvms_error_last());
		goto done;
	}
	if (error == MVMS_EEXISTS)
		mvms_error_clear();
	else
		MVMS_TRY(error);
	error = 0;
	MVMS_TRY(mvms_db_begin(st->db));
	MVMS_TRY(seq_get(&seq, st));
	if (seq >= 0)
		goto done;
	MVMS_TRY(mvms_store__u64(&n, st, "SELECT (SELECT count(*) FROM models) + "
				 "(SELECT count(*) FROM tokens)", "count rows"));
	rows = (int64_t)n;
	MVMS_TRY(seq_set(st, 0));
	if (rows)
		MVMS_TRY(snapshot(st));
	if ((error = mvms_db_commit(st->db)) == MVMS_ECONFLICT)
		error = mvms_error_set(MVMS_ECONFLICT, "store: this database predates the store's "
				       "log, and the bucket's log was started by another one: run "
				       "'mvms-store reindex' to rebuild it from the bucket");
done:
	mvms_db_rollback(st->db);
	return error;
}

/* After a commit failed: 1 when it lost its entry to another writer and the database has
 * caught up since, so the caller may try again. */
static int retry_hook(void *arg)
{
	return mvms_log__retry(arg, MVMS_ECONFLICT, NULL);
}

int mvms_log__retry(mvms_store *st, int error, unsigned *attempt)
{
	if (error != MVMS_ECONFLICT || !mvms_log__lost(st))
		return 0;
	if (attempt && ++*attempt > 50)
		return 0;
	/* A short random pause spreads writers that keep colliding. */
	if (attempt && *attempt > 1)
		usleep((useconds_t)(randombytes_uniform(20000) * (*attempt < 8 ? *attempt : 8)));
	if (mvms_log__catch_up(st) < 0)
		return 0;
	mvms_error_clear();
	return 1;
}

int mvms_log__open(mvms_store *st)
{
	int error = 0;
	const char *single = getenv("MVMS_SINGLE_WRITER");

	if (!(mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_PUT_IF_ABSENT) ||
	    (single && strcmp(single, "1") == 0))
		return 0;
	MVMS_TRY(mvms_db_log_setup(st->db, on_commit, retry_hook, st));
	MVMS_TRY(create_triggers(st));
	st->log_on = 1;
	MVMS_TRY(start(st));
	MVMS_TRY(mvms_log__catch_up(st));
done:
	return error;
}

int mvms_log__lost(mvms_store *st)
{
	int lost = st->log_lost;

	st->log_lost = 0;
	return lost;
}

/* ---- applying entries ---- */

typedef struct pack_list {
	mvms_oid *ids;
	size_t n, cap;
} pack_list;

static int list_pack(const char *key, uint64_t size, void *payload)
{
	pack_list *l = payload;
	const char *slash = strrchr(key, '/');
	mvms_oid id;

	(void)size;
	if (!slash || mvms_oid_parse(&id, slash + 1) < 0) {
		mvms_error_clear();
		return 0; /* not a pack's name: not ours */
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		mvms_oid *p = realloc(l->ids, cap * sizeof(*p));
		if (!p)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		l->ids = p;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
	return 0;
}

static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(mvms_oid));
}

/* Rows for pack @id read from the bucket: chunks another row names move to it (a gc's
 * rewrite). */
static int index_pack(mvms_store *st, const mvms_oid *id)
{
	static const char q_pack[] = "INSERT INTO packs(oid, size, chunk_count, created_at) "
				     "VALUES (?, ?, ?, ?)";
	static const char q_move[] = "UPDATE chunks SET pack_id = ?2, offset = ?3, raw_len = ?4, "
				     "stored_len = ?5, codec = ?6 WHERE oid = ?1";
	static const char q_chunk[] = "INSERT INTO chunks(oid, pack_id, offset, raw_len, "
				      "stored_len, codec) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	mvms_pack_entry *e = NULL;
	size_t n = 0, i, k;
	uint64_t size;
	int64_t row;
	char key[MVMS_KEY_MAX];
	sqlite3_stmt *s;
	int error = 0;

	mvms_object_key(key, sizeof(key), "packs", id);
	MVMS_TRY(mvms_pack_read_index(&e, &n, &size, st->be, key, id));
	if (!(s = mvms_db_stmt(st->db, q_pack))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)n);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "add pack"));
	row = sqlite3_last_insert_rowid(mvms_db_handle(st->db));
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			if (!(s = mvms_db_stmt(st->db, k ? q_chunk : q_move))) {
				error = MVMS_ERROR;
				goto done;
			}
			mvms_db_bind_oid(s, 1, &e[i].id);
			sqlite3_bind_int64(s, 2, row);
			sqlite3_bind_int64(s, 3, (int64_t)e[i].offset);
			sqlite3_bind_int64(s, 4, e[i].raw_len);
			sqlite3_bind_int64(s, 5, e[i].stored_len);
			sqlite3_bind_int(s, 6, e[i].codec);
			MVMS_TRY(mvms_db_step_done(st->db, s, "add chunk"));
			if (mvms_db_changes(st->db))
				break;
		}
	}
done:
	free(e);
	return error;
}

/* The database's packs made to match the bucket's: new ones indexed, rows of removed ones
 * (that no content uses) dropped. */
static int sync_packs(mvms_store *st)
{
	static const char q_all[] = "SELECT id, oid FROM packs";
	static const char q_drop[] =
		"DELETE FROM chunks WHERE pack_id = ?1 AND NOT EXISTS (SELECT 1 FROM content_chunks "
		"cc WHERE cc.chunk_id = chunks.id)";
	static const char q_drop_pack[] = "DELETE FROM packs WHERE id = ?1 AND NOT EXISTS "
					  "(SELECT 1 FROM chunks WHERE pack_id = ?1)";
	pack_list l = { 0 };
	unsigned char *known = NULL;
	int64_t *gone = NULL;
	size_t ngone = 0, cgone = 0, i;
	sqlite3_stmt *s;
	int error = 0, rc;

	MVMS_TRY(mvms_backend_list(st->be, "packs/", list_pack, &l));
	qsort(l.ids, l.n, sizeof(*l.ids), oid_cmp);
	known = calloc(l.n ? l.n : 1, 1);
	MVMS_CHECK_ALLOC(known, error);
	if (!(s = mvms_db_stmt(st->db, q_all))) {
		error = MVMS_ERROR;
		goto done;
	}
	while ((rc = mvms_db_step_row(st->db, s, "list packs")) == 1) {
		mvms_oid id;
		mvms_oid *hit;
		if ((error = mvms_db_column_oid(&id, s, 1)) < 0)
			break;
		if ((hit = bsearch(&id, l.ids, l.n, sizeof(*l.ids), oid_cmp))) {
			known[hit - l.ids] = 1;
			continue;
		}
		if (ngone == cgone) {
			int64_t *p = realloc(gone, (cgone = cgone ? 2 * cgone : 64) * sizeof(*p));
			if (!p) {
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				break;
			}
			gone = p;
		}
		gone[ngone++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (error < 0 || (error = rc) < 0)
		goto done;
	for (i = 0; i < l.n; i++)
		if (!known[i])
			MVMS_TRY(index_pack(st, &l.ids[i]));
	for (i = 0; i < ngone; i++) {
		const char *q[2] = { q_drop, q_drop_pack };
		int k;
		for (k = 0; k < 2; k++) {
			if (!(s = mvms_db_stmt(st->db, q[k]))) {
				error = MVMS_ERROR;
				goto done;
			}
			sqlite3_bind_int64(s, 1, gone[i]);
			MVMS_TRY(mvms_db_step_done(st->db, s, "drop a removed pack's rows"));
		}
	}
done:
	free(l.ids);
	free(known);
	free(gone);
	return error;
}

/* content_chunks rows of content @row from its chunk list; @synced says whether the packs
 * were read again already (once per entry). A chunk list the bucket no longer has belongs
 * to a content a later entry deletes (gc removed both). */
static int content_chunks(mvms_store *st, int64_t row, const mvms_oid *id, int *synced)
{
	static const char q_chunk[] = "SELECT id FROM chunks WHERE oid = ?";
	static const char q_cc[] = "INSERT INTO content_chunks(content_id, seq, chunk_id, offset) "
				   "VALUES (?, ?, ?, ?)";
	unsigned char *fm = NULL;
	size_t len = 0, n, i;
	uint64_t off = 0, want;
	char hex[MVMS_OID_HEXSZ + 1];
	sqlite3_stmt *s;
	int error = 0, rc;

	/* From its list pack (a "clist+" entry came first) or its own "files" object. */
	if (!(s = mvms_db_stmt(st->db, "SELECT chunk_count FROM contents WHERE id = ?"))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, row);
	rc = mvms_db_step_row(st->db, s, "look up content");
	want = rc == 1 ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	MVMS_TRY(rc < 0 ? rc : 0);
	if ((error = mvms_clists__read((void **)&fm, &len, st, id, want)) == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
		goto done;
	}
	MVMS_TRY(error);
	mvms_oid_fmt(hex, id);
	n = (size_t)mvms_le64_get(fm + 24);
	for (i = 0; i < n; i++) {
		const unsigned char *e = fm + 32 + 40 * i;
		int64_t chunk = 0;
		if (!(s = mvms_db_stmt(st->db, q_chunk))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_blob(s, 1, e, 32, SQLITE_TRANSIENT);
		rc = mvms_db_step_row(st->db, s, "look up chunk");
		if (rc == 1)
			chunk = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		MVMS_TRY(rc < 0 ? rc : 0);
		if (rc == 0 && !*synced) {
			*synced = 1;
			MVMS_TRY(sync_packs(st));
			i--; /* look again */
			continue;
		}
		if (rc == 0) {
			error = mvms_error_set(MVMS_ENOTFOUND, "store: file %s has a chunk that no "
					       "pack in the bucket holds", hex);
			goto done;
		}
		if (!(s = mvms_db_stmt(st->db, q_cc))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int64(s, 3, chunk);
		sqlite3_bind_int64(s, 4, (int64_t)off);
		MVMS_TRY(mvms_db_step_done(st->db, s, "add content chunk"));
		off += mvms_le64_get(e + 32);
	}
done:
	free(fm);
	return error;
}

/* Before a content row goes: its chunk rows and tensors (not logged: they follow from it). */
static int content_gone(mvms_store *st, const char *op)
{
	static const char *const q[] = {
		"DELETE FROM content_chunks WHERE content_id = (SELECT id FROM contents WHERE oid = "
		"mvms_unhex(json_extract(?1,'$.oid')))",
		"DELETE FROM tensors WHERE content_id = (SELECT id FROM contents WHERE oid = "
		"mvms_unhex(json_extract(?1,'$.oid')))",
	};
	sqlite3_stmt *s;
	size_t i;
	int error = 0;

	for (i = 0; i < 2; i++) {
		if (!(s = mvms_db_stmt(st->db, q[i])))
			return MVMS_ERROR;
		sqlite3_bind_text(s, 1, op, -1, SQLITE_TRANSIENT);
		MVMS_TRY(mvms_db_step_done(st->db, s, "drop a content's rows"));
	}
done:
	return error;
}

static int apply_op(mvms_store *st, int64_t seq, const char *t, const char *op, int *synced,
		    int *packs)
{
	const mvms_log_spec *sp = mvms_log__spec(t);
	sqlite3_stmt *s;
	mvms_oid id;
	int error = 0;

	if (!sp) {
		error = mvms_error_set(MVMS_EINVALID, "store: log entry %" PRId64 " has a change of "
				       "an unknown kind '%s' (a newer mvms-store wrote it?)", seq,
				       t ? t : "");
		goto done;
	}
	if (!sp->apply) {
		*packs = 1;
		goto done;
	}
	if (strcmp(t, "content-") == 0) {
		MVMS_TRY(content_gone(st, op));
		*packs = 1;
	}
	if (!(s = mvms_db_stmt(st->db, sp->apply))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, op, -1, SQLITE_TRANSIENT);
	MVMS_TRY(mvms_db_step_done(st->db, s, "apply the log"));
	if (mvms_db_changes(st->db) != 1) {
		error = mvms_error_set(MVMS_EMISMATCH, "store: log entry %" PRId64 " does not apply "
				       "to this database (%s): run 'mvms-store reindex'", seq, op);
		goto done;
	}
	if (strcmp(t, "content+") == 0) {
		const char *h = strstr(op, "\"oid\":\"");
		char hex[MVMS_OID_HEXSZ + 1] = { 0 };
		size_t k;
		for (k = 0; h && k < MVMS_OID_HEXSZ && h[7 + k]; k++)
			hex[k] = (char)(h[7 + k] >= 'A' && h[7 + k] <= 'F' ? h[7 + k] + 32 : h[7 + k]);
		MVMS_TRY(mvms_oid_parse(&id, hex));
		MVMS_TRY(content_chunks(st, sqlite3_last_insert_rowid(mvms_db_handle(st->db)), &id,
					synced));
	}
done:
	return error;
}

/* Applies entry @seq (@json, @len bytes) in the open transaction. */
static int apply_entry(mvms_store *st, int64_t seq, const char *json, size_t len)
{
	static const char q_head[] = "SELECT json_valid(?1) AND json_extract(?1, '$.seq') = ?2";
	static const char q_ops[] = "SELECT json_extract(value, '$.t'), value FROM "
				    "json_each(?1, '$.ops')";
	sqlite3_stmt *s;
	int error = 0, rc, synced = 0, packs = 0;

	if (!(s = mvms_db_stmt(st->db, q_head)))
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, json, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, seq);
	rc = mvms_db_step_row(st->db, s, "read a log entry");
	if (rc == 1 && sqlite3_column_int(s, 0) != 1)
		rc = mvms_error_set(MVMS_EMISMATCH, "store: log entry %" PRId64 " is not a log "
				    "entry of that number", seq);
	sqlite3_reset(s);
	MVMS_TRY(rc < 0 ? rc : 0);
	if (!(s = mvms_db_stmt(st->db, q_ops)))
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, json, (int)len, SQLITE_TRANSIENT);
	while ((rc = mvms_db_step_row(st->db, s, "read a log entry")) == 1) {
		char *t = mvms_db_column_strdup(s, 0), *op = mvms_db_column_strdup(s, 1);
		error = t && op ? apply_op(st, seq, t, op, &synced, &packs)
				: mvms_error_set(MVMS_ERROR, "out of memory");
		free(t);
		free(op);
		if (error < 0)
			break;
	}
	sqlite3_reset(s);
	MVMS_TRY(error);
	MVMS_TRY(rc);
	if (packs && !synced)
		MVMS_TRY(sync_packs(st));
done:
	return error;
}

/* Applies the entries after @seq that the bucket has, in the open transaction; *applied
 * counts them. */
static int apply_from(uint64_t *applied, mvms_store *st, int64_t seq)
{
	char key[64];
	void *buf = NULL;
	size_t len = 0;
	int error = 0;

	for (;;) {
		seq_key(key, sizeof(key), seq + 1);
		if ((error = mvms_backend_get_all(&buf, &len, st->be, key, LOG_ENTRY_MAX)) ==
		    MVMS_ENOTFOUND) {
			mvms_error_clear();
			error = 0;
			break;
		}
		MVMS_TRY(error);
		MVMS_TRY(apply_entry(st, seq + 1, buf, len));
		free(buf);
		buf = NULL;
		seq++;
		(*applied)++;
	}
	MVMS_TRY(seq_set(st, seq));
done:
	free(buf);
	return error;
}

int mvms_log__catch_up(mvms_store *st)
{
	int64_t seq;
	uint64_t applied = 0;
	char key[64];
	int error = 0;

	if (!st->log_on)
		return 0;
	/* Without the lock first: most calls find nothing new. */
	MVMS_TRY(seq_get(&seq, st));
	seq_key(key, sizeof(key), seq + 1);
	{
		uint64_t size;
		if ((error = mvms_backend_stat(&size, st->be, key)) == MVMS_ENOTFOUND) {
			mvms_error_clear();
			error = 0;
			st->log_refreshed = mvms_now();
			goto done;
		}
		MVMS_TRY(error);
	}
	MVMS_TRY(mvms_db_begin(st->db));
	mvms_db_log_capture(st->db, 0);
	MVMS_TRY(seq_get(&seq, st));
	MVMS_TRY(apply_from(&applied, st, seq));
	MVMS_TRY(mvms_db_commit(st->db));
	st->log_refreshed = mvms_now();
done:
	mvms_db_log_capture(st->db, 1);
	mvms_db_rollback(st->db);
	return error;
}

/* ---- public ---- */

int mvms_store_refresh(mvms_store *st, double max_age)
{
	if (!st)
		return mvms_error_set(MVMS_EINVALID, "store: no store");
	if (st->tp || !st->log_on) /* a server refreshes its own */
		return 0;
	if (max_age > 0 && mvms_now() - st->log_refreshed < max_age)
		return 0;
	return mvms_log__catch_up(st);
}

int mvms_store_reindex(uint64_t *entries, mvms_store *st)
{
	static const char *const wipe[] = {
		"DELETE FROM signatures", "DELETE FROM env_policies",
		/* rollouts name models and versions (no foreign keys, but replayed after
		 * them); version_stats and rollout_events stay: they are this database's */
		"DELETE FROM rollouts", "DELETE FROM deployment_shadows", "DELETE FROM env_settings",
		"DELETE FROM deployment_targets", "DELETE FROM deployment_revisions",
		"DELETE FROM tags", "DELETE FROM branches", "DELETE FROM files",
		"DELETE FROM version_meta", "DELETE FROM version_parents", "DELETE FROM tensors",
		"DELETE FROM content_chunks", "DELETE FROM versions", "DELETE FROM contents",
		"DELETE FROM content_lists",
		"DELETE FROM chunks", "DELETE FROM packs", "DELETE FROM tokens",
		"DELETE FROM models",
	};
	size_t i;
	int error = 0;

	*entries = 0;
	MVMS_LOCAL_ONLY(st, "rebuild a database from the bucket (run reindex where it lives)");
	if (!st->log_on) {
		error = mvms_error_set(MVMS_ENOTSUPPORTED, "store: this store keeps no log (its "
				       "backend cannot create objects only if absent, or "
				       "MVMS_SINGLE_WRITER is set): its database is the only record");
		goto done;
	}
	/* One transaction: the old database stays whole until the new one is. */
	MVMS_TRY(mvms_db_begin(st->db));
	mvms_db_log_capture(st->db, 0);
	for (i = 0; i < MVMS_ARRAY_SIZE(wipe); i++)
		MVMS_TRY(mvms_db_exec(st->db, wipe[i]));
	MVMS_TRY(sync_packs(st));
	MVMS_TRY(apply_from(entries, st, 0));
	MVMS_TRY(mvms_db_commit(st->db));
	st->log_refreshed = mvms_now();
done:
	if (st->db) {
		mvms_db_log_capture(st->db, 1);
		mvms_db_rollback(st->db);
	}
	return error;
}
