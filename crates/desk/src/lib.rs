//! What the Keydeck window and the `kdk` command line both do, without Tauri: accounts and
//! sessions, the key list (with the last one kept for when the server is unreachable),
//! generating a key into the keychain and clipboard, testing a key, and the demo workspace.
//! The window's commands (`src-tauri/src/commands.rs`) and `kdk`'s are thin adapters over
//! `Desk`, so both share the accounts file, the session tokens and key entries in the
//! keychain, and the rotation journals in one data directory.
//!
//! Which server each keychain entry belongs to is kept by `keychain`; rotations by `rotation`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use keydeck_client::{Client, ClientError};
use keydeck_core::app::{
    AccountSummary, ActivityQuery, AppErrorCode, Budget, GenerateRequest, GenerateResult, KeyCardView, KeyDetail,
    KeychainLocation, KeysView, PresetView, ReminderCheck, SessionView, Startup, TestKeyInput, TestReport,
};
use keydeck_core::key::random_base62;
use keydeck_core::wire::{
    AuditPage, CreateKeyRequest, CreatedKey, KeyCard, KeyStatus, UpdateKeyRequest, WorkspaceSummary,
};
use keydeck_core::{ParsedKey, Settings, diagnosis, reminders};
use keydeck_vault::{KeychainAddress, SecretClipboard, SecretStore, VaultError, clear_if_holds};
use tokio::sync::Mutex;

pub mod demo;
pub mod error;
mod keychain;
mod rotation;
pub mod store;

use crate::demo::Demo;
use crate::error::{AppResult, app_error, field_error, from_client, from_vault};
use crate::store::{DEMO_ACCOUNT_ID, DataDir, Remembered, StoredAccount};
use keychain::Held;

/// A signed-in account: its client and session token (the token lives in memory and in the
/// keychain, never on disk).
struct Session {
    account: StoredAccount,
    client: Client,
    token: String,
}

struct Current {
    account_id: String,
    workspace: WorkspaceSummary,
}

/// What a command on the current workspace works with.
struct Here {
    client: Client,
    token: String,
    workspace: WorkspaceSummary,
    /// The server that issues this workspace's keys, as keychain records name it.
    server: String,
}

pub struct Desk {
    data: DataDir,
    keychain: Arc<dyn SecretStore>,
    keychain_problem: Option<String>,
    clipboard: Option<Arc<dyn SecretClipboard>>,
    clipboard_problem: Option<String>,
    settings: Mutex<Settings>,
    remembered: Mutex<Remembered>,
    sessions: Mutex<HashMap<String, Session>>,
    current: Mutex<Option<Current>>,
    last_keys: Mutex<HashMap<String, KeysView>>,
    demo: Mutex<Option<Demo>>,
    /// Open the demo workspace at start when no session is restored (`keydeck --demo`).
    demo_on_start: bool,
    /// The first start-up, begun by `prewarm` while the window loads and taken by the web
    /// view's first `startup` call.
    first_startup: tokio::sync::OnceCell<Startup>,
    first_taken: AtomicBool,
    /// One rotation command at a time in this process (the data directory's rotation lock
    /// keeps other processes out): each reads, acts on and rewrites a journal.
    rotation_lock: Mutex<()>,
    /// The secret last copied to the clipboard, until its clearing: cleared on exit too, if
    /// the clipboard still holds it.
    copied: Arc<std::sync::Mutex<Option<String>>>,
    /// What needs attention in the current workspace, as its last key list showed it: the
    /// tray's count and menu follow it.
    attention: tokio::sync::watch::Sender<Attention>,
    /// Whether the window's shell shows a tray icon (see `set_tray_available`).
    tray_available: AtomicBool,
    /// The settings' "keep in tray", mirrored for the window's close handler, which must
    /// answer at once.
    keep_in_tray: AtomicBool,
}

/// What needs attention in the current workspace (the reminders that are on), whether told yet
/// or not; nothing when no workspace is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attention {
    pub workspace_id: Option<String>,
    pub reminders: Vec<reminders::Reminder>,
}

async fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| app_error(AppErrorCode::Other, e.to_string()))
}

/// The reminders of a key list that the settings leave on.
fn reminders_on(settings: &Settings, view: &KeysView) -> Vec<reminders::Reminder> {
    let mut found = reminders::reminders(&view.keys, &view.rotations, Utc::now());
    found.retain(|r| settings.reminds_of(r.kind));
    found
}

/// Whether a stored secret is the one behind a card (same first 8 and last 4 characters).
fn matches_card(secret: &str, card: &KeyCard) -> bool {
    is_key(secret, &card.prefix, &card.hint)
}

/// Whether a stored secret is the key with this prefix (first 8) and hint (last 4 characters).
fn is_key(secret: &str, prefix: &str, hint: &str) -> bool {
    secret.len() == keydeck_core::key::KEY_LEN && secret.starts_with(prefix) && secret.ends_with(hint)
}

/// The app's identifier: its data directory's name, as Tauri names it from `tauri.conf.json`.
pub const APP_IDENTIFIER: &str = "dev.keydeck.app";

/// Entries per page of Activity: a window's worth and some, so scrolling asks again rarely.
const ACTIVITY_PAGE: u32 = 50;

/// The data directory that the window and `kdk` share: the platform's data folder (on Linux
/// `$XDG_DATA_HOME`, else `~/.local/share`) joined with the app's identifier, as Tauri's
/// `app_data_dir` resolves it.
pub fn default_data_dir() -> AppResult<std::path::PathBuf> {
    dirs::data_dir().map(|d| d.join(APP_IDENTIFIER)).ok_or_else(|| {
        app_error(AppErrorCode::Other, "This computer has no home folder to keep Keydeck's accounts in. Set HOME.")
    })
}

