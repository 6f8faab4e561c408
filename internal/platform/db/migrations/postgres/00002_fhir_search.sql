-- +goose Up
-- Search index of FHIR resources: one typed table per search parameter type,
-- rewritten with every version. Dates are Unix milliseconds, ranges [low, high).
CREATE TABLE fhir_idx_token (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL
);
CREATE INDEX fhir_idx_token_code ON fhir_idx_token (org_id, resource_type, param, code, system);
CREATE INDEX fhir_idx_token_res ON fhir_idx_token (org_id, resource_type, id);

CREATE TABLE fhir_idx_string (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL,
    exact         TEXT NOT NULL
);
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_string_res ON fhir_idx_string (org_id, resource_type, id);

CREATE TABLE fhir_idx_date (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    low           BIGINT NOT NULL,
    high          BIGINT NOT NULL
);
CREATE INDEX fhir_idx_date_low ON fhir_idx_date (org_id, resource_type, param, low, high);
CREATE INDEX fhir_idx_date_res ON fhir_idx_date (org_id, resource_type, id);

CREATE TABLE fhir_idx_reference (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (org_id, resource_type, param, target_id, target_type);
CREATE INDEX fhir_idx_reference_rev ON fhir_idx_reference (org_id, target_type, target_id);
CREATE INDEX fhir_idx_reference_res ON fhir_idx_reference (org_id, resource_type, id);

CREATE TABLE fhir_idx_quantity (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         DOUBLE PRECISION NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    unit          TEXT NOT NULL
);
CREATE INDEX fhir_idx_quantity_value ON fhir_idx_quantity (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_quantity_res ON fhir_idx_quantity (org_id, resource_type, id);

CREATE TABLE fhir_idx_number (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         DOUBLE PRECISION NOT NULL
);
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_number_res ON fhir_idx_number (org_id, resource_type, id);

CREATE TABLE fhir_idx_uri (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL
);
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_uri_res ON fhir_idx_uri (org_id, resource_type, id);

-- History by time, for _history on types and the whole server.
CREATE INDEX fhir_resource_history_time ON fhir_resource_history (org_id, last_updated);

-- Bearer tokens of systems calling the FHIR API, stored as SHA-256 hashes.
CREATE TABLE api_keys (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    PRIMARY KEY (org_id, id)
);

-- Progress of 'careloop import', so an interrupted import resumes: a file
-- is known by its SHA-256; done counts the lines (NDJSON) or entries stored.
CREATE TABLE fhir_imports (
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    sha256       TEXT NOT NULL,
    path         TEXT NOT NULL,
    done         BIGINT NOT NULL,
    completed_at TIMESTAMPTZ,
    PRIMARY KEY (org_id, sha256)
);

-- Bulk exports ($export): the request, its state, and the NDJSON it made.
CREATE TABLE fhir_exports (
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    id           TEXT NOT NULL,
    request      TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    types        TEXT NOT NULL,
    since        TIMESTAMPTZ,
    status       TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE fhir_export_files (
    org_id        TEXT NOT NULL,
    export_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    resource_type TEXT NOT NULL,
    count         BIGINT NOT NULL,
    content       TEXT NOT NULL,
    PRIMARY KEY (org_id, export_id, seq)
);

-- +goose Down
DROP TABLE fhir_export_files;
DROP TABLE fhir_exports;
DROP TABLE fhir_imports;
DROP TABLE api_keys;
DROP INDEX fhir_resource_history_time;
DROP TABLE fhir_idx_uri;
DROP TABLE fhir_idx_number;
DROP TABLE fhir_idx_quantity;
DROP TABLE fhir_idx_reference;
DROP TABLE fhir_idx_date;
DROP TABLE fhir_idx_string;
DROP TABLE fhir_idx_token;
