-- 012_env_settings: the shadow of a deployment revision (a version that gets a copy of a
-- share of the live /predict requests, its answers compared and never returned), kept per
-- revision so that deploy-log shows it and a rollback restores it; and the settings of an
-- environment that are not part of a revision: the upstream timeout and retries.
-- IF NOT EXISTS: a store whose level was set back below 12 by hand (tests/test-history.c's
-- upgrade test) still has these tables, and upgrading it must not fail on them.
CREATE TABLE IF NOT EXISTS deployment_shadows (
	model_id   INTEGER NOT NULL,
	env        TEXT NOT NULL,
	revision   INTEGER NOT NULL,
	version_id INTEGER NOT NULL REFERENCES versions(id),
	percent    INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 100),
	endpoint   TEXT NOT NULL DEFAULT '',
	compare    TEXT NOT NULL DEFAULT 'json' CHECK (compare IN ('json', 'bytes')),
	PRIMARY KEY (model_id, env, revision),
	FOREIGN KEY (model_id, env, revision)
		REFERENCES deployment_revisions(model_id, env, revision)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deployment_shadows_version ON deployment_shadows(version_id);

CREATE TABLE IF NOT EXISTS env_settings (
	model_id   INTEGER NOT NULL REFERENCES models(id),
	env        TEXT NOT NULL,
	timeout_ms INTEGER NOT NULL CHECK (timeout_ms BETWEEN 1 AND 3600000),
	retries    INTEGER NOT NULL CHECK (retries BETWEEN 0 AND 10),
	PRIMARY KEY (model_id, env)
) WITHOUT ROWID;
