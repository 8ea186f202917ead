-- 007_history: history that can be edited without lying about it. A deleted version stays
-- in the DAG as a tombstone: its row (id, parents, author, time, message, metadata) stays so
-- that its children, lineage and log still add up, but its files rows go, so nothing
-- references its content any more and gc reclaims every byte only it held (and its
-- manifest object). deleted_at is 0 for a live version; deleted_by says who deleted it.
-- A model's default branch (what MODEL and MODEL@latest name) is recorded per model, so
-- that it can be changed and the old one deleted.
ALTER TABLE versions ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE versions ADD COLUMN deleted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN default_branch TEXT NOT NULL DEFAULT 'main';
