-- A report's list parts (namespaces, environments, cells, drift, policy results) are kept
-- once per integration and content, and referenced from every report that has them:
-- consecutive commits mostly repeat them. Reports stored before this keep their parts inline
-- (the *_part columns are NULL and the inline columns hold the JSON); later ones have empty
-- inline columns.
CREATE TABLE report_parts (
    id              INTEGER PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    hash            TEXT NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (integration_id, hash)
);
ALTER TABLE reports ADD COLUMN namespaces_part INTEGER;
ALTER TABLE reports ADD COLUMN environments_part INTEGER;
ALTER TABLE reports ADD COLUMN cells_part INTEGER;
ALTER TABLE reports ADD COLUMN drift_part INTEGER;
ALTER TABLE reports ADD COLUMN results_part INTEGER;
