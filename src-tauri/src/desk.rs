//! The app's logic, without Tauri: accounts and sessions, the key list (with the last one kept
//! for when the server is unreachable), generating a key into the keychain and clipboard,
//! testing a key, and the demo workspace. Commands in `commands.rs` are one-line adapters over
//! this, so it is tested with a real server and stand-in keychain and clipboard.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keydeck_client::{Client, ClientError};
use keydeck_core::app::{
    AccountSummary, AppErrorCode, Budget, GenerateRequest, GenerateResult, KeyCardView, KeyDetail, KeychainLocation,
    KeysView, PresetView, SessionView, Startup, TestKeyInput, TestReport,
};
use keydeck_core::key::random_base62;
use keydeck_core::wire::{CreateKeyRequest, CreatedKey, KeyCard, KeyStatus, UpdateKeyRequest, WorkspaceSummary};
use keydeck_core::{ParsedKey, Settings, diagnosis};
use keydeck_vault::{KeychainAddress, SecretClipboard, SecretStore, VaultError, clear_if_holds, store_verified};
use tokio::sync::Mutex;

mod rotation;

use crate::demo::Demo;
use crate::error::{AppResult, app_error, field_error, from_client, from_vault};
use crate::store::{DataDir, Remembered, StoredAccount};

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
    first_taken: std::sync::atomic::AtomicBool,
    /// One rotation command at a time: each reads, acts on and rewrites a journal.
    rotation_lock: Mutex<()>,
}

async fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| app_error(AppErrorCode::Other, e.to_string()))
}

/// Whether a stored secret is the one behind a card (same first 8 and last 4 characters).
fn matches_card(secret: &str, card: &KeyCard) -> bool {
    is_key(secret, &card.prefix, &card.hint)
}

/// Whether a stored secret is the key with this prefix (first 8) and hint (last 4 characters).
fn is_key(secret: &str, prefix: &str, hint: &str) -> bool {
    secret.len() == keydeck_core::key::KEY_LEN && secret.starts_with(prefix) && secret.ends_with(hint)
}

