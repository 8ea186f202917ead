/* SPDX-License-Identifier: MIT */
/*
 * SQLite: open with pragmas, migrate, cache statements, run transactions and map
 * result codes. Queries about models, versions and chunks live in their own modules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "db.h"
#include "schema_sql.h"

/* Each statement the library prepares (about a hundred call sites of mvms_db_stmt, keyed by
 * their SQL's address) is cached once per handle. A server's handle lives long and runs
 * nearly all of them (reads, writes, gc, verify, tokens): room for all, with a margin. */
#define STMT_CACHE_MAX 256

struct mvms_db {
	sqlite3 *h;
	size_t nstmts;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} stmts[STMT_CACHE_MAX];
	/* The store's log (meta/log.c): row changes the capture triggers reported in the open
	 * transaction, as JSON objects joined by commas, and what writes them at commit. */
	mvms_buf log_ops;
	size_t log_nops;
	int log_flushed;       /* on_commit took this transaction's changes */
	int log_capture_off;   /* applying the log: its own rows are not captured again */
	int (*log_on_commit)(void *arg, const char *ops, size_t len);
	int (*log_retry)(void *arg);
	void *log_arg;
};

int mvms_db_error(mvms_db *db, int rc, const char *what)
{
	const char *msg = db && db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc);
	char buf[512];
	int sys = db && db->h ? sqlite3_system_errno(db->h) : 0;

	/* "disk I/O error" alone hides a full disk: say what the system said, once. */
	if (sys > 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ||
			(rc & 0xff) == SQLITE_CANTOPEN) && !strstr(msg, strerror(sys))) {
		snprintf(buf, sizeof(buf), "%s (%s)", msg, strerror(sys));
		msg = buf;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return mvms_error_set(MVMS_EEXISTS, "db: %s: %s", what, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return mvms_error_set(MVMS_ECONFLICT, "db: %s: the store is busy (%s)", what, msg);
	default:
		return mvms_error_set(MVMS_ERROR, "db: %s: %s", what, msg);
	}
}

/* Runs @sql; a failure says "db: WHAT: why" (sqlite3_exec's own message is the why that
 * mvms_db_error adds, so it is not passed on: it said everything twice). */
static int exec_as(mvms_db *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : mvms_db_error(db, rc, what);
}

static int exec_logged(mvms_db *db, const char *sql, const char *what);

int mvms_db_exec(mvms_db *db, const char *sql)
{
	/* A short statement (BEGIN, COMMIT, a PRAGMA) names itself. */
	const char *what = strlen(sql) <= 40 && !strchr(sql, ';') ? sql : "exec";

	/* A change outside a transaction goes to the log in one of its own (step_logged). */
	if (db->log_on_commit && sqlite3_get_autocommit(db->h) &&
	    (strncasecmp(sql, "INSERT", 6) == 0 || strncasecmp(sql, "UPDATE", 6) == 0 ||
	     strncasecmp(sql, "DELETE", 6) == 0 || strncasecmp(sql, "REPLACE", 7) == 0))
		return exec_logged(db, sql, what);
	return exec_as(db, sql, what);
}

int mvms_db_level_latest(void)
{
	return mvms_schema[MVMS_ARRAY_SIZE(mvms_schema) - 1].level;
}

int mvms_db_level(mvms_db *db)
{
	sqlite3_stmt *st = NULL;
	int level = -1;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		level = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return level;
}

/* Level 2 added versions.generation: number the versions that were there before. */
static int backfill_generation(mvms_db *db)
{
	sqlite3_stmt *ids = NULL, *upd = NULL;
	int error = 0, rc;

	if (sqlite3_prepare_v2(db->h, "SELECT id FROM versions ORDER BY id", -1, &ids, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->h,
			       "UPDATE versions SET generation = 1 + coalesce((SELECT max(p.generation) "
			       "FROM version_parents vp JOIN versions p ON p.id = vp.parent "
			       "WHERE vp.child = ?1), 0) WHERE id = ?1", -1, &upd, NULL) != SQLITE_OK) {
		error = mvms_db_error(db, sqlite3_errcode(db->h), "backfill generations");
		goto done;
	}
	while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(ids, 0));
		if ((rc = sqlite3_step(upd)) != SQLITE_DONE) {
			error = mvms_db_error(db, rc, "backfill generations");
			goto done;
		}
		sqlite3_reset(upd);
	}
	if (rc != SQLITE_DONE)
		error = mvms_db_error(db, rc, "backfill generations");
