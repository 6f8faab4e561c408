-- +goose Up
-- Every search index row named its parameter by two strings, the resource
-- type and the parameter's code ("Observation", "code-value-quantity"), in
-- the row and again in the key of its value index. They are now one small
-- number, param_id, that fhir_index_params gives each (type, code) pair: an
-- index row and its key are 15 to 35 bytes shorter, and a key compares as an
-- integer first. Searches find the number by the type and code in the same
-- query; writers add the pairs they meet (internal/fhir/paramids.go).
-- The pairs belong to no organisation: they are names from the FHIR
-- specification, the same for every organisation.
CREATE TABLE fhir_index_params (
    id            INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    UNIQUE (resource_type, param)
);
INSERT INTO fhir_index_params (resource_type, param)
SELECT resource_type, param FROM fhir_idx_token
UNION SELECT resource_type, param FROM fhir_idx_string
UNION SELECT resource_type, param FROM fhir_idx_date
UNION SELECT resource_type, param FROM fhir_idx_reference
UNION SELECT resource_type, param FROM fhir_idx_quantity
UNION SELECT resource_type, param FROM fhir_idx_number
UNION SELECT resource_type, param FROM fhir_idx_uri
UNION SELECT resource_type, param FROM fhir_idx_composite
ORDER BY resource_type, param;

CREATE TABLE fhir_idx_token_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL
);
INSERT INTO fhir_idx_token_p (res, param_id, system, code, display)
SELECT x.res, p.id, x.system, x.code, x.display FROM fhir_idx_token x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_token;
ALTER TABLE fhir_idx_token_p RENAME TO fhir_idx_token;
CREATE INDEX fhir_idx_token_code ON fhir_idx_token (param_id, code, system);
CREATE INDEX fhir_idx_token_res ON fhir_idx_token (res);

CREATE TABLE fhir_idx_string_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    value         TEXT NOT NULL,
    exact         TEXT NOT NULL
);
INSERT INTO fhir_idx_string_p (res, param_id, value, exact)
SELECT x.res, p.id, x.value, x.exact FROM fhir_idx_string x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_string;
ALTER TABLE fhir_idx_string_p RENAME TO fhir_idx_string;
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (param_id, value);
CREATE INDEX fhir_idx_string_res ON fhir_idx_string (res);

CREATE TABLE fhir_idx_date_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL
);
INSERT INTO fhir_idx_date_p (res, param_id, low, high)
SELECT x.res, p.id, x.low, x.high FROM fhir_idx_date x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_date;
ALTER TABLE fhir_idx_date_p RENAME TO fhir_idx_date;
CREATE INDEX fhir_idx_date_low ON fhir_idx_date (param_id, low, high);
CREATE INDEX fhir_idx_date_res ON fhir_idx_date (res);

CREATE TABLE fhir_idx_reference_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_reference_p (res, param_id, target_type, target_id, url)
SELECT x.res, p.id, x.target_type, x.target_id, x.url FROM fhir_idx_reference x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_reference;
ALTER TABLE fhir_idx_reference_p RENAME TO fhir_idx_reference;
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (param_id, target_id, target_type);
CREATE INDEX fhir_idx_reference_rev ON fhir_idx_reference (target_type, target_id);
CREATE INDEX fhir_idx_reference_res ON fhir_idx_reference (res);

CREATE TABLE fhir_idx_quantity_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    value         REAL NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    unit          TEXT NOT NULL
);
INSERT INTO fhir_idx_quantity_p (res, param_id, value, system, code, unit)
SELECT x.res, p.id, x.value, x.system, x.code, x.unit FROM fhir_idx_quantity x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_quantity;
ALTER TABLE fhir_idx_quantity_p RENAME TO fhir_idx_quantity;
CREATE INDEX fhir_idx_quantity_value ON fhir_idx_quantity (param_id, value);
CREATE INDEX fhir_idx_quantity_res ON fhir_idx_quantity (res);

CREATE TABLE fhir_idx_number_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    value         REAL NOT NULL
);
INSERT INTO fhir_idx_number_p (res, param_id, value)
SELECT x.res, p.id, x.value FROM fhir_idx_number x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_number;
ALTER TABLE fhir_idx_number_p RENAME TO fhir_idx_number;
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (param_id, value);
CREATE INDEX fhir_idx_number_res ON fhir_idx_number (res);

CREATE TABLE fhir_idx_uri_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
    value         TEXT NOT NULL
);
INSERT INTO fhir_idx_uri_p (res, param_id, value)
SELECT x.res, p.id, x.value FROM fhir_idx_uri x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_uri;
ALTER TABLE fhir_idx_uri_p RENAME TO fhir_idx_uri;
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (param_id, value);
CREATE INDEX fhir_idx_uri_res ON fhir_idx_uri (res);