impl Desk {
    /// The desk over this computer's real keychain (probed once) and system clipboard.
    pub fn open(data_dir: std::path::PathBuf) -> Desk {
        let keychain = keydeck_vault::OsKeychain;
        let keychain_problem = keychain.probe().err().map(|e| e.to_string());
        let clipboard = keydeck_vault::SystemClipboard::open().map(|c| Arc::new(c) as Arc<dyn SecretClipboard>);
        Desk::new(DataDir::new(data_dir), Arc::new(keychain), keychain_problem, clipboard)
    }

    pub fn new(
        data: DataDir,
        keychain: Arc<dyn SecretStore>,
        keychain_problem: Option<String>,
        clipboard: Result<Arc<dyn SecretClipboard>, VaultError>,
    ) -> Desk {
        let (clipboard, clipboard_problem) = match clipboard {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let settings = data.settings();
        Desk {
            keep_in_tray: AtomicBool::new(settings.keep_in_tray),
            settings: Mutex::new(settings),
            remembered: Mutex::new(data.remembered()),
            data,
            keychain,
            keychain_problem,
            clipboard,
            clipboard_problem,
            sessions: Mutex::default(),
            current: Mutex::default(),
            last_keys: Mutex::default(),
            demo: Mutex::default(),
            demo_on_start: false,
            first_startup: tokio::sync::OnceCell::new(),
            first_taken: AtomicBool::new(false),
            rotation_lock: Mutex::default(),
            copied: Arc::default(),
            attention: tokio::sync::watch::Sender::new(Attention::default()),
            tray_available: AtomicBool::new(false),
        }
    }

    /// Opens the demo workspace at start when no other session is restored.
    pub fn with_demo_on_start(mut self, on: bool) -> Desk {
        self.demo_on_start = on;
        self
    }

    fn keychain_ok(&self) -> bool {
        self.keychain_problem.is_none()
    }

    async fn accounts(&self) -> Vec<AccountSummary> {
        self.remembered.lock().await.accounts.iter().map(summary).collect()
    }

    /// What the first screen needs; restores the last session when its token still works.
    /// The first call answers what `prewarm` began, with the session's keys.
    pub async fn startup(&self) -> Startup {
        tracing::debug!("the web view asks for its first screen");
        if !self.first_taken.swap(true, Ordering::AcqRel) {
            return self.first_startup.get_or_init(|| self.compute_first()).await.clone();
        }
        self.compute_startup().await
    }

    /// Starts restoring the last session (or the demo) and fetching its keys while the window
    /// is still loading, so the first screen has them at once.
    pub async fn prewarm(&self) {
        let began = std::time::Instant::now();
        self.first_startup.get_or_init(|| self.compute_first()).await;
        tracing::debug!(ms = began.elapsed().as_millis(), "prewarm: session restored, keys listed");
    }

    /// The first start-up: the session and, with one, its keys.
    async fn compute_first(&self) -> Startup {
        let mut startup = self.compute_startup().await;
        if startup.session.is_some() {
            startup.keys = self.list_keys().await.ok();
        }
        startup
    }

    async fn compute_startup(&self) -> Startup {
        let last = self.remembered.lock().await.current.clone();
        let session = match last {
            Some(id) if id == DEMO_ACCOUNT_ID => self.open_demo().await.ok(),
            Some(id) => self.restore(&id).await.ok(),
            None => None,
        };
        let session = match session {
            None if self.demo_on_start => self.open_demo().await.ok(),
            other => other,
        };
        self.startup_with(session).await
    }

    async fn restore(&self, account_id: &str) -> AppResult<SessionView> {
        let account = self
            .remembered
            .lock()
            .await
            .accounts
            .iter()
            .find(|a| a.id() == account_id)
            .cloned()
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in to this account."))?;
        let address = KeychainAddress::for_session(&account.server_url, &account.email);
        let keychain = self.keychain.clone();
        // A keychain that cannot be read (locked, not running) is not a signed-out account.
        let token = spawn_blocking(move || keychain.load(&address))
            .await?
            .map_err(from_vault)?
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in again to this account."))?;
        let client = Client::new(&account.server_url).map_err(from_client)?;
        let workspace = account.last_workspace_id.clone();
        self.sessions.lock().await.insert(account.id(), Session { account, client, token });
        self.enter(account_id, workspace.as_deref()).await
    }

    /// Makes an account current, on `workspace_id` or its first workspace with API access.
    async fn enter(&self, account_id: &str, workspace_id: Option<&str>) -> AppResult<SessionView> {
        let (client, token, account) = self.session(account_id).await?;
        let list = client.workspaces(&token).await.map_err(from_client)?.workspaces;
        let chosen = workspace_id
            .and_then(|id| list.iter().find(|w| w.id == id))
            .or_else(|| list.iter().find(|w| w.plan.has_api_access() && w.role.can_manage_keys()))
            .or_else(|| list.first())
            .cloned()
            .ok_or_else(|| {
                app_error(
                    AppErrorCode::Forbidden,
                    "This account is not a member of any workspace. Ask a workspace owner to add you.",
                )
            })?;
        self.remember(|remembered| {
            if let Some(a) = remembered.accounts.iter_mut().find(|a| a.id() == account_id) {
                a.last_workspace_id = Some(chosen.id.clone());
            }
            remembered.current = Some(account_id.to_owned());
        })
        .await?;
        *self.current.lock().await = Some(Current { account_id: account_id.to_owned(), workspace: chosen.clone() });
        self.publish_attention().await;
        Ok(SessionView {
            account: summary(&account),
            workspaces: list,
            workspace_id: chosen.id,
            docs_url: format!("{}/docs", client.base_url()),
        })
    }

    /// Changes the remembered accounts on disk (as they are there now) and here.
    async fn remember(&self, change: impl FnOnce(&mut Remembered)) -> AppResult<()> {
        let mut remembered = self.remembered.lock().await;
        *remembered = self.data.update_remembered(change).map_err(|e| {
            app_error(
                AppErrorCode::Other,
                format!("Could not save the list of accounts ({e}). Free some disk space and try again."),
            )
        })?;
        Ok(())
    }

    async fn session(&self, account_id: &str) -> AppResult<(Client, String, StoredAccount)> {
        let sessions = self.sessions.lock().await;
        let s = sessions
            .get(account_id)
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in to this account first."))?;
        Ok((s.client.clone(), s.token.clone(), s.account.clone()))
    }

    /// The current account's client and token, the current workspace and its server.
    async fn here(&self) -> AppResult<Here> {
        let current = self.current.lock().await;
        let current = current
            .as_ref()
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in or open the demo workspace first."))?;
        let (client, token, account) = self.session(&current.account_id).await?;
        Ok(Here { client, token, workspace: current.workspace.clone(), server: account.server() })
    }

    /// Signs in. Over plain `http://` to another computer the password and every key would
    /// cross the network readable by anyone on the way: that needs `allow_unencrypted`, which
    /// the window sets only once the person has read this and agreed.
    pub async fn sign_in(
        &self,
        server_url: &str,
        email: &str,
        password: &str,
        allow_unencrypted: bool,
    ) -> AppResult<SessionView> {
        let client = Client::new(server_url).map_err(|e| field_error("serverUrl", &e.to_string()))?;
        if client.is_unencrypted_remote() && !allow_unencrypted {
            return Err(app_error(
                AppErrorCode::Unencrypted,
                format!(
                    "{} is not encrypted (http://, not https://): your password, your session and every key you create would cross the network where anyone on the way can read them. Use the server's https:// address if it has one.",
                    client.base_url()
                ),
            ));
        }
        let created = client.sign_in(email.trim(), password).await.map_err(|e| match &e {
            ClientError::Unreachable { .. } | ClientError::Unexpected { .. } => {
                field_error("serverUrl", &e.to_string())
            }
            _ => from_client(e),
        })?;
        let account = StoredAccount {
            server_url: client.base_url().to_owned(),
            email: created.user.email.clone(),
            name: created.user.name.clone(),
            is_demo: false,
            last_workspace_id: None,
        };
        self.remember_session(account, client, created.token, true).await
    }

    async fn remember_session(
        &self,
        mut account: StoredAccount,
        client: Client,
        token: String,
        keep_token: bool,
    ) -> AppResult<SessionView> {
        let id = account.id();
        if keep_token && self.keychain_ok() {
            let address = KeychainAddress::for_session(&account.server_url, &account.email);
            let (keychain, t) = (self.keychain.clone(), token.clone());
            // A token only in memory still works for this run; say nothing, sign-in is kept.
            if let Err(e) = spawn_blocking(move || keychain.store(&address, &t)).await? {
                tracing::warn!(error = %e, "could not keep the session token in the keychain");
            }
        }
        let fresh = account.clone();
        self.remember(|remembered| {
            let last_workspace_id =
                remembered.accounts.iter().find(|a| a.id() == id).and_then(|a| a.last_workspace_id.clone());
            remembered.accounts.retain(|a| a.id() != id);
            remembered.accounts.push(StoredAccount {
                last_workspace_id: last_workspace_id.or(fresh.last_workspace_id.clone()),
                ..fresh
            });
        })
        .await?;
        if let Some(a) = self.remembered.lock().await.accounts.iter().find(|a| a.id() == id) {
            account.last_workspace_id = a.last_workspace_id.clone();
        }
        let workspace = account.last_workspace_id.clone();
        self.sessions.lock().await.insert(id.clone(), Session { account, client, token });
        self.enter(&id, workspace.as_deref()).await
    }

    pub async fn switch_workspace(&self, account_id: &str, workspace_id: &str) -> AppResult<SessionView> {
        if !self.sessions.lock().await.contains_key(account_id) {
            self.restore(account_id).await?;
        }
        self.enter(account_id, Some(workspace_id)).await
    }

    /// Signs out of a remembered account, opened since the app started or not: ends its session
    /// on the server, then removes its token from the keychain. When the server cannot be
    /// reached nothing changes here (the session would stay valid there): the answer says so.
    pub async fn sign_out(&self, account_id: &str) -> AppResult<Startup> {
        let account = self.remembered.lock().await.accounts.iter().find(|a| a.id() == account_id).cloned();
        let live = self.sessions.lock().await.get(account_id).map(|s| (s.client.clone(), s.token.clone()));
        let token = match (&live, &account) {
            (Some((_, token)), _) => Some(token.clone()),
            (None, Some(a)) if !a.is_demo => {
                let (keychain, address) =
                    (self.keychain.clone(), KeychainAddress::for_session(&a.server_url, &a.email));
                spawn_blocking(move || keychain.load(&address)).await?.ok().flatten()
            }
            _ => None,
        };
        if let Some(token) = token {
            let client = match (live, &account) {
                (Some((client, _)), _) => client,
                (None, Some(a)) => Client::new(&a.server_url).map_err(from_client)?,
                (None, None) => return Err(app_error(AppErrorCode::NotFound, "This account is not remembered here.")),
            };
            match client.sign_out(&token).await {
                // Ended now, or already over (expired, or ended elsewhere).
                Ok(()) => {}
                Err(ClientError::Api { body, .. }) if body.error == keydeck_core::ErrorCode::InvalidSession => {}
                Err(e @ ClientError::Unreachable { .. }) => {
                    return Err(app_error(
                        AppErrorCode::Unreachable,
                        format!(
                            "{e} You are still signed in: the session can only be ended by the server. Try again when it answers."
                        ),
                    ));
                }
                Err(e) => return Err(from_client(e)),
            }
        }
        self.sessions.lock().await.remove(account_id);
        if let Some(a) = account.filter(|a| !a.is_demo) {
            let (keychain, address) = (self.keychain.clone(), KeychainAddress::for_session(&a.server_url, &a.email));
            spawn_blocking(move || keychain.remove(&address)).await?.map_err(from_vault)?;
        }
        if account_id == DEMO_ACCOUNT_ID
            && let Some(demo) = self.demo.lock().await.take()
        {
            demo.stop().await;
        }
        {
            let mut current = self.current.lock().await;
            if current.as_ref().is_some_and(|c| c.account_id == account_id) {
                *current = None;
            }
        }
        self.publish_attention().await;
        self.remember(|remembered| {
            if remembered.current.as_deref() == Some(account_id) {
                remembered.current = None;
            }
        })
        .await?;
        Ok(self.startup_with(None).await)
    }

    /// What the start screen needs, around `session`.
    async fn startup_with(&self, session: Option<SessionView>) -> Startup {
        Startup {
            accounts: self.accounts().await,
            session,
            settings: self.settings.lock().await.clone(),
            presets: PresetView::all(),
            keychain_available: self.keychain_ok(),
            keychain_problem: self.keychain_problem.clone(),
            clipboard_available: self.clipboard.is_some(),
            tray_available: self.tray_available.load(Ordering::Relaxed),
            keys: None,
        }
    }

    /// Starts the in-app demo workspace (once) and signs in as its owner.
    pub async fn open_demo(&self) -> AppResult<SessionView> {
        let mut demo = self.demo.lock().await;
        if demo.is_none() {
            *demo = Some(Demo::start(self.data.path(), self.keychain.clone(), self.keychain_ok()).await?);
        }
        let Some(running) = demo.as_ref() else {
            return Err(app_error(AppErrorCode::Other, "The demo did not start."));
        };
        let client = Client::new(&running.url()).map_err(from_client)?;
        let created = running.owner_session().await?;
        let account = StoredAccount {
            server_url: running.url(),
            email: created.user.email.clone(),
            name: created.user.name.clone(),
            is_demo: true,
            last_workspace_id: Some(running.workspace_id().to_owned()),
        };
        drop(demo);
        self.remember_session(account, client, created.token, false).await
    }

    /// The current workspace's keys; when the server cannot be reached, the last ones seen.
    pub async fn list_keys(&self) -> AppResult<KeysView> {
        let Here { client, token, workspace, server } = self.here().await?;
        let began = std::time::Instant::now();
        match client.list_keys(&token, &workspace.id).await {
            Ok(list) => {
                tracing::debug!(ms = began.elapsed().as_millis(), "keys fetched");
                let rotation_days = self.settings.lock().await.rotation_days;
                // Keychain look-ups are blocking calls: run them side by side.
                let keys = futures::future::join_all(
                    list.keys.into_iter().map(|card| self.view(&server, &workspace.id, card, rotation_days)),
                )
                .await;
                let view = KeysView {
                    keys,
                    limit: list.limit,
                    fetched_at: Utc::now(),
                    stale: false,
                    stale_reason: None,
                    rotations: self.rotation_views(&workspace.id),
                };
                tracing::debug!(ms = began.elapsed().as_millis(), "keychain checked for each key");
                self.last_keys.lock().await.insert(workspace.id.clone(), view.clone());
                self.publish_attention().await;
                Ok(view)
            }
            Err(e @ ClientError::Unreachable { .. }) => {
                let reason = e.to_string();
                match self.last_keys.lock().await.get(&workspace.id) {
                    Some(last) => Ok(KeysView {
                        stale: true,
                        stale_reason: Some(reason),
                        rotations: self.rotation_views(&workspace.id),
                        ..last.clone()
                    }),
                    None => Err(from_client(e)),
                }
            }
            Err(e) => Err(from_client(e)),
        }
    }

    async fn view(&self, server: &str, workspace_id: &str, card: KeyCard, rotation_days: u32) -> KeyCardView {
        let address = KeychainAddress::for_key(workspace_id, &card.name);
        let in_keychain = self.keychain_ok()
            && self.holds_key(server, workspace_id, &address, (&card.id, &card.prefix, &card.hint)).await;
        card_view(workspace_id, card, in_keychain, rotation_days)
    }

    /// A card of the current workspace as the app shows it.
    async fn view_here(&self, here: &Here, card: KeyCard) -> KeyCardView {
        let rotation_days = self.settings.lock().await.rotation_days;
        self.view(&here.server, &here.workspace.id, card, rotation_days).await
    }

    /// Creates a key; then, in this order, stores it in the keychain and reads it back, copies
    /// it to the clipboard, and hands it to the web view for its one reveal. A key created on
    /// the server is always revealed, even if the keychain or clipboard fails afterwards.
    pub async fn generate_key(&self, request: GenerateRequest) -> AppResult<GenerateResult> {
        let started = std::time::Instant::now();
        let here = self.here().await?;
        let name = request.name.trim().to_owned();
        let address = KeychainAddress::for_key(&here.workspace.id, &name);
        let keep = request.store_in_keychain && self.keychain_ok();
        // The server refuses a second live key of a name; the keychain address of the name may
        // still hold another server's key, which is never overwritten: say so before making one.
        if keep && let Held::Others { server } = self.held(&here.server, &address).await? {
            return Err(field_error(
                "name",
                &format!(
                    "{} Choose another name to keep this key in the keychain, or make it without the keychain.",
                    keychain::entry_of_another_server(&address, &server)
                ),
            ));
        }
        let body = CreateKeyRequest {
            name: Some(name.clone()),
            scopes: request.scopes,
            expires_in_days: request.expires_in_days,
            rate_limit: Some(request.rate_limit),
            replaces: None,
            allowed_ips: None,
        };
        let idempotency_key = format!("kd-{}", random_base62(&mut rand::rng(), 32));
        let created = here
            .client
            .create_key(&here.token, &here.workspace.id, &body, Some(&idempotency_key))
            .await
            .map_err(from_client)?;
        let created_after = started.elapsed();
        let result = self.deliver(&here, &address, keep, created).await?;
        tracing::debug!(
            created_ms = created_after.as_millis(),
            total_ms = started.elapsed().as_millis(),
            "key generated"
        );
        Ok(result)
    }

    /// The steps after a key is created, shared by generating and rotating: store it at
    /// `address` and read it back (when `keep`), copy it, and build its one reveal. A failed
    /// keychain or clipboard is reported in the result, never an error: the key exists.
    async fn deliver(
        &self,
        here: &Here,
        address: &KeychainAddress,
        keep: bool,
        created: CreatedKey,
    ) -> AppResult<GenerateResult> {
        let secret = created.secret;
        let (keychain, keychain_problem) = if keep {
            match self.keep(&here.server, &created.key.id, address, &secret).await? {
                Ok(()) => (
                    Some(KeychainLocation { service: address.service.clone(), account: address.account.clone() }),
                    None,
                ),
                Err(problem) => (None, Some(problem)),
            }
        } else {
            (
                None,
                self.keychain_problem
                    .clone()
                    .or_else(|| Some("You chose not to keep this key in the keychain.".to_owned())),
            )
        };
        let clear_after = self.settings.lock().await.clipboard_clear_seconds;
        let (copied, clipboard_problem) = match self.copy_secret(&secret, clear_after) {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e.to_string())),
        };
        let rotation_days = self.settings.lock().await.rotation_days;
        let key = card_view(&here.workspace.id, created.key, keychain.is_some(), rotation_days);
        Ok(GenerateResult {
            key,
            secret,
            keychain,
            keychain_problem,
            copied,
            clear_after_seconds: clear_after,
            clipboard_problem,
        })
    }

    /// The clipboard, or why there is none.
    fn clipboard(&self) -> Result<Arc<dyn SecretClipboard>, VaultError> {
        self.clipboard.clone().ok_or_else(|| {
            VaultError::NoClipboard(self.clipboard_problem.clone().unwrap_or_else(|| "no clipboard".to_owned()))
        })
    }

    /// Copies a secret and clears the clipboard after `seconds` (or when the app exits) if it
    /// still holds it.
    fn copy_secret(&self, secret: &str, seconds: u32) -> Result<(), VaultError> {
        let clipboard = self.clipboard()?;
        clipboard.copy_secret(secret)?;
        *self.copied.lock().unwrap_or_else(|p| p.into_inner()) = Some(secret.to_owned());
        let (secret, copied) = (secret.to_owned(), self.copied.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
            if let Err(e) = clear_if_holds(clipboard.as_ref(), &secret) {
                tracing::warn!(error = %e, "could not clear the clipboard");
            }
            let mut last = copied.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_deref() == Some(secret.as_str()) {
                *last = None;
            }
        });
        Ok(())
    }

    pub fn copy_text(&self, text: &str) -> AppResult<()> {
        self.clipboard().and_then(|c| c.copy_secret(text)).map_err(from_vault)
    }

    pub async fn key_detail(&self, key_id: &str) -> AppResult<KeyDetail> {
        let here = self.here().await?;
        let (client, token, ws) = (&here.client, &here.token, &here.workspace.id);
        let (card, usage, requests) = tokio::join!(
            client.key(token, ws, key_id),
            client.key_usage(token, ws, key_id, 14),
            client.key_requests(token, ws, key_id, 50),
        );
        Ok(KeyDetail {
            key: self.view_here(&here, card.map_err(from_client)?).await,
            usage: usage.map_err(from_client)?.days,
            requests: requests.map_err(from_client)?.requests,
        })
    }

    /// What needs attention in the current workspace (see `keydeck_core::reminders`), and which
    /// of it was not told before; [`Desk::reminders_told`] records what was then shown. From
    /// cards the server just gave: when it cannot be reached, the last cards seen may be out of
    /// date, so nothing is new.
    pub async fn reminders(&self) -> AppResult<ReminderCheck> {
        let workspace_id = self.here().await?.workspace.id;
        let view = self.list_keys().await?;
        if self.here().await?.workspace.id != workspace_id {
            return Err(app_error(AppErrorCode::Other, "The workspace changed while its keys were read."));
        }
        let current = reminders_on(&*self.settings.lock().await, &view);
        let new = if view.stale { Vec::new() } else { self.data.reminders_sent(&workspace_id).new_of(&current) };
        let live_keys = view.keys.iter().map(|k| k.card.id.clone()).collect();
        Ok(ReminderCheck { workspace_id, current, new, live_keys })
    }

    /// Tells the tray what needs attention in the open workspace, from its last fresh key list
    /// (nothing yet when it has none; nothing when no workspace is open). Read under the
    /// `current` lock, so a list that finishes after a switch cannot show the workspace left.
    async fn publish_attention(&self) {
        let settings = self.settings.lock().await.clone();
        let current = self.current.lock().await;
        let attention = match current.as_ref() {
            None => Attention::default(),
            Some(c) => Attention {
                reminders: self
                    .last_keys
                    .lock()
                    .await
                    .get(&c.workspace.id)
                    .map_or_else(Vec::new, |view| reminders_on(&settings, view)),
                workspace_id: Some(c.workspace.id.clone()),
            },
        };
        self.attention.send_replace(attention);
    }

    /// The window's shell says whether it shows a tray icon.
    pub fn set_tray_available(&self, available: bool) {
        self.tray_available.store(available, Ordering::Relaxed);
    }

    /// Whether closing the window should keep Keydeck running in the tray: asked for in the
    /// settings, and a tray icon to come back from.
    pub fn keeps_in_tray(&self) -> bool {
        self.keep_in_tray.load(Ordering::Relaxed) && self.tray_available.load(Ordering::Relaxed)
    }

    /// What needs attention now, and then each time it changes.
    pub fn attention(&self) -> tokio::sync::watch::Receiver<Attention> {
        self.attention.subscribe()
    }

    /// Records the reminders of `check` that were shown, so they are not shown again.
    pub fn reminders_told(&self, check: &ReminderCheck, shown: &[keydeck_core::reminders::Reminder]) -> AppResult<()> {
        let live = check.live_keys.iter().cloned().collect();
        self.data.record_reminders(&check.workspace_id, &live, shown).map_err(|e| {
            app_error(AppErrorCode::Other, format!("Keydeck could not keep track of the reminders it sent: {e}"))
        })
    }

    /// A page of the current workspace's audit log (owners and admins), newest first.
    pub async fn activity(&self, query: ActivityQuery) -> AppResult<AuditPage> {
        let here = self.here().await?;
        here.client.audit(&here.token, &here.workspace.id, &query, ACTIVITY_PAGE).await.map_err(from_client)
    }

    /// Changes a key; a new name moves its keychain entry to the new name's address.
    pub async fn update_key(&self, key_id: &str, changes: UpdateKeyRequest) -> AppResult<KeyCardView> {
        let here = self.here().await?;
        let before = match &changes.name {
            Some(_) => Some(here.client.key(&here.token, &here.workspace.id, key_id).await.map_err(from_client)?),
            None => None,
        };
        let card =
            here.client.update_key(&here.token, &here.workspace.id, key_id, &changes).await.map_err(from_client)?;
        if let Some(before) = before.filter(|b| b.name != card.name)
            && self.keychain_ok()
        {
            let from = KeychainAddress::for_key(&here.workspace.id, &before.name);
            let to = KeychainAddress::for_key(&here.workspace.id, &card.name);
            if let Err(problem) = self.move_entry(&here.server, (&card.id, &card.prefix, &card.hint), &from, &to).await
            {
                return Err(app_error(
                    AppErrorCode::Other,
                    format!(
                        "The key is renamed to \"{}\", but its keychain entry stayed at \"{}\": {problem}",
                        card.name, from.account
                    ),
                ));
            }
        }
        Ok(self.view_here(&here, card).await)
    }

    /// Revokes a key once its name has been typed; then removes its secret from the keychain
    /// when the keychain holds this very key (not a newer one of the same name, nor another
    /// server's).
    pub async fn revoke_key(&self, key_id: &str, confirm_name: &str) -> AppResult<()> {
        let here = self.here().await?;
        let card = here.client.key(&here.token, &here.workspace.id, key_id).await.map_err(from_client)?;
        if confirm_name != card.name {
            return Err(field_error(
                "confirmName",
                &format!("Type the key's name exactly, \"{}\", to revoke it.", card.name),
            ));
        }
        here.client.revoke_key(&here.token, &here.workspace.id, key_id).await.map_err(from_client)?;
        if self.keychain_ok() {
            let address = KeychainAddress::for_key(&here.workspace.id, &card.name);
            if let Err(e) = self.forget(&here.server, &address, &card.prefix, &card.hint).await {
                tracing::warn!(error = %e, "a revoked key's secret could not be removed from the keychain");
            }
        }
        Ok(())
    }

    /// Tests a key: the offline checks first, then `GET /me` against the current workspace. A
    /// key from the keychain is sent only to the server it belongs to.
    pub async fn test_key(&self, input: TestKeyInput) -> AppResult<TestReport> {
        let here = self.here().await?;
        let key = match input {
            TestKeyInput::Pasted { key } => key,
            TestKeyInput::Keychain { key_name } => self.stored_key_named(&here, &key_name).await?,
        };
        Ok(test_secret(&here.client, &here.workspace.id, &key).await)
    }

    /// The secret the keychain holds for this workspace's key `name`, when it is this server's:
    /// recorded as such, or (an entry no server has claimed) the secret of this server's live
    /// key of that name.
    async fn stored_key_named(&self, here: &Here, name: &str) -> AppResult<String> {
        let address = KeychainAddress::for_key(&here.workspace.id, name);
        let none = || {
            app_error(
                AppErrorCode::NotFound,
                format!("This computer's keychain holds no key named \"{name}\" for this workspace."),
            )
        };
        match self.held(&here.server, &address).await? {
            Held::Nothing => Err(none()),
            Held::Others { server } => Err(app_error(AppErrorCode::NotFound, keychain::never_sent(&address, &server))),
            Held::Mine { secret, recorded: true } => Ok(secret),
            Held::Mine { secret, recorded: false } => {
                let live = here.client.list_keys(&here.token, &here.workspace.id).await.map_err(from_client)?;
                let card =
                    live.keys.into_iter().find(|k| k.name == name && matches_card(&secret, k)).ok_or_else(none)?;
                let key = (card.id.as_str(), card.prefix.as_str(), card.hint.as_str());
                if !self.holds_key(&here.server, &here.workspace.id, &address, key).await {
                    return Err(app_error(
                        AppErrorCode::NotFound,
                        format!(
                            "The keychain entry \"{}\" was saved before Keydeck recorded which server each key belongs to, and another of your servers has a workspace with this ID, so Keydeck cannot tell whose key it is and sends it to neither. Paste the key to test it.",
                            address.account
                        ),
                    ));
                }
                Ok(secret)
            }
        }
    }

    pub async fn save_settings(&self, mut settings: Settings) -> AppResult<Settings> {
        settings.reminders_off.sort();
        settings.reminders_off.dedup();
        settings.validate().map_err(|fields| keydeck_core::app::AppError {
            code: AppErrorCode::Validation,
            message: "Some settings need attention.".to_owned(),
            fields: Some(fields),
        })?;
        self.data
            .save_settings(&settings)
            .map_err(|e| app_error(AppErrorCode::Other, format!("Could not save the settings: {e}")))?;
        *self.settings.lock().await = settings.clone();
        self.keep_in_tray.store(settings.keep_in_tray, Ordering::Relaxed);
        // A reminder turned off leaves the tray's count at once.
        self.publish_attention().await;
        Ok(settings)
    }

    /// The server's API reference address for the current account.
    pub async fn docs_url(&self) -> AppResult<String> {
        Ok(format!("{}/docs", self.here().await?.client.base_url()))
    }

    /// On exit: clears the clipboard if it still holds a key copied here, and stops the demo
    /// server, if running.
    pub async fn shutdown(&self) {
        let copied = self.copied.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(secret), Some(clipboard)) = (copied, self.clipboard.clone())
            && let Err(e) = clear_if_holds(clipboard.as_ref(), &secret)
        {
            tracing::warn!(error = %e, "could not clear the clipboard on exit");
        }
        if let Some(demo) = self.demo.lock().await.take() {
            demo.stop().await;
        }
    }
}

