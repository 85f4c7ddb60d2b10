-- How long a channel stays quiet about an alert it was told of that is still failing;
-- NULL repeats it with every report (as before).
ALTER TABLE channels ADD COLUMN repeat_interval_ms INTEGER;
-- error and critical rank alike: one threshold, stored as critical.
UPDATE channels SET min_severity = 'critical' WHERE min_severity = 'error';
