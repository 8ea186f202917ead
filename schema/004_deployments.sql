-- 004_deployments: environments that point at versions with traffic weights. Every change
-- is a new revision holding the whole target set, kept forever, so any revision can be
-- looked at or rolled back to; the current state is the newest revision.
CREATE TABLE deployment_revisions (
	model_id      INTEGER NOT NULL REFERENCES models(id),
	env           TEXT NOT NULL,
	revision      INTEGER NOT NULL,           -- 1, 2, ... per (model, env)
	action        TEXT NOT NULL,              -- 'deploy', 'undeploy', 'rollback'
	from_revision INTEGER NOT NULL DEFAULT 0, -- for a rollback: the revision restored
	author        TEXT NOT NULL,
	reason        TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	PRIMARY KEY (model_id, env, revision)
) WITHOUT ROWID;

CREATE TABLE deployment_targets (
	model_id   INTEGER NOT NULL,
	env        TEXT NOT NULL,
	revision   INTEGER NOT NULL,
	version_id INTEGER NOT NULL REFERENCES versions(id),
	weight     INTEGER NOT NULL CHECK (weight > 0),
	endpoint   TEXT NOT NULL DEFAULT '',      -- where that version is served (http(s) URL)
	PRIMARY KEY (model_id, env, revision, version_id),
	FOREIGN KEY (model_id, env, revision)
		REFERENCES deployment_revisions(model_id, env, revision)
) WITHOUT ROWID;
CREATE INDEX deployment_targets_version ON deployment_targets(version_id);
