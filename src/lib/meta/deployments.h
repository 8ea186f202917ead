/* SPDX-License-Identifier: MIT */
/*
 * The deployment_revisions and deployment_targets tables: a model environment's current
 * revision, the targets of a revision, a revision's record, writing a new revision, and the
 * revisions to list. What a change does to the targets is ops/deploy.c's.
 */
#ifndef MVMS_DEPLOYMENTS_H
#define MVMS_DEPLOYMENTS_H

#include "db.h"
#include "mvms/deploy.h"

/* One target of a revision, as stored. */
typedef struct mvms_deploy_row {
	int64_t version_row;
	int weight;
	char *endpoint;
} mvms_deploy_row;

void mvms_deploy_rows_free(mvms_deploy_row *rows, size_t n);

/* A revision's record, to write. */
typedef struct mvms_deploy_record {
	int64_t model_id;
	const char *env;
	int64_t revision;
	const char *action;        /* "deploy", "undeploy", "rollback" */
	int64_t from_revision;
	const char *author, *reason;
} mvms_deploy_record;

/* The current revision of @env (0 when never deployed), by model row or by model name. */
int mvms_deployments_current(int64_t *out, mvms_db *db, int64_t model_id, const char *env);
int mvms_deployments_current_named(int64_t *out, mvms_db *db, const char *model, const char *env);
/* The targets of one revision, as rows (for building the next revision). */
int mvms_deployments_rows(mvms_deploy_row **out, size_t *count, mvms_db *db, int64_t model_id,
			  const char *env, int64_t revision);
/* The endpoint last recorded for version @version_row in @env (its newest revision that
 * lists it, cleared or not): 1 with *out set (free it), or 0 when no revision lists it. */
int mvms_deployments_last_endpoint(char **out, mvms_db *db, int64_t model_id, const char *env,
				   int64_t version_row);
/* Fills @d's action, from_revision, author, reason, created_at and targets (sorted by
 * weight, then version, highest first) from revision @revision: 1, or 0 when there is no
 * such revision. */
int mvms_deployments_read(mvms_deployment *d, mvms_db *db, int64_t model_id, const char *env,
			  int64_t revision);
/* Writes revision @r with targets @rows, inside the caller's transaction. */
int mvms_deployments_write(mvms_db *db, const mvms_deploy_record *r, const mvms_deploy_row *rows,
			   size_t n);
/* The environments of a model with their current revision (@env NULL, by name), or every
 * revision of @env, newest first: envs (free each, and the array) and revs. */
int mvms_deployments_revisions(char ***envs, int64_t **revs, size_t *n, mvms_db *db,
			       int64_t model_id, const char *env);

#endif
