/* SPDX-License-Identifier: MIT */
/*
 * SQLite access for libmvms: opening with the store's pragmas (WAL, foreign keys, busy
 * timeout), schema migrations from schema/NNN_*.sql, a cache of prepared statements,
 * transactions, and the one place where SQLite result codes become MVMS_E* codes.
 * It knows nothing of models or versions: the queries live in the modules that use them.
 */
#ifndef MVMS_DB_H
#define MVMS_DB_H

#include <sqlite3.h>
#include "common.h"

typedef struct mvms_db mvms_db;

/** Opens (creating when @create) the database at @path and migrates it to the newest
 * schema. MVMS_ENOTFOUND when it does not exist and !create. */
int mvms_db_open(mvms_db **out, const char *path, int create);
void mvms_db_free(mvms_db *db);

/** The raw handle, for sqlite3_* calls on statements from mvms_db_stmt. */
sqlite3 *mvms_db_handle(mvms_db *db);

/** The schema level the database is at (PRAGMA user_version), and the newest known. */
int mvms_db_level(mvms_db *db);
int mvms_db_level_latest(void);

/**
 * A prepared statement for @sql, cached by the pointer @sql (pass string literals), reset
 * and with bindings cleared. Borrowed: do not finalize. NULL with the error set on failure.
 */
sqlite3_stmt *mvms_db_stmt(mvms_db *db, const char *sql);

/** Runs SQL without results. */
int mvms_db_exec(mvms_db *db, const char *sql);

/** BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails). */
int mvms_db_begin(mvms_db *db);
int mvms_db_commit(mvms_db *db);
/* A read transaction around many lookups, unless one is open already (*began says which):
 * each lookup on its own would take and drop SQLite's file lock and stat its journal. */
int mvms_db_read_begin(mvms_db *db, int *began);
void mvms_db_read_end(mvms_db *db, int began);
void mvms_db_rollback(mvms_db *db);

/** Converts an SQLite result code into an MVMS_E* code with a message:
 * CONSTRAINT -> MVMS_EEXISTS, BUSY/LOCKED -> MVMS_ECONFLICT, others -> MVMS_ERROR. */
int mvms_db_error(mvms_db *db, int rc, const char *what);

/** Steps a statement expected to finish without rows (INSERT/UPDATE/DELETE). */
int mvms_db_step_done(mvms_db *db, sqlite3_stmt *st, const char *what);

/**
 * Steps a query: 1 when it gives a row (read its columns, then step again or reset), 0
 * when it is done (reset), a negative MVMS_E* with "db: WHAT: why" set on a database error
 * (reset). A database error is never an absent row: callers that turn 0 into
 * MVMS_ENOTFOUND cannot mistake a locked or broken database for a missing one.
 */
int mvms_db_step_row(mvms_db *db, sqlite3_stmt *st, const char *what);

/** sqlite3_changes() of the last statement. */
int mvms_db_changes(mvms_db *db);

/** Binds a 32-byte id as a BLOB (copied). */
int mvms_db_bind_oid(sqlite3_stmt *st, int idx, const mvms_oid *id);
/** Reads a BLOB column into an oid; MVMS_EMISMATCH if it is not 32 bytes. */
int mvms_db_column_oid(mvms_oid *out, sqlite3_stmt *st, int col);
/** Duplicates a TEXT column ("" for NULL); NULL on out of memory. */
char *mvms_db_column_strdup(sqlite3_stmt *st, int col);

/*
 * The store's log (meta/log.c). setup registers the SQL functions the capture triggers call
 * (mvms_log_op, mvms_unhex) and @on_commit, which mvms_db_commit calls with the changes the
 * transaction captured (JSON objects joined by commas) before COMMIT: its failure fails
 * the commit. A transaction that captured changes and commits any other way is refused.
 * A statement stepped outside a transaction (mvms_db_step_done) gets one of its own, run
 * again while @retry (after a lost entry: catch up) says so.
 * capture(0) stops capturing (applying the log); done forgets what was captured (after a
 * commit).
 */
int mvms_db_log_setup(mvms_db *db, int (*on_commit)(void *arg, const char *ops, size_t len),
		      int (*retry)(void *arg), void *arg);
void mvms_db_log_capture(mvms_db *db, int on);
void mvms_db_log_done(mvms_db *db);

#endif
