/* SPDX-License-Identifier: MIT */
/*
 * The SQL of rollouts, stored per-version counters and the notification outbox (see
 * rollouts.h). Deciding what a rollout does is ops/rollout*.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rollouts.h"

void mvms_rollout_row_clear(mvms_rollout_row *row)
{
	if (!row)
		return;
	free(row->r.model);
	free(row->r.env);
	free(row->r.state);
	free(row->r.notify);
	free(row->r.reason);
	free(row->r.author);
	free(row->mark);
	memset(row, 0, sizeof(*row));
}

static void steps_text(char *buf, size_t n, const mvms_rollout *r)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < r->step_count && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", r->steps[i]);
}

static void steps_parse(mvms_rollout *r, const char *s)
{
	char *end;

	r->step_count = 0;
	while (*s && r->step_count < MVMS_ROLLOUT_MAX_STEPS) {
		r->steps[r->step_count++] = (int)strtol(s, &end, 10);
		if (end == s)
			break;
		s = *end == ',' ? end + 1 : end;
	}
}

int mvms_rollouts_insert(mvms_db *db, mvms_rollout_row *row)
{
	static const char q[] =
		"INSERT INTO rollouts(model_id, env, version_id, state, steps, step, step_interval_ms, "
		"max_error_rate, max_p95_ms, min_requests, compare_baseline, notify, base_revision, "
		"revision, step_started_ms, mark, reason, author, created_at, updated_at, shadow_first, "
		"max_diff_rate, shadowing) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	const mvms_rollout *r = &row->r;
	char steps[MVMS_ROLLOUT_MAX_STEPS * 5 + 1];
	int error;

	if (!s)
		return MVMS_ERROR;
	steps_text(steps, sizeof(steps), r);
	sqlite3_bind_int64(s, 1, row->model_id);
	sqlite3_bind_text(s, 2, r->env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, row->version_row);
	sqlite3_bind_text(s, 4, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, steps, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 6, (int64_t)r->step);
	sqlite3_bind_int64(s, 7, r->step_interval_ms);
	sqlite3_bind_double(s, 8, r->max_error_rate);
	sqlite3_bind_double(s, 9, r->max_p95_ms);
	sqlite3_bind_int64(s, 10, r->min_requests);
	sqlite3_bind_int(s, 11, r->compare_baseline);
	sqlite3_bind_text(s, 12, r->notify ? r->notify : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, r->base_revision);
	sqlite3_bind_int64(s, 14, r->revision);
	sqlite3_bind_int64(s, 15, r->step_started_ms);
	sqlite3_bind_text(s, 16, row->mark ? row->mark : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 17, r->reason ? r->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 18, r->author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 19, r->created_at);
	sqlite3_bind_int64(s, 20, r->updated_at);
	sqlite3_bind_int64(s, 21, r->shadow_first);
	sqlite3_bind_double(s, 22, r->max_diff_rate);
	sqlite3_bind_int(s, 23, r->shadowing);
	if ((error = mvms_db_step_done(db, s, "record rollout")) < 0)
		return error;
	row->r.id = sqlite3_last_insert_rowid(mvms_db_handle(db));
	return 0;
}

int mvms_rollouts_update(mvms_db *db, const mvms_rollout_row *row, const char *expect_state)
{
	static const char q[] =
		"UPDATE rollouts SET state = ?, step = ?, revision = ?, step_started_ms = ?, mark = ?, "
		"reason = ?, updated_at = ?, shadowing = ? WHERE id = ? AND state = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	const mvms_rollout *r = &row->r;
	int error;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)r->step);
	sqlite3_bind_int64(s, 3, r->revision);
	sqlite3_bind_int64(s, 4, r->step_started_ms);
	sqlite3_bind_text(s, 5, row->mark ? row->mark : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, r->reason ? r->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, r->updated_at);
	sqlite3_bind_int(s, 8, r->shadowing);
	sqlite3_bind_int64(s, 9, r->id);
	sqlite3_bind_text(s, 10, expect_state, -1, SQLITE_STATIC);
	if ((error = mvms_db_step_done(db, s, "update rollout")) < 0)
		return error;
	return mvms_db_changes(db) > 0;
}

int mvms_rollouts_read(mvms_rollout_row *row, mvms_db *db, int64_t id, int64_t model_id,
		       const char *env)
{
#define COLS                                                                                \
	"SELECT r.id, r.model_id, m.name, r.env, r.version_id, v.number, v.oid, r.state, "         \
	"r.steps, r.step, r.step_interval_ms, r.max_error_rate, r.max_p95_ms, r.min_requests, "  \
	"r.compare_baseline, r.notify, r.base_revision, r.revision, r.step_started_ms, r.mark, "  \
	"r.reason, r.author, r.created_at, r.updated_at, r.shadow_first, r.max_diff_rate, "        \
	"r.shadowing FROM rollouts r "                         \
	"JOIN models m ON m.id = r.model_id JOIN versions v ON v.id = r.version_id "
	static const char by_id[] = COLS "WHERE r.id = ?";
	static const char by_env[] = COLS "WHERE r.model_id = ? AND r.env = ? ORDER BY r.id DESC LIMIT 1";
#undef COLS
	sqlite3_stmt *s;
	mvms_rollout *r = &row->r;
	int rc;

	memset(row, 0, sizeof(*row));
	if (!(s = mvms_db_stmt(db, id ? by_id : by_env)))
		return MVMS_ERROR;
	if (id) {
		sqlite3_bind_int64(s, 1, id);
	} else {
		sqlite3_bind_int64(s, 1, model_id);
		sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	}
	if ((rc = mvms_db_step_row(db, s, "read rollout")) <= 0)
		return rc;
	r->id = sqlite3_column_int64(s, 0);
	row->model_id = sqlite3_column_int64(s, 1);
	r->model = mvms_db_column_strdup(s, 2);
	r->env = mvms_db_column_strdup(s, 3);
	row->version_row = sqlite3_column_int64(s, 4);
	r->version = sqlite3_column_int64(s, 5);
	snprintf(r->version_id, sizeof(r->version_id), "%s", (const char *)sqlite3_column_text(s, 6));
	r->state = mvms_db_column_strdup(s, 7);
	steps_parse(r, (const char *)sqlite3_column_text(s, 8));
	r->step = (size_t)sqlite3_column_int64(s, 9);
	r->step_interval_ms = sqlite3_column_int64(s, 10);
	r->max_error_rate = sqlite3_column_double(s, 11);
	r->max_p95_ms = sqlite3_column_double(s, 12);
	r->min_requests = sqlite3_column_int64(s, 13);
	r->compare_baseline = sqlite3_column_int(s, 14);
	r->notify = mvms_db_column_strdup(s, 15);
	r->base_revision = sqlite3_column_int64(s, 16);
	r->revision = sqlite3_column_int64(s, 17);
	r->step_started_ms = sqlite3_column_int64(s, 18);
	row->mark = mvms_db_column_strdup(s, 19);
	r->reason = mvms_db_column_strdup(s, 20);
	r->author = mvms_db_column_strdup(s, 21);
	r->created_at = sqlite3_column_int64(s, 22);
	r->updated_at = sqlite3_column_int64(s, 23);
	r->shadow_first = sqlite3_column_int64(s, 24);
	r->max_diff_rate = sqlite3_column_double(s, 25);
	r->shadowing = sqlite3_column_int(s, 26);
	sqlite3_reset(s);
	if (!r->model || !r->env || !r->state || !r->notify || !row->mark || !r->reason || !r->author)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 1;
}

int mvms_rollouts_ids(int64_t **out, size_t *n, mvms_db *db, const char *state)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT id FROM rollouts WHERE state = ? ORDER BY id");
	int64_t *list = NULL, *t;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	while ((rc = mvms_db_step_row(db, s, "list rollouts")) > 0) {
		t = realloc(list, (*n + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		list = t;
		list[(*n)++] = sqlite3_column_int64(s, 0);
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		free(list);
		*n = 0;
		return error;
	}
	*out = list;
	return 0;
}

int mvms_rollouts_delete(mvms_db *db, int64_t id)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "DELETE FROM rollouts WHERE id = ?");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, id);
	return mvms_db_step_done(db, s, "delete rollout");
}

/* ---- counters ---- */

