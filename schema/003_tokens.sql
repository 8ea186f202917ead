-- 003_tokens: API tokens for the HTTP server. A token reads "mvms_<id>_<secret>": the id
-- (16 hex digits) is public and names the row; the secret (32 random bytes, base64url) is
-- shown once at creation and never stored: the row keeps only its BLAKE2b-256 hash, which
-- is compared in constant time. The secret has 256 bits of entropy, so an unsalted, fast
-- hash is enough: there is nothing to guess from a leaked table.
-- scope: 1 read, 2 write (includes read), 3 admin (includes write); models is a glob of
-- model names (fnmatch, "*" for all). Times are Unix seconds; 0 means never (expires_at)
-- or not revoked (revoked_at). Rows are never deleted, so a revoked id is never reused.
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,           -- 16 lower-case hex digits
	hash        BLOB NOT NULL,              -- BLAKE2b-256 of the secret part
	scope       INTEGER NOT NULL CHECK (scope IN (1, 2, 3)),
	models      TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL DEFAULT 0,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);