impl Desk {
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
        Desk {
            settings: Mutex::new(data.settings()),
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
            first_taken: std::sync::atomic::AtomicBool::new(false),
            rotation_lock: Mutex::default(),
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
        if !self.first_taken.swap(true, std::sync::atomic::Ordering::AcqRel) {
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
            Some(id) if id == "demo" => self.open_demo().await.ok(),
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
        let token = spawn_blocking(move || keychain.load(&address))
            .await?
            .ok()
            .flatten()
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
        {
            let mut remembered = self.remembered.lock().await;
            if let Some(a) = remembered.accounts.iter_mut().find(|a| a.id() == account_id) {
                a.last_workspace_id = Some(chosen.id.clone());
            }
            remembered.current = Some(account_id.to_owned());
            self.data.save_remembered(&remembered).map_err(|e| app_error(AppErrorCode::Other, e.to_string()))?;
        }
        *self.current.lock().await = Some(Current { account_id: account_id.to_owned(), workspace: chosen.clone() });
        Ok(SessionView {
            account: summary(&account),
            workspaces: list,
            workspace_id: chosen.id,
            docs_url: format!("{}/docs", client.base_url()),
        })
    }

    async fn session(&self, account_id: &str) -> AppResult<(Client, String, StoredAccount)> {
        let sessions = self.sessions.lock().await;
        let s = sessions
            .get(account_id)
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in to this account first."))?;
        Ok((s.client.clone(), s.token.clone(), s.account.clone()))
    }

    /// The current account's client and token, and the current workspace.
    async fn here(&self) -> AppResult<(Client, String, WorkspaceSummary)> {
        let current = self.current.lock().await;
        let current = current
            .as_ref()
            .ok_or_else(|| app_error(AppErrorCode::SignedOut, "Sign in or open the demo workspace first."))?;
        let (client, token, _) = self.session(&current.account_id).await?;
        Ok((client, token, current.workspace.clone()))
    }

    pub async fn sign_in(&self, server_url: &str, email: &str, password: &str) -> AppResult<SessionView> {
        let client = Client::new(server_url).map_err(|e| field_error("serverUrl", &e.to_string()))?;
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
        {
            let mut remembered = self.remembered.lock().await;
            if let Some(existing) = remembered.accounts.iter().find(|a| a.id() == id) {
                account.last_workspace_id = existing.last_workspace_id.clone();
            }
            remembered.accounts.retain(|a| a.id() != id);
            remembered.accounts.push(account.clone());
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

    pub async fn sign_out(&self, account_id: &str) -> AppResult<Startup> {
        let session = self.sessions.lock().await.remove(account_id);
        if let Some(s) = session {
            let _ = s.client.sign_out(&s.token).await;
            if !s.account.is_demo {
                let address = KeychainAddress::for_session(&s.account.server_url, &s.account.email);
                let keychain = self.keychain.clone();
                let _ = spawn_blocking(move || keychain.remove(&address)).await;
            }
        }
        if account_id == "demo"
            && let Some(demo) = self.demo.lock().await.take()
        {
            demo.stop().await;
        }
        {
            let mut current = self.current.lock().await;
            if current.as_ref().is_some_and(|c| c.account_id == account_id) {
                *current = None;
            }
            let mut remembered = self.remembered.lock().await;
            if remembered.current.as_deref() == Some(account_id) {
                remembered.current = None;
            }
            self.data.save_remembered(&remembered).map_err(|e| app_error(AppErrorCode::Other, e.to_string()))?;
        }
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
        let (client, token, workspace) = self.here().await?;
        let began = std::time::Instant::now();
        match client.list_keys(&token, &workspace.id).await {
            Ok(list) => {
                tracing::debug!(ms = began.elapsed().as_millis(), "keys fetched");
                let rotation_days = self.settings.lock().await.rotation_days;
                // Keychain look-ups are blocking calls: run them side by side.
                let keys = futures::future::join_all(
                    list.keys.into_iter().map(|card| self.view(&workspace.id, card, rotation_days)),
                )
                .await;
                let view = KeysView {
                    keys,
                    limit: list.limit,
                    fetched_at: Utc::now(),
                    stale: false,
                    stale_reason: None,
                    rotations: self.rotations_of(&workspace.id),
                };
                tracing::debug!(ms = began.elapsed().as_millis(), "keychain checked for each key");
                self.last_keys.lock().await.insert(workspace.id.clone(), view.clone());
                Ok(view)
            }
            Err(e @ ClientError::Unreachable { .. }) => {
                let reason = e.to_string();
                match self.last_keys.lock().await.get(&workspace.id) {
                    Some(last) => Ok(KeysView {
                        stale: true,
                        stale_reason: Some(reason),
                        rotations: self.rotations_of(&workspace.id),
                        ..last.clone()
                    }),
                    None => Err(from_client(e)),
                }
            }
            Err(e) => Err(from_client(e)),
        }
    }

    async fn view(&self, workspace_id: &str, card: KeyCard, rotation_days: u32) -> KeyCardView {
        let address = KeychainAddress::for_key(workspace_id, &card.name);
        let in_keychain = if self.keychain_ok() {
            let keychain = self.keychain.clone();
            let a = address.clone();
            spawn_blocking(move || keychain.load(&a))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
                .is_some_and(|s| matches_card(&s, &card))
        } else {
            false
        };
        card_view(workspace_id, card, in_keychain, rotation_days)
    }

    /// Creates a key; then, in this order, stores it in the keychain and reads it back, copies
    /// it to the clipboard, and hands it to the web view for its one reveal. A key created on
    /// the server is always revealed, even if the keychain or clipboard fails afterwards.
    pub async fn generate_key(&self, request: GenerateRequest) -> AppResult<GenerateResult> {
        let started = std::time::Instant::now();
        let (client, token, workspace) = self.here().await?;
        let name = request.name.trim().to_owned();
        let address = KeychainAddress::for_key(&workspace.id, &name);
        let keep = request.store_in_keychain && self.keychain_ok();
        if keep {
            // The address is per name: never overwrite the secret of another live key.
            let keychain = self.keychain.clone();
            let a = address.clone();
            if let Some(existing) = spawn_blocking(move || keychain.load(&a)).await?.map_err(from_vault)? {
                let live = client.list_keys(&token, &workspace.id).await.map_err(from_client)?;
                if live.keys.iter().any(|k| k.name == name && matches_card(&existing, k)) {
                    return Err(field_error(
                        "name",
                        "A key with this name is already in this computer's keychain. Choose another name, or rotate that key instead.",
                    ));
                }
            }
        }
        let body = CreateKeyRequest {
            name: name.clone(),
            scopes: request.scopes,
            expires_in_days: request.expires_in_days,
            rate_limit: Some(request.rate_limit),
        };
        let idempotency_key = format!("kd-{}", random_base62(&mut rand::rng(), 32));
        let created =
            client.create_key(&token, &workspace.id, &body, Some(&idempotency_key)).await.map_err(from_client)?;
        let created_after = started.elapsed();
        let result = self.deliver(&workspace.id, &address, keep, created).await?;
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
        workspace_id: &str,
        address: &KeychainAddress,
        keep: bool,
        created: CreatedKey,
    ) -> AppResult<GenerateResult> {
        let secret = created.secret;
        let (keychain, keychain_problem) = if keep {
            let (store, a, s) = (self.keychain.clone(), address.clone(), secret.clone());
            match spawn_blocking(move || store_verified(store.as_ref(), &a, &s)).await? {
                Ok(()) => (
                    Some(KeychainLocation { service: address.service.clone(), account: address.account.clone() }),
                    None,
                ),
                Err(e) => (None, Some(e.to_string())),
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
        let key = card_view(workspace_id, created.key, keychain.is_some(), rotation_days);
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

    /// Copies a secret and clears the clipboard after `seconds` if it still holds it.
    fn copy_secret(&self, secret: &str, seconds: u32) -> Result<(), VaultError> {
        let clipboard = self.clipboard()?;
        clipboard.copy_secret(secret)?;
        let secret = secret.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
            if let Err(e) = clear_if_holds(clipboard.as_ref(), &secret) {
                tracing::warn!(error = %e, "could not clear the clipboard");
            }
        });
        Ok(())
    }

    pub fn copy_text(&self, text: &str) -> AppResult<()> {
        self.clipboard().and_then(|c| c.copy_secret(text)).map_err(from_vault)
    }

    pub async fn key_detail(&self, key_id: &str) -> AppResult<KeyDetail> {
        let (client, token, workspace) = self.here().await?;
        let (card, usage, requests) = tokio::join!(
            client.key(&token, &workspace.id, key_id),
            client.key_usage(&token, &workspace.id, key_id, 14),
            client.key_requests(&token, &workspace.id, key_id, 50),
        );
        let rotation_days = self.settings.lock().await.rotation_days;
        Ok(KeyDetail {
            key: self.view(&workspace.id, card.map_err(from_client)?, rotation_days).await,
            usage: usage.map_err(from_client)?.days,
            requests: requests.map_err(from_client)?.requests,
        })
    }

    pub async fn update_key(&self, key_id: &str, changes: UpdateKeyRequest) -> AppResult<KeyCardView> {
        let (client, token, workspace) = self.here().await?;
        let card = client.update_key(&token, &workspace.id, key_id, &changes).await.map_err(from_client)?;
        let rotation_days = self.settings.lock().await.rotation_days;
        Ok(self.view(&workspace.id, card, rotation_days).await)
    }

    /// Revokes a key once its name has been typed; then removes its secret from the keychain
    /// when the keychain holds this very key (not a newer one of the same name).
    pub async fn revoke_key(&self, key_id: &str, confirm_name: &str) -> AppResult<()> {
        let (client, token, workspace) = self.here().await?;
        let card = client.key(&token, &workspace.id, key_id).await.map_err(from_client)?;
        if confirm_name != card.name {
            return Err(field_error(
                "confirmName",
                &format!("Type the key's name exactly, \"{}\", to revoke it.", card.name),
            ));
        }
        client.revoke_key(&token, &workspace.id, key_id).await.map_err(from_client)?;
        if self.keychain_ok() {
            let address = KeychainAddress::for_key(&workspace.id, &card.name);
            let keychain = self.keychain.clone();
            let _ = spawn_blocking(move || {
                if keychain.load(&address).ok().flatten().is_some_and(|s| matches_card(&s, &card)) {
                    let _ = keychain.remove(&address);
                }
            })
            .await;
        }
        Ok(())
    }

    /// Tests a key: the offline checks first, then `GET /me` against the current workspace.
    pub async fn test_key(&self, input: TestKeyInput) -> AppResult<TestReport> {
        let (client, _, workspace) = self.here().await?;
        let key = match input {
            TestKeyInput::Pasted { key } => key,
            TestKeyInput::Keychain { key_name } => {
                let address = KeychainAddress::for_key(&workspace.id, &key_name);
                let keychain = self.keychain.clone();
                match spawn_blocking(move || keychain.load(&address)).await?.map_err(from_vault)? {
                    Some(secret) => secret,
                    None => {
                        return Err(app_error(
                            AppErrorCode::NotFound,
                            format!("This computer's keychain holds no key named \"{key_name}\" for this workspace."),
                        ));
                    }
                }
            }
        };
        Ok(test_secret(&client, &workspace.id, &key).await)
    }

    pub async fn save_settings(&self, settings: Settings) -> AppResult<Settings> {
        settings.validate().map_err(|fields| keydeck_core::app::AppError {
            code: AppErrorCode::Validation,
            message: "Some settings need attention.".to_owned(),
            fields: Some(fields),
        })?;
        self.data
            .save_settings(&settings)
            .map_err(|e| app_error(AppErrorCode::Other, format!("Could not save the settings: {e}")))?;
        *self.settings.lock().await = settings.clone();
        Ok(settings)
    }

    /// The server's API reference address for the current account.
    pub async fn docs_url(&self) -> AppResult<String> {
        let (client, _, _) = self.here().await?;
        Ok(format!("{}/docs", client.base_url()))
    }

    /// Stops the demo server, if running (on exit).
    pub async fn shutdown(&self) {
        if let Some(demo) = self.demo.lock().await.take() {
            demo.stop().await;
        }
    }
}

/// A card with what this computer adds to it: the keychain, and the rotation and expiry flags.
fn card_view(workspace_id: &str, card: KeyCard, in_keychain: bool, rotation_days: u32) -> KeyCardView {
    let now = Utc::now();
    let live = card.status != KeyStatus::Expired;
    KeyCardView {
        rotation_due: live && now - card.created_at > chrono::Duration::days(i64::from(rotation_days)),
        expires_soon: card.expires_at.is_some_and(|e| e > now && e - now <= chrono::Duration::days(7)),
        in_keychain,
        keychain_account: KeychainAddress::for_key(workspace_id, &card.name).account,
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
