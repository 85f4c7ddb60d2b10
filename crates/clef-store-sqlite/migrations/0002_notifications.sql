CREATE TABLE channels (
    id                 TEXT PRIMARY KEY,
    integration_id     TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    target             TEXT NOT NULL,
    min_severity       TEXT NOT NULL,
    notify_on_resolve  INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX channels_by_integration ON channels (integration_id);

-- Written in the same transaction as the report and the alert changes it reports.
-- The target is copied so a queued message goes where it was meant to go.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    integration_id   TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    channel_id       TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    channel_kind     TEXT NOT NULL,
    target           TEXT NOT NULL,
    digest           TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    locked_until     INTEGER,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_integration ON outbox (integration_id, created_at DESC);

CREATE TABLE delivery_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id  TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (outbox_id, id);
