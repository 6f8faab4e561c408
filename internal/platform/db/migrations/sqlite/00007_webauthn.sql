-- +goose Up
-- Passkeys and security keys (WebAuthn). See internal/identity/webauthn.go.

-- A random, stable, opaque user handle per account: authenticators keep it
-- with a discoverable credential and return it at sign-in. It is never the
-- email, so an authenticator reveals nothing about the person by it.
CREATE TABLE webauthn_user_handles (
    org_id       TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    user_handle  BLOB NOT NULL,
    created_at   DATETIME NOT NULL,
    PRIMARY KEY (org_id, account_id),
    UNIQUE (org_id, user_handle),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE CASCADE
);

-- Registered credentials. id is the credential id in unpadded base64url;
-- public_key is the COSE key the authenticator attested. The raw
-- attestation object and client data are kept so a credential can be
-- checked again later (against authenticator metadata, for example).
CREATE TABLE webauthn_credentials (
    org_id             TEXT NOT NULL,
    id                 TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    public_key         BLOB NOT NULL,
    sign_count         INTEGER NOT NULL,
    transports         TEXT NOT NULL DEFAULT '',
    aaguid             TEXT NOT NULL,
    attachment         TEXT NOT NULL DEFAULT '',
    user_verified      INTEGER NOT NULL,
    backup_eligible    INTEGER NOT NULL,
    backup_state       INTEGER NOT NULL,
    possibly_cloned    INTEGER NOT NULL DEFAULT 0,
    attestation_format TEXT NOT NULL,
    attestation_object BLOB NOT NULL,
    client_data_json   BLOB NOT NULL,
    created_at         DATETIME NOT NULL,
    last_used_at       DATETIME,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX webauthn_credentials_account ON webauthn_credentials (org_id, account_id);

-- Begun ceremonies (the challenge and what it was issued for), kept on the
-- server so any node can finish them; each is deleted when it is finished,
-- successfully or not, so a challenge answers once.
CREATE TABLE webauthn_ceremonies (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    account_id    TEXT NOT NULL DEFAULT '',
    session_data  TEXT NOT NULL,
    expires_at    DATETIME NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- +goose Down
DROP TABLE webauthn_ceremonies;
DROP TABLE webauthn_credentials;
DROP TABLE webauthn_user_handles;
