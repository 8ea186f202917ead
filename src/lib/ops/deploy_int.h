/* SPDX-License-Identifier: MIT */
/*
 * What a deployment change does with the shadow of the next revision and with the
 * environment's settings (deploy_shadow.c), for ops/deploy.c.
 */
#ifndef MVMS_DEPLOY_INT_H
#define MVMS_DEPLOY_INT_H

#include "store_int.h"
#include "deploy_env.h"
#include "deployments.h"

enum { MVMS_DEPLOY__DEPLOY, MVMS_DEPLOY__REMOVE, MVMS_DEPLOY__ROLLBACK };

/* The checks of the shadow and settings options that need no database. */
int mvms_deploy__options_check(const mvms_deploy_options *o);

/* Under the write lock: the shadow of the next revision of @env (current @cur) for a change
 * of @kind naming version @vrow (a rollback: restoring revision @from). *only_shadow is set
 * when the change touches the shadow alone (a shadow deploy, undeploying the shadow): the
 * served targets are then the current ones, unchanged. */
int mvms_deploy__shadow_next(mvms_shadow_row *next, int *only_shadow, mvms_store *st, int kind,
			     const mvms_deploy_options *o, int64_t model_id, const char *env,
			     int64_t cur, int64_t vrow, int64_t from);

/* A version that serves (is in @rows) is no shadow any more: promoting the shadow ends it. */
void mvms_deploy__shadow_prune(mvms_shadow_row *next, const mvms_deploy_row *rows, size_t n);

#endif
