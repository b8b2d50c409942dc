//! `AppState`: the one state object of the server, cloned into every handler.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::idempotency::InFlight;
use crate::keys_runtime::KeyRuntime;
use crate::lockout::SignInLockout;
use crate::store::Store;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub db_path: PathBuf,
    pub listen: std::net::SocketAddr,
    /// The address integrations use, e.g. `https://keys.example.com`. When unset, the
    /// `Host` of each request is used.
    pub public_url: Option<String>,
    /// Seed the demo data into an empty database.
    pub demo: bool,
    /// How often pending key usage is written.
    pub flush_interval: std::time::Duration,
    /// How often the recent-request log is written as well. The log of a busy key changes
    /// with every request; writing it less often than counts saves most of the database work
    /// of usage. The API shows requests not written yet from memory; a crash loses at most
    /// this much of the log, never a count.
    pub log_interval: std::time::Duration,
    /// How often the server looks for changes made by admin commands.
    pub watch_interval: std::time::Duration,
}

impl ServerConfig {
    pub fn new(db_path: impl Into<PathBuf>, listen: std::net::SocketAddr) -> Self {
        ServerConfig {
            db_path: db_path.into(),
            listen,
            public_url: None,
            demo: false,
            flush_interval: std::time::Duration::from_secs(1),
            log_interval: std::time::Duration::from_secs(5),
            watch_interval: std::time::Duration::from_millis(100),
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
    pub keys: Arc<KeyRuntime>,
    pub in_flight: Arc<InFlight>,
    pub lockout: Arc<SignInLockout>,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig, clock: Clock) -> Self {
        AppState(Arc::new(StateInner {
            store,
            clock,
            config: Arc::new(config),
            keys: Arc::new(KeyRuntime::default()),
            in_flight: Arc::new(InFlight::default()),
            lockout: Arc::new(SignInLockout::default()),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}
