-- +goose Up
-- Accounts by the record they are linked to: notifications find the
-- sign-in email of a patient whose record has none.
CREATE INDEX accounts_fhir_ref ON accounts (org_id, fhir_ref) WHERE fhir_ref <> '';

-- +goose Down
DROP INDEX accounts_fhir_ref;
