/* SPDX-License-Identifier: MIT */
/*
 * Between ops/history.c and ops/prune.c: deleting one version inside the caller's write
 * transaction, so that prune deletes all of its versions or none.
 */
#ifndef MVMS_OPS_HISTORY_INT_H
#define MVMS_OPS_HISTORY_INT_H

#include "store_int.h"
#include "mvms/history.h"

/* mvms_version_delete_ex on version row @row, in the caller's write transaction; @r (the
 * caller's, zeroed) gets what happened. */
int mvms_history__delete_row(mvms_delete_result *r, mvms_store *st, int64_t row,
			     const char *author, unsigned flags, int64_t now);

#endif
