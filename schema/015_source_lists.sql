-- 015_source_lists: a pulled file's chunk list, kept whole until its source_chunks rows are
-- written. A remote pull records the file it wrote as one row here (a blob of 40-byte
-- entries: chunk id, little-endian length), not as a row per chunk: 8,193 index inserts
-- took about 20 ms at the end of a fresh cache's pull of a 512 MiB file, after the
-- download, for a cache that may never be read again (a CI job's). The next command that
-- looks chunks up in the cache writes the rows and drops the list (sources.c).
-- IF NOT EXISTS: tests that step a store back to an older level keep the later tables.
CREATE TABLE IF NOT EXISTS source_lists (
	source_id INTEGER PRIMARY KEY REFERENCES sources(id),
	list      BLOB NOT NULL
);
