/* SPDX-License-Identifier: MIT */
/* Unit tests: SQLite open, migrations to the newest schema (all the missing steps in one
 * transaction: a failing step leaves the database at its old level, without the steps before
 * it), pragmas, error mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "db.h"

static int scalar(mvms_db *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(mvms_db_handle(db), sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

int main(void)
{
	char dir[] = "/tmp/mvms-test-db-XXXXXX", path[256], cmd[300];
	mvms_db *db = NULL;
	sqlite3_stmt *a, *b;
	int rc;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store.db", dir);

	is_int(mvms_db_open(&db, path, 0), MVMS_ENOTFOUND, "missing database without create");
	is_int(mvms_db_open(&db, path, 1), 0, "create");
	is_int(mvms_db_level(db), mvms_db_level_latest(), "migrated to the newest level");
	ok(mvms_db_level_latest() >= 1, "at least one migration");
	is_int(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
			  "('models','versions','version_parents','branches','tags','files','contents',"
			  "'content_chunks','chunks','packs','tensors','version_meta','config')"),
	       13, "all tables exist");
	is_int(scalar(db, "PRAGMA foreign_keys"), 1, "foreign keys on");
	{
		sqlite3_stmt *s = NULL;
		int wal = 0;
		if (sqlite3_prepare_v2(mvms_db_handle(db), "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			wal = strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
		sqlite3_finalize(s);
		ok(wal, "WAL journal");
	}
	a = mvms_db_stmt(db, "SELECT 1");
	b = mvms_db_stmt(db, "SELECT 1");
	ok(a != NULL, "statement prepared");
	/* Two literals with the same text may or may not share storage; the cache is by pointer. */
	ok(b != NULL, "statement from cache or prepared again");
	is_int(mvms_db_exec(db, "INSERT INTO models(uid, name, created_at) VALUES ('u1', 'm', 0)"), 0,
	       "insert model");
	rc = mvms_db_exec(db, "INSERT INTO models(uid, name, created_at) VALUES ('u2', 'm', 0)");
	is_int(rc, MVMS_EEXISTS, "unique constraint maps to MVMS_EEXISTS");
	rc = mvms_db_exec(db, "INSERT INTO versions(oid, model_id, number, message, author, created_at, "
			      "file_count, logical_bytes) VALUES ('x', 999, 1, '', '', 0, 0, 0)");
	is_int(rc, MVMS_EEXISTS, "foreign key violation refused");
	is_int(mvms_db_begin(db), 0, "begin");
	is_int(mvms_db_exec(db, "INSERT INTO models(uid, name, created_at) VALUES ('u3', 'n', 0)"), 0,
	       "insert in transaction");
	mvms_db_rollback(db);
	is_int(scalar(db, "SELECT count(*) FROM models WHERE name = 'n'"), 0, "rollback undoes it");
	mvms_db_free(db);
	db = NULL;

	is_int(mvms_db_open(&db, path, 0), 0, "reopen");
	is_int(scalar(db, "SELECT count(*) FROM models"), 1, "data kept, migrations not re-run");
	/* step_row: a row, then done, and an error that fails at step time is an error with
	 * its name, never "no row" (which callers read as "not found"). */
	a = mvms_db_stmt(db, "SELECT 1");
	is_int(mvms_db_step_row(db, a, "one row"), 1, "step_row: a row is 1");
	is_int(mvms_db_step_row(db, a, "one row"), 0, "step_row: then done is 0");
	b = mvms_db_stmt(db, "SELECT abs(-9223372036854775807 - 1)");
	rc = mvms_db_step_row(db, b, "overflow");
	ok(rc < 0, "step_row: an error at step time is negative, not 0 (%d)", rc);
	ok(strstr(mvms_error_last(), "overflow") != NULL, "step_row: the message names what failed (%s)",
	   mvms_error_last());
	is_int(mvms_db_step_row(db, b, "overflow again"), rc, "step_row: the statement was reset");
	/* Back to level 11 without 012's tables but with 013's columns: 012 applies, 013's
	 * ALTER TABLE then fails on its duplicate column, and 012's tables go with it. */
	is_int(mvms_db_exec(db, "DROP TABLE deployment_shadows; DROP TABLE env_settings; "
			       "PRAGMA user_version = 11"), 0, "step back to level 11");
	mvms_db_free(db);
	db = NULL;
	rc = mvms_db_open(&db, path, 0);
	ok(rc < 0 && strstr(mvms_error_last(), "013_shadow_gate") != NULL,
	   "a failing step is named (%d: %s)", rc, mvms_error_last());
	mvms_db_free(db);
	db = NULL;
	{
		sqlite3 *h = NULL;
		sqlite3_stmt *s = NULL;
		int level = -1, tables = -1;
		if (sqlite3_open(path, &h) == SQLITE_OK &&
		    sqlite3_prepare_v2(h, "SELECT (SELECT user_version FROM pragma_user_version), "
				       "(SELECT count(*) FROM sqlite_master WHERE name IN "
				       "('deployment_shadows', 'env_settings'))", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW) {
			level = sqlite3_column_int(s, 0);
			tables = sqlite3_column_int(s, 1);
		}
		sqlite3_finalize(s);
		if (h && sqlite3_exec(h, "ALTER TABLE rollouts DROP COLUMN shadow_first; ALTER TABLE "
				      "rollouts DROP COLUMN max_diff_rate; ALTER TABLE rollouts DROP "
				      "COLUMN shadowing;", NULL, NULL, NULL) != SQLITE_OK)
			diag("could not drop 013's columns: %s", sqlite3_errmsg(h));
		sqlite3_close(h);
		is_int(level, 11, "the failed migration left the level as it was");
		is_int(tables, 0, "and undid the step before the failing one");
	}
	is_int(mvms_db_open(&db, path, 0), 0, "without the conflict, it migrates");
	is_int(mvms_db_level(db), mvms_db_level_latest(), "to the newest level");
	is_int(scalar(db, "SELECT count(*) FROM models"), 1, "data kept through it");
	is_int(mvms_db_exec(db, "PRAGMA user_version = 9999"), 0, "pretend a newer schema");
	mvms_db_free(db);
	db = NULL;
	is_int(mvms_db_open(&db, path, 0), MVMS_ENOTSUPPORTED, "a newer schema is refused clearly");
	ok(strstr(mvms_error_last(), "newer") != NULL, "message says the store is newer");
	mvms_db_free(db);
	mvms_db_free(NULL);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
