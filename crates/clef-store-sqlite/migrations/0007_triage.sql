-- Triage. An acknowledgement keeps its reason and, for a snooze, its end; every
-- acknowledgement and its withdrawal is kept in alert_events, so the alert page is a timeline.
ALTER TABLE alerts ADD COLUMN acknowledged_reason TEXT;
ALTER TABLE alerts ADD COLUMN acknowledged_until INTEGER;
-- The matrix axes of the scope, so the inbox filters by namespace or environment and a
-- matrix cell links to its alerts.
ALTER TABLE alerts ADD COLUMN namespace TEXT;
ALTER TABLE alerts ADD COLUMN environment TEXT;
UPDATE alerts SET
    namespace = CASE
        WHEN scope = '' OR substr(scope, 1, 1) = '/' THEN NULL
        WHEN instr(scope, '/') = 0 THEN scope
        ELSE substr(scope, 1, instr(scope, '/') - 1) END,
    environment = CASE WHEN instr(scope, '/') = 0 THEN NULL ELSE substr(scope, instr(scope, '/') + 1) END;
-- The organisation-wide inbox reads open alerts newest first.
CREATE INDEX alerts_inbox ON alerts (status, first_seen_at DESC);

CREATE TABLE alert_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    at        INTEGER NOT NULL,
    reason    TEXT,
    until     INTEGER
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, id);
-- Acknowledgements made before this version become the first entry of their history.
INSERT INTO alert_events (alert_id, kind, actor, at)
    SELECT id, 'acknowledged', acknowledged_by, acknowledged_at FROM alerts WHERE acknowledged_at IS NOT NULL;

-- Which alerts each message is about, so an alert's page lists every notification sent for it.
CREATE TABLE delivery_alerts (
    alert_id   TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    outbox_id  TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, outbox_id)
);
CREATE INDEX delivery_alerts_by_message ON delivery_alerts (outbox_id);
