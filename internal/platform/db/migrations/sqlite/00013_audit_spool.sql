-- +goose Up
-- How far each generation of an audit spool (internal/audit/spool.go) has
-- been moved into audit_entry. The ingester updates the row in the same
-- transaction as the entries it inserts, so each spooled entry is stored
-- exactly once, also after a crash.
CREATE TABLE audit_spool (
    generation TEXT PRIMARY KEY,
    ingested   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE audit_spool;
