/* SPDX-License-Identifier: MIT */
/*
 * The deployment_shadows and env_settings tables: the shadow of a deployment revision (read,
 * write) and an environment's upstream timeout and retries (read, upsert). What a change does
 * with them is ops/deploy.c's; how /predict uses them is the server's.
 */
#ifndef MVMS_DEPLOY_ENV_H
#define MVMS_DEPLOY_ENV_H

#include "db.h"
#include "mvms/deploy.h"

/* A revision's shadow, as stored (version_row 0: none). */
typedef struct mvms_shadow_row {
	int64_t version_row;
	int percent;
	char *endpoint;
	char *compare;
} mvms_shadow_row;

void mvms_shadow_row_clear(mvms_shadow_row *r);
/* The shadow of revision @revision: 1 with @out filled (clear it), 0 when it has none. */
int mvms_deploy_env__shadow_row(mvms_shadow_row *out, mvms_db *db, int64_t model_id,
				const char *env, int64_t revision);
/* Writes @r as the shadow of @revision (after the revision's row, same transaction). */
int mvms_deploy_env__shadow_write(mvms_db *db, int64_t model_id, const char *env,
				  int64_t revision, const mvms_shadow_row *r);
/* Fills d->shadow (NULL when none) from revision @revision. */
int mvms_deploy_env__shadow_read(mvms_deployment *d, mvms_db *db, int64_t model_id,
				 const char *env, int64_t revision);
/* The environment's timeout and retries (the defaults when never set). */
int mvms_deploy_env__settings(int *timeout_ms, int *retries, mvms_db *db, int64_t model_id,
			      const char *env);
/* Sets them (0: keep what is recorded, or the default; retries MVMS_DEPLOY_RETRIES_NONE:
 * none). */
int mvms_deploy_env__settings_write(mvms_db *db, int64_t model_id, const char *env,
				    int timeout_ms, int retries);

#endif
