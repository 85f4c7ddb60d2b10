-- The PostgreSQL schema: the same model as the SQLite backend's migrations 0001–0003.
-- Times are epoch milliseconds; JSON columns hold our own model serialised, never a request body.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE personal_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

CREATE TABLE integrations (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    tracked_branch      TEXT,
    collect_ci_context  BOOLEAN NOT NULL,
    policies            TEXT NOT NULL,
    -- Arrival counter for head ties; also the row every ingest locks (FOR UPDATE), which
    -- serialises ingestion per integration across replicas.
    next_seq            BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);

CREATE TABLE reports (
    id               TEXT PRIMARY KEY,
    integration_id   TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    commit_sha       TEXT NOT NULL,
    branch           TEXT NOT NULL,
    commit_ts        BIGINT NOT NULL,
    seq              BIGINT NOT NULL,
    digest           TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    cli_version      TEXT,
    repo_origin      TEXT,
    files_scanned    BIGINT NOT NULL,
    violations       BIGINT NOT NULL,
    passed           BOOLEAN NOT NULL,
    worst_health     TEXT,
    namespaces       TEXT NOT NULL,
    environments     TEXT NOT NULL,
    cells            TEXT NOT NULL,
    drift            TEXT NOT NULL,
    policy_results   TEXT NOT NULL,
    ci_provider      TEXT,
    ci_pipeline_url  TEXT,
    ci_trigger       TEXT,
    UNIQUE (integration_id, commit_sha)
);
CREATE INDEX reports_branch_timeline ON reports (integration_id, branch, commit_ts DESC, seq DESC);
CREATE INDEX reports_timeline ON reports (integration_id, commit_ts DESC, seq DESC);

CREATE TABLE alerts (
    id                    TEXT PRIMARY KEY,
    integration_id        TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    rule_id               TEXT NOT NULL,
    rule_name             TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    severity              TEXT NOT NULL,
    message               TEXT NOT NULL,
    status                TEXT NOT NULL,
    acknowledged_by       TEXT,
    acknowledged_at       BIGINT,
    introduced_by_commit  TEXT NOT NULL,
    resolved_by_commit    TEXT,
    last_seen_commit      TEXT NOT NULL,
    first_seen_at         BIGINT NOT NULL,
    last_seen_at          BIGINT NOT NULL,
    resolved_at           BIGINT,
    occurrences           BIGINT NOT NULL
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (integration_id, rule_id, scope) WHERE status = 'open';
CREATE INDEX alerts_by_integration ON alerts (integration_id, status, first_seen_at DESC);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    org_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX audit_log_by_org ON audit_log (org_id, id DESC);

CREATE TABLE channels (
    id                 TEXT PRIMARY KEY,
    integration_id     TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    target             TEXT NOT NULL,
    min_severity       TEXT NOT NULL,
    notify_on_resolve  BOOLEAN NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX channels_by_integration ON channels (integration_id);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    -- Insertion order, for ties in time.
    seq              BIGSERIAL NOT NULL,
    integration_id   TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    channel_id       TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    channel_kind     TEXT NOT NULL,
    target           TEXT NOT NULL,
    digest           TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_integration ON outbox (integration_id, created_at DESC);

CREATE TABLE delivery_attempts (
    id         BIGSERIAL PRIMARY KEY,
    outbox_id  TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (outbox_id, id);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
