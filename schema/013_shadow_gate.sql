-- 013_shadow_gate: a rollout can require a clean shadow phase first (deploy --shadow-first N).
-- shadow_first: answers the shadow must have had compared before the first weighted step (0:
-- no shadow phase); max_diff_rate: the share of them that may differ (< 0: no limit);
-- shadowing: 1 while the rollout is in its shadow phase (the canary is the environment's
-- shadow, serving nothing). In the store, so a restarted server resumes the phase.
ALTER TABLE rollouts ADD COLUMN shadow_first INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollouts ADD COLUMN max_diff_rate REAL NOT NULL DEFAULT -1;
ALTER TABLE rollouts ADD COLUMN shadowing INTEGER NOT NULL DEFAULT 0;
