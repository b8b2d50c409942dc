-- What an admin sets to keep watch over a key, as ../postgres/0005_keep_watch.sql.
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN revoke_when_silent_secs INTEGER;
ALTER TABLE api_keys ADD COLUMN revoke_scheduled_at INTEGER;
ALTER TABLE api_keys ADD COLUMN leaked_at INTEGER;
ALTER TABLE api_keys ADD COLUMN leak_url TEXT;
ALTER TABLE api_keys ADD COLUMN leak_source TEXT;
CREATE INDEX api_keys_revoke_plan ON api_keys (revoke_scheduled_at) WHERE revoke_scheduled_at IS NOT NULL;
