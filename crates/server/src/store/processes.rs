//! The change generation and the server processes that share this database.
//!
//! Every change that something cached depends on (a key edited, disabled or revoked, a member
//! removed, a plan or billing status set; a project added) bumps one counter in the same
//! transaction. Each server process polls the counter, forgets what the change affects when it
//! moves, and records the generation it has applied. A second value, the generation of the
//! last change that keys depend on, tells a change to project lists from one to keys, so that
//! adding a project (which any key with `projects:write` may do) never empties key caches. A change's answer (the API's, or an admin command's) waits until
//! every other process that is alive has applied it, so "revoked" is true on every process by
//! the time anyone is told.

use std::time::Duration;

use super::{Store, StoreResult};

/// A process that has not said it is alive for this long is taken to be gone (it heartbeats
/// every second).
pub const ALIVE_MS: i64 = 3_000;

/// A process silent for this long died without unregistering (killed, or its machine lost):
/// its row is removed when the next process starts.
pub const FORGOTTEN_MS: i64 = 3_600_000;

/// What a change affects among what nodes keep in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affects {
    /// Keys, and so everything cached (a key's check reads its workspace and creator too).
    Keys,
    /// A workspace's project list only.
    Projects,
}

/// The change generations: of every change, and of the last change that keys depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    pub all: i64,
    pub keys: i64,
}

/// Bumps the change generation inside a transaction; returns the new value.
pub(super) async fn bump_generation(tx: &mut sqlx::Transaction<'_, sqlx::Any>, affects: Affects) -> StoreResult<i64> {
    let generation: i64 =
        sqlx::query_scalar("UPDATE meta SET value = value + 1 WHERE name = 'admin_generation' RETURNING value")
            .fetch_one(&mut **tx)
            .await?;
    if affects == Affects::Keys {
        sqlx::query("UPDATE meta SET value = $1 WHERE name = 'key_generation'")
            .bind(generation)
            .execute(&mut **tx)
            .await?;
    }
    Ok(generation)
}

impl Store {
    /// The change generations.
    pub async fn generations(&self) -> StoreResult<Generations> {
        let rows = sqlx::query("SELECT name, value FROM meta WHERE name IN ('admin_generation', 'key_generation')")
            .fetch_all(&self.reader)
            .await?;
        let mut generations = Generations::default();
        for row in rows {
            let value: i64 = sqlx::Row::get(&row, "value");
            match sqlx::Row::get::<String, _>(&row, "name").as_str() {
                "admin_generation" => generations.all = value,
                _ => generations.keys = value,
            }
        }
        Ok(generations)
    }

    /// Says this process is alive and has applied changes up to `seen_generation`.
    pub async fn heartbeat(&self, process_id: &str, now: i64, seen_generation: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO server_processes (id, heartbeat_at, seen_generation) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                 seen_generation = CASE WHEN excluded.seen_generation > server_processes.seen_generation
                     THEN excluded.seen_generation ELSE server_processes.seen_generation END",
        )
        .bind(process_id)
        .bind(now)
        .bind(seen_generation)
        .execute(&self.writer)
        .await?;
        self.count_writes(1);
        Ok(())
    }

    /// A process starts: it says it is alive, and the rows of processes long gone are removed
    /// (a killed process cannot remove its own).
    pub async fn register_process(&self, process_id: &str, now: i64, seen_generation: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM server_processes WHERE heartbeat_at < $1")
            .bind(now - FORGOTTEN_MS)
            .execute(&self.writer)
            .await?;
        self.count_writes(1);
        self.heartbeat(process_id, now, seen_generation).await
    }

    /// This process stops: nobody need wait for it any more.
    pub async fn unregister_process(&self, process_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM server_processes WHERE id = $1").bind(process_id).execute(&self.writer).await?;
        self.count_writes(1);
        Ok(())
    }

    /// How many live processes, other than `except`, have not applied `generation` yet.
    async fn processes_behind(&self, generation: i64, except: Option<&str>, now: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM server_processes
             WHERE seen_generation < $1 AND heartbeat_at > $2 AND ($3 IS NULL OR id <> $3)",
        )
        .bind(generation)
        .bind(now - ALIVE_MS)
        .bind(except)
        .fetch_one(&self.reader)
        .await?)
    }

    /// Waits until every live process other than `except` has applied `generation`, for at
    /// most `timeout`. Returns false when one had not by then (it is alive but stuck; it will
    /// apply the change when it next polls).
    pub async fn wait_until_seen(
        &self,
        generation: i64,
        except: Option<&str>,
        timeout: Duration,
        now: impl Fn() -> i64,
    ) -> StoreResult<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.processes_behind(generation, except, now()).await? == 0 {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ids(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT id FROM server_processes ORDER BY id").fetch_all(&store.reader).await.unwrap()
    }

    #[tokio::test]
    async fn a_starting_process_removes_the_rows_of_processes_long_gone_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("k.db").into()).await.unwrap();
        let now = 10 * FORGOTTEN_MS;
        store.heartbeat("killed-yesterday", now - FORGOTTEN_MS - 1, 0).await.unwrap();
        store.heartbeat("quiet-a-minute", now - 60_000, 0).await.unwrap();
        store.register_process("new", now, 0).await.unwrap();
        assert_eq!(ids(&store).await, ["new", "quiet-a-minute"]);
        store.close().await;
    }
}
