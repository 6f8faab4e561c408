-- +goose Up
-- The outbox: small work items inserted in the writer's transaction and
-- consumed in batches (internal/platform/outbox). A consumer deletes the
-- items it applied in the transaction of their effects.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,
    topic        TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    failed_at    INTEGER
);
CREATE INDEX outbox_topic ON outbox (topic, seq) WHERE failed_at IS NULL;

-- A journey's links, read whole when its flag is recomputed. The index
-- on (org_id, journey_id) alone was passed over for a scan of the whole
-- organisation's links: SQLite prefers the covering primary key of a
-- WITHOUT ROWID table when it has no statistics.
DROP INDEX journey_links_journey;
CREATE INDEX journey_links_journey ON journey_links (org_id, journey_id, role, version, level, reason);

-- +goose Down
DROP INDEX journey_links_journey;
CREATE INDEX journey_links_journey ON journey_links (org_id, journey_id);
DROP TABLE outbox;
