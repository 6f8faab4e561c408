-- +goose Up
-- Sign-in sessions, kept on the server. The cookie holds a random secret;
-- only its SHA-256 hash is stored, so a copy of the database opens no
-- session. id is a public handle for listing and ending sessions.
CREATE TABLE sessions (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    id            TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL,
    role          TEXT NOT NULL,
    -- active, or factor: the password was right and a second factor is
    -- awaited; such a session opens nothing but the second-factor step.
    stage         TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    idle_seconds  INTEGER NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    factor_at     TIMESTAMPTZ,
    user_agent    TEXT NOT NULL,
    address       TEXT NOT NULL,
    ended_at      TIMESTAMPTZ,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX sessions_account ON sessions (org_id, account_id);

-- +goose Down
DROP TABLE sessions;