done:
	sqlite3_finalize(ids);
	sqlite3_finalize(upd);
	return error;
}

/* The schema files a database lacks run in one transaction, together with the user_version
 * bump, so a crash leaves the database at its previous level, never half-way. One commit,
 * not one per file: a new database (every fresh store and remote pull cache) is created
 * with one sync of its log instead of one per file, which was most of a fresh cache's
 * set-up time. Several processes may open a new or old store at once: the transaction takes
 * the write lock (BEGIN IMMEDIATE, waiting out the busy timeout) and reads the level again
 * under it, so steps another process applied meanwhile are skipped, not run twice. */
static int migrate(mvms_db *db)
{
	const char *failed = "";
	int error = 0, level;
	size_t i;
	char pragma[64];

	level = mvms_db_level(db);
	if (level < 0)
		return mvms_db_error(db, sqlite3_errcode(db->h), "read schema level");
	if (level > mvms_db_level_latest())
		return mvms_error_set(MVMS_ENOTSUPPORTED,
				      "db: the store's schema level %d is newer than this program's (%d): "
				      "upgrade mvms-store", level, mvms_db_level_latest());
	if (level == mvms_db_level_latest())
		return 0;
	MVMS_TRY(mvms_db_begin(db));
	if ((level = mvms_db_level(db)) < 0) {
		error = mvms_db_error(db, sqlite3_errcode(db->h), "read schema level");
		mvms_db_rollback(db);
		goto done;
	}
	for (i = 0; i < MVMS_ARRAY_SIZE(mvms_schema) && error == 0; i++) {
		if (mvms_schema[i].level <= level)
			continue;
		failed = mvms_schema[i].name;
		if ((error = exec_as(db, mvms_schema[i].sql, "apply")) == 0 && mvms_schema[i].level == 2)
			error = backfill_generation(db);
	}
	if (error == 0) {
		failed = "commit";
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", mvms_db_level_latest());
		if ((error = mvms_db_exec(db, pragma)) == 0)
			error = mvms_db_commit(db);
	}
	if (error < 0) {
		const char *why = mvms_error_last();
		mvms_db_rollback(db);
		if (strncmp(why, "db: ", 4) == 0) /* one "db: " is enough */
			why += 4;
		mvms_error_set(error, "db: migration %s failed: %s", failed, why);
	}
done:
	return error;
}

/* Switching a new database to WAL needs it to itself, and SQLite answers BUSY at once,
 * without the busy handler, while another process opens it too (pushes creating one store
 * at once): retry for as long as the busy timeout would wait. The mode is then recorded in
 * the file, and later opens find it set. */
static int wal_mode(mvms_db *db)
{
	int error = 0, i;

	for (i = 0; i < 3000; i++) {
		error = mvms_db_exec(db, "PRAGMA journal_mode = WAL");
		if (error != MVMS_ECONFLICT)
			break;
		sqlite3_sleep(10);
	}
	return error;
}

int mvms_db_open(mvms_db **out, const char *path, int create)
{
	mvms_db *db = NULL;
	int error = 0, rc;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	*out = NULL;
	if (!create && access(path, F_OK) != 0) {
		error = mvms_error_set(MVMS_ENOTFOUND, "db: %s: no such database", path);
		goto done;
	}
	db = calloc(1, sizeof(*db));
	MVMS_CHECK_ALLOC(db, error);
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		error = mvms_db_error(db, rc, path);
		goto done;
	}
	sqlite3_extended_result_codes(db->h, 1);
	/* Writers wait for each other rather than fail: pushes are short transactions. */
	sqlite3_busy_timeout(db->h, 30000);
	MVMS_TRY(wal_mode(db));
	MVMS_TRY(exec_as(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; "
			     "PRAGMA cache_size = -16384;", "set up the connection"));
	MVMS_TRY(migrate(db));
	*out = db;
	db = NULL;
