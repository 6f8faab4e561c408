-- +goose Up
-- Result journeys, second part (internal/journey): expected times of
-- arrival, lost-to-follow-up outreach, measurements. Times are Unix
-- milliseconds (UTC), as in 00014.

-- Orders waiting for their result whose arrival is predicted: the site
-- (performing Organization or Location, '' for the organisation itself),
-- the category of the test (for the default estimate) and when the clock
-- started (the journey's opening). The row goes when the result is final
-- (its duration becomes a sample) or the journey ends.
CREATE TABLE journey_eta_pending (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    journey_id  TEXT NOT NULL,
    site        TEXT NOT NULL,
    category    TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, journey_id)
);

-- Per test code (code_key "system|code") and site, how many durations from
-- order to final result were observed, and the median and 80th percentile
-- of the most recent ones (journey_eta_samples), recomputed in the
-- transaction that reaches final.
CREATE TABLE journey_eta_series (
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    code_key     TEXT NOT NULL,
    site         TEXT NOT NULL,
    observations BIGINT NOT NULL,
    median_ms    BIGINT NOT NULL,
    p80_ms       BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, code_key, site)
);

-- The most recent durations of a series: a ring of journey.ETAWindow slots,
-- the n-th observation in slot n mod the window.
CREATE TABLE journey_eta_samples (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    code_key    TEXT NOT NULL,
    site        TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    duration_ms BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (org_id, code_key, site, slot)
);

-- Lost-to-follow-up outreach, one row per journey and reason
-- ('unviewed': a released result not viewed in time; 'followup-unbooked':
-- a recommended follow-up not booked in time). state: 'waiting' (the job
-- job_id fires at due_at), 'open' (fired: in the coordinators' outreach
-- queue), 'resolved' (the step happened after it fired), 'cancelled' (the
-- step happened before, or the journey ended).
CREATE TABLE journey_outreach (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    journey_id  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    job_id      BIGINT,
    state       TEXT NOT NULL,
    note        TEXT NOT NULL,
    fired_at    BIGINT,
    resolved_at BIGINT,
    PRIMARY KEY (org_id, journey_id, reason)
);
CREATE INDEX journey_outreach_open ON journey_outreach (org_id, journey_id) WHERE state = 'open';

-- Measurements read the events of a time window.
CREATE INDEX journey_events_at ON journey_events (org_id, at);

-- The outreach windows of the policy, and deadlines to the millisecond
-- (0: the minutes of 00014 apply; set for drills on a test organisation).
ALTER TABLE journey_policies ADD COLUMN followup_book_days INTEGER NOT NULL DEFAULT 14;
ALTER TABLE journey_policies ADD COLUMN unviewed_days INTEGER NOT NULL DEFAULT 7;
ALTER TABLE journey_policies ADD COLUMN critical_ack_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE journey_policies ADD COLUMN covering_ack_ms BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE journey_policies DROP COLUMN covering_ack_ms;
ALTER TABLE journey_policies DROP COLUMN critical_ack_ms;
ALTER TABLE journey_policies DROP COLUMN unviewed_days;
ALTER TABLE journey_policies DROP COLUMN followup_book_days;
DROP INDEX journey_events_at;
DROP TABLE journey_outreach;
DROP TABLE journey_eta_samples;
DROP TABLE journey_eta_series;
DROP TABLE journey_eta_pending;
