//! Storage on two engines: SQLite, the embedded default (the demo, a server on one machine),
//! and PostgreSQL, which several server nodes share.
//!
//! One store serves both, through sqlx's `Any` driver: every statement is written once, with
//! `$1`-style parameters (both engines read them), types both engines share (64-bit integers,
//! text, bytes, doubles; flags are 0/1 integers), and no function only one engine has. The
//! engine shows in three places only, each because the engines differ there:
//! - opening: file settings for SQLite, a pool for PostgreSQL (`open_sqlite`, `open_postgres`);
//! - the migrations, whose DDL differs (`migrations/sqlite`, `migrations/postgres`), run under
//!   a lock (SQLite's write lock, PostgreSQL's advisory lock) so nodes starting at once migrate
//!   once;
//! - [`Store::begin_write`], which makes a check-then-write sequence atomic: SQLite takes its
//!   one write lock (`BEGIN IMMEDIATE`); PostgreSQL, where writers run side by side, takes a
//!   transaction-scoped advisory lock on what the check reads (a workspace, an email).
//!
//! On SQLite, writes go through one connection (SQLite has one writer anyway), reads through a
//! small pool, and every commit is durable (`synchronous=FULL`): a key the API said it made or
//! revoked survives a power cut. Usage is written in batches, one flush a second, not one a
//! request. Every write statement is counted, so the benchmark can prove the hot path does not
//! write.

mod accounts;
mod audit;
mod keys;
mod processes;
mod rate_windows;
mod resources;
mod sign_in;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Arguments, Executor};

pub use accounts::{Membership, WorkspaceRow};
pub use audit::{ActorFilter, Audit, AuditFilter, Changes, Subject};
pub use keys::{
    IdempotencyRecord, KeyAuthRow, KeyChangeRefusal, KeyInsertError, KeyRow, LeakOutcome, NewKeyRow, RenameRefusal,
};
pub use processes::{ALIVE_MS, Affects, Generations};
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

/// Where the data lives: a SQLite file, or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) address.
    Postgres(String),
}

impl DbLocation {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else is a SQLite file path.
    pub fn parse(text: &str) -> DbLocation {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            DbLocation::Postgres(text.to_owned())
        } else {
            DbLocation::Sqlite(PathBuf::from(text.strip_prefix("sqlite:").unwrap_or(text)))
        }
    }
}

impl DbLocation {
    /// The location in full, password included: for a command line or an environment
    /// variable, never for a message or a log (which use `Display`).
    pub fn as_argument(&self) -> String {
        match self {
            DbLocation::Sqlite(path) => path.to_string_lossy().into_owned(),
            DbLocation::Postgres(url) => url.clone(),
        }
    }
}

impl From<PathBuf> for DbLocation {
    fn from(path: PathBuf) -> Self {
        DbLocation::Sqlite(path)
    }
}

impl From<&PathBuf> for DbLocation {
    fn from(path: &PathBuf) -> Self {
        DbLocation::Sqlite(path.clone())
    }
}

impl From<&Path> for DbLocation {
    fn from(path: &Path) -> Self {
        DbLocation::Sqlite(path.to_owned())
    }
}