CREATE TABLE fhir_idx_composite_p (
    res           INTEGER NOT NULL,
    param_id      INTEGER NOT NULL,
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
INSERT INTO fhir_idx_composite_p (res, param_id, node, part, system, code, display, value, low, high, num, unit, target_type, target_id, url)
SELECT x.res, p.id, x.node, x.part, x.system, x.code, x.display, x.value, x.low, x.high, x.num, x.unit, x.target_type, x.target_id, x.url FROM fhir_idx_composite x
JOIN fhir_index_params p ON p.resource_type = x.resource_type AND p.param = x.param;
DROP TABLE fhir_idx_composite;
ALTER TABLE fhir_idx_composite_p RENAME TO fhir_idx_composite;
CREATE INDEX fhir_idx_composite_code ON fhir_idx_composite (param_id, part, code, system);
CREATE INDEX fhir_idx_composite_res ON fhir_idx_composite (res, param_id, node, part);

-- +goose Down
CREATE TABLE fhir_idx_token_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    display       TEXT NOT NULL
);
INSERT INTO fhir_idx_token_named (res, resource_type, param, system, code, display)
SELECT x.res, p.resource_type, p.param, x.system, x.code, x.display FROM fhir_idx_token x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_token;
ALTER TABLE fhir_idx_token_named RENAME TO fhir_idx_token;
CREATE INDEX fhir_idx_token_code ON fhir_idx_token (resource_type, param, code, system);
CREATE INDEX fhir_idx_token_res ON fhir_idx_token (res);

CREATE TABLE fhir_idx_string_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL,
    exact         TEXT NOT NULL
);
INSERT INTO fhir_idx_string_named (res, resource_type, param, value, exact)
SELECT x.res, p.resource_type, p.param, x.value, x.exact FROM fhir_idx_string x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_string;
ALTER TABLE fhir_idx_string_named RENAME TO fhir_idx_string;
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (resource_type, param, value);
CREATE INDEX fhir_idx_string_res ON fhir_idx_string (res);

CREATE TABLE fhir_idx_date_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    low           INTEGER NOT NULL,
    high          INTEGER NOT NULL
);
INSERT INTO fhir_idx_date_named (res, resource_type, param, low, high)
SELECT x.res, p.resource_type, p.param, x.low, x.high FROM fhir_idx_date x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_date;
ALTER TABLE fhir_idx_date_named RENAME TO fhir_idx_date;
CREATE INDEX fhir_idx_date_low ON fhir_idx_date (resource_type, param, low, high);
CREATE INDEX fhir_idx_date_res ON fhir_idx_date (res);

CREATE TABLE fhir_idx_reference_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    url           TEXT NOT NULL
);
INSERT INTO fhir_idx_reference_named (res, resource_type, param, target_type, target_id, url)
SELECT x.res, p.resource_type, p.param, x.target_type, x.target_id, x.url FROM fhir_idx_reference x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_reference;
ALTER TABLE fhir_idx_reference_named RENAME TO fhir_idx_reference;
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (resource_type, param, target_id, target_type);
CREATE INDEX fhir_idx_reference_rev ON fhir_idx_reference (target_type, target_id);
CREATE INDEX fhir_idx_reference_res ON fhir_idx_reference (res);

CREATE TABLE fhir_idx_quantity_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL,
    unit          TEXT NOT NULL
);
INSERT INTO fhir_idx_quantity_named (res, resource_type, param, value, system, code, unit)
SELECT x.res, p.resource_type, p.param, x.value, x.system, x.code, x.unit FROM fhir_idx_quantity x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_quantity;
ALTER TABLE fhir_idx_quantity_named RENAME TO fhir_idx_quantity;
CREATE INDEX fhir_idx_quantity_value ON fhir_idx_quantity (resource_type, param, value);
CREATE INDEX fhir_idx_quantity_res ON fhir_idx_quantity (res);

CREATE TABLE fhir_idx_number_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         REAL NOT NULL
);
INSERT INTO fhir_idx_number_named (res, resource_type, param, value)
SELECT x.res, p.resource_type, p.param, x.value FROM fhir_idx_number x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_number;
ALTER TABLE fhir_idx_number_named RENAME TO fhir_idx_number;
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (resource_type, param, value);
CREATE INDEX fhir_idx_number_res ON fhir_idx_number (res);

CREATE TABLE fhir_idx_uri_named (
    res           INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    param         TEXT NOT NULL,
    value         TEXT NOT NULL
);
INSERT INTO fhir_idx_uri_named (res, resource_type, param, value)
SELECT x.res, p.resource_type, p.param, x.value FROM fhir_idx_uri x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_uri;
ALTER TABLE fhir_idx_uri_named RENAME TO fhir_idx_uri;
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (resource_type, param, value);
CREATE INDEX fhir_idx_uri_res ON fhir_idx_uri (res);

CREATE TABLE fhir_idx_composite_named (
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
INSERT INTO fhir_idx_composite_named (res, resource_type, param, node, part, system, code, display, value, low, high, num, unit, target_type, target_id, url)
SELECT x.res, p.resource_type, p.param, x.node, x.part, x.system, x.code, x.display, x.value, x.low, x.high, x.num, x.unit, x.target_type, x.target_id, x.url FROM fhir_idx_composite x
JOIN fhir_index_params p ON p.id = x.param_id;
DROP TABLE fhir_idx_composite;
ALTER TABLE fhir_idx_composite_named RENAME TO fhir_idx_composite;
CREATE INDEX fhir_idx_composite_code ON fhir_idx_composite (resource_type, param, part, code, system);
CREATE INDEX fhir_idx_composite_res ON fhir_idx_composite (res, param, node, part);

DROP TABLE fhir_index_params;
