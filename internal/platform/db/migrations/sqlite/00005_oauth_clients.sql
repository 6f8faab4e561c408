-- +goose Up
-- Backend clients of the FHIR API (SMART Backend Services): each proves
-- who it is with a JWT signed by one of its keys, given here as a JWK Set
-- (jwks) or published at jwks_url. id is the client_id, unique across
-- organisations because token requests do not name the organisation.
-- scopes are the most the client may be granted, space separated.
CREATE TABLE oauth_clients (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    jwks        TEXT NOT NULL DEFAULT '',
    jwks_url    TEXT NOT NULL DEFAULT '',
    scopes      TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    revoked_at  DATETIME,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX oauth_clients_id ON oauth_clients (id);

-- The jti of every client assertion accepted, until the assertion expires
-- (Unix seconds): an assertion is accepted once, on any node.
CREATE TABLE oauth_assertion_ids (
    org_id      TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, client_id, jti)
);
CREATE INDEX oauth_assertion_ids_expiry ON oauth_assertion_ids (expires_at);

-- Access tokens issued to clients, stored as SHA-256 hashes, with the
-- scopes granted and the expiry (Unix seconds).
CREATE TABLE oauth_tokens (
    org_id      TEXT NOT NULL,
    token_hash  TEXT NOT NULL PRIMARY KEY,
    client_id   TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX oauth_tokens_client ON oauth_tokens (org_id, client_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

-- +goose Down
DROP TABLE oauth_tokens;
DROP TABLE oauth_assertion_ids;
DROP TABLE oauth_clients;
