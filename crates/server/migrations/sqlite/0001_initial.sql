-- Keydeck workspace server: the whole schema. Times are Unix milliseconds (UTC).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    plan           TEXT NOT NULL CHECK (plan IN ('free', 'solo_pro', 'team', 'business')),
    billing_status TEXT NOT NULL DEFAULT 'active' CHECK (billing_status IN ('active', 'read_only')),
    created_at     INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id);

-- Session tokens are stored as SHA-256 hashes only.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

-- API keys: the SHA-256 of the key, never the key. Revoked keys stay so their use answers key_revoked.
CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    secret_hash        BLOB NOT NULL UNIQUE,
    prefix             TEXT NOT NULL,
    hint               TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL REFERENCES users (id),
    expires_at         INTEGER,
    enabled            INTEGER NOT NULL DEFAULT 1,
    revoked_at         INTEGER,
    rate_limit_enabled INTEGER NOT NULL,
    rate_limit_max     INTEGER NOT NULL,
    rate_limit_window  INTEGER NOT NULL,
    last_used_at       INTEGER,
    request_count      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_live ON api_keys (workspace_id) WHERE revoked_at IS NULL;

CREATE TABLE key_usage_daily (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    day    INTEGER NOT NULL, -- days since 1970-01-01 (UTC)
    count  INTEGER NOT NULL,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;

CREATE TABLE key_requests (
    id     INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    at     INTEGER NOT NULL,
    method TEXT NOT NULL,
    path   TEXT NOT NULL,
    status INTEGER NOT NULL,
    ip     TEXT NOT NULL
);
CREATE INDEX key_requests_key ON key_requests (key_id, id);

-- Replays of POST /keys with an Idempotency-Key. The response (which holds the new secret) is
-- sealed with a key derived from the Idempotency-Key itself, which the server does not keep:
-- this table alone cannot give a secret back.
CREATE TABLE idempotency (
    lookup       BLOB PRIMARY KEY,
    request_hash BLOB NOT NULL,
    nonce        BLOB NOT NULL,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE employees (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    email            TEXT NOT NULL,
    clocked_in_since INTEGER
);
CREATE INDEX employees_workspace ON employees (workspace_id);

CREATE TABLE projects (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    client       TEXT,
    budget_hours REAL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX projects_workspace ON projects (workspace_id);

CREATE TABLE time_entries (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    employee_id  TEXT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    project_id   TEXT REFERENCES projects (id) ON DELETE SET NULL,
    start_at     INTEGER NOT NULL,
    end_at       INTEGER,
    note         TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX time_entries_workspace ON time_entries (workspace_id, start_at);

-- Bumped by every admin command, so a running server notices changes made by another process.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('admin_generation', 0);