/// Where the current account stands on this computer, read from the data directory alone.
#[derive(Debug, Clone)]
pub struct Local {
    pub account: AccountSummary,
    /// The server that issues its keys, as keychain records name it (`demo` for the demo).
    pub server: String,
    /// The workspace used last, if any.
    pub workspace_id: Option<String>,
}

/// A secret read from this computer's keychain, and where it was.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub secret: String,
    pub address: KeychainAddress,
}

impl Desk {
    /// The account used last and its workspace, from the accounts file: no server is asked,
    /// nothing is restored (for `kdk get`, `env` and `run`).
    pub async fn local(&self) -> AppResult<Local> {
        let remembered = self.data.remembered();
        let account = remembered
            .current
            .as_deref()
            .and_then(|id| remembered.accounts.iter().find(|a| a.id() == id))
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Nobody is signed in on this computer."))?;
        Ok(Local {
            account: summary(account),
            server: account.server(),
            workspace_id: account.last_workspace_id.clone(),
        })
    }

    /// The secret this computer's keychain holds for the key `name` of `workspace_id`, when the
    /// entry is `server`'s (recorded so, or claimed by no server): no server is asked.
    pub async fn stored_secret(&self, server: &str, workspace_id: &str, name: &str) -> AppResult<StoredSecret> {
        let address = KeychainAddress::for_key(workspace_id, name);
        match self.held(server, &address).await? {
            Held::Mine { secret, .. } => Ok(StoredSecret { secret, address }),
            Held::Others { server } => Err(app_error(AppErrorCode::NotFound, keychain::never_sent(&address, &server))),
            Held::Nothing => Err(app_error(
                AppErrorCode::NotFound,
                format!(
                    "This computer's keychain holds no key named \"{name}\" for workspace {workspace_id} (looked at \"{}\" / \"{}\").",
                    address.service, address.account
                ),
            )),
        }
    }

