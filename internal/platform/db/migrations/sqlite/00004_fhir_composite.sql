-- +goose Up
-- Search index of composite parameters (Observation code-value-quantity,
-- component-code-value-quantity, ...): one row per value of one component.
-- node numbers the element of the resource the composite's expression
-- selected (the Observation itself, one Observation.component, ...) and
-- part the component, from 0: a search matches the components of one node
-- together. The value columns are those of the component's own type:
-- token (system, code, display), string (value normalised, display as
-- written), uri (value), date (low, high: Unix ms, [low, high)),
-- quantity (num, system, code, unit), number (num), reference
-- (target_type, target_id, url).
CREATE TABLE fhir_idx_composite (
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
CREATE INDEX fhir_idx_composite_code ON fhir_idx_composite (org_id, resource_type, param, part, code, system);
CREATE INDEX fhir_idx_composite_res ON fhir_idx_composite (org_id, resource_type, id, param, node, part);

-- +goose Down
DROP TABLE fhir_idx_composite;
