-- +goose Up
-- Every resource gets a number, rk, that stays with it for its whole life
-- (updates and deletion keep it). The search index rows name their
-- resource by it instead of by (org_id, resource_type, id): an index row is
-- then about 80 bytes shorter, the per-resource index holds one integer
-- that only grows, and the value indexes drop the organisation's id. Every
-- search joins the index rows to fhir_resources by rk and filters the
-- organisation there, so no query reads another organisation's resources.
CREATE TABLE fhir_resources_keyed (
    rk            INTEGER PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    version_id    INTEGER NOT NULL,
    last_updated  DATETIME NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    content       TEXT NOT NULL,
    patients      TEXT,
    UNIQUE (org_id, resource_type, id)
);
INSERT INTO fhir_resources_keyed (org_id, resource_type, id, version_id, last_updated, deleted, content, patients)
SELECT org_id, resource_type, id, version_id, last_updated, deleted, content, patients FROM fhir_resources ORDER BY rowid;
DROP TABLE fhir_resources;
ALTER TABLE fhir_resources_keyed RENAME TO fhir_resources;
CREATE INDEX fhir_resources_updated ON fhir_resources (org_id, last_updated);

CREATE TABLE fhir_idx_token_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL
);
INSERT INTO fhir_idx_token_keyed (res, resource_type, param, system, code, display)
SELECT r.rk, x.resource_type, x.param, x.system, x.code, x.display FROM fhir_idx_token x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_token;
ALTER TABLE fhir_idx_token_keyed RENAME TO fhir_idx_token;
CREATE INDEX fhir_idx_token_code ON fhir_idx_token (resource_type, param, code, system);
CREATE INDEX fhir_idx_token_res ON fhir_idx_token (res);

CREATE TABLE fhir_idx_string_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL,
    exact         TEXT NOT NULL
);
INSERT INTO fhir_idx_string_keyed (res, resource_type, param, value, exact)
SELECT r.rk, x.resource_type, x.param, x.value, x.exact FROM fhir_idx_string x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_string;
ALTER TABLE fhir_idx_string_keyed RENAME TO fhir_idx_string;
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (resource_type, param, value);
CREATE INDEX fhir_idx_string_res ON fhir_idx_string (res);

CREATE TABLE fhir_idx_date_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL
);
INSERT INTO fhir_idx_date_keyed (res, resource_type, param, low, high)
SELECT r.rk, x.resource_type, x.param, x.low, x.high FROM fhir_idx_date x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_date;
ALTER TABLE fhir_idx_date_keyed RENAME TO fhir_idx_date;
CREATE INDEX fhir_idx_date_low ON fhir_idx_date (resource_type, param, low, high);
CREATE INDEX fhir_idx_date_res ON fhir_idx_date (res);

CREATE TABLE fhir_idx_reference_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_reference_keyed (res, resource_type, param, target_type, target_id, url)
SELECT r.rk, x.resource_type, x.param, x.target_type, x.target_id, x.url FROM fhir_idx_reference x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_reference;
ALTER TABLE fhir_idx_reference_keyed RENAME TO fhir_idx_reference;
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (resource_type, param, target_id, target_type);
CREATE INDEX fhir_idx_reference_rev ON fhir_idx_reference (target_type, target_id);
CREATE INDEX fhir_idx_reference_res ON fhir_idx_reference (res);

CREATE TABLE fhir_idx_quantity_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    unit          TEXT NOT NULL
);
INSERT INTO fhir_idx_quantity_keyed (res, resource_type, param, value, system, code, unit)
SELECT r.rk, x.resource_type, x.param, x.value, x.system, x.code, x.unit FROM fhir_idx_quantity x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_quantity;
ALTER TABLE fhir_idx_quantity_keyed RENAME TO fhir_idx_quantity;
CREATE INDEX fhir_idx_quantity_value ON fhir_idx_quantity (resource_type, param, value);
CREATE INDEX fhir_idx_quantity_res ON fhir_idx_quantity (res);

CREATE TABLE fhir_idx_number_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL
);
INSERT INTO fhir_idx_number_keyed (res, resource_type, param, value)
SELECT r.rk, x.resource_type, x.param, x.value FROM fhir_idx_number x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_number;
ALTER TABLE fhir_idx_number_keyed RENAME TO fhir_idx_number;
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (resource_type, param, value);
CREATE INDEX fhir_idx_number_res ON fhir_idx_number (res);

CREATE TABLE fhir_idx_uri_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL
);
INSERT INTO fhir_idx_uri_keyed (res, resource_type, param, value)
SELECT r.rk, x.resource_type, x.param, x.value FROM fhir_idx_uri x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_uri;
ALTER TABLE fhir_idx_uri_keyed RENAME TO fhir_idx_uri;
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (resource_type, param, value);
CREATE INDEX fhir_idx_uri_res ON fhir_idx_uri (res);

CREATE TABLE fhir_idx_composite_keyed (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    node          INTEGER NOT NULL,
    part          INTEGER NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL,
    value         TEXT NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL,
    num           REAL NOT NULL,
    unit          TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_composite_keyed (res, resource_type, param, node, part, system, code, display, value, low, high, num, unit, target_type, target_id, url)
SELECT r.rk, x.resource_type, x.param, x.node, x.part, x.system, x.code, x.display, x.value, x.low, x.high, x.num, x.unit, x.target_type, x.target_id, x.url FROM fhir_idx_composite x
JOIN fhir_resources r ON r.org_id = x.org_id AND r.resource_type = x.resource_type AND r.id = x.id;
DROP TABLE fhir_idx_composite;
ALTER TABLE fhir_idx_composite_keyed RENAME TO fhir_idx_composite;
CREATE INDEX fhir_idx_composite_code ON fhir_idx_composite (resource_type, param, part, code, system);
CREATE INDEX fhir_idx_composite_res ON fhir_idx_composite (res, param, node, part);

-- +goose Down
CREATE TABLE fhir_idx_token_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL
);
INSERT INTO fhir_idx_token_named (org_id, resource_type, id, param, system, code, display)
SELECT r.org_id, r.resource_type, r.id, x.param, x.system, x.code, x.display FROM fhir_idx_token x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_token;
ALTER TABLE fhir_idx_token_named RENAME TO fhir_idx_token;
CREATE INDEX fhir_idx_token_code ON fhir_idx_token (org_id, resource_type, param, code, system);
CREATE INDEX fhir_idx_token_res ON fhir_idx_token (org_id, resource_type, id);

