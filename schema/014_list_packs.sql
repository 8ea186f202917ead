-- 014_list_packs: chunk lists kept in chunk-list packs (objects/lists/ab/<id>, docs/formats.md)
-- instead of one object each, so a push of 10,000 small files writes (and fsyncs) one object,
-- not 10,000. A content with a row here has its chunk list at `offset` in list pack `pack`;
-- without one, at files/ab/<content id> as before. Keyed by the content id, not its row, so
-- the row is written (and logged, "clist+") before the contents row that needs it. IF NOT
-- EXISTS: tests that step a store back to an older level keep the later tables.
CREATE TABLE IF NOT EXISTS content_lists (
	oid    BLOB PRIMARY KEY,   -- the content id (file id)
	pack   BLOB NOT NULL,      -- id of the list pack holding its chunk list
	offset INTEGER NOT NULL    -- of the chunk list's header in the list pack
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_lists_pack ON content_lists(pack);
