/* SPDX-License-Identifier: MIT */
/*
 * Store checks the unit tests share: a number a query of the store's database gives, how
 * many versions a store holds, and whether verify finds it clean. Include after tap.h and
 * store_int.h.
 */
#ifndef MVMS_TESTSTORE_H
#define MVMS_TESTSTORE_H

#include <stdint.h>
#include "store_int.h"
#include "mvms/store.h"

/* The first column of @sql's first row on @st's database, -1 without one (or on error). */
static inline int64_t q64(mvms_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(mvms_db_handle(st->db), sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Rows in versions, UINT64_MAX when they cannot be counted. */
static inline uint64_t versions(mvms_store *st)
{
	uint64_t n = 0;

	if (mvms_store__u64(&n, st, "SELECT count(*) FROM versions", "versions") < 0)
		return UINT64_MAX;
	return n;
}

/* 1 when a full verify of @st runs and finds no problem (the error is printed if it fails). */
static inline int verify_clean(mvms_store *st)
{
	mvms_verify_result vr;
	int rc = mvms_store_verify(&vr, st, NULL, NULL, NULL);

	if (rc < 0)
		diag("verify: %s", mvms_error_last());
	return rc == 0 && vr.problems == 0;
}

#endif