    /// Restores the account used last (starting the demo for the demo account), as the window
    /// does at start.
    pub async fn resume(&self) -> AppResult<SessionView> {
        let last = self.remembered.lock().await.current.clone();
        match last {
            Some(id) if id == DEMO_ACCOUNT_ID => self.open_demo().await,
            Some(id) => self.restore(&id).await,
            None => Err(app_error(AppErrorCode::SignedOut, "Nobody is signed in on this computer.")),
        }
    }

    /// The workspace of `session` with this ID or name (names ignore case).
    pub fn workspace_in(session: &SessionView, wanted: &str) -> AppResult<WorkspaceSummary> {
        let wanted = wanted.trim();
        session
            .workspaces
            .iter()
            .find(|w| w.id == wanted)
            .or_else(|| session.workspaces.iter().find(|w| w.name.to_lowercase() == wanted.to_lowercase()))
            .cloned()
            .ok_or_else(|| {
                let names: Vec<String> = session.workspaces.iter().map(|w| format!("{} ({})", w.name, w.id)).collect();
                app_error(
                    AppErrorCode::NotFound,
                    format!(
                        "{} has no workspace \"{wanted}\". Its workspaces: {}.",
                        session.account.email,
                        names.join(", ")
                    ),
                )
            })
    }

    /// Acts on another workspace of the signed-in account, in this process only: the window
    /// and the next `kdk` keep the workspace chosen last (for `kdk --workspace` and the
    /// project file).
    pub async fn visit_workspace(&self, session: &SessionView, wanted: &str) -> AppResult<SessionView> {
        let workspace = Self::workspace_in(session, wanted)?;
        let mut current = self.current.lock().await;
        let Some(c) = current.as_mut() else {
            return Err(app_error(AppErrorCode::SignedOut, "Nobody is signed in on this computer."));
        };
        c.workspace = workspace.clone();
        Ok(SessionView { workspace_id: workspace.id, ..session.clone() })
    }

