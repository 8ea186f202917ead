-- 002_generation: a generation number per version, 1 + the highest generation of its
-- parents (roots are 1), so that merge-base walks can stop early (git's "paint down to
-- common"): an ancestor always has a lower generation than its descendants.
-- Parent edges are written once, right after their child version and before any version can
-- name that child as a parent, so a trigger on the edges keeps the number right. Versions
-- that existed before this migration are numbered by the program (db.c), in id order, which
-- is a topological order since a parent row always exists before its child's.
ALTER TABLE versions ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER version_parents_generation AFTER INSERT ON version_parents
BEGIN
	UPDATE versions
	SET generation = max(generation, (SELECT generation FROM versions WHERE id = NEW.parent) + 1)
	WHERE id = NEW.child;
END;
