-- +goose Up
-- Failed sign-ins counted per account and per network address, to slow
-- down guessing: key is "account:ID" or "address:IP".
CREATE TABLE signin_throttle (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    key           TEXT NOT NULL,
    window_start  DATETIME NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until DATETIME,
    PRIMARY KEY (org_id, key)
);

-- +goose Down
DROP TABLE signin_throttle;
