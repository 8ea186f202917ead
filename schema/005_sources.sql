-- 005_sources: files outside the store that hold chunks byte for byte. A remote pull's
-- client cache (a local store) does not copy the files it writes into packs: it records
-- each pulled file and where each of its chunks sits in it, and later pulls read chunks from
-- there. The file is the user's, not the store's: whoever reads a chunk from it checks the
-- bytes against the chunk id, and a file whose size, modification time or inode changed
-- since it was recorded is no longer a source (its rows are deleted).
CREATE TABLE sources (
	id       INTEGER PRIMARY KEY,
	path     TEXT NOT NULL UNIQUE,       -- absolute
	content  BLOB NOT NULL,              -- the file id (BLAKE2b-256 of its chunk list)
	size     INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	ino      INTEGER NOT NULL,
	added_at INTEGER NOT NULL
);

CREATE TABLE source_chunks (
	source_id INTEGER NOT NULL REFERENCES sources(id),
	chunk     BLOB NOT NULL,             -- BLAKE2b-256 of the raw bytes
	offset    INTEGER NOT NULL,          -- in the file
	length    INTEGER NOT NULL
);

CREATE INDEX source_chunks_chunk ON source_chunks(chunk);
CREATE INDEX source_chunks_source ON source_chunks(source_id);
