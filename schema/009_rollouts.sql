-- 009_rollouts: progressive rollouts, the per-version counters their guards read, and the
-- notifications still to deliver. A rollout is driven by whatever server serves the store:
-- its whole state is here, so a restart picks it up where it was. No foreign keys to
-- models or versions: deleting a model must not be refused for an old rollout (the driver
-- skips a rollout whose model is gone). IF NOT EXISTS: a store taken back to an older level
-- by hand (tests/test-history) runs this file again over its tables.
CREATE TABLE IF NOT EXISTS rollouts (
	id               INTEGER PRIMARY KEY,
	model_id         INTEGER NOT NULL,
	env              TEXT NOT NULL,
	version_id       INTEGER NOT NULL,        -- the canary (versions.id)
	state            TEXT NOT NULL,           -- starting, running, paused, aborting,
	                                          -- succeeded, rolled_back, aborted, superseded
	steps            TEXT NOT NULL,           -- canary shares in percent: "5,25,50,100"
	step             INTEGER NOT NULL,        -- index into steps of the share in force
	step_interval_ms INTEGER NOT NULL,
	max_error_rate   REAL NOT NULL,           -- < 0: no such guard
	max_p95_ms       REAL NOT NULL,           -- < 0: no such guard
	min_requests     INTEGER NOT NULL,
	compare_baseline INTEGER NOT NULL DEFAULT 0,
	notify           TEXT NOT NULL DEFAULT '',
	base_revision    INTEGER NOT NULL,        -- the revision before the rollout: rollback target
	revision         INTEGER NOT NULL,        -- the revision the rollout last wrote
	step_started_ms  INTEGER NOT NULL,
	mark             TEXT NOT NULL DEFAULT '', -- counters at the start of the step
	reason           TEXT NOT NULL DEFAULT '',
	author           TEXT NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_env ON rollouts(model_id, env, id);
CREATE INDEX IF NOT EXISTS rollouts_state ON rollouts(state);

-- /predict counters per version, added to by each server every tick (so several servers of
-- one store add up), and read back by a server that starts.
CREATE TABLE IF NOT EXISTS version_stats (
	model_id     INTEGER NOT NULL,
	env          TEXT NOT NULL,
	number       INTEGER NOT NULL,            -- version number within the model
	requests     INTEGER NOT NULL DEFAULT 0,
	errors       INTEGER NOT NULL DEFAULT 0,
	buckets      TEXT NOT NULL,               -- latency histogram counts, space-separated
	latency_sum  REAL NOT NULL DEFAULT 0,
	upstream_sum REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (model_id, env, number)
) WITHOUT ROWID;

-- Notifications (--notify URL): written with the change they tell of, sent by the server.
CREATE TABLE IF NOT EXISTS rollout_events (
	id          INTEGER PRIMARY KEY,
	rollout_id  INTEGER NOT NULL,
	url         TEXT NOT NULL,
	body        TEXT NOT NULL,                -- the JSON posted
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at_ms  INTEGER NOT NULL,
	state       TEXT NOT NULL DEFAULT 'pending' -- pending, sent, failed
);
CREATE INDEX IF NOT EXISTS rollout_events_due ON rollout_events(state, next_at_ms);
