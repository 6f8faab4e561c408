-- +goose Up
-- Organisations are the tenants: every other table holding data carries
-- org_id and every query names it.
CREATE TABLE organizations (
    id          TEXT NOT NULL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  DATETIME NOT NULL
);

-- The current version of every FHIR resource, its JSON exactly as received.
-- meta.versionId and meta.lastUpdated live in their columns.
CREATE TABLE fhir_resources (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    version_id    INTEGER NOT NULL,
    last_updated  DATETIME NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    content       TEXT NOT NULL,
    PRIMARY KEY (org_id, resource_type, id)
);
CREATE INDEX fhir_resources_updated ON fhir_resources (org_id, last_updated);

-- Every version ever stored, current included; never updated or deleted.
CREATE TABLE fhir_resource_history (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    version_id    INTEGER NOT NULL,
    last_updated  DATETIME NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    content       TEXT NOT NULL,
    PRIMARY KEY (org_id, resource_type, id, version_id)
);

-- Live resources per type, kept by the fhir.resources_changed job.
CREATE TABLE fhir_type_counts (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    resource_type TEXT NOT NULL,
    live          INTEGER NOT NULL,
    PRIMARY KEY (org_id, resource_type)
);

-- Sign-in identities of people. Passwords are argon2id PHC strings.
CREATE TABLE accounts (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    id            TEXT NOT NULL,
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    fhir_ref      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

-- Progress of demo seeding, so a killed seeding resumes where it stopped
-- with the same anchor date and seed.
CREATE TABLE demo_seeds (
    org_id        TEXT NOT NULL PRIMARY KEY REFERENCES organizations (id),
    seed          INTEGER NOT NULL,
    patients      INTEGER NOT NULL,
    anchor        DATETIME NOT NULL,
    next_patient  INTEGER NOT NULL,
    completed_at  DATETIME
);

-- +goose Down
DROP TABLE demo_seeds;
DROP TABLE accounts;
DROP TABLE fhir_type_counts;
DROP TABLE fhir_resource_history;
DROP TABLE fhir_resources;
DROP TABLE organizations;
