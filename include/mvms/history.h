/* SPDX-License-Identifier: MIT */
/*
 * Editing history without lying about it: moving, renaming and deleting branches, a model's
 * default branch, deleting tags, deleting versions anywhere in the DAG (a deleted version
 * stays as a tombstone: id, parents, author, time and message are kept, its files go and gc
 * reclaims every byte only it held), deleting whole models, and pruning by a retention rule.
 */
#ifndef MVMS_HISTORY_H
#define MVMS_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MVMS_HISTORY_FORCE   1u  /* also what is held (a tag, a deployment, the default branch) */
#define MVMS_HISTORY_NO_MOVE 2u  /* delete: refuse when a branch points at the version */
#define MVMS_HISTORY_DRY_RUN 4u  /* say what would happen, change nothing */

/* ---- branches and tags ---- */

/**
 * Moves (or, when absent and @expect is NULL, creates) branch @name of @model to version
 * @to (MODEL@REF of the same model), in one compare-and-swap: with @expect (MODEL@REF or
 * REF), only if the branch is at that version now. @return 0; MVMS_ECONFLICT when the branch
 * is not where @expect says (or moved meanwhile); MVMS_ENOTFOUND; MVMS_EINVALID (another
 * model's version, a deleted version, a bad name).
 */
int mvms_branch_move(mvms_store *st, const char *model, const char *name, const char *to,
		     const char *expect);
/**
 * Deletes branch @name. The model's default branch only with MVMS_HISTORY_FORCE or when it
 * is the model's last branch (MVMS_EINVALID otherwise). mvms_branch_delete is this with 0.
 */
int mvms_branch_remove(mvms_store *st, const char *model, const char *name, unsigned flags);
/** Renames a branch (the default branch's name follows). MVMS_EEXISTS when @new_name is taken. */
int mvms_branch_rename(mvms_store *st, const char *model, const char *old_name,
		       const char *new_name);
/** Makes existing branch @name the model's default: what MODEL and MODEL@latest name. */
int mvms_branch_set_default(mvms_store *st, const char *model, const char *name);
/** The model's default branch name (free()). */
int mvms_branch_get_default(char **out, mvms_store *st, const char *model);
/** Deletes tag @name of @model. MVMS_ENOTFOUND when there is none. */
int mvms_tag_delete(mvms_store *st, const char *model, const char *name);

/* ---- deleting versions ---- */

typedef struct mvms_branch_moved {
	char *branch;
	int64_t number;            /* where it went: the first live ancestor */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
} mvms_branch_moved;

typedef struct mvms_delete_result {
	char *model;
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	char *deleted_by;
	int64_t deleted_at;
	size_t moved_count;        /* branches that pointed at it, moved to its first live ancestor */
	mvms_branch_moved *moved;
	size_t held_count;         /* with MVMS_HISTORY_FORCE: "tag rel-1", "deployment prod" that */
	char **held;               /* still name it (they now name a deleted version) */
} mvms_delete_result;
void mvms_delete_result_free(mvms_delete_result *r);

/**
 * Deletes version @spec anywhere in the history: it becomes a tombstone (its row and its
 * parent edges stay, its files go; gc then removes every byte no other version uses).
 * Branches that point at it move to its first live ancestor along first parents, in the
 * same model (MVMS_ECONFLICT with MVMS_HISTORY_NO_MOVE, or when there is none). Refused with
 * MVMS_ECONFLICT while a tag or a current deployment names it, unless MVMS_HISTORY_FORCE.
 * @author: who deletes (NULL: the default author). With MVMS_HISTORY_DRY_RUN nothing
 * changes. @return 0; MVMS_ENOTFOUND (also when it is deleted already); MVMS_ECONFLICT.
 * *out (may be NULL) says what happened.
 */
int mvms_version_delete_ex(mvms_delete_result **out, mvms_store *st, const char *spec,
			   const char *author, unsigned flags);

/* ---- deleting models ---- */

typedef struct mvms_model_delete_result {
	int64_t versions, branches, tags, environments, revisions;
} mvms_model_delete_result;

/**
 * Deletes model @model with its versions, branches, tags and deployments (with
 * MVMS_HISTORY_DRY_RUN: only counts them). Content goes at the next gc. Refused with
 * MVMS_ECONFLICT when a version of another model was made from one of its versions.
 */
int mvms_model_delete(mvms_model_delete_result *out, mvms_store *st, const char *model,
		      unsigned flags);

/* ---- pruning ---- */

#define MVMS_PRUNE_OPTIONS_VERSION 1
typedef struct mvms_prune_options {
	unsigned int version;      /* MVMS_PRUNE_OPTIONS_VERSION */
	const char *branch;        /* NULL: every version of the model; else those on the branch */
	int64_t keep_last;         /* the newest N (by number) are kept; >= 0 */
	int keep_tagged;           /* keep versions a tag names */
	int keep_deployed;         /* keep versions a current deployment names */
	int64_t older_than;        /* > 0: only versions created more than this many seconds ago */
	int dry_run;
	const char *author;        /* NULL: the default author */
	int64_t now;               /* 0: the clock (tests) */
} mvms_prune_options;
#define MVMS_PRUNE_OPTIONS_INIT { MVMS_PRUNE_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0, NULL, 0 }

typedef struct mvms_prune_result {
	size_t count;              /* versions deleted (or, dry, that would be), newest first */
	mvms_version_info **versions;
	char **why;                /* per version: "" or "tag rel-1", "deployment prod" it overrode */
	size_t kept;               /* live versions considered and kept */
	size_t moved_count;        /* branches moved */
	mvms_branch_moved *moved;
} mvms_prune_result;
void mvms_prune_result_free(mvms_prune_result *r);

/**
 * Deletes, through mvms_version_delete_ex, the live versions of @model (or of its branch
 * opts->branch) beyond the newest keep_last, except branch heads, and (by the options)
 * tagged ones, deployed ones and ones younger than older_than. One transaction: all or none.
 */
int mvms_prune(mvms_prune_result **out, mvms_store *st, const char *model,
	       const mvms_prune_options *opts);

#ifdef __cplusplus
}
#endif
#endif
