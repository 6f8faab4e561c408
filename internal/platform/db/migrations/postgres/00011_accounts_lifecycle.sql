-- +goose Up
-- When an account's email was last proven to reach its owner (a link
-- followed); NULL until then.
ALTER TABLE accounts ADD COLUMN email_verified_at TIMESTAMPTZ;

-- Single-use secrets sent to people: invitations, email verification and
-- recovery links, and patient activation codes. Only a keyed hash of the
-- secret is stored. id is a public handle for listing and revoking.
CREATE TABLE account_tokens (
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    id         TEXT NOT NULL,
    -- invitation, verify-email, recovery or activation
    purpose    TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    -- the account it acts on; empty for invitations and activation codes
    account_id TEXT NOT NULL DEFAULT '',
    -- the address invited, or to be verified
    email      TEXT NOT NULL DEFAULT '',
    -- the role an invitation gives
    role       TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    -- the record an activation code opens: Patient/ID
    subject    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    -- wrong dates of birth given with an activation code
    failures   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, token_hash)
);
CREATE INDEX account_tokens_purpose ON account_tokens (org_id, purpose, expires_at);

-- Patients who registered themselves, with the date of birth they gave,
-- until staff or an activation code match them to their Patient record.
CREATE TABLE patient_registrations (
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    account_id TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, account_id)
);

-- +goose Down
DROP TABLE patient_registrations;
DROP TABLE account_tokens;
ALTER TABLE accounts DROP COLUMN email_verified_at;
