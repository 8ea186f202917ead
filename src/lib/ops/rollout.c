/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts, the commands: start one (record it, deploy its first step), look at
 * it, pause, resume or abort it; and the stored per-version counters its guards read. The
 * steps themselves are taken by the driver (rollout_drive.c), which a server runs. Every
 * change of the environment goes through mvms_deploy / mvms_deploy_rollback, so whatever
 * those check (a signature policy, ...) holds for a rollout too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rollout_int.h"
#include "transport.h"

static const double bounds[MVMS_LATENCY_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
						     0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

const double *mvms_latency_bounds(void)
{
	return bounds;
}

double mvms_counters_quantile_ms(const uint64_t *b, uint64_t requests, double q)
{
	double want = q * (double)requests, seen = 0, lo;
	size_t i;

	if (!requests)
		return 0;
	for (i = 0; i <= MVMS_LATENCY_BUCKETS; i++) {
		if (seen + (double)b[i] >= want && b[i]) {
			if (i == MVMS_LATENCY_BUCKETS)
				return bounds[i - 1] * 1000;
			lo = i ? bounds[i - 1] : 0;
			return (lo + (bounds[i] - lo) * (want - seen) / (double)b[i]) * 1000;
		}
		seen += (double)b[i];
	}
	return bounds[MVMS_LATENCY_BUCKETS - 1] * 1000;
}

int mvms_counters_add(mvms_store *st, const mvms_counters *add, size_t n)
{
	int64_t model_id;
	size_t i;
	int error = 0, began = 0;

	MVMS_LOCAL_ONLY(st, "counters_add");
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	for (i = 0; i < n; i++) {
		if (!add[i].requests)
			continue;
		/* A model deleted since: its counters go with it. */
		if (mvms_store__model_id(&model_id, st, add[i].model) < 0)
			continue;
		MVMS_TRY(mvms_version_stats_add(st->db, model_id, &add[i]));
	}
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	return error;
}

int mvms_counters_list(mvms_counters **out, size_t *count, mvms_store *st)
{
	MVMS_LOCAL_ONLY(st, "counters_list");
	return mvms_version_stats_all(out, count, st->db);
}

void mvms_rollout_free(mvms_rollout *r)
{
	mvms_rollout_row row;

	if (!r)
		return;
	memset(&row, 0, sizeof(row));
	row.r = *r;
	mvms_rollout_row_clear(&row);
	free(r);
}

/* Moves the public part of @row to a new *out (the row is cleared). */
static int hand_out(mvms_rollout **out, mvms_rollout_row *row)
{
	if (!out) {
		mvms_rollout_row_clear(row);
		return 0;
	}
	if (!(*out = malloc(sizeof(**out)))) {
		mvms_rollout_row_clear(row);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	**out = row->r;
	memset(&row->r, 0, sizeof(row->r));
	mvms_rollout_row_clear(row);
	return 0;
}

static int check_options(const mvms_rollout_options *o)
{
	size_t i;

	if (o->step_count < 1 || o->step_count > MVMS_ROLLOUT_MAX_STEPS)
		return mvms_error_set(MVMS_EINVALID, "rollout: want 1 to %d steps",
				      MVMS_ROLLOUT_MAX_STEPS);
	for (i = 0; i < o->step_count; i++)
		if (o->steps[i] < 1 || o->steps[i] > 100 || (i && o->steps[i] <= o->steps[i - 1]))
			return mvms_error_set(MVMS_EINVALID, "rollout: steps are rising percentages "
					      "from 1 to 100 (e.g. 5,25,50,100)");
	if (o->step_interval_ms < 100 || o->step_interval_ms > 7 * 86400 * 1000LL)
		return mvms_error_set(MVMS_EINVALID, "rollout: the step interval is 100ms to 7 days");
	if (o->max_error_rate > 1)
		return mvms_error_set(MVMS_EINVALID, "rollout: the error rate limit is 0 to 1");
	if (o->max_p95_ms == 0)
		return mvms_error_set(MVMS_EINVALID, "rollout: the p95 limit must be above 0 ms");
	if (o->min_requests < 0 || o->min_requests > 1000000000)
		return mvms_error_set(MVMS_EINVALID, "rollout: bad minimum of requests");
	if (o->shadow_first < 0 || o->shadow_first > 1000000000 || o->max_diff_rate > 1)
		return mvms_error_set(MVMS_EINVALID, "rollout: the shadow phase wants 0 to 1e9 "
				      "answers and a difference rate limit from 0 to 1");
	if (o->notify && *o->notify && strncmp(o->notify, "http://", 7) &&
	    strncmp(o->notify, "https://", 8))
		return mvms_error_set(MVMS_EINVALID, "rollout: notify URL '%s' is not http(s)",
				      o->notify);
	if (o->notify && (strlen(o->notify) > 2048 || strpbrk(o->notify, " \t\r\n\"<>\\")))
		return mvms_error_set(MVMS_EINVALID, "rollout: bad notify URL");
	return 0;
}

static int active(const char *state)
{
	return !strcmp(state, "running") || !strcmp(state, "paused") ||
	       !strcmp(state, "starting") || !strcmp(state, "aborting");
}

/* Records the rollout (state "starting") once nothing else rolls out in @env. */
static int record(mvms_rollout_row *row, mvms_store *st)
{
	mvms_rollout_row prev;
	int error = 0, began = 0, rc;

	memset(&prev, 0, sizeof(prev));
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	if ((rc = mvms_rollouts_read(&prev, st->db, 0, row->model_id, row->r.env)) < 0) {
		error = rc;
		goto done;
	}
	if (rc && active(prev.r.state)) {
		error = mvms_error_set(MVMS_ECONFLICT, "rollout #%lld of %s@v%lld is %s in %s: pause, "
				       "resume or abort it first", (long long)prev.r.id, prev.r.model,
				       (long long)prev.r.version, prev.r.state, row->r.env);
		goto done;
	}
	MVMS_TRY(mvms_rollouts_insert(st->db, row));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_rollout_row_clear(&prev);
	return error;
}

/* The row of a new rollout from the options, the version and the current deployment. */
static int new_row(mvms_rollout_row *row, mvms_store *st, const char *spec,
		   const mvms_version_info *v, const mvms_deployment *d,
		   const mvms_rollout_options *o)
{
	size_t i, others = 0;
	int error = 0;

	for (i = 0; i < d->target_count; i++)
		others += d->targets[i].number != v->number;
	if (d->revision == 0 || others == 0) {
		error = mvms_error_set(MVMS_EINVALID, "rollout: a canary needs another version "
				       "already serving %s of %s (deploy one first)", d->env, d->model);
		goto done;
	}
	MVMS_TRY(mvms_store__model_id(&row->model_id, st, v->model));
	MVMS_TRY(mvms_refs__resolve_row(&row->version_row, NULL, st, spec));
	row->r.model = strdup(v->model);
	row->r.env = strdup(d->env);
	row->r.state = strdup("starting");
	row->r.notify = strdup(o->notify ? o->notify : "");
	row->r.author = strdup(o->author ? o->author : mvms_store__default_author());
	row->r.reason = strdup("");
	row->mark = strdup("");
	if (!row->r.model || !row->r.env || !row->r.state || !row->r.notify || !row->r.author ||
	    !row->r.reason || !row->mark) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	row->r.version = v->number;
	snprintf(row->r.version_id, sizeof(row->r.version_id), "%s", v->id);
	memcpy(row->r.steps, o->steps, sizeof(row->r.steps));
	row->r.step_count = o->step_count;
	row->r.step_interval_ms = o->step_interval_ms;
	row->r.max_error_rate = o->max_error_rate;
	row->r.max_p95_ms = o->max_p95_ms;
	row->r.min_requests = o->min_requests;
	row->r.compare_baseline = o->compare_baseline;
	row->r.shadow_first = o->shadow_first;
	row->r.max_diff_rate = o->max_diff_rate;
	row->r.shadowing = o->shadow_first > 0;
	row->r.base_revision = row->r.revision = d->revision;
	row->r.created_at = row->r.updated_at = (int64_t)time(NULL);
done:
	return error;
}

int mvms_rollout_start(mvms_rollout **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_rollout_options *opts)
{
	MVMS_TRANSPORT_CALL(st, rollout_start, (out, st, spec, env, opts));
	mvms_version_info *v = NULL;
	mvms_deployment *d = NULL, *nd = NULL;
	mvms_rollout_row row;
	mvms_rollout_figures f;
	char reason[512];
	int error = 0, recorded = 0;

	if (out)
		*out = NULL;
	memset(&row, 0, sizeof(row));
	if (!opts)
		return mvms_error_set(MVMS_EINVALID, "rollout: no options");
	MVMS_TRY(check_options(opts));
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_deploy_get(&d, st, v->model, env));
	MVMS_TRY(new_row(&row, st, spec, v, d, opts));
	MVMS_TRY(record(&row, st));
	recorded = 1;
	if (row.r.shadowing) {
		/* A shadow phase first: the canary gets copies, serves nothing (rollout_drive.c). */
		snprintf(reason, sizeof(reason), "rollout #%lld: shadow phase (%lld answers to "
			 "compare): started by %s%s%s", (long long)row.r.id,
			 (long long)row.r.shadow_first, row.r.author,
			 opts->reason && *opts->reason ? ": " : "", opts->reason ? opts->reason : "");
		MVMS_TRY(mvms_rollout__deploy_shadow(&nd, st, &row, opts->endpoint, reason));
	} else {
		snprintf(reason, sizeof(reason), "rollout #%lld: step 1/%zu (%d%%): started by "
			 "%s%s%s", (long long)row.r.id, row.r.step_count, row.r.steps[0],
			 row.r.author, opts->reason && *opts->reason ? ": " : "",
			 opts->reason ? opts->reason : "");
		MVMS_TRY(mvms_rollout__deploy_step(&nd, st, &row, 0, opts->endpoint, reason));
	}
	recorded = 0;
	MVMS_TRY(mvms_rollout__totals(&f, st, &row));
	MVMS_TRY(mvms_rollout__set_mark(&row, &f));
	free(row.r.state);
	free(row.r.reason);
	row.r.state = strdup("running");
	row.r.reason = strdup(reason);
	MVMS_CHECK_ALLOC(row.r.state, error);
	MVMS_CHECK_ALLOC(row.r.reason, error);
	row.r.revision = nd->revision;
	row.r.step_started_ms = mvms_rollout__now_ms();
	MVMS_TRY(mvms_rollouts_update(st->db, &row, "starting"));
	memset(&f, 0, sizeof(f));
	MVMS_TRY(mvms_rollout__event(st, &row, "started", NULL));
	error = hand_out(out, &row);
done:
	/* The first step failed (a policy refused it, the endpoint is bad, ...): no rollout. */
	if (recorded)
		mvms_rollouts_delete(st->db, row.r.id);
	mvms_rollout_row_clear(&row);
	mvms_version_info_free(v);
	mvms_deployment_free(d);
	mvms_deployment_free(nd);
	return error;
}

/* The newest rollout of @env as a row. */
static int read_env(mvms_rollout_row *row, mvms_store *st, const char *model, const char *env)
{
	int64_t model_id;
	int error = 0, rc;

	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if ((rc = mvms_rollouts_read(row, st->db, 0, model_id, env)) < 0)
		return rc;
	if (rc == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "%s of %s never had a rollout", env, model);
done:
	return error;
}

int mvms_rollout_get(mvms_rollout **out, mvms_store *st, const char *model, const char *env)
{
	MVMS_TRANSPORT_CALL(st, rollout_get, (out, st, model, env));
	mvms_rollout_row row;
	int error;

	*out = NULL;
	memset(&row, 0, sizeof(row));
	if ((error = read_env(&row, st, model, env)) < 0) {
		mvms_rollout_row_clear(&row);
		return error;
	}
	return hand_out(out, &row);
}

/* Sets the state and reason of @row if its state is still @from; ECONFLICT otherwise. */
static int move(mvms_rollout_row *row, mvms_store *st, const char *from, const char *to,
		const char *reason)
{
	char *s = strdup(to), *r = strdup(reason);
	int rc;

	if (!s || !r) {
		free(s);
		free(r);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	free(row->r.state);
	free(row->r.reason);
	row->r.state = s;
	row->r.reason = r;
	row->r.updated_at = (int64_t)time(NULL);
	if ((rc = mvms_rollouts_update(st->db, row, from)) < 0)
		return rc;
	if (rc == 0)
		return mvms_error_set(MVMS_ECONFLICT, "rollout #%lld changed meanwhile: look again",
				      (long long)row->r.id);
	return 0;
}

static int abort_now(mvms_rollout_row *row, mvms_store *st, const char *who, const char *why)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	char reason[600], *from = strdup(row->r.state);
	int error = 0;

	MVMS_CHECK_ALLOC(from, error);
	snprintf(reason, sizeof(reason), "rollout #%lld: aborted at step %zu/%zu by %s%s%s",
		 (long long)row->r.id, row->r.step + 1, row->r.step_count, who, *why ? ": " : "",
		 why);
	/* "aborting" first, so the driver keeps its hands off while the rollback is made. */
	MVMS_TRY(move(row, st, from, "aborting", reason));
	o.author = who;
	o.reason = reason;
	if ((error = mvms_deploy_rollback(&d, st, row->r.model, row->r.env, row->r.base_revision,
					  &o)) < 0) {
		char *keep = strdup(mvms_error_last());
		move(row, st, "aborting", from, row->r.reason);
		error = mvms_error_set(error, "%s", keep ? keep : "abort: rollback failed");
		free(keep);
		goto done;
	}
	row->r.revision = d->revision;
	MVMS_TRY(move(row, st, "aborting", "aborted", reason));
	MVMS_TRY(mvms_rollout__event(st, row, "aborted", NULL));
done:
	mvms_deployment_free(d);
	free(from);
	return error;
}

int mvms_rollout_control(mvms_rollout **out, mvms_store *st, const char *model, const char *env,
			 int action, const char *author, const char *reason)
{
	MVMS_TRANSPORT_CALL(st, rollout_control, (out, st, model, env, action, author, reason));
	mvms_rollout_row row;
	const char *who = author && *author ? author : mvms_store__default_author();
	const char *why = reason ? reason : "";
	char text[600];
	int error = 0;

	if (out)
		*out = NULL;
	memset(&row, 0, sizeof(row));
	if (action < MVMS_ROLLOUT_PAUSE || action > MVMS_ROLLOUT_ABORT)
		return mvms_error_set(MVMS_EINVALID, "rollout: unknown action %d", action);
	MVMS_TRY(read_env(&row, st, model, env));
	if (action == MVMS_ROLLOUT_ABORT) {
		if (strcmp(row.r.state, "running") && strcmp(row.r.state, "paused")) {
			error = mvms_error_set(MVMS_ECONFLICT, "rollout #%lld of %s is %s: nothing to "
					       "abort", (long long)row.r.id, env, row.r.state);
			goto done;
		}
		MVMS_TRY(abort_now(&row, st, who, why));
	} else {
		const char *from = action == MVMS_ROLLOUT_PAUSE ? "running" : "paused";
		const char *to = action == MVMS_ROLLOUT_PAUSE ? "paused" : "running";
		if (strcmp(row.r.state, from)) {
			error = mvms_error_set(MVMS_ECONFLICT, "rollout #%lld of %s is %s, not %s",
					       (long long)row.r.id, env, row.r.state, from);
			goto done;
		}
		snprintf(text, sizeof(text), "rollout #%lld: %s at step %zu/%zu by %s%s%s",
			 (long long)row.r.id, action == MVMS_ROLLOUT_PAUSE ? "paused" : "resumed",
			 row.r.step + 1, row.r.step_count, who, *why ? ": " : "", why);
		MVMS_TRY(move(&row, st, from, to, text));
		MVMS_TRY(mvms_rollout__event(st, &row, action == MVMS_ROLLOUT_PAUSE ? "paused"
										   : "resumed", NULL));
	}
	error = hand_out(out, &row);
done:
	mvms_rollout_row_clear(&row);
	return error;
}