CREATE TABLE fhir_idx_string_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL,
    exact         TEXT NOT NULL
);
INSERT INTO fhir_idx_string_named (org_id, resource_type, id, param, value, exact)
SELECT r.org_id, r.resource_type, r.id, x.param, x.value, x.exact FROM fhir_idx_string x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_string;
ALTER TABLE fhir_idx_string_named RENAME TO fhir_idx_string;
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_string_res ON fhir_idx_string (org_id, resource_type, id);

CREATE TABLE fhir_idx_date_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL
);
INSERT INTO fhir_idx_date_named (org_id, resource_type, id, param, low, high)
SELECT r.org_id, r.resource_type, r.id, x.param, x.low, x.high FROM fhir_idx_date x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_date;
ALTER TABLE fhir_idx_date_named RENAME TO fhir_idx_date;
CREATE INDEX fhir_idx_date_low ON fhir_idx_date (org_id, resource_type, param, low, high);
CREATE INDEX fhir_idx_date_res ON fhir_idx_date (org_id, resource_type, id);

CREATE TABLE fhir_idx_reference_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_reference_named (org_id, resource_type, id, param, target_type, target_id, url)
SELECT r.org_id, r.resource_type, r.id, x.param, x.target_type, x.target_id, x.url FROM fhir_idx_reference x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_reference;
ALTER TABLE fhir_idx_reference_named RENAME TO fhir_idx_reference;
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (org_id, resource_type, param, target_id, target_type);
CREATE INDEX fhir_idx_reference_rev ON fhir_idx_reference (org_id, target_type, target_id);
CREATE INDEX fhir_idx_reference_res ON fhir_idx_reference (org_id, resource_type, id);

CREATE TABLE fhir_idx_quantity_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    unit          TEXT NOT NULL
);
INSERT INTO fhir_idx_quantity_named (org_id, resource_type, id, param, value, system, code, unit)
SELECT r.org_id, r.resource_type, r.id, x.param, x.value, x.system, x.code, x.unit FROM fhir_idx_quantity x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_quantity;
ALTER TABLE fhir_idx_quantity_named RENAME TO fhir_idx_quantity;
CREATE INDEX fhir_idx_quantity_value ON fhir_idx_quantity (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_quantity_res ON fhir_idx_quantity (org_id, resource_type, id);

CREATE TABLE fhir_idx_number_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL
);
INSERT INTO fhir_idx_number_named (org_id, resource_type, id, param, value)
SELECT r.org_id, r.resource_type, r.id, x.param, x.value FROM fhir_idx_number x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_number;
ALTER TABLE fhir_idx_number_named RENAME TO fhir_idx_number;
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_number_res ON fhir_idx_number (org_id, resource_type, id);

CREATE TABLE fhir_idx_uri_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL
);
INSERT INTO fhir_idx_uri_named (org_id, resource_type, id, param, value)
SELECT r.org_id, r.resource_type, r.id, x.param, x.value FROM fhir_idx_uri x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_uri;
ALTER TABLE fhir_idx_uri_named RENAME TO fhir_idx_uri;
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (org_id, resource_type, param, value);
CREATE INDEX fhir_idx_uri_res ON fhir_idx_uri (org_id, resource_type, id);

CREATE TABLE fhir_idx_composite_named (
    org_id        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    node          INTEGER NOT NULL,
    part          INTEGER NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL,
    value         TEXT NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL,
    num           REAL NOT NULL,
    unit          TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_composite_named (org_id, resource_type, id, param, node, part, system, code, display, value, low, high, num, unit, target_type, target_id, url)
SELECT r.org_id, r.resource_type, r.id, x.param, x.node, x.part, x.system, x.code, x.display, x.value, x.low, x.high, x.num, x.unit, x.target_type, x.target_id, x.url FROM fhir_idx_composite x JOIN fhir_resources r ON r.rk = x.res;
DROP TABLE fhir_idx_composite;
ALTER TABLE fhir_idx_composite_named RENAME TO fhir_idx_composite;
CREATE INDEX fhir_idx_composite_code ON fhir_idx_composite (org_id, resource_type, param, part, code, system);
CREATE INDEX fhir_idx_composite_res ON fhir_idx_composite (org_id, resource_type, id, param, node, part);

CREATE TABLE fhir_resources_named (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    version_id    INTEGER NOT NULL,
    last_updated  DATETIME NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    content       TEXT NOT NULL,
    patients      TEXT,
    PRIMARY KEY (org_id, resource_type, id)
);
INSERT INTO fhir_resources_named (org_id, resource_type, id, version_id, last_updated, deleted, content, patients)
SELECT org_id, resource_type, id, version_id, last_updated, deleted, content, patients FROM fhir_resources ORDER BY rk;
DROP TABLE fhir_resources;
ALTER TABLE fhir_resources_named RENAME TO fhir_resources;
CREATE INDEX fhir_resources_updated ON fhir_resources (org_id, last_updated);