void mvms_counters_list_free(mvms_counters *list, size_t count)
{
	size_t i;

	for (i = 0; list && i < count; i++) {
		free(list[i].model);
		free(list[i].env);
	}
	free(list);
}

static void buckets_text(char *buf, size_t n, const uint64_t *b)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i <= MVMS_LATENCY_BUCKETS && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%llu", i ? " " : "",
					 (unsigned long long)b[i]);
}

static void buckets_parse(uint64_t *b, const char *s)
{
	char *end;
	size_t i;

	for (i = 0; i <= MVMS_LATENCY_BUCKETS && s && *s; i++) {
		b[i] = strtoull(s, &end, 10);
		if (end == s)
			break;
		s = end;
	}
}

int mvms_version_stats_get(mvms_counters *out, mvms_db *db, int64_t model_id, const char *env,
			   int64_t number)
{
	static const char q[] =
		"SELECT requests, errors, buckets, latency_sum, upstream_sum FROM version_stats "
		"WHERE model_id = ? AND env = ? AND number = ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	int rc;

	out->number = number;
	out->requests = out->errors = 0;
	memset(out->buckets, 0, sizeof(out->buckets));
	out->latency_sum = out->upstream_sum = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, number);
	if ((rc = mvms_db_step_row(db, s, "read counters")) <= 0)
		return rc;
	out->requests = (uint64_t)sqlite3_column_int64(s, 0);
	out->errors = (uint64_t)sqlite3_column_int64(s, 1);
	buckets_parse(out->buckets, (const char *)sqlite3_column_text(s, 2));
	out->latency_sum = sqlite3_column_double(s, 3);
	out->upstream_sum = sqlite3_column_double(s, 4);
	sqlite3_reset(s);
	return 1;
}

