-- 001_init: the store's metadata. Applied once, in a transaction; PRAGMA user_version
-- records the level. Object ids (chunks, files, packs) are 32-byte BLOBs; version ids
-- are 64-char lower-case hex TEXT so that prefix look-ups are index range scans.

CREATE TABLE config (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE models (
	id          INTEGER PRIMARY KEY,
	uid         TEXT NOT NULL UNIQUE,       -- random 128-bit id, hex: stable across renames
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL
);

CREATE TABLE packs (
	id          INTEGER PRIMARY KEY,
	oid         BLOB NOT NULL UNIQUE,       -- BLAKE2b-256 of the pack's index
	size        INTEGER NOT NULL,
	chunk_count INTEGER NOT NULL,
	created_at  INTEGER NOT NULL
);

CREATE TABLE chunks (
	id         INTEGER PRIMARY KEY,
	oid        BLOB NOT NULL UNIQUE,        -- BLAKE2b-256 of the raw bytes
	pack_id    INTEGER NOT NULL REFERENCES packs(id),
	offset     INTEGER NOT NULL,            -- of the record header in the pack
	raw_len    INTEGER NOT NULL,
	stored_len INTEGER NOT NULL,
	codec      INTEGER NOT NULL
);
CREATE INDEX chunks_pack ON chunks(pack_id);

-- One row per unique file content; versions that reuse a file cost one `files` row.
CREATE TABLE contents (
	id          INTEGER PRIMARY KEY,
	oid         BLOB NOT NULL UNIQUE,       -- BLAKE2b-256 over (chunk id, u64 length) pairs
	size        INTEGER NOT NULL,
	chunk_count INTEGER NOT NULL,
	format      TEXT NOT NULL DEFAULT ''    -- 'safetensors' when the probe accepted it
);

CREATE TABLE content_chunks (
	content_id INTEGER NOT NULL REFERENCES contents(id),
	seq        INTEGER NOT NULL,
	chunk_id   INTEGER NOT NULL REFERENCES chunks(id),
	offset     INTEGER NOT NULL,            -- of the chunk in the file
	PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;
CREATE INDEX content_chunks_chunk ON content_chunks(chunk_id);

CREATE TABLE tensors (
	content_id INTEGER NOT NULL REFERENCES contents(id),
	name       TEXT NOT NULL,
	dtype      TEXT NOT NULL,
	shape      TEXT NOT NULL,               -- JSON array, e.g. [4096,4096]
	offset     INTEGER NOT NULL,            -- absolute offset of the data in the file
	length     INTEGER NOT NULL,
	oid        BLOB NOT NULL,               -- BLAKE2b-256 over its (chunk id, length) pairs
	PRIMARY KEY (content_id, name)
) WITHOUT ROWID;

CREATE TABLE versions (
	id            INTEGER PRIMARY KEY,
	oid           TEXT NOT NULL UNIQUE,     -- BLAKE2b-256 of the canonical manifest, hex
	model_id      INTEGER NOT NULL REFERENCES models(id),
	number        INTEGER NOT NULL,         -- v1, v2, ... per model
	message       TEXT NOT NULL,
	author        TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	file_count    INTEGER NOT NULL,
	logical_bytes INTEGER NOT NULL,
	UNIQUE (model_id, number)
);

CREATE TABLE version_meta (
	version_id INTEGER NOT NULL REFERENCES versions(id),
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	PRIMARY KEY (version_id, key)
) WITHOUT ROWID;

-- The DAG: parent edges, ordered; a parent may be a version of another model.
CREATE TABLE version_parents (
	child    INTEGER NOT NULL REFERENCES versions(id),
	position INTEGER NOT NULL,
	parent   INTEGER NOT NULL REFERENCES versions(id),
	PRIMARY KEY (child, position)
) WITHOUT ROWID;
CREATE INDEX version_parents_parent ON version_parents(parent, child);

CREATE TABLE files (
	version_id INTEGER NOT NULL REFERENCES versions(id),
	path       TEXT NOT NULL,
	mode       INTEGER NOT NULL,            -- 420 (0644) or 493 (0755)
	content_id INTEGER NOT NULL REFERENCES contents(id),
	PRIMARY KEY (version_id, path)
) WITHOUT ROWID;
CREATE INDEX files_content ON files(content_id);

CREATE TABLE branches (
	model_id   INTEGER NOT NULL REFERENCES models(id),
	name       TEXT NOT NULL,
	version_id INTEGER NOT NULL REFERENCES versions(id),
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (model_id, name)
) WITHOUT ROWID;

CREATE TABLE tags (
	model_id   INTEGER NOT NULL REFERENCES models(id),
	name       TEXT NOT NULL,
	version_id INTEGER NOT NULL REFERENCES versions(id),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (model_id, name)
) WITHOUT ROWID;