done:
	mvms_db_free(db);
	return error;
}

void mvms_db_free(mvms_db *db)
{
	size_t i;

	if (!db)
		return;
	for (i = 0; i < db->nstmts; i++)
		sqlite3_finalize(db->stmts[i].st);
	sqlite3_close_v2(db->h);
	mvms_buf_dispose(&db->log_ops);
	free(db);
}

sqlite3 *mvms_db_handle(mvms_db *db)
{
	return db->h;
}

sqlite3_stmt *mvms_db_stmt(mvms_db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	for (i = 0; i < db->nstmts; i++) {
		if (db->stmts[i].sql == sql) {
			st = db->stmts[i].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		mvms_db_error(db, rc, "prepare");
		return NULL;
	}
	if (db->nstmts < STMT_CACHE_MAX) {
		db->stmts[db->nstmts].sql = sql;
		db->stmts[db->nstmts].st = st;
		db->nstmts++;
	} else {
		/* Never expected (the library has fewer statements); fail loudly, not leak. */
		sqlite3_finalize(st);
		mvms_error_set(MVMS_ERROR, "db: statement cache full");
		return NULL;
	}
	return st;
}

int mvms_db_begin(mvms_db *db)
{
	return mvms_db_exec(db, "BEGIN IMMEDIATE");
}

int mvms_db_read_begin(mvms_db *db, int *began)
{
	int error = 0;

	*began = 0;
	if (sqlite3_get_autocommit(db->h) && (error = mvms_db_exec(db, "BEGIN")) == 0)
		*began = 1;
	return error;
}

void mvms_db_read_end(mvms_db *db, int began)
{
	if (began)
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
}

int mvms_db_commit(mvms_db *db)
{
	int error = 0;

	/* The log entry first: a commit whose entry could not be written commits nothing. */
	if (db->log_nops && db->log_on_commit && !db->log_flushed) {
		MVMS_TRY(db->log_on_commit(db->log_arg, db->log_ops.ptr, db->log_ops.size));
		db->log_flushed = 1;
	}
	error = mvms_db_exec(db, "COMMIT");
	if (error == 0) {
		mvms_buf_clear(&db->log_ops);
		db->log_nops = 0;
		db->log_flushed = 0;
	}
done:
	return error;
}

void mvms_db_rollback(mvms_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* A statement outside a transaction runs in one of its own, so that a row change it makes
 * goes to the log like any other; one that lost its entry to another writer runs again once
 * the database has caught up (a UNIQUE name taken meanwhile is then refused as it would be). */
static int step_logged(mvms_db *db, sqlite3_stmt *st, const char *what)
{
	int error = 0, rc, n;

	for (n = 0;; n++) {
		MVMS_TRY(mvms_db_begin(db));
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			error = mvms_db_error(db, rc, what);
		sqlite3_reset(st);
		if (error == 0 && (error = mvms_db_commit(db)) == 0)
			break;
		mvms_db_rollback(db);
		if (error != MVMS_ECONFLICT || n >= 20 || !db->log_retry || !db->log_retry(db->log_arg))
			break;
		error = 0;
		mvms_error_clear();
	}
done:
	return error;
}

static int exec_logged(mvms_db *db, const char *sql, const char *what)
{
	int error = 0, n;

	for (n = 0;; n++) {
		MVMS_TRY(mvms_db_begin(db));
		if ((error = exec_as(db, sql, what)) == 0 && (error = mvms_db_commit(db)) == 0)
			break;
		mvms_db_rollback(db);
		if (error != MVMS_ECONFLICT || n >= 20 || !db->log_retry || !db->log_retry(db->log_arg))
			break;
		error = 0;
		mvms_error_clear();
	}
done:
	return error;
}

int mvms_db_step_done(mvms_db *db, sqlite3_stmt *st, const char *what)
{
	int rc, error = 0;

	if (db->log_on_commit && sqlite3_get_autocommit(db->h))
		return step_logged(db, st, what);
	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		error = mvms_db_error(db, rc, what);
	sqlite3_reset(st);
	return error;
}

int mvms_db_step_row(mvms_db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mvms_db_error(db, rc, what);
}

int mvms_db_changes(mvms_db *db)
{
	return sqlite3_changes(db->h);
}

int mvms_db_bind_oid(sqlite3_stmt *st, int idx, const mvms_oid *id)
{
	return sqlite3_bind_blob(st, idx, id->id, MVMS_OID_RAWSZ, SQLITE_TRANSIENT) == SQLITE_OK
		       ? 0
		       : mvms_error_set(MVMS_ERROR, "db: bind failed");
}

int mvms_db_column_oid(mvms_oid *out, sqlite3_stmt *st, int col)
{
	const void *p = sqlite3_column_blob(st, col);

	if (!p || sqlite3_column_bytes(st, col) != MVMS_OID_RAWSZ)
		return mvms_error_set(MVMS_EMISMATCH, "db: malformed object id in the database");
	memcpy(out->id, p, MVMS_OID_RAWSZ);
	return 0;
}

char *mvms_db_column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *p = sqlite3_column_text(st, col);

	return strdup(p ? (const char *)p : "");
}

/* ---- the log's capture (meta/log.c says what is captured and why) ---- */

static void log_reset(mvms_db *db)
{
	mvms_buf_clear(&db->log_ops);
	db->log_nops = 0;
	db->log_flushed = 0;
}

/* mvms_log_op(json): a capture trigger's row change, kept for the commit's log entry. */
static void log_op_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	mvms_db *db = sqlite3_user_data(ctx);
	const char *op = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	if (db->log_capture_off || !op)
		return;
	/* Repeated markers (one per moved chunk) say no more than the first. */
	if (op[0] == '{' && strstr(op, "\"t\":\"packs\"") && db->log_nops &&
	    strstr(db->log_ops.ptr, "\"t\":\"packs\""))
		return;
	if ((db->log_nops && mvms_buf_puts(&db->log_ops, ",") < 0) ||
	    mvms_buf_puts(&db->log_ops, op) < 0) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	db->log_nops++;
}