int mvms_version_stats_add(mvms_db *db, int64_t model_id, const mvms_counters *c)
{
	static const char q[] =
		"INSERT OR REPLACE INTO version_stats(model_id, env, number, requests, errors, buckets, "
		"latency_sum, upstream_sum) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	mvms_counters cur;
	char buckets[(MVMS_LATENCY_BUCKETS + 1) * 21 + 1];
	sqlite3_stmt *s;
	size_t i;
	int error;

	if ((error = mvms_version_stats_get(&cur, db, model_id, c->env, c->number)) < 0)
		return error;
	cur.requests += c->requests;
	cur.errors += c->errors;
	for (i = 0; i <= MVMS_LATENCY_BUCKETS; i++)
		cur.buckets[i] += c->buckets[i];
	cur.latency_sum += c->latency_sum;
	cur.upstream_sum += c->upstream_sum;
	buckets_text(buckets, sizeof(buckets), cur.buckets);
	if (!(s = mvms_db_stmt(db, q)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, c->env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, c->number);
	sqlite3_bind_int64(s, 4, (int64_t)cur.requests);
	sqlite3_bind_int64(s, 5, (int64_t)cur.errors);
	sqlite3_bind_text(s, 6, buckets, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(s, 7, cur.latency_sum);
	sqlite3_bind_double(s, 8, cur.upstream_sum);
	return mvms_db_step_done(db, s, "store counters");
}

int mvms_version_stats_all(mvms_counters **out, size_t *n, mvms_db *db)
{
	static const char q[] =
		"SELECT m.name, s.env, s.number, s.requests, s.errors, s.buckets, s.latency_sum, "
		"s.upstream_sum FROM version_stats s JOIN models m ON m.id = s.model_id "
		"ORDER BY m.name, s.env, s.number";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_counters *list = NULL, *t, *c;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "list counters")) > 0) {
		t = realloc(list, (*n + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		list = t;
		c = &list[(*n)++];
		memset(c, 0, sizeof(*c));
		c->model = mvms_db_column_strdup(s, 0);
		c->env = mvms_db_column_strdup(s, 1);
		MVMS_CHECK_ALLOC(c->model, error);
		MVMS_CHECK_ALLOC(c->env, error);
		c->number = sqlite3_column_int64(s, 2);
		c->requests = (uint64_t)sqlite3_column_int64(s, 3);
		c->errors = (uint64_t)sqlite3_column_int64(s, 4);
		buckets_parse(c->buckets, (const char *)sqlite3_column_text(s, 5));
		c->latency_sum = sqlite3_column_double(s, 6);
		c->upstream_sum = sqlite3_column_double(s, 7);
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_counters_list_free(list, *n);
		*n = 0;
		return error;
	}
	*out = list;
	return 0;
}

/* ---- notification outbox ---- */

int mvms_rollout_events_add(mvms_db *db, int64_t rollout_id, const char *url, const char *body,
			    int64_t now_ms)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "INSERT INTO rollout_events(rollout_id, url, body, "
					   "next_at_ms) VALUES (?, ?, ?, ?)");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, rollout_id);
	sqlite3_bind_text(s, 2, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ms);
	return mvms_db_step_done(db, s, "record notification");
}

void mvms_rollout_events_free(mvms_rollout_event_row *list, size_t n)
{
	size_t i;

	for (i = 0; list && i < n; i++) {
		free(list[i].url);
		free(list[i].body);
	}
	free(list);
}

int mvms_rollout_events_due(mvms_rollout_event_row **out, size_t *n, mvms_db *db,
			    int64_t now_ms, size_t max)
{
	static const char q[] =
		"SELECT id, url, body, attempts FROM rollout_events WHERE state = 'pending' AND "
		"next_at_ms <= ? ORDER BY id LIMIT ?";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	mvms_rollout_event_row *list = NULL, *t;
	int error = 0, rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while ((rc = mvms_db_step_row(db, s, "due notifications")) > 0) {
		t = realloc(list, (*n + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		list = t;
		t = &list[(*n)++];
		t->id = sqlite3_column_int64(s, 0);
		t->url = mvms_db_column_strdup(s, 1);
		t->body = mvms_db_column_strdup(s, 2);
		t->attempts = sqlite3_column_int(s, 3);
		MVMS_CHECK_ALLOC(t->url, error);
		MVMS_CHECK_ALLOC(t->body, error);
	}
	error = rc;
done:
	sqlite3_reset(s);
	if (error < 0) {
		mvms_rollout_events_free(list, *n);
		*n = 0;
		return error;
	}
	*out = list;
	return 0;
}

int mvms_rollout_events_set(mvms_db *db, int64_t id, const char *state, int attempts,
			    int64_t next_at_ms)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "UPDATE rollout_events SET state = ?, attempts = ?, "
					   "next_at_ms = ? WHERE id = ?");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, attempts);
	sqlite3_bind_int64(s, 3, next_at_ms);
	sqlite3_bind_int64(s, 4, id);
	return mvms_db_step_done(db, s, "update notification");
}
