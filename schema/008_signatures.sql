-- 008_signatures: signed releases (docs/formats.md, "Signatures"). A signature is an object
-- of the store (signatures/ab/<id>, the id being the BLAKE2b-256 of the file), so the bucket
-- holds it as it holds manifests; this table indexes it under the version it signs. gc keeps
-- a signature object while its row is here, i.e. while its version row exists (a tombstone
-- still names the id that was signed); deleting the model takes the rows with it.
CREATE TABLE IF NOT EXISTS signatures (
	object     TEXT PRIMARY KEY,
	version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
	key_id     TEXT NOT NULL,
	public_key TEXT NOT NULL,
	statement  TEXT NOT NULL,
	signed_at  INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signatures_by_version ON signatures(version_id);

-- The keys an environment requires: a deploy or rollback to ENV (of any model) needs a
-- valid signature by one of them for each version it brings in. No rows: no policy.
CREATE TABLE IF NOT EXISTS env_policies (
	env        TEXT NOT NULL,
	public_key TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (env, public_key)
);
