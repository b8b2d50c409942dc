//! The demo workspace: the workspace server running in-process on 127.0.0.1 with its SQLite
//! file in the app's data directory and the demo data, plus a simulated integration that
//! reads its key from the keychain on every call and calls the API every few seconds, so cards
//! show live "last used" (and a rotation in the demo sees the integration move to the new key).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keydeck_client::Client;
use keydeck_core::app::AppErrorCode;
use keydeck_core::wire::SessionCreated;
use keydeck_core::wire::{CreateKeyRequest, Plan};
use keydeck_core::{Purpose, RateLimit};
use keydeck_server::{Clock, RunningServer, ServerConfig};
use keydeck_vault::{KeychainAddress, SecretStore, store_verified};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{AppResult, app_error, from_client};

/// The name of the simulated integration's key.
pub const INTEGRATION_KEY_NAME: &str = "Timesheet sync (demo integration)";
/// How often the simulated integration calls the API.
pub const INTEGRATION_INTERVAL: Duration = Duration::from_secs(3);

async fn owner_session(state: &keydeck_server::AppState) -> AppResult<SessionCreated> {
    keydeck_server::demo::owner_session(state)
        .await
        .map_err(|e| app_error(AppErrorCode::Other, format!("The demo workspace has no owner to sign in as: {e}")))
}

pub struct Demo {
    server: RunningServer,
    workspace_id: String,
    integration: Option<(JoinHandle<()>, watch::Sender<bool>)>,
}

impl Demo {
    pub async fn start(data_dir: &Path, keychain: Arc<dyn SecretStore>, keychain_ok: bool) -> AppResult<Demo> {
        let dir = data_dir.join("demo");
        let db = dir.join("workspace.db");
        // Private like the rest of the data directory; SQLite gives its journal files the
        // database file's mode.
        crate::store::make_private_dir(&dir)
            .and_then(|()| crate::store::private_file(&db, false).map(drop))
            .map_err(|e| app_error(AppErrorCode::Other, format!("Could not create {}: {e}", dir.display())))?;
        let mut config = ServerConfig::new(db, ([127, 0, 0, 1], 0).into());
        config.demo = true;
        let server = keydeck_server::start(config, Clock::default())
            .await
            .map_err(|e| app_error(AppErrorCode::Other, format!("The demo workspace could not start: {e}")))?;
        tracing::debug!("demo server started");
        let client = Client::new(&server.url()).map_err(from_client)?;
        let token = owner_session(&server.state).await?.token;
        let workspace_id = client
            .workspaces(&token)
            .await
            .map_err(from_client)?
            .workspaces
            .into_iter()
            .find(|w| w.plan == Plan::Business)
            .map(|w| w.id)
            .ok_or_else(|| app_error(AppErrorCode::Other, "The demo data has no Business workspace."))?;
        // The integration sets itself up in the background: the first screen need not wait.
        let integration =
            keychain_ok.then(|| spawn_integration(client.clone(), token.clone(), workspace_id.clone(), keychain));
        if integration.is_none() {
            let _ = client.sign_out(&token).await;
        }
        Ok(Demo { server, workspace_id, integration })
    }

    /// A new session for the demo's owner (the app runs this server, so no password is
    /// checked: opening the demo costs no password hashing).
    pub async fn owner_session(&self) -> AppResult<SessionCreated> {
        owner_session(&self.server.state).await
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    pub async fn stop(self) {
        if let Some((task, stop)) = self.integration {
            let _ = stop.send(true);
            let _ = task.await;
        }
        self.server.stop().await;
    }
}

/// The integration's key: the one already in the keychain if the server still accepts it,
/// otherwise a new one, stored in the keychain (and read back).
async fn integration_key(
    client: &Client,
    token: &str,
    ws: &str,
    keychain: &dyn SecretStore,
) -> AppResult<KeychainAddress> {
    let address = KeychainAddress::for_key(ws, INTEGRATION_KEY_NAME);
    if let Ok(Some(secret)) = keychain.load(&address)
        && client.me(&secret, ws).await.is_ok_and(|a| a.me.is_ok())
    {
        return Ok(address);
    }
    let body = CreateKeyRequest {
        name: Some(INTEGRATION_KEY_NAME.to_owned()),
        scopes: Purpose::Zapier.scopes().to_vec(),
        expires_in_days: Purpose::Zapier.expires_in_days(),
        rate_limit: Some(RateLimit::default()),
        replaces: None,
        allowed_ips: None,
    };
    let created = client.create_key(token, ws, &body, None).await.map_err(from_client)?;
    store_verified(keychain, &address, &created.secret).map_err(crate::error::from_vault)?;
    Ok(address)
}

/// Sets the integration up with the session `token` (signed out once done), then calls the
/// API every few seconds with the key the keychain holds.
fn spawn_integration(
    client: Client,
    token: String,
    ws: String,
    keychain: Arc<dyn SecretStore>,
) -> (JoinHandle<()>, watch::Sender<bool>) {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let address = integration_key(&client, &token, &ws, keychain.as_ref()).await;
        let _ = client.sign_out(&token).await;
        let address = match address {
            Ok(address) => address,
            Err(e) => {
                tracing::warn!(error = %e.message, "the demo integration did not start");
                return;
            }
        };
        let mut tick = tokio::time::interval(INTEGRATION_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            // Read the keychain on every call, as a real integration that reads it would.
            let (k, a) = (keychain.clone(), address.clone());
            let secret = tokio::task::spawn_blocking(move || k.load(&a)).await.ok().and_then(Result::ok).flatten();
            if let Some(secret) = secret
                && let Err(e) = client.me(&secret, &ws).await
            {
                tracing::debug!(error = %e, "demo integration call failed");
            }
        }
    });
    (task, stop)
}