/* mvms_unhex(text): the bytes of a hex string (SQLite 3.40 has no unhex()); NULL when it
 * is not one. */
static void unhex_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *h = (const char *)sqlite3_value_text(argv[0]);
	unsigned char buf[256];
	size_t n, i;

	(void)argc;
	if (!h || (n = strlen(h)) % 2 || n / 2 > sizeof(buf))
		return;
	for (i = 0; i < n / 2; i++) {
		unsigned v = 0, k;
		for (k = 0; k < 2; k++) {
			char c = h[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return;
		}
		buf[i] = (unsigned char)v;
	}
	sqlite3_result_blob(ctx, buf, (int)(n / 2), SQLITE_TRANSIENT);
}

/* A change captured but not handed to the log would exist in this database only: refuse
 * the commit (a statement outside mvms_db_begin/commit, which the tests then show). */
static int log_commit_hook(void *arg)
{
	mvms_db *db = arg;

	return db->log_nops && db->log_on_commit && !db->log_flushed;
}

static void log_rollback_hook(void *arg)
{
	log_reset(arg);
}

int mvms_db_log_setup(mvms_db *db, int (*on_commit)(void *arg, const char *ops, size_t len),
		      int (*retry)(void *arg), void *arg)
{
	int rc = sqlite3_create_function(db->h, "mvms_log_op", 1, SQLITE_UTF8, db, log_op_fn,
					 NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db->h, "mvms_unhex", 1,
					     SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, unhex_fn,
					     NULL, NULL);
	if (rc != SQLITE_OK)
		return mvms_db_error(db, rc, "set up the log's functions");
	db->log_on_commit = on_commit;
	db->log_retry = retry;
	db->log_arg = arg;
	sqlite3_commit_hook(db->h, log_commit_hook, db);
	sqlite3_rollback_hook(db->h, log_rollback_hook, db);
	return 0;
}

void mvms_db_log_capture(mvms_db *db, int on)
{
	db->log_capture_off = !on;
}

void mvms_db_log_done(mvms_db *db)
{
	log_reset(db);
}
