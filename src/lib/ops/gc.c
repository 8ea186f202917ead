/* SPDX-License-Identifier: MIT */
/*
 * The entry point of garbage collection (deleting versions is ops/history.c). Reachability is computed in
 * SQL (recursive CTEs from every branch head, tag and current deployment target, in
 * meta/gcrows.c); the sweep over what the backend lists is in sweep.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "mvms/gc.h"

int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run)
{
	mvms_gc_options o;

	memset(&o, 0, sizeof(o));
	o.grace_seconds = grace_seconds;
	o.dry_run = dry_run;
	return mvms_store_gc_ex(out, st, &o);
}