/// Shown in messages and logs: a PostgreSQL address without its password.
impl std::fmt::Display for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::Sqlite(path) => write!(f, "{}", path.display()),
            DbLocation::Postgres(url) => {
                // A password may come as `user:password@` or as a `password=` parameter.
                let (address, query) = url.split_once('?').map_or((url.as_str(), None), |(a, q)| (a, Some(q)));
                let authority = address.find("://").map_or(0, |s| s + 3);
                match address[authority..].rfind('@').map(|at| authority + at) {
                    Some(at) => match address[authority..at].split_once(':') {
                        Some((user, _)) => write!(f, "{}{user}:***{}", &address[..authority], &address[at..])?,
                        None => f.write_str(address)?,
                    },
                    None => f.write_str(address)?,
                }
                if let Some(query) = query {
                    let shown: Vec<String> = query
                        .split('&')
                        .map(|p| if p.starts_with("password=") { "password=***".to_owned() } else { p.to_owned() })
                        .collect();
                    write!(f, "?{}", shown.join("&"))?;
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbLocation({self})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A statement put together at run time (a batch insert, an update of the fields given), with
/// each engine's own parameters: `$n` on PostgreSQL, `?` on SQLite. (sqlx's `QueryBuilder`
/// writes `?` for the `Any` driver, which PostgreSQL does not read.)
pub(crate) struct Statement {
    sql: String,
    args: AnyArguments<'static>,
    engine: Engine,
}

impl Statement {
    pub(crate) fn new(engine: Engine, sql: &str) -> Statement {
        Statement { sql: sql.to_owned(), args: AnyArguments::default(), engine }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Statement {
        self.sql.push_str(sql);
        self
    }

    /// Appends a parameter and binds `value` to it.
    pub(crate) fn bind<T>(&mut self, value: T) -> &mut Statement
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any> + 'static,
    {
        // Adding to `AnyArguments` fails only for types `Any` cannot carry, which do not compile.
        let _ = self.args.add(value);
        match self.engine {
            // Anonymous: SQLite finds a named parameter (`$n`, `?n`) by a linear search, both
            // when it parses the statement and when each value is bound, which made a flush of
            // 30,000 values spend most of its time looking up names.
            Engine::Sqlite => self.sql.push('?'),
            Engine::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.args.len().to_string());
            }
        }
        self
    }

    /// Appends `(…), (…)`: one parenthesised tuple per row, its values bound by `row`.
    pub(crate) fn values<R>(&mut self, rows: impl IntoIterator<Item = R>, mut row: impl FnMut(&mut Tuple<'_>, R)) {
        for (i, r) in rows.into_iter().enumerate() {
            self.sql.push_str(if i == 0 { "(" } else { ", (" });
            row(&mut Tuple { statement: self, first: true }, r);
            self.sql.push(')');
        }
    }

    pub(crate) async fn execute<'c, E: Executor<'c, Database = Any>>(self, executor: E) -> sqlx::Result<u64> {
        Ok(sqlx::query_with(&self.sql, self.args).execute(executor).await?.rows_affected())
    }

    pub(crate) async fn fetch_all<'c, E: Executor<'c, Database = Any>>(self, executor: E) -> sqlx::Result<Vec<AnyRow>> {
        sqlx::query_with(&self.sql, self.args).fetch_all(executor).await
    }

    /// Appends `(…)` with one parameter per value: the list of an `IN`.
    pub(crate) fn list<T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Statement
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any> + 'static,
    {
        self.sql.push('(');
        let mut row = Tuple { statement: self, first: true };
        for value in values {
            row.bind(value);
        }
        self.sql.push(')');
        self
    }
}

/// One row of [`Statement::values`].
pub(crate) struct Tuple<'s> {
    statement: &'s mut Statement,
    first: bool,
}

impl Tuple<'_> {
    pub(crate) fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: sqlx::Encode<'static, Any> + sqlx::Type<Any> + 'static,
    {
        if !self.first {
            self.statement.sql.push_str(", ");
        }
        self.first = false;
        self.statement.bind(value);
        self
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// SQLite said the database is busy (another process holds the write lock past the busy
    /// timeout, or a snapshot went stale): the operation changed nothing and may be retried.
    /// PostgreSQL's equivalents: a serialization failure or a deadlock.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                let code = e.code();
                let code = code.as_deref().unwrap_or_default();
                if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                    code == "40001" || code == "40P01"
                } else {
                    code.parse::<i32>().is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6)
                }
            }
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    /// On SQLite, the one write connection; on PostgreSQL, the same pool as `reader`.
    writer: AnyPool,
    reader: AnyPool,
    engine: Engine,
    writes: Arc<AtomicU64>,
}

/// The advisory lock under which a node seeds an empty PostgreSQL database (any number; it
/// only has to be Keydeck's own).
pub const STARTUP_LOCK: i64 = 0x6b64_6b5f_6d69_6772;