    /// Whether the keychain holds the session token this process signed in with, so that the
    /// next start (or the next `kdk`) is signed in too.
    pub async fn session_is_kept(&self, account_id: &str) -> bool {
        let Ok((_, token, account)) = self.session(account_id).await else { return false };
        let (keychain, address) =
            (self.keychain.clone(), KeychainAddress::for_session(&account.server_url, &account.email));
        matches!(spawn_blocking(move || keychain.load(&address)).await, Ok(Ok(Some(kept))) if kept == token)
    }

    /// The settings in use.
    pub async fn settings(&self) -> Settings {
        self.settings.lock().await.clone()
    }

    /// The unfinished rotations of the current workspace begun on this computer (in the window
    /// or on the command line).
    pub async fn rotations(&self) -> AppResult<Vec<keydeck_core::rotation::RotationView>> {
        let here = self.here().await?;
        Ok(self.rotation_views(&here.workspace.id))
    }

    /// The live key of the current workspace called `name` (names compare as the server's
    /// rule does: ignoring case and surrounding spaces).
    pub async fn key_named(&self, name: &str) -> AppResult<KeyCardView> {
        let keys = self.list_keys().await?;
        if keys.stale {
            return Err(app_error(
                AppErrorCode::Unreachable,
                keys.stale_reason.unwrap_or_else(|| "The workspace server did not answer.".to_owned()),
            ));
        }
        keys.keys.into_iter().find(|k| keydeck_core::rules::same_name(&k.card.name, name)).ok_or_else(|| {
            app_error(AppErrorCode::NotFound, format!("This workspace has no live key named \"{}\".", name.trim()))
        })
    }
}

