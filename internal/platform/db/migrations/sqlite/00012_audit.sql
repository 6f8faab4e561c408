-- +goose Up
-- The audit log (internal/audit): a transparency log of every access to
-- health data. The application only ever inserts into audit_entry,
-- audit_leaf, audit_node and audit_checkpoint; nothing there is updated or
-- deleted. Keep these tables for at least six years.

-- One row per audit event, in the order stored. body holds the entry's
-- canonical bytes, the Merkle leaf. On SQLite, where commits are serial,
-- the sequencer takes entries in pos order after its cursor. The table has
-- no other index, to keep appends cheap: entry ids are found through
-- audit_leaf.
CREATE TABLE audit_entry (
    pos  INTEGER PRIMARY KEY,
    id   TEXT NOT NULL,
    body BLOB NOT NULL
);

-- The leaves of the Merkle tree in order: leaf idx is the entry at
-- entry_pos, and hash its RFC 6962 leaf hash. The other columns are the
-- search index, filled by the sequencer from the entry's bytes.
CREATE TABLE audit_leaf (
    idx       INTEGER PRIMARY KEY,
    entry_pos INTEGER NOT NULL,
    entry_id  TEXT NOT NULL,
    hash      BLOB NOT NULL,
    org_id    TEXT NOT NULL,
    recorded  INTEGER NOT NULL, -- Unix microseconds
    subject   TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   INTEGER NOT NULL
);
CREATE INDEX audit_leaf_entry ON audit_leaf (entry_id);
CREATE INDEX audit_leaf_org_recorded ON audit_leaf (org_id, recorded);
CREATE INDEX audit_leaf_org_subject ON audit_leaf (org_id, subject, recorded);

-- The complete inner nodes of the tree (level >= 1), for proofs.
CREATE TABLE audit_node (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The sequencer's state: tree size, root, compact range and cursor (the
-- last pos sequenced). The single row is also the sequencer's lock.
CREATE TABLE audit_tree (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    INTEGER NOT NULL,
    root    BLOB NOT NULL,
    compact BLOB NOT NULL,
    cursor  INTEGER NOT NULL
);
INSERT INTO audit_tree (id, size, root, compact, cursor) VALUES (1, 0, X'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', X'', 0);

-- The patients each sequenced entry concerns.
CREATE TABLE audit_patient (
    org_id   TEXT NOT NULL,
    patient  TEXT NOT NULL,
    recorded INTEGER NOT NULL,
    idx      INTEGER NOT NULL,
    PRIMARY KEY (org_id, patient, recorded, idx)
) WITHOUT ROWID;

-- Every signed checkpoint issued.
CREATE TABLE audit_checkpoint (
    size   INTEGER PRIMARY KEY,
    root   BLOB NOT NULL,
    note   TEXT NOT NULL,
    issued INTEGER NOT NULL -- Unix microseconds
);

-- +goose Down
DROP TABLE audit_checkpoint;
DROP TABLE audit_patient;
DROP TABLE audit_tree;
DROP TABLE audit_node;
DROP TABLE audit_leaf;
DROP TABLE audit_entry;
