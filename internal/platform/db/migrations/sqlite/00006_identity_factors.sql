-- +goose Up
-- Second factors of accounts. An authenticator app (TOTP): its secret is
-- encrypted with AES-256-GCM under a key from the configuration, bound to
-- the organisation and account; pending_secret holds a secret whose
-- enrolment is begun but not confirmed and is never accepted for sign-in.
-- last_step is the last TOTP time step accepted: a code of that step or an
-- earlier one is refused, so a code works once (the replay guard).
CREATE TABLE account_totp (
    org_id         TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    secret         BLOB,
    confirmed_at   DATETIME,
    last_step      INTEGER NOT NULL DEFAULT -1,
    pending_secret BLOB,
    pending_since  DATETIME,
    PRIMARY KEY (org_id, account_id),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE CASCADE
);

-- Single-use recovery codes, stored as salted SHA-256 hashes (hex); all
-- codes of one generation share the salt. Using a code deletes its row.
CREATE TABLE account_recovery_codes (
    org_id      TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    salt        TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (org_id, account_id, code_hash),
    FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE account_recovery_codes;
DROP TABLE account_totp;
