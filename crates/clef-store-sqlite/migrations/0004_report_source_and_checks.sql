-- How a report arrived (the report JSON or OTLP), and the issue counts an OTLP summary carries.
ALTER TABLE reports ADD COLUMN source TEXT NOT NULL DEFAULT 'json';
ALTER TABLE reports ADD COLUMN issue_counts TEXT;

-- The latest `clef lint --push` and `clef drift --push` run of each integration. Issues are
-- kept grouped (severity, category, namespace, environments): never a file path, a key name
-- or a message, which name keys.
CREATE TABLE checks (
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    run             TEXT NOT NULL,
    PRIMARY KEY (integration_id, kind)
);
