-- Each entry keeps the name of the key and of the member it is about, as they were when it was
-- written (the key's name after a rename), so the log reads the same after a key is revoked or a
-- member leaves, and pages do not change under a reader. Same on both engines.
ALTER TABLE audit_log ADD COLUMN key_name TEXT;
ALTER TABLE audit_log ADD COLUMN user_name TEXT;
UPDATE audit_log SET key_name = (SELECT name FROM api_keys WHERE api_keys.id = audit_log.key_id)
    WHERE key_id IS NOT NULL;
UPDATE audit_log SET user_name = (SELECT name FROM users WHERE users.id = audit_log.user_id)
    WHERE user_id IS NOT NULL;
