-- The audit log, as ../postgres/0004_audit_log.sql.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    at           INTEGER NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_name   TEXT,
    ip           TEXT,
    action       TEXT NOT NULL,
    key_id       TEXT,
    user_id      TEXT,
    changes      TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
CREATE INDEX audit_log_key ON audit_log (key_id, action);