/// A card with what this computer adds to it: the keychain, the rotation and expiry flags, and
/// why its latest request was refused, when nothing succeeded since.
fn card_view(workspace_id: &str, card: KeyCard, in_keychain: bool, rotation_days: u32) -> KeyCardView {
    let now = Utc::now();
    let live = card.status != KeyStatus::Expired;
    let refusal = card
        .last_refusal
        .as_ref()
        .filter(|r| card.last_success_at.is_none_or(|ok| r.at > ok))
        .map(|r| diagnosis::attempt_refused(r, workspace_id));
    let rotation_due = live && now - card.created_at > chrono::Duration::days(i64::from(rotation_days));
    let expires_soon = card.expires_at.is_some_and(|e| e > now && e - now <= chrono::Duration::days(7));
    KeyCardView {
        refusal,
        rotation_due,
        expires_soon,
        due: live && (rotation_due || expires_soon),
        replacement_expires_in_days: keydeck_core::rotation::Template::of(&card).expires_in_days,
        in_keychain,
        keychain_account: keydeck_core::rules::keychain_account(workspace_id, &card.name),
        previous_keychain_account: keydeck_core::rules::previous_keychain_account(workspace_id, &card.name),
        card,
    }
}

fn summary(a: &StoredAccount) -> AccountSummary {
    AccountSummary {
        id: a.id(),
        server_url: a.server_url.clone(),
        email: a.email.clone(),
        name: a.name.clone(),
        is_demo: a.is_demo,
    }
}