impl Store {
    /// Opens the database, creating a SQLite file if needed, and runs the embedded migrations.
    pub async fn open(location: &DbLocation) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        match location {
            DbLocation::Sqlite(path) => Store::open_sqlite(path).await,
            DbLocation::Postgres(url) => Store::open_postgres(url).await,
        }
    }

    async fn open_sqlite(path: &Path) -> StoreResult<Store> {
        // The file settings are per connection, set as each one opens: the `Any` driver opens
        // SQLite from an address, which carries only the mode.
        let url = |mode: &str| {
            let path = path.to_string_lossy().replace('%', "%25").replace('?', "%3F").replace('#', "%23");
            format!("sqlite://{path}?mode={mode}")
        };
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;                              PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    Ok(())
                })
            })
            .connect(&url("rwc"))
            .await?;
        // Under the write lock, so that processes starting at once on a new file migrate it
        // once (sqlx's migrator locks on PostgreSQL only); each migration runs in a savepoint.
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::migrate!("./migrations/sqlite").run_direct(&mut *tx).await?;
        tx.commit().await?;
        let reader = AnyPoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute("PRAGMA busy_timeout = 5000;").await?;
                    Ok(())
                })
            })
            .connect(&url("ro"))
            .await?;
        Ok(Store { writer, reader, engine: Engine::Sqlite, writes: Arc::new(AtomicU64::new(0)) })
    }

    async fn open_postgres(url: &str) -> StoreResult<Store> {
        let pool = AnyPoolOptions::new().max_connections(16).min_connections(1).connect(url).await?;
        // sqlx's migrator holds its own advisory lock while it runs, so nodes starting at once
        // apply each migration once.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store { writer: pool.clone(), reader: pool, engine: Engine::Postgres, writes: Arc::new(AtomicU64::new(0)) })
    }

    /// Runs `seed` while holding the start-up lock, so that of several nodes starting at once
    /// against an empty database, one seeds it and the others find it seeded. (On SQLite the
    /// seed gives way when its first user is already there: the unique email decides.)
    pub async fn under_startup_lock<T, F: Future<Output = T>>(&self, seed: F) -> StoreResult<T> {
        if self.engine == Engine::Sqlite {
            return Ok(seed.await);
        }
        let mut connection = self.writer.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)").bind(STARTUP_LOCK).execute(&mut *connection).await?;
        let result = seed.await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(STARTUP_LOCK).execute(&mut *connection).await?;
        Ok(result)
    }

    /// One round trip to the database, for the readiness check.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Begins a transaction in which a check and the write that depends on it are atomic
    /// against every other `begin_write` on the same `kind` and `key` (a workspace and its id;
    /// sign-in, the usage flush). On SQLite the scope is the whole database: `BEGIN IMMEDIATE`
    /// takes its one write lock.
    pub(crate) async fn begin_write(&self, kind: &str, key: &str) -> StoreResult<sqlx::Transaction<'static, Any>> {
        match self.engine {
            Engine::Sqlite => Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?),
            Engine::Postgres => {
                let mut tx = self.writer.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(format!("{kind}:{key}"))
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// The read pool, for the occasional query outside this module (the demo seed).
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// How many write statements this store has executed since it was opened.
    pub fn write_statements(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn count_writes(&self, n: u64) {
        self.writes.fetch_add(n, Ordering::Relaxed);
    }

    /// Closes both pools (on SQLite, checkpointing the WAL).
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
    use super::{DbLocation, Store};

    #[test]
    fn a_postgres_address_is_shown_without_its_password() {
        let db = DbLocation::parse("postgres://keydeck:s3cret@db.internal:5432/keydeck");
        assert_eq!(db.to_string(), "postgres://keydeck:***@db.internal:5432/keydeck");
        assert!(!format!("{db:?}").contains("s3cret"));
        let db = DbLocation::parse("postgres://db.internal/keydeck?user=me@corp&password=s3cret&sslmode=require");
        assert_eq!(db.to_string(), "postgres://db.internal/keydeck?user=me@corp&password=***&sslmode=require");
        assert_eq!(DbLocation::parse("data/k.db"), DbLocation::Sqlite("data/k.db".into()));
    }

    #[tokio::test]
    async fn every_commit_is_flushed_to_disk_before_it_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("k.db").into()).await.unwrap();
        // 2 is FULL: a WAL commit is synced before the write returns, so a key the API said it
        // made or revoked survives a power cut (NORMAL, 1, may lose the last commits).
        let mode: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&store.writer).await.unwrap();
        assert_eq!(mode, 2);
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.writer).await.unwrap();
        assert_eq!(journal, "wal");
        store.close().await;
    }
}
