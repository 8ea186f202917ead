/* SPDX-License-Identifier: MIT */
/*
 * The rollouts, version_stats and rollout_events tables (schema 009): a rollout's record,
 * the stored per-version counters, and the notification outbox. What a rollout does with
 * them is ops/rollout*.c's.
 */
#ifndef MVMS_META_ROLLOUTS_H
#define MVMS_META_ROLLOUTS_H

#include "db.h"
#include "mvms/rollout.h"

/* A rollout as stored: the public record plus the rows it names and the step's mark. */
typedef struct mvms_rollout_row {
	mvms_rollout r;
	int64_t model_id, version_row;
	char *mark;                /* counters at the start of the step (ops/rollout_drive.c) */
} mvms_rollout_row;

void mvms_rollout_row_clear(mvms_rollout_row *row);

/* Inserts @row (its id is set). */
int mvms_rollouts_insert(mvms_db *db, mvms_rollout_row *row);
/* Writes every changing field of @row if its state is still @expect_state: 1 when written,
 * 0 when the state had changed (another driver or a command came first). */
int mvms_rollouts_update(mvms_db *db, const mvms_rollout_row *row, const char *expect_state);
/* Reads the newest rollout of (@model_id, @env) (@id 0), or rollout @id: 1, or 0 if none. */
int mvms_rollouts_read(mvms_rollout_row *row, mvms_db *db, int64_t id, int64_t model_id,
		       const char *env);
/* The ids of the rollouts in @state. */
int mvms_rollouts_ids(int64_t **out, size_t *n, mvms_db *db, const char *state);
/* Deletes a rollout that never started (its first step failed). */
int mvms_rollouts_delete(mvms_db *db, int64_t id);

/* Adds @c to the stored counters of (@model_id, @c->env, @c->number). */
int mvms_version_stats_add(mvms_db *db, int64_t model_id, const mvms_counters *c);
/* The stored counters of one version (zero when none); @out's names are left alone. */
int mvms_version_stats_get(mvms_counters *out, mvms_db *db, int64_t model_id, const char *env,
			   int64_t number);
/* Every stored counter, with model names. */
int mvms_version_stats_all(mvms_counters **out, size_t *n, mvms_db *db);

/* One notification to deliver. */
typedef struct mvms_rollout_event_row {
	int64_t id;
	char *url, *body;
	int attempts;
} mvms_rollout_event_row;

int mvms_rollout_events_add(mvms_db *db, int64_t rollout_id, const char *url, const char *body,
			    int64_t now_ms);
/* Up to @max events due at @now_ms, oldest first. */
int mvms_rollout_events_due(mvms_rollout_event_row **out, size_t *n, mvms_db *db,
			    int64_t now_ms, size_t max);
void mvms_rollout_events_free(mvms_rollout_event_row *list, size_t n);
/* After an attempt: @state "sent", "failed", or "pending" again at @next_at_ms. */
int mvms_rollout_events_set(mvms_db *db, int64_t id, const char *state, int attempts,
			    int64_t next_at_ms);

#endif
