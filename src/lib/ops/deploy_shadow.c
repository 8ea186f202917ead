/* SPDX-License-Identifier: MIT */
/*
 * The shadow of a deployment revision: `deploy --shadow PERCENT` makes a version the shadow
 * (served targets unchanged), `undeploy` of it removes it, a rollback restores the one of the
 * revision it restores, any other change carries it over unless its version now serves. And
 * the checks of the per-environment settings (timeout, retries) a deploy may change. Copying
 * requests to the shadow is the server's.
 */
#include <stdio.h>
#include <stdlib.h>
#include "deploy_int.h"
#include "history.h"

int mvms_deploy__options_check(const mvms_deploy_options *o)
{
	if (o->shadow_percent < 0 || o->shadow_percent > 100)
		return mvms_error_set(MVMS_EINVALID, "deploy: the shadow's share must be 1 to 100 "
				      "percent");
	if (o->shadow_compare && strcmp(o->shadow_compare, "json") && strcmp(o->shadow_compare, "bytes"))
		return mvms_error_set(MVMS_EINVALID, "deploy: compare the shadow's answers as "
				      "'json' or 'bytes', not '%s'", o->shadow_compare);
	if (o->shadow_compare && !o->shadow_percent)
		return mvms_error_set(MVMS_EINVALID, "deploy: a comparison mode needs a shadow "
				      "(--shadow PERCENT)");
	if (o->shadow_percent && o->weight)
		return mvms_error_set(MVMS_EINVALID, "deploy: a shadow gets no weight (it serves no "
				      "answers): give --shadow or --weight, not both");
	if (o->timeout_ms < 0 || o->timeout_ms > 3600000)
		return mvms_error_set(MVMS_EINVALID, "deploy: the upstream timeout must be 1 ms to "
				      "1 hour");
	if (o->retries < MVMS_DEPLOY_RETRIES_NONE || o->retries > 10)
		return mvms_error_set(MVMS_EINVALID, "deploy: retries must be 0 to 10");
	return 0;
}

static int dup_into(char **out, const char *s)
{
	free(*out);
	*out = strdup(s ? s : "");
	return *out ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

/* A shadow deploy: version @vrow becomes the shadow; it keeps its endpoint and mode when it
 * was the shadow already, else the endpoint it last served with in @env. */
static int shadow_deploy(mvms_shadow_row *next, mvms_store *st, const mvms_deploy_options *o,
			 int64_t model_id, const char *env, int64_t cur, int64_t vrow)
{
	mvms_deploy_row *rows = NULL;
	char *last = NULL;
	size_t n = 0, i;
	int error = 0, same;

	if (cur == 0) {
		error = mvms_error_set(MVMS_EINVALID, "deploy: %s serves nothing yet: deploy a "
				       "version to serve before a shadow", env);
		goto done;
	}
	MVMS_TRY(mvms_deployments_rows(&rows, &n, st->db, model_id, env, cur));
	for (i = 0; i < n; i++)
		if (rows[i].version_row == vrow) {
			error = mvms_error_set(MVMS_EINVALID, "deploy: that version serves %s "
					       "already; a shadow is another version", env);
			goto done;
		}
	same = next->version_row == vrow;
	if (!same)
		mvms_shadow_row_clear(next);
	next->version_row = vrow;
	next->percent = o->shadow_percent;
	if (o->shadow_compare)
		MVMS_TRY(dup_into(&next->compare, o->shadow_compare));
	else if (!same)
		MVMS_TRY(dup_into(&next->compare, "json"));
	if (o->endpoint) {
		MVMS_TRY(dup_into(&next->endpoint, o->endpoint));
	} else if (!same) {
		MVMS_TRY(mvms_deployments_last_endpoint(&last, st->db, model_id, env, vrow));
		error = 0;
		MVMS_TRY(dup_into(&next->endpoint, last));
	}
done:
	free(last);
	mvms_deploy_rows_free(rows, n);
	return error;
}

int mvms_deploy__shadow_next(mvms_shadow_row *next, int *only_shadow, mvms_store *st, int kind,
			     const mvms_deploy_options *o, int64_t model_id, const char *env,
			     int64_t cur, int64_t vrow, int64_t from)
{
	int error = 0;

	*only_shadow = 0;
	memset(next, 0, sizeof(*next));
	if (kind == MVMS_DEPLOY__ROLLBACK) {
		MVMS_TRY(mvms_deploy_env__shadow_row(next, st->db, model_id, env, from));
		/* Not back to a version deleted since. */
		if (next->version_row)
			MVMS_TRY(mvms_history__live(st, next->version_row));
		error = 0;
		goto done;
	}
	if (cur)
		MVMS_TRY(mvms_deploy_env__shadow_row(next, st->db, model_id, env, cur));
	error = 0;
	if (kind == MVMS_DEPLOY__DEPLOY && o->shadow_percent) {
		*only_shadow = 1;
		MVMS_TRY(shadow_deploy(next, st, o, model_id, env, cur, vrow));
	} else if (kind == MVMS_DEPLOY__REMOVE && next->version_row && next->version_row == vrow) {
		*only_shadow = 1;
		mvms_shadow_row_clear(next);
	}
done:
	if (error < 0)
		mvms_shadow_row_clear(next);
	return error;
}

void mvms_deploy__shadow_prune(mvms_shadow_row *next, const mvms_deploy_row *rows, size_t n)
{
	size_t i;

	for (i = 0; next->version_row && i < n; i++)
		if (rows[i].version_row == next->version_row)
			mvms_shadow_row_clear(next);
}
