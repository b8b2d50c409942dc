-- Only true signals: a key's last success and last refusal apart from its last use, the link
-- between a rotation's replacement and the key it replaces, sign-in failures that outlive a
-- restart, and the server processes sharing this database (so a change waits until each has
-- seen it).

-- The last request answered with a 2xx; the latest refused one (any other answer).
ALTER TABLE api_keys ADD COLUMN last_success_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_refusal_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_refusal_error TEXT;
ALTER TABLE api_keys ADD COLUMN last_refusal_status INTEGER;
-- The key this one replaces (a rotation's replacement).
ALTER TABLE api_keys ADD COLUMN replaces TEXT REFERENCES api_keys (id);
CREATE INDEX api_keys_replaces ON api_keys (replaces) WHERE replaces IS NOT NULL;

-- Keys used before this version: the recent-request log says which answers were successes.
UPDATE api_keys SET last_success_at = (
    SELECT MAX(r.at) FROM key_requests r WHERE r.key_id = api_keys.id AND r.status BETWEEN 200 AND 299
);

-- Sign-in attempts not (yet) known to have succeeded, per email (trimmed, lowercased). An
-- attempt is written before its password is checked, so concurrent attempts count at once.
CREATE TABLE sign_in_attempts (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX sign_in_attempts_email ON sign_in_attempts (email, at);

-- Every running server process on this database: when it last said it is alive, and the
-- change generation (meta.admin_generation) it has applied to its caches.
CREATE TABLE server_processes (
    id              TEXT PRIMARY KEY,
    heartbeat_at    INTEGER NOT NULL,
    seen_generation INTEGER NOT NULL
) WITHOUT ROWID;
