-- +goose Up
-- Proxy access: a caregiver's account may see a patient's record, as the
-- patient or the clinic granted. patient_id is the FHIR Patient id. A grant
-- ends when it expires or is revoked; rows are kept as the record of who
-- could see what, and when.
CREATE TABLE access_proxies (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    id            TEXT NOT NULL,
    caregiver_id  TEXT NOT NULL,
    patient_id    TEXT NOT NULL,
    granted_by    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    expires_at    DATETIME,
    revoked_at    DATETIME,
    revoked_by    TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX access_proxies_caregiver ON access_proxies (org_id, caregiver_id);
CREATE INDEX access_proxies_patient ON access_proxies (org_id, patient_id);

-- Break-glass: a clinician reaching a patient without a care relationship,
-- for a stated reason, for a limited time. Every row is raised to the
-- compliance officers, who mark it reviewed.
CREATE TABLE access_break_glass (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    id            TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    role          TEXT NOT NULL,
    patient_id    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    address       TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    expires_at    DATETIME NOT NULL,
    reviewed_at   DATETIME,
    reviewed_by   TEXT,
    review_note   TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX access_break_glass_account ON access_break_glass (org_id, account_id, expires_at);
CREATE INDEX access_break_glass_created ON access_break_glass (org_id, created_at);

-- +goose Down
DROP TABLE access_break_glass;
DROP TABLE access_proxies;
