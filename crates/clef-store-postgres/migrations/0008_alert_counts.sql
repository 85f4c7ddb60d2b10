-- Counting alerts by severity (the inbox, the overview) reads this index alone.
CREATE INDEX alerts_by_severity ON alerts (integration_id, severity, status);
