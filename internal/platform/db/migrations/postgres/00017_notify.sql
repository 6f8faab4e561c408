-- +goose Up
-- Notifications (internal/notify): what happened (events, written in the
-- transaction of the change that caused them), the messages planned for
-- each event, their delivery history, people's preferences, addresses that
-- must not be used again, and each organisation's providers and texts.
-- Times are Unix milliseconds (UTC).

-- An event asks careloop to tell one person something. (org_id, idem_key,
-- recipient) is unique: a producer that repeats itself (a job run twice)
-- adds nothing. target is the path its link leads to, detail the health
-- detail a patient may choose to receive, about_at the time it speaks of
-- (an appointment). planned is 0 until the planner made its messages.
CREATE TABLE notify_events (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    id          TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    about_at    BIGINT,
    created_at  BIGINT NOT NULL,
    planned     INTEGER NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (org_id, idem_key, recipient)
);
CREATE INDEX notify_events_unplanned ON notify_events (created_at) WHERE planned = 0;

-- One message of an event on one channel: email, sms, inapp or log.
-- (event_id, channel) is unique, so no person gets the same message twice
-- on a channel whatever crashes or how many careloop nodes run. due_at is
-- set while the message waits (queued: to be sent at due_at; sending: its
-- sender's lease ends at due_at; held: for the digest at due_at) and NULL
-- once it reached a final state, so that one index finds all due work.
-- fallback lists the channels to try, in order, if this one fails.
CREATE TABLE notify_messages (
    id            TEXT NOT NULL,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    event_id      TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    patient_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    address       TEXT NOT NULL,
    lang          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    due_at        BIGINT,
    lease_owner   TEXT NOT NULL,
    fallback      TEXT NOT NULL,
    provider      TEXT NOT NULL,
    provider_ref  TEXT NOT NULL,
    last_error    TEXT NOT NULL,
    digest_id     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    sent_at       BIGINT,
    delivered_at  BIGINT,
    opened_at     BIGINT,
    read_at       BIGINT,
    PRIMARY KEY (id),
    UNIQUE (event_id, channel)
);
CREATE INDEX notify_messages_due ON notify_messages (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX notify_messages_recipient ON notify_messages (org_id, recipient, created_at);
CREATE INDEX notify_messages_patient ON notify_messages (org_id, patient_id, created_at);
CREATE INDEX notify_messages_created ON notify_messages (org_id, created_at);
-- The failure queue; only failed messages are in it.
CREATE INDEX notify_messages_failed ON notify_messages (org_id, updated_at) WHERE state IN ('failed', 'bounced');
CREATE INDEX notify_messages_provider_ref ON notify_messages (provider, provider_ref) WHERE provider_ref <> '';

-- Each change of a message's state, for its timeline.
CREATE TABLE notify_status (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    message_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
);

-- A person's choices (JSON, see notify.Preferences); none: the defaults.
CREATE TABLE notify_preferences (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    recipient   TEXT NOT NULL,
    prefs       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (org_id, recipient)
);

-- Addresses careloop must not write to: an SMS STOP reply, a hard bounce,
-- an unsubscribe link.
CREATE TABLE notify_suppressions (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (org_id, channel, address)
);

-- An organisation's provider of a channel: its kind (smtp, twilio, webhook,
-- log), settings (JSON without secrets) and secret (sealed with careloop's
-- key, bound to the organisation and channel).
CREATE TABLE notify_providers (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    channel     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    secret      BYTEA,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (org_id, channel)
);

-- An organisation's own texts, over careloop's defaults.
CREATE TABLE notify_templates (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    lang        TEXT NOT NULL,
    level       TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, channel, lang, level)
);

-- +goose Down
DROP TABLE notify_templates;
DROP TABLE notify_providers;
DROP TABLE notify_suppressions;
DROP TABLE notify_preferences;
DROP TABLE notify_status;
DROP TABLE notify_messages;
DROP TABLE notify_events;
