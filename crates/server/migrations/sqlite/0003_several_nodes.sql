-- Rate-limit windows shared by nodes, as ../postgres/0003_several_nodes.sql. A server on SQLite
-- counts its windows in memory (one node), so this table stays empty; it exists so that both
-- engines have one schema.
CREATE TABLE rate_windows (
    key_id         TEXT NOT NULL,
    window_start   INTEGER NOT NULL,
    window_seconds INTEGER NOT NULL,
    claimed        INTEGER NOT NULL,
    PRIMARY KEY (key_id, window_start, window_seconds)
);

-- A key's recent requests in time order: with several nodes, a node's late write gets higher
-- ids than newer requests written by another node.
CREATE INDEX key_requests_key_at ON key_requests (key_id, at, id);
DROP INDEX key_requests_key;

-- The generation of the last change that cached keys depend on (admin_generation counts every
-- change, a project added among them): a node forgets its cached keys only when this moves.
INSERT INTO meta (name, value) SELECT 'key_generation', value FROM meta WHERE name = 'admin_generation';
