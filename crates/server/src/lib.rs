//! The Keydeck workspace server: the API-key service the desktop app signs into.
//!
//! Used two ways: as the `keydeck-server` binary, and embedded by the desktop app as its demo
//! workspace. Both call [`start`], which opens the database, runs the migrations, optionally
//! seeds the demo data, and serves the API until the returned [`RunningServer`] is stopped.

pub mod admin;
pub mod auth;
pub mod clock;
pub mod demo;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod keycheck;
pub mod leak_reports;
pub mod leased;
pub mod lockout;
pub mod password;
pub mod routes;
pub mod state;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;

use std::net::SocketAddr;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::Clock;
pub use routes::{app, openapi};
pub use state::{AppState, ServerConfig};
use store::Affects;
pub use store::Store;

/// A server that is accepting requests.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    /// What `--demo` seeded, if it seeded anything.
    pub demo: Option<demo::DemoAccounts>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not open the database {path}: {source}")]
    Database { path: String, source: store::StoreError },
    #[error(
        "could not listen on {addr}: {source}. Is another server running there? Choose another address with --listen."
    )]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("could not seed the demo data: {0}")]
    Demo(store::StoreError),
}

/// Opens the database, seeds the demo data if asked (into an empty database only), and serves.
pub async fn start(config: ServerConfig, clock: Clock) -> Result<RunningServer, StartError> {
    let database = |source| StartError::Database { path: config.db.to_string(), source };
    let store = Store::open(&config.db).await.map_err(database)?;
    let demo = if config.demo {
        store.under_startup_lock(demo::seed(&store, &clock)).await.map_err(database)?.map_err(StartError::Demo)?
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let state = AppState::new(store, config, clock);
    let generations = state
        .store
        .generations()
        .await
        .map_err(|source| StartError::Database { path: state.config.db.to_string(), source })?;
    state
        .store
        .register_process(&state.process_id, state.clock.now_ms(), generations.all)
        .await
        .map_err(|source| StartError::Database { path: state.config.db.to_string(), source })?;
    state.looked_at(state.clock.now_ms());
    // In the background: starting (the demo's first screen among it) need not wait for a hash.
    drop(tokio::task::spawn_blocking(password::prepare));
    let (stop, stopped) = watch::channel(false);
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
        routes::app(state.clone()),
    );
    let mut shutdown = stopped.clone();
    let server = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "the server stopped");
        }
    });
    let tasks = vec![
        server,
        tokio::spawn(flusher(state.clone(), stopped.clone())),
        tokio::spawn(watcher(state.clone(), stopped, generations)),
    ];
    tracing::info!(%addr, "workspace server listening");
    Ok(RunningServer { addr, state, demo, stop, tasks })
}

impl RunningServer {
    /// The base address, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, finishes those under way, writes pending usage and closes
    /// the database.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(e) = self.state.usage.flush(&self.state.store).await {
            tracing::error!(error = %e, "could not write key usage on shutdown");
        }
        if let Err(e) = self.state.store.unregister_process(&self.state.process_id).await {
            tracing::warn!(error = %e, "could not sign this process off the database");
        }
        self.state.store.close().await;
    }
}

/// How long after a request every node has written it, whatever each node's own flush
/// interval: the contract shows `lastUsedAt` on every node within 2 seconds, and this is twice
/// that. A "revoke once silent" plan waits this long past its deadline, so that a request
/// another node answered just before the deadline still breaks the silence; a plan thus runs
/// up to 4 seconds after it is due, against periods of an hour to a week.
const USAGE_WRITTEN_WITHIN_MS: i64 = 4_000;

/// Writes pending key usage every `flush_interval`, then revokes keys that have been silent as
/// long as planned; every minute, drops expired idempotency
/// records, sign-in attempts and rate-limit windows, and records keys that expired in the
/// audit log.
async fn flusher(state: AppState, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.flush_interval);
    let mut last_purge = 0;
    let mut log_written = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let flushed = if log_written.elapsed() >= state.config.log_interval {
            log_written = tokio::time::Instant::now();
            state.usage.flush(&state.store).await
        } else {
            state.usage.flush_counts(&state.store).await
        };
        let now = state.clock.now_ms();
        match flushed {
            // Not while this node holds requests it could not write: one of them may be the
            // request that breaks a key's silence.
            Err(e) => tracing::warn!(error = %e, "could not write key usage; will retry"),
            Ok(_) => {
                // Right after this node's usage is written; the other nodes' may still be on
                // their way, so a plan runs only once they all would have arrived.
                let own = i64::try_from(state.config.flush_interval.as_millis() * 2).unwrap_or(i64::MAX);
                match state.store.revoke_silent_keys(now, own.max(USAGE_WRITTEN_WITHIN_MS)).await {
                    Ok(0) => {}
                    Ok(_) => state.forget(Affects::Keys),
                    Err(e) => tracing::warn!(error = %e, "could not revoke keys planned to be revoked once silent"),
                }
            }
        }
        if now - last_purge > 60_000 {
            last_purge = now;
            if let Err(e) = state.store.purge_idempotency(now - idempotency::REPLAY_WINDOW_MS).await {
                tracing::warn!(error = %e, "could not purge idempotency records");
            }
            if let Err(e) = state.store.purge_sign_in(now).await {
                tracing::warn!(error = %e, "could not purge old sign-in attempts");
            }
            if let Err(e) = state.store.purge_rate_windows(now.div_euclid(1000)).await {
                tracing::warn!(error = %e, "could not purge past rate-limit windows");
            }
            if let Err(e) = state.store.record_expiries(now).await {
                tracing::warn!(error = %e, "could not record expired keys in the audit log");
            }
        }
    }
}

/// Notices changes that other processes made (admin commands, other servers on the database),
/// forgets what they affect among what it has cached, and says which changes this process has
/// applied (with a heartbeat every second), so that a process making a change can wait until
/// all have.
async fn watcher(state: AppState, mut stopped: watch::Receiver<bool>, mut seen: store::Generations) {
    let mut tick = tokio::time::interval(state.config.watch_interval);
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let looked_at = state.clock.now_ms();
        let changed = match state.store.generations().await {
            Ok(generations) if generations != seen => {
                let affects = if generations.keys != seen.keys { Affects::Keys } else { Affects::Projects };
                seen = generations;
                state.forget(affects);
                state.looked_at(looked_at);
                tracing::debug!(generation = generations.all, "a change seen");
                true
            }
            Ok(_) => {
                state.looked_at(looked_at);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check for changes");
                false
            }
        };
        if changed || last_heartbeat.elapsed() >= std::time::Duration::from_secs(1) {
            last_heartbeat = tokio::time::Instant::now();
            if let Err(e) = state.store.heartbeat(&state.process_id, state.clock.now_ms(), seen.all).await {
                tracing::warn!(error = %e, "could not tell the database this process is alive");
            }
        }
    }
}

/// Logging for the binary: `RUST_LOG` if set, else `info`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}
