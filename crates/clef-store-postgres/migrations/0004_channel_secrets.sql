-- Channels of every kind: a secret target (webhook URL, routing key) is stored sealed under
-- the server's key, with a hint that may be shown; webhooks carry sealed signing secrets.
ALTER TABLE channels ADD COLUMN target_hint TEXT NOT NULL DEFAULT '';
UPDATE channels SET target_hint = target;
ALTER TABLE channels ADD COLUMN signing_secrets TEXT;
ALTER TABLE outbox ADD COLUMN target_hint TEXT NOT NULL DEFAULT '';
UPDATE outbox SET target_hint = target;
-- Server-wide facts; `secret_key_check` proves every replica seals with the same key.
CREATE TABLE server_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
