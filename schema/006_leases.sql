-- 006_leases: what keeps gc away from a running push. A push (local, merge, a remote
-- client's upload held by the server, a one-request upload) takes a lease before it writes
-- anything, renews it as it goes and drops it at the end; gc removes nothing written after
-- the start of the oldest live lease. A lease that is not renewed expires (its holder was
-- killed): gc ignores it and deletes it, and the holder, if it was only slow, finds it gone
-- at its commit and fails with a conflict instead of committing what gc may have removed.
-- Times are Unix seconds.
CREATE TABLE leases (
	id         TEXT PRIMARY KEY,           -- 32 lower-case hex digits, random
	holder     TEXT NOT NULL DEFAULT '',   -- what holds it ("push m", "remote push m")
	started_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);

-- When a file content row was added, so that gc keeps the rows of a commit in progress
-- (the server adds a content before the version that uses it) as it keeps young objects.
-- Rows from before this level read 0: older than any grace.
ALTER TABLE contents ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
