-- Times are epoch milliseconds. JSON columns hold our own model serialised, never a
-- request body: only modelled fields reach this database.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE personal_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);

CREATE TABLE integrations (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    tracked_branch      TEXT,
    collect_ci_context  INTEGER NOT NULL,
    policies            TEXT NOT NULL,
    -- Arrival counter for head ties: the later one in a batch, then the later arrival.
    next_seq            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

CREATE TABLE reports (
    id               TEXT PRIMARY KEY,
    integration_id   TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    commit_sha       TEXT NOT NULL,
    branch           TEXT NOT NULL,
    commit_ts        INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    digest           TEXT NOT NULL,
    received_at      INTEGER NOT NULL,
    cli_version      TEXT,
    repo_origin      TEXT,
    files_scanned    INTEGER NOT NULL,
    violations       INTEGER NOT NULL,
    passed           INTEGER NOT NULL,
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
    acknowledged_at       INTEGER,
    introduced_by_commit  TEXT NOT NULL,
    resolved_by_commit    TEXT,
    last_seen_commit      TEXT NOT NULL,
    first_seen_at         INTEGER NOT NULL,
    last_seen_at          INTEGER NOT NULL,
    resolved_at           INTEGER,
    occurrences           INTEGER NOT NULL
);
-- The lifecycle's central rule, enforced by the database too: one open alert per rule+scope.
CREATE UNIQUE INDEX alerts_one_open ON alerts (integration_id, rule_id, scope) WHERE status = 'open';
CREATE INDEX alerts_by_integration ON alerts (integration_id, status, first_seen_at DESC);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX audit_log_by_org ON audit_log (org_id, id DESC);