/// Tests a key: the offline checks first, then `GET /me` against the workspace.
async fn test_secret(client: &Client, workspace_id: &str, key: &str) -> TestReport {
    if let Err(e) = ParsedKey::parse(key) {
        return diagnosis::format_problem(&e);
    }
    let answer = match client.me(key, workspace_id).await {
        Ok(answer) => answer,
        Err(e) => return diagnosis::unreachable(e.to_string()),
    };
    let now = Utc::now().timestamp();
    let budget = answer.budget.map(|b| Budget {
        limit: b.limit,
        remaining: b.remaining,
        reset_in_seconds: u64::try_from(b.reset - now).unwrap_or(0),
    });
    match answer.me {
        Ok(me) => diagnosis::connected(&me.key.name, &me.workspace.name, budget),
        Err(ClientError::Api { body, .. }) => diagnosis::refused(body.error, &body.message, body.retry_after, budget),
        Err(e) => diagnosis::unreachable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use keydeck_core::RateLimit;
    use keydeck_core::scope::Scope;
    use keydeck_core::wire::KeyCreator;

    use super::*;

    fn card(age_days: i64, expires_in_days: Option<i64>, status: KeyStatus) -> KeyCard {
        let now = Utc::now();
        KeyCard {
            id: "k1".to_owned(),
            name: "Payroll sync".to_owned(),
            prefix: "kdk_AbCd".to_owned(),
            hint: "wxYZ".to_owned(),
            scopes: vec![Scope::TimeEntriesRead],
            created_at: now - Duration::days(age_days),
            created_by: KeyCreator { id: "u".to_owned(), name: "Ann".to_owned(), can_manage_keys: true },
            last_used_at: None,
            last_success_at: None,
            last_refusal: None,
            request_count: 0,
            expires_at: expires_in_days.map(|d| now + Duration::days(d)),
            enabled: status != KeyStatus::Disabled,
            status,
            rate_limit: RateLimit::default(),
            replaces: None,
            replaced_by: None,
            allowed_ips: Vec::new(),
            revoke_plan: None,
            leak: None,
        }
    }

    #[test]
    fn a_card_is_due_past_the_policy_or_expiring_soon_unless_expired() {
        let view = |c: KeyCard| card_view("ws_1", c, false, 90);
        assert!(view(card(91, None, KeyStatus::Active)).due, "past the 90-day policy");
        assert!(view(card(10, Some(3), KeyStatus::Active)).due, "expires within 7 days");
        assert!(!view(card(10, Some(30), KeyStatus::Active)).due);
        let expired = view(card(200, Some(-1), KeyStatus::Expired));
        assert!(!expired.due && !expired.rotation_due && !expired.expires_soon);
    }

    #[test]
    fn a_card_carries_its_keychain_addresses_and_its_replacements_expiry() {
        let v = card_view("ws_1", card(10, Some(80), KeyStatus::Active), true, 90);
        assert_eq!(v.keychain_account, KeychainAddress::for_key("ws_1", "Payroll sync").account);
        assert_eq!(v.previous_keychain_account, KeychainAddress::previous_for_key("ws_1", "Payroll sync").account);
        // Given 90 days (10 gone, 80 left): the replacement gets 90.
        assert_eq!(v.replacement_expires_in_days.map(|d| d.days()), Some(90));
        assert_eq!(card_view("ws_1", card(10, None, KeyStatus::Active), true, 90).replacement_expires_in_days, None);
    }
}
