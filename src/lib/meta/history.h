/* SPDX-License-Identifier: MIT */
/*
 * The SQL of editing history (history.c): tombstones (a deleted version's row stays, its
 * files rows go), what names a version, first live ancestors, a model's default branch,
 * renaming branches, deleting tags and whole models, and the versions prune looks at.
 * What to do with them is decided in ops/history.c and ops/prune.c.
 */
#ifndef MVMS_META_HISTORY_H
#define MVMS_META_HISTORY_H

#include "store_int.h"
#include "mvms/history.h"

/* A list of strings (free with mvms_history__strv_free). */
void mvms_history__strv_free(char **v, size_t n);

/* MVMS_ENOTFOUND "MODEL@vN was deleted by WHO at TIME: its files are gone" when version @row
 * is a tombstone, 0 when it is live. */
int mvms_history__live(mvms_store *st, int64_t row);
/* The same for a loaded version. */
int mvms_history__live_info(const mvms_version_info *v);
/* That error for version @number of @model, deleted by @by at @at (ISO 8601): the one
 * wording, for a local store and for a server's answer alike. */
int mvms_history__deleted_error(const char *model, int64_t number, const char *by, const char *at);
/* The branches of @row's model that point at @row, sorted. */
int mvms_history__branches_at(char ***out, size_t *n, mvms_store *st, int64_t row);
/* What else names @row directly: "tag NAME" and "deployment ENV" (current revisions). */
int mvms_history__holders(char ***out, size_t *n, mvms_store *st, int64_t row);
/* The first live version along @row's first parents in its own model (*out 0: none). */
int mvms_history__live_ancestor(int64_t *out, mvms_store *st, int64_t row);
/* Makes @row a tombstone: deleted_at/by set, its files rows removed (caller's transaction).
 * MVMS_ENOTFOUND when it is one already. */
int mvms_history__tombstone(mvms_store *st, int64_t row, const char *author, int64_t now);

/* A model's default branch (free()); setting it checks nothing (callers do). */
int mvms_history__default_branch(char **out, mvms_store *st, int64_t model_id);
int mvms_history__set_default(mvms_store *st, int64_t model_id, const char *name);
/* How many branches model @model_id has. */
int mvms_history__branch_count(int64_t *out, mvms_store *st, int64_t model_id);
/* Deletes / renames a branch row: MVMS_ENOTFOUND when there is none. */
int mvms_history__branch_drop(mvms_store *st, int64_t model_id, const char *name);
int mvms_history__branch_rename(mvms_store *st, int64_t model_id, const char *from,
				const char *to);
/* Deletes a tag row: MVMS_ENOTFOUND when there is none. */
int mvms_history__tag_drop(mvms_store *st, int64_t model_id, const char *name);

/* What deleting model @model_id removes. */
int mvms_history__model_counts(mvms_model_delete_result *out, mvms_store *st, int64_t model_id);
/* How many versions of other models (and of how many models) have a parent in model
 * @model_id. */
int mvms_history__model_dependents(int64_t *versions, int64_t *models, mvms_store *st,
				   int64_t model_id);
/* Removes the model and everything that is its (caller's transaction). */
int mvms_history__model_drop(mvms_store *st, int64_t model_id);

/* A live version prune looks at. */
typedef struct mvms_history__cand {
	int64_t row, number, created_at;
	int head;              /* some branch points at it */
	char *tag, *env;       /* a tag / current deployment naming it (NULL: none) */
} mvms_history__cand;
/* The live versions of model @model_id (or, @head non-zero, those reachable from @head in
 * that model), newest (highest number) first. */
int mvms_history__candidates(mvms_history__cand **out, size_t *n, mvms_store *st,
			     int64_t model_id, int64_t head);
void mvms_history__candidates_free(mvms_history__cand *c, size_t n);

#endif
