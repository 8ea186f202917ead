/* SPDX-License-Identifier: MIT */
/*
 * Deleting versions, and the entry point of garbage collection. Reachability is computed in
 * SQL (recursive CTEs from every branch head, tag and current deployment target, in
 * meta/gcrows.c); the sweep over what the backend lists is in sweep.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "mvms/gc.h"
#include "gcrows.h"
#include "transport.h"

int mvms_version_delete(mvms_store *st, const char *spec)
{
	MVMS_TRANSPORT_CALL(st, version_delete, (st, spec));
	mvms_version_info *v = NULL;
	char what[256];
	int64_t row, n;
	int error = 0, began = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_refs__resolve_row(&row, &v, st, spec));
	MVMS_TRY(mvms_gcrows_holder(what, sizeof(what), st->db, row));
	if (*what) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld is reached by %s: move or delete "
				       "that first", v->model, (long long)v->number, what);
		goto done;
	}
	MVMS_TRY(mvms_gcrows_children(&n, st->db, row));
	if (n) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld is a parent of %lld other "
				       "version%s: delete them first", v->model, (long long)v->number,
				       (long long)n, n == 1 ? "" : "s");
		goto done;
	}
	MVMS_TRY(mvms_gcrows_deployed(&n, st->db, row));
	if (n) {
		error = mvms_error_set(MVMS_EINVALID, "delete: %s@v%lld appears in a deployment's "
				       "history, which is kept forever", v->model, (long long)v->number);
		goto done;
	}
	MVMS_TRY(mvms_gcrows_delete_version(st->db, row));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_version_info_free(v);
	return error;
}

int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run)
{
	mvms_gc_options o;

	memset(&o, 0, sizeof(o));
	o.grace_seconds = grace_seconds;
	o.dry_run = dry_run;
	return mvms_store_gc_ex(out, st, &o);
}
