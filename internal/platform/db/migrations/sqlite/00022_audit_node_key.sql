-- +goose Up
-- The audit tree's inner nodes were keyed by (level, idx): each level's new
-- nodes went into the middle of the table's B-tree, before the next level's,
-- splitting its pages the costly way and dirtying a page per level on every
-- sequencer turn. They are now keyed by one integer that only grows as the
-- tree does: the index of the last leaf the node covers, times 64, plus its
-- level (nodeKey in internal/audit/tree.go). The hashes are unchanged. The
-- table also held a copy of every leaf hash (level 0), which nothing read:
-- audit_leaf has them. The copies are not kept, and going down does not
-- bring them back.
CREATE TABLE audit_node_by_key (
    k    INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
INSERT INTO audit_node_by_key (k, hash)
SELECT ((((idx + 1) << level) - 1) << 6) | level, hash FROM audit_node WHERE level >= 1 ORDER BY 1;
DROP TABLE audit_node;
ALTER TABLE audit_node_by_key RENAME TO audit_node;

-- +goose Down
CREATE TABLE audit_node_by_level (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
INSERT INTO audit_node_by_level (level, idx, hash)
SELECT k & 63, (((k >> 6) + 1) >> (k & 63)) - 1, hash FROM audit_node;
DROP TABLE audit_node;
ALTER TABLE audit_node_by_level RENAME TO audit_node;
