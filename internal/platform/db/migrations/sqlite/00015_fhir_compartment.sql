-- +goose Up
-- The patients in whose compartment each current version is, as their ids
-- separated by spaces ('' for none), computed when the version is written:
-- the access policy and the audit log then need not read the resource's
-- JSON for them on every read. NULL for versions written before, which are
-- read from the JSON as before.
ALTER TABLE fhir_resources ADD COLUMN patients TEXT;

-- +goose Down
ALTER TABLE fhir_resources DROP COLUMN patients;
