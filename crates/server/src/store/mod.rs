//! SQLite storage: one concrete store, no storage trait. SQLite is the only engine Keydeck
//! ships; a trait would only add a layer to read through.
//!
//! Writes go through one connection (SQLite has one writer anyway; one connection makes
//! check-then-insert sequences atomic without retry loops), reads through a small pool. Every
//! commit is durable (`synchronous=FULL`): a key the API said it made or revoked survives a
//! power cut. Usage is written in batches, so that costs one flush a second, not one a request.
//! Every write statement is counted, so the benchmark can prove the hot path does not write.

mod accounts;
mod keys;
mod processes;
mod resources;
mod sign_in;
mod usage;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::{Membership, WorkspaceRow};
pub use keys::{IdempotencyRecord, KeyAuthRow, KeyChangeRefusal, KeyInsertError, KeyRow, NewKeyRow, RenameRefusal};
pub use processes::ALIVE_MS;
pub use resources::TimeEntryFilter;
pub use usage::{
    PendingUsage, RECENT_REQUESTS_KEPT, Refusal, RequestMethod, RequestRecord, day_of, day_to_date, refusal_of,
};

/// What can go wrong in storage. Callers map it to `internal_error`, except `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// SQLite said the database is busy (another process holds the write lock past the busy
    /// timeout, or a snapshot went stale): the operation changed nothing and may be retried.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5 || c & 0xff == 6)
            }
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
    writes: Arc<AtomicU64>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and runs the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<Store> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer =
            SqlitePoolOptions::new().max_connections(1).min_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Store { writer, reader, writes: Arc::new(AtomicU64::new(0)) })
    }

    /// The read pool, for the occasional query outside this module (the demo seed).
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// How many write statements this store has executed since it was opened.
    pub fn write_statements(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn count_writes(&self, n: u64) {
        self.writes.fetch_add(n, Ordering::Relaxed);
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Milliseconds since the Unix epoch to a UTC time.
pub fn to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::Store;

    #[tokio::test]
    async fn every_commit_is_flushed_to_disk_before_it_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("k.db")).await.unwrap();
        // 2 is FULL: a WAL commit is synced before the write returns, so a key the API said it
        // made or revoked survives a power cut (NORMAL, 1, may lose the last commits).
        let mode: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&store.writer).await.unwrap();
        assert_eq!(mode, 2);
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.writer).await.unwrap();
        assert_eq!(journal, "wal");
        store.close().await;
    }
}
