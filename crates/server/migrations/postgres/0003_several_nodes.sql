-- Rate-limit windows shared by the nodes on this database: each node claims batches of a
-- window's budget by adding to `claimed` (see src/keycheck/rate.rs). UNLOGGED: a window lasts
-- seconds to hours, and after a crash of PostgreSQL itself (which empties unlogged tables)
-- the windows of that moment start from zero, which costs at most one window's limit again.
CREATE UNLOGGED TABLE rate_windows (
    key_id         TEXT NOT NULL,
    window_start   BIGINT NOT NULL,
    window_seconds BIGINT NOT NULL,
    claimed        BIGINT NOT NULL,
    PRIMARY KEY (key_id, window_start, window_seconds)
);

-- A key's recent requests in time order: with several nodes, a node's late write gets higher
-- ids than newer requests written by another node.
CREATE INDEX key_requests_key_at ON key_requests (key_id, at, id);
DROP INDEX key_requests_key;

-- The generation of the last change that cached keys depend on (admin_generation counts every
-- change, a project added among them): a node forgets its cached keys only when this moves.
INSERT INTO meta (name, value) SELECT 'key_generation', value FROM meta WHERE name = 'admin_generation';
