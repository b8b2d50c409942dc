//! `AppState`: the one state object of the server, cloned into every handler.

use std::sync::Arc;

use keydeck_core::key::random_base62;

use crate::clock::Clock;
use crate::idempotency::InFlight;
use crate::keycheck::rate::{Budget, LocalBudget, SharedBudget};
use crate::keycheck::{KeyCache, RateLimiter, UsageLog};
use crate::leased::LeasedCache;
use crate::password::PasswordChecks;
use crate::store::{Affects, DbLocation, Engine, Store};

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A SQLite file, or a PostgreSQL database that several nodes may share.
    pub db: DbLocation,
    pub listen: std::net::SocketAddr,
    /// The address integrations use, e.g. `https://keys.example.com`. When unset, the
    /// `Host` of each request is used.
    pub public_url: Option<String>,
    /// Seed the demo data into an empty database.
    pub demo: bool,
    /// The forwarded header whose last address is a request's address (`X-Forwarded-For`
    /// behind a reverse proxy that sets it). `None`, the default, trusts no header: any
    /// client could write one.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// The public keys whose signed leak reports (`POST /api/v1/leaks`) the server believes.
    /// Empty, the default: every report is refused.
    pub leak_report_keys: crate::leak_reports::ReportKeys,
    /// How often pending key usage is written.
    pub flush_interval: std::time::Duration,
    /// How often the recent-request log is written as well. The log of a busy key changes
    /// with every request; writing it less often than counts saves most of the database work
    /// of usage. The API shows requests not written yet from memory; a crash loses at most
    /// this much of the log, never a count.
    pub log_interval: std::time::Duration,
    /// How often the server looks for changes made by other processes (admin commands, other
    /// servers on the same database).
    pub watch_interval: std::time::Duration,
    /// How long a change's answer waits, at most, for the other server processes to apply it.
    pub propagation_timeout: std::time::Duration,
}

impl ServerConfig {
    pub fn new(db: impl Into<DbLocation>, listen: std::net::SocketAddr) -> Self {
        ServerConfig {
            db: db.into(),
            listen,
            public_url: None,
            demo: false,
            client_ip_header: None,
            leak_report_keys: crate::leak_reports::ReportKeys::default(),
            flush_interval: std::time::Duration::from_secs(1),
            log_interval: std::time::Duration::from_secs(5),
            watch_interval: std::time::Duration::from_millis(100),
            propagation_timeout: std::time::Duration::from_secs(2),
        }
    }
}

/// Cloned into every request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub store: Store,
    pub clock: Clock,
    pub config: Arc<ServerConfig>,
    /// The key check's three parts (see `keycheck`).
    pub cache: KeyCache,
    pub limiter: RateLimiter,
    pub usage: UsageLog,
    /// Each workspace's `GET /projects` body, by workspace id.
    pub projects: LeasedCache<String, bytes::Bytes>,
    pub in_flight: Arc<InFlight>,
    /// Sign-in's password checks, at most one per processor at once: a flood of sign-ins waits
    /// here instead of exhausting memory.
    pub passwords: PasswordChecks,
    /// This process, among the server processes on the database.
    pub process_id: String,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig, clock: Clock) -> Self {
        let processors = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        // Rate-limit windows are shared through the database only where several nodes can
        // serve one workspace.
        let budget: Box<dyn Budget> = match store.engine() {
            Engine::Sqlite => Box::new(LocalBudget),
            Engine::Postgres => Box::new(SharedBudget(store.clone())),
        };
        AppState(Arc::new(StateInner {
            limiter: RateLimiter::new(budget),
            cache: KeyCache::default(),
            usage: UsageLog::default(),
            projects: LeasedCache::default(),
            store,
            clock,
            config: Arc::new(config),
            in_flight: Arc::new(InFlight::default()),
            passwords: PasswordChecks::new(processors),
            process_id: format!("srv_{}", random_base62(&mut rand::rng(), 16)),
        }))
    }

    /// After a change that cached values depend on (committed with `generation`): forgets this
    /// process's caches, then waits until every other live server process on the
    /// database has applied the change too, so that the answer saying it is done is true on
    /// all of them.
    pub async fn propagate(&self, generation: i64, affects: Affects) {
        self.forget(affects);
        let clock = self.clock.clone();
        let seen = self
            .store
            .wait_until_seen(generation, Some(&self.process_id), self.config.propagation_timeout, move || {
                clock.now_ms()
            })
            .await;
        match seen {
            Ok(true) => {}
            Ok(false) => tracing::warn!(generation, "a server process did not apply a change in time"),
            Err(e) => tracing::warn!(error = %e, "could not check that other server processes applied a change"),
        }
    }
}

impl StateInner {
    /// Forgets what a change made here or seen elsewhere affects among what is cached.
    pub fn forget(&self, affects: Affects) {
        if affects == Affects::Keys {
            self.cache.invalidate();
        }
        self.projects.invalidate();
    }

    /// The watcher looked for changes at `now_ms` and applied what it found.
    pub fn looked_at(&self, now_ms: i64) {
        self.cache.looked_at(now_ms);
        self.projects.looked_at(now_ms);
    }
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}
