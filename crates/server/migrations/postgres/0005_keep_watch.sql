-- What an admin sets to keep watch over a key, and what the server does by itself:
-- - allowed_ips: the key's IP allowlist, canonical CIDR ranges separated by spaces ('' allows any);
-- - revoke_when_silent_secs, revoke_scheduled_at: a plan to revoke the key once it has had no
--   request for that long, counted from the later of its last request and the plan's making;
-- - leaked_at, leak_url, leak_source: a secret scanner's report that the key was found in public.
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN revoke_when_silent_secs BIGINT;
ALTER TABLE api_keys ADD COLUMN revoke_scheduled_at BIGINT;
ALTER TABLE api_keys ADD COLUMN leaked_at BIGINT;
ALTER TABLE api_keys ADD COLUMN leak_url TEXT;
ALTER TABLE api_keys ADD COLUMN leak_source TEXT;
CREATE INDEX api_keys_revoke_plan ON api_keys (revoke_scheduled_at) WHERE revoke_scheduled_at IS NOT NULL;
