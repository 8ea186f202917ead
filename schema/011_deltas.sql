-- 011_deltas: fine-tune deltas. A chunk stored as a delta (codec 5) names its base chunk
-- (always a full record of the same length) in its record; the index row records it too,
-- so that gc's mark phase keeps every base while a delta row names it, and readers find it
-- without reading the record first. NULL for every other codec, and for all older rows.
ALTER TABLE chunks ADD COLUMN base BLOB;
CREATE INDEX chunks_base ON chunks(base) WHERE base IS NOT NULL;
