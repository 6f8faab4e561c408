-- +goose Up
-- Each version's JSON is stored once: the current version only in
-- fhir_resources, earlier versions in fhir_resource_history. Until now the
-- history held the current version too.
DELETE FROM fhir_resource_history
WHERE EXISTS (
    SELECT 1 FROM fhir_resources r
    WHERE r.org_id = fhir_resource_history.org_id
      AND r.resource_type = fhir_resource_history.resource_type
      AND r.id = fhir_resource_history.id
      AND r.version_id = fhir_resource_history.version_id
);

-- +goose Down
INSERT INTO fhir_resource_history (org_id, resource_type, id, version_id, last_updated, deleted, content)
SELECT org_id, resource_type, id, version_id, last_updated, deleted, content FROM fhir_resources;
