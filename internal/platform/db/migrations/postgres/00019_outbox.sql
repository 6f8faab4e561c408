-- +goose Up
-- The outbox: small work items inserted in the writer's transaction and
-- consumed in batches (internal/platform/outbox). A consumer deletes the
-- items it applied in the transaction of their effects.
CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    failed_at    BIGINT
);
CREATE INDEX outbox_topic ON outbox (topic, seq) WHERE failed_at IS NULL;

-- A journey's links, read whole when its flag is recomputed: answered
-- from the index alone.
DROP INDEX journey_links_journey;
CREATE INDEX journey_links_journey ON journey_links (org_id, journey_id) INCLUDE (role, version, level, reason);

-- +goose Down
DROP INDEX journey_links_journey;
CREATE INDEX journey_links_journey ON journey_links (org_id, journey_id);
DROP TABLE outbox;
