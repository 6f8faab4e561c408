-- +goose Up
-- The audit log (internal/audit): a transparency log of every access to
-- health data. The application only ever inserts into audit_entry,
-- audit_leaf, audit_node and audit_checkpoint; nothing there is updated or
-- deleted. Keep these tables for at least six years.

-- One row per audit event. body holds the entry's canonical bytes, the
-- Merkle leaf.
CREATE TABLE audit_entry (
    pos  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id   TEXT NOT NULL UNIQUE,
    body BYTEA NOT NULL
);

-- Entries stored but not yet sequenced. On PostgreSQL transactions commit
-- out of pos order, so the sequencer cannot follow a cursor; it takes the
-- entries listed here instead.
CREATE TABLE audit_pending (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id TEXT NOT NULL
);

-- The leaves of the Merkle tree in order: leaf idx is the entry at
-- entry_pos, and hash its RFC 6962 leaf hash. The other columns are the
-- search index, filled by the sequencer from the entry's bytes.
CREATE TABLE audit_leaf (
    idx       BIGINT PRIMARY KEY,
    entry_pos BIGINT NOT NULL,
    entry_id  TEXT NOT NULL,
    hash      BYTEA NOT NULL,
    org_id    TEXT NOT NULL,
    recorded  BIGINT NOT NULL, -- Unix microseconds
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
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The sequencer's state: tree size, root and compact range (cursor is
-- unused on PostgreSQL). The single row is also the sequencer's lock.
CREATE TABLE audit_tree (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    BIGINT NOT NULL,
    root    BYTEA NOT NULL,
    compact BYTEA NOT NULL,
    cursor  BIGINT NOT NULL
);
INSERT INTO audit_tree (id, size, root, compact, cursor) VALUES (1, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea, ''::bytea, 0);

-- The patients each sequenced entry concerns.
CREATE TABLE audit_patient (
    org_id   TEXT NOT NULL,
    patient  TEXT NOT NULL,
    recorded BIGINT NOT NULL,
    idx      BIGINT NOT NULL,
    PRIMARY KEY (org_id, patient, recorded, idx)
);

-- Every signed checkpoint issued.
CREATE TABLE audit_checkpoint (
    size   BIGINT PRIMARY KEY,
    root   BYTEA NOT NULL,
    note   TEXT NOT NULL,
    issued BIGINT NOT NULL -- Unix microseconds
);

-- +goose Down
DROP TABLE audit_checkpoint;
DROP TABLE audit_patient;
DROP TABLE audit_tree;
DROP TABLE audit_node;
DROP TABLE audit_leaf;
DROP TABLE audit_pending;
DROP TABLE audit_entry;
