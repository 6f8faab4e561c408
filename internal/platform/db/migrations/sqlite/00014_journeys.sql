-- +goose Up
-- Result journeys (internal/journey): every order and every result without
-- an order followed from ordered to closed, like a parcel. Times are Unix
-- milliseconds (UTC), so both engines sort and compare them alike.

-- Each organisation's journey policy; an organisation without a row uses
-- the defaults in code (journey.DefaultPolicy).
CREATE TABLE journey_policies (
    org_id                  TEXT NOT NULL REFERENCES organizations (id),
    critical_ack_minutes    INTEGER NOT NULL,
    covering_ack_minutes    INTEGER NOT NULL,
    abnormal_review_days    INTEGER NOT NULL, -- business days, Monday to Friday
    release_delay_minutes   INTEGER NOT NULL,
    historical_after_days   INTEGER NOT NULL,
    time_zone               TEXT NOT NULL,
    covering_clinician      TEXT NOT NULL,
    care_coordinator        TEXT NOT NULL,
    updated_at              INTEGER NOT NULL,
    PRIMARY KEY (org_id)
);

-- One row per journey, holding what the inbox and the patient's timeline
-- need without reading FHIR. anchor is the resource the journey follows
-- ("ServiceRequest/id", or "DiagnosticReport/id" or "Observation/id" for a
-- result without an order). urgency (0 critical, 1 abnormal, 2 other) and
-- due_sort (due_at, or the largest BIGINT when no step is due) order the
-- inbox. clock counts the deadlines started: a deadline's job acts only
-- while its clock is the journey's current one. merged_into names the
-- journey that took over a laboratory result that had arrived alone.
CREATE TABLE journeys (
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    id              TEXT NOT NULL,
    anchor          TEXT NOT NULL,
    patient_id      TEXT NOT NULL,
    order_ref       TEXT NOT NULL,
    report_ref      TEXT NOT NULL,
    code_system     TEXT NOT NULL,
    code            TEXT NOT NULL,
    display         TEXT NOT NULL,
    stage           TEXT NOT NULL,
    flag            TEXT NOT NULL,
    flag_reason     TEXT NOT NULL,
    urgency         INTEGER NOT NULL,
    clinician       TEXT NOT NULL,
    opened_at       INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    result_at       INTEGER,
    final_at        INTEGER,
    due_at          INTEGER,
    due_step        TEXT NOT NULL,
    due_sort        INTEGER NOT NULL,
    clock           INTEGER NOT NULL,
    clock_job       INTEGER,
    escalation      INTEGER NOT NULL,
    reviewed_at     INTEGER,
    reviewed_by     TEXT NOT NULL,
    released_at     INTEGER,
    hold_reason     TEXT NOT NULL,
    hold_until      INTEGER,
    hold_by         TEXT NOT NULL,
    notified_at     INTEGER,
    viewed_at       INTEGER,
    acknowledged_at INTEGER,
    followup_at     INTEGER,
    booked_at       INTEGER,
    followup_done_at INTEGER,
    closed_at       INTEGER,
    events          INTEGER NOT NULL,
    merged_into     TEXT NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, anchor)
);
CREATE INDEX journeys_inbox ON journeys (org_id, urgency, due_sort, id) WHERE closed_at IS NULL;
CREATE INDEX journeys_patient ON journeys (org_id, patient_id, opened_at);

-- Every event of a journey, in order: a transition when from_stage and
-- to_stage differ, otherwise an event that did not move the stage (a
-- comment, an escalation, a step that would have gone backwards). cause is
-- the FHIR version ("Type/id/_history/v") or the action ("api:acknowledge");
-- actor who acted, when a person did.
CREATE TABLE journey_events (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    journey_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    from_stage  TEXT NOT NULL,
    to_stage    TEXT NOT NULL,
    cause       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (org_id, journey_id, seq)
);

-- The FHIR resources tied to each journey ("Type/id") with their role and
-- the last version applied: a version at or below it is never applied
-- again. Results keep their interpretation (level 0 unknown to 3 critical).
CREATE TABLE journey_links (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    ref         TEXT NOT NULL,
    journey_id  TEXT NOT NULL,
    role        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (org_id, ref, journey_id)
) WITHOUT ROWID;
CREATE INDEX journey_links_journey ON journey_links (org_id, journey_id);

-- +goose Down
DROP TABLE journey_links;
DROP TABLE journey_events;
DROP TABLE journeys;
DROP TABLE journey_policies;
