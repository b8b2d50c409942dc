//! The app's commands through `tauri::test` (a mock runtime, no window), against a real
//! workspace server over HTTP, with stand-in keychain and clipboard that record what they hold.

use std::sync::Arc;

use keydeck_core::app::{
    AppError, AppErrorCode, GenerateResult, KeyCardView, KeysView, RotationCheck, RotationStep, RotationTested,
    SessionView, Startup, TestReport, Verdict,
};
use keydeck_core::rotation::{ConfirmedBy, Rotation, RotationView, Stage};
use keydeck_core::wire::Plan;
use keydeck_desk::Desk;
use keydeck_desk::store::DataDir;
use keydeck_server::{Clock, ServerConfig, admin};
use keydeck_vault::testing::{MemoryClipboard, MemoryKeychain};
use keydeck_vault::{KeychainAddress, SecretClipboard, SecretStore};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};

const PASSWORD: &str = "correct horse battery";

struct Harness {
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    keychain: Arc<MemoryKeychain>,
    clipboard: Arc<MemoryClipboard>,
    server: Option<keydeck_server::RunningServer>,
    ws: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// A keychain that takes the app down (a panic in its blocking task) the first time a secret is
/// written to a key's own address: a crash between the server's answer and the keychain.
struct CrashOnce {
    inner: Arc<MemoryKeychain>,
    armed: std::sync::atomic::AtomicBool,
}

impl SecretStore for CrashOnce {
    fn store(&self, a: &KeychainAddress, s: &str) -> Result<(), keydeck_vault::VaultError> {
        if !a.account.ends_with("(previous)") && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            panic!("simulated crash before the keychain write");
        }
        self.inner.store(a, s)
    }
    fn load(&self, a: &KeychainAddress) -> Result<Option<String>, keydeck_vault::VaultError> {
        self.inner.load(a)
    }
    fn remove(&self, a: &KeychainAddress) -> Result<bool, keydeck_vault::VaultError> {
        self.inner.remove(a)
    }
}

impl Harness {
    fn new() -> Harness {
        let app_dir = tempfile::tempdir().unwrap();
        let keychain = Arc::new(MemoryKeychain::default());
        Self::with(app_dir, keychain.clone(), keychain)
    }

    /// A harness whose desk uses `store` (which may wrap `keychain`) and keeps its data in
    /// `app_dir`.
    fn with(app_dir: tempfile::TempDir, keychain: Arc<MemoryKeychain>, store: Arc<dyn SecretStore>) -> Harness {
        let server_dir = tempfile::tempdir().unwrap();
        let (server, ws) = tauri::async_runtime::block_on(async {
            let server = keydeck_server::start(
                ServerConfig::new(server_dir.path().join("k.db"), ([127, 0, 0, 1], 0).into()),
                Clock::default(),
            )
            .await
            .unwrap();
            let clock = Clock::default();
            admin::create_user(&server.state.store, &clock, "ana@example.com", PASSWORD, "Ana").await.unwrap();
            let ws = admin::create_workspace(&server.state.store, &clock, "Studio", Plan::Team, "ana@example.com")
                .await
                .unwrap();
            (server, ws)
        });
        let clipboard = Arc::new(MemoryClipboard::default());
        let webview = Self::window(app_dir.path(), store, clipboard.clone());
        Harness { webview, keychain, clipboard, server: Some(server), ws, _dirs: (server_dir, app_dir) }
    }

    fn window(
        app_dir: &std::path::Path,
        store: Arc<dyn SecretStore>,
        clipboard: Arc<MemoryClipboard>,
    ) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
        let desk = Desk::new(DataDir::new(app_dir.to_owned()), store, None, Ok(clipboard as Arc<dyn SecretClipboard>));
        let app = keydeck_app::app(mock_builder(), desk).build(mock_context(noop_assets())).unwrap();
        tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap()
    }

    /// The app starts again on the same data directory, keychain and server.
    fn restart(&mut self) {
        self.webview = Self::window(self._dirs.1.path(), self.keychain.clone(), self.clipboard.clone());
    }

    fn journal_files(&self) -> Vec<String> {
        std::fs::read_dir(self._dirs.1.path().join("rotations"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Calls `GET /me` with a key, as an integration would.
    fn use_key(&self, secret: &str) -> Result<(), keydeck_client::ClientError> {
        let client = keydeck_client::Client::new(&self.url()).unwrap();
        tauri::async_runtime::block_on(client.me(secret, &self.ws)).unwrap().me.map(drop)
    }

    fn keys_named(&self, name: &str) -> Vec<KeyCardView> {
        let keys: KeysView = self.invoke("list_keys", json!({})).unwrap();
        keys.keys.into_iter().filter(|k| k.card.name == name).collect()
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    fn invoke<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> Result<T, AppError> {
        let response = get_ipc_response(
            &self.webview,
            tauri::webview::InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: args.into(),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        );
        match response {
            Ok(body) => Ok(body.deserialize().unwrap()),
            Err(error) => {
                Err(serde_json::from_value(error.clone()).unwrap_or_else(|_| panic!("not an AppError: {error}")))
            }
        }
    }

    fn sign_in(&self) -> SessionView {
        self.invoke(
            "sign_in",
            json!({"serverUrl": self.url(), "email": "ana@example.com", "password": PASSWORD, "allowUnencrypted": false}),
        )
        .unwrap()
    }

    fn generate(&self, name: &str) -> Result<GenerateResult, AppError> {
        self.invoke(
            "generate_key",
            json!({"request": {"name": name, "purpose": "reporting_dashboard", "scopes": ["reports:read"], "expiresInDays": 90,
                    "rateLimit": {"enabled": true, "maxRequests": 100, "windowSeconds": 60}, "storeInKeychain": true}}),
        )
    }
}

#[test]
fn generate_puts_the_key_in_the_keychain_and_clipboard_then_test_and_revoke() {
    let h = Harness::new();
    let session = h.sign_in();
    assert_eq!(session.workspace_id, h.ws);
    assert!(session.docs_url.ends_with("/docs"));
    // The session token is kept in the keychain, for the next start.
    let token_address = KeychainAddress::for_session(&h.url(), "ana@example.com");
    assert!(h.keychain.load(&token_address).unwrap().is_some());

    let generated = h.generate("Dashboard").unwrap();
    let address = KeychainAddress::for_key(&h.ws, "Dashboard");
    assert_eq!(h.keychain.load(&address).unwrap().as_deref(), Some(generated.secret.as_str()));
    assert_eq!(h.clipboard.read_text().unwrap().as_deref(), Some(generated.secret.as_str()));
    assert!(generated.copied && generated.key.in_keychain);
    assert_eq!(generated.keychain.as_ref().unwrap().account, format!("{}/Dashboard", h.ws));
    assert_eq!(generated.clear_after_seconds, 30);

    let keys: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert!(keys.keys[0].in_keychain && !keys.keys[0].rotation_due && !keys.stale);
    // Nothing the list returns carries the secret.
    assert!(!serde_json::to_string(&keys).unwrap().contains(&generated.secret));

    // A second key of the same name would take the keychain address of a live key: refused.
    let clash = h.generate("Dashboard").unwrap_err();
    assert_eq!(clash.fields.unwrap()[0].field, "name");

    let ok: TestReport =
        h.invoke("test_key", json!({"input": {"source": "keychain", "keyName": "Dashboard"}})).unwrap();
    assert_eq!(ok.verdict, Verdict::Connected);
    assert_eq!(ok.budget.unwrap().remaining, 99);
    let cut: TestReport =
        h.invoke("test_key", json!({"input": {"source": "pasted", "key": &generated.secret[..39]}})).unwrap();
    assert_eq!(cut.verdict, Verdict::Problem);
    assert!(cut.detail.contains("3 characters are missing"));
    let spaced: TestReport =
        h.invoke("test_key", json!({"input": {"source": "pasted", "key": format!(" {}", generated.secret)}})).unwrap();
    assert_eq!(spaced.title, "Extra spaces around the key");

    let id = generated.key.card.id.clone();
    let wrong = h.invoke::<()>("revoke_key", json!({"keyId": id, "confirmName": "dashboard"})).unwrap_err();
    assert_eq!(wrong.fields.unwrap()[0].field, "confirmName");
    h.invoke::<()>("revoke_key", json!({"keyId": id, "confirmName": "Dashboard"})).unwrap();
    assert_eq!(h.keychain.load(&address).unwrap(), None, "the revoked key's secret leaves the keychain");
    let revoked: TestReport =
        h.invoke("test_key", json!({"input": {"source": "pasted", "key": generated.secret}})).unwrap();
    assert_eq!(revoked.title, "The key was revoked");
}

#[test]
fn field_errors_come_back_at_their_fields_and_settings_are_checked() {
    let h = Harness::new();
    h.sign_in();
    let e = h
        .invoke::<GenerateResult>(
            "generate_key",
            json!({"request": {"name": "ab", "purpose": "custom", "scopes": [], "expiresInDays": null,
                    "rateLimit": {"enabled": true, "maxRequests": 0, "windowSeconds": 60}, "storeInKeychain": true}}),
        )
        .unwrap_err();
    let fields: Vec<String> = e.fields.unwrap().into_iter().map(|f| f.field).collect();
    assert_eq!(fields, ["name", "scopes", "rateLimit.maxRequests"]);
    let bad = h
        .invoke::<Value>(
            "save_settings",
            json!({"settings": {"clipboardClearSeconds": 1, "rotationDays": 90, "theme": "dark"}}),
        )
        .unwrap_err();
    assert_eq!(bad.fields.unwrap()[0].field, "clipboardClearSeconds");
    let saved: Value = h
        .invoke(
            "save_settings",
            json!({"settings": {"clipboardClearSeconds": 10, "rotationDays": 30, "theme": "dark"}}),
        )
        .unwrap();
    assert_eq!(saved["theme"], "dark");
    let generated = h.generate("Short-lived").unwrap();
    assert_eq!(generated.clear_after_seconds, 10);
}

#[test]
fn when_the_server_goes_away_the_last_cards_stay_marked_stale() {
    let mut h = Harness::new();
    h.sign_in();
    h.generate("Dashboard").unwrap();
    let fresh: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert!(!fresh.stale);
    let server = h.server.take().unwrap();
    tauri::async_runtime::block_on(server.stop());
    let stale: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert!(stale.stale, "{stale:?}");
    assert!(stale.stale_reason.unwrap().contains("could not be reached"));
    assert_eq!(stale.keys.len(), 1);
    let e = h.generate("Another").unwrap_err();
    assert_eq!(e.code, keydeck_core::app::AppErrorCode::Unreachable);
}

#[test]
fn a_signed_out_session_is_reported_as_such_and_startup_remembers_the_account() {
    let h = Harness::new();
    let session = h.sign_in();
    let startup: Startup = h.invoke("sign_out", json!({"accountId": session.account.id})).unwrap();
    assert!(startup.session.is_none());
    assert_eq!(startup.accounts.len(), 1, "the account is remembered for the next sign-in");
    assert!(h.keychain.load(&KeychainAddress::for_session(&h.url(), "ana@example.com")).unwrap().is_none());
    let e = h.invoke::<KeysView>("list_keys", json!({})).unwrap_err();
    assert_eq!(e.code, keydeck_core::app::AppErrorCode::SignedOut);
    let bad = h
        .invoke::<SessionView>(
            "sign_in",
            json!({"serverUrl": "not a url", "email": "a@b.c", "password": "x", "allowUnencrypted": false}),
        )
        .unwrap_err();
    assert_eq!(bad.fields.unwrap()[0].field, "serverUrl");
}

/// Polls `check_rotation` until step 3 passes (the server shows use within 2 seconds).
fn wait_until_confirmed(h: &Harness, id: &str) -> RotationCheck {
    for _ in 0..40 {
        let check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": id})).unwrap();
        if check.verification.passed {
            return check;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("step 3 never passed");
}

#[test]
fn a_rotation_swaps_the_keychain_confirms_by_watching_and_revokes_the_old_key() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Payroll").unwrap();
    let (main, previous) =
        (KeychainAddress::for_key(&h.ws, "Payroll"), KeychainAddress::previous_for_key(&h.ws, "Payroll"));
    h.use_key(&old.secret).unwrap();

    // Step 1: the replacement has the old key's permissions, takes its keychain address, and the
    // old secret waits at the "previous" address.
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let new = step.generated.expect("the one reveal");
    let rotation = step.rotation;
    assert_eq!(rotation.stage, Stage::Created);
    assert_eq!(new.key.card.name, "Payroll");
    assert_eq!(new.key.card.scopes, old.key.card.scopes);
    assert_eq!(new.key.card.rate_limit, old.key.card.rate_limit);
    assert_eq!((new.key.card.expires_at.unwrap() - new.key.card.created_at).num_days(), 90, "the same expiry preset");
    assert_eq!(h.keychain.load(&main).unwrap().as_deref(), Some(new.secret.as_str()));
    assert_eq!(h.keychain.load(&previous).unwrap().as_deref(), Some(old.secret.as_str()));
    assert_eq!(h.clipboard.read_text().unwrap().as_deref(), Some(new.secret.as_str()));
    assert_eq!(h.keys_named("Payroll").len(), 2);
    // The journal names the keys but never holds a secret.
    let journals = h.journal_files();
    assert_eq!(journals.len(), 1);
    assert!(!journals[0].contains(&new.secret) && !journals[0].contains(&old.secret));
    assert!(journals[0].contains(&rotation.old_key.id));
    // The key list offers the unfinished rotation.
    let keys: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert_eq!(keys.rotations.len(), 1);

    // Step 2, then 3: passes once the new key is used after step 2 began and the old key is
    // quiet (5 s here).
    let saved: Value = h
        .invoke("save_settings", json!({"settings": {"clipboardClearSeconds": 30, "rotationDays": 90, "quietSeconds": 5, "theme": "system"}}))
        .unwrap();
    assert_eq!(saved["quietSeconds"], 5);
    let r: RotationView =
        h.invoke("advance_rotation", json!({"rotationId": rotation.id, "action": "begin_update"})).unwrap();
    assert_eq!(r.stage, Stage::Updating);
    let early =
        h.invoke::<Value>("finish_rotation", json!({"rotationId": rotation.id, "confirmName": "Payroll"})).unwrap_err();
    assert!(early.message.contains("step 2"), "{}", early.message);
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": rotation.id, "action": "begin_confirm"}))
        .unwrap();
    let check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": rotation.id})).unwrap();
    assert!(!check.verification.passed && !check.verification.new_succeeded_since_update);
    h.use_key(&new.secret).unwrap();
    let check = wait_until_confirmed(&h, &rotation.id);
    assert!(!check.verification.old_used_since_update);
    assert_eq!(check.rotation.stage, Stage::Confirmed);
    assert_eq!(check.rotation.confirmation.unwrap().by, ConfirmedBy::Watching);

    // Step 4: the old key's name must be typed; then it is revoked and "previous" is deleted.
    let wrong =
        h.invoke::<Value>("finish_rotation", json!({"rotationId": rotation.id, "confirmName": "payroll"})).unwrap_err();
    assert_eq!(wrong.fields.unwrap()[0].field, "confirmName");
    let done: RotationView =
        h.invoke("finish_rotation", json!({"rotationId": rotation.id, "confirmName": "Payroll"})).unwrap();
    assert_eq!(done.stage, Stage::Done);
    let refused = h.use_key(&old.secret).unwrap_err();
    assert!(refused.to_string().contains("revoked"), "{refused}");
    h.use_key(&new.secret).unwrap();
    assert_eq!(h.keychain.load(&main).unwrap().as_deref(), Some(new.secret.as_str()));
    assert_eq!(h.keychain.load(&previous).unwrap(), None);
    assert!(h.journal_files().is_empty());
    assert_eq!(h.keys_named("Payroll").len(), 1);
}

/// Steps 2 and 3 at once, going on without proof: the rotation waits at step 4.
fn to_step_four(h: &Harness, id: &str) {
    for action in ["begin_update", "begin_confirm", "override"] {
        h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": action})).unwrap();
    }
}

#[test]
fn step_four_can_leave_the_old_key_to_the_server_until_it_falls_silent() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Ledger").unwrap();
    let previous = KeychainAddress::previous_for_key(&h.ws, "Ledger");
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let id = step.rotation.id;
    let plan = |seconds: u32| json!({"rotationId": id, "silentSeconds": seconds});
    // Not before step 4: the old key is untouched.
    let early = h.invoke::<Value>("finish_rotation_when_silent", plan(3600)).unwrap_err();
    assert!(early.message.contains("step 4"), "{}", early.message);
    to_step_four(&h, &id);
    // A minute is too short: the server's words at its field, and the rotation still at step 4.
    let short = h.invoke::<Value>("finish_rotation_when_silent", plan(60)).unwrap_err();
    assert_eq!(short.code, AppErrorCode::Validation);
    assert_eq!(short.fields.unwrap()[0].field, "revokeWhenSilentSeconds");
    assert_eq!(h.journal_files().len(), 1);
    assert!(h.keys_named("Ledger").iter().all(|k| k.card.revoke_plan.is_none()));

    let done: RotationView = h.invoke("finish_rotation_when_silent", plan(86_400)).unwrap();
    assert_eq!(done.stage, Stage::Done);
    assert!(h.journal_files().is_empty(), "the rotation is over for the app");
    assert_eq!(h.keychain.load(&previous).unwrap(), None, "the old secret's entry is gone");
    // The old key works until it has been silent for a day, and its card says so.
    h.use_key(&old.secret).unwrap();
    let cards = h.keys_named("Ledger");
    let old_card = cards.iter().find(|k| k.card.id == old.key.card.id).expect("the old key is still live");
    assert_eq!(old_card.card.revoke_plan.as_ref().map(|p| p.silent_seconds), Some(86_400));
}

#[test]
fn a_crash_after_choosing_to_revoke_once_silent_resumes_that_plan_and_never_cancels_or_revokes() {
    let mut h = Harness::new();
    h.sign_in();
    let old = h.generate("Ledger").unwrap();
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let id = step.rotation.id;
    to_step_four(&h, &id);
    // The app dies right after journaling the choice, before the server heard of it.
    let path = h._dirs.1.path().join("rotations").join(format!("{id}.json"));
    let mut journal: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    journal["stage"] = json!("revoking");
    journal["revokeWhenSilent"] = json!(3600);
    std::fs::write(&path, serde_json::to_vec(&journal).unwrap()).unwrap();
    h.restart();
    h.sign_in();
    let refused = h.invoke::<Value>("cancel_rotation", json!({"rotationId": id})).unwrap_err();
    assert!(refused.message.contains("can only be finished"), "{}", refused.message);
    // Resuming sets the plan chosen; the old key is not revoked.
    let resumed: RotationStep = h.invoke("resume_rotation", json!({"rotationId": id})).unwrap();
    assert_eq!(resumed.rotation.stage, Stage::Done);
    assert!(h.journal_files().is_empty());
    h.use_key(&old.secret).unwrap();
    let plan = h.keys_named("Ledger").into_iter().find(|k| k.card.id == old.key.card.id).unwrap().card.revoke_plan;
    assert_eq!(plan.map(|p| p.silent_seconds), Some(3600));
}

#[test]
fn a_leaked_key_is_not_left_to_fall_silent() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Leaky").unwrap();
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "incident"})).unwrap();
    let id = step.rotation.id;
    to_step_four(&h, &id);
    let refused =
        h.invoke::<Value>("finish_rotation_when_silent", json!({"rotationId": id, "silentSeconds": 3600})).unwrap_err();
    assert!(refused.message.contains("deleted at once"), "{}", refused.message);
    assert!(h.keys_named("Leaky").iter().all(|k| k.card.revoke_plan.is_none()));
    assert_eq!(h.journal_files().len(), 1, "still at step 4");
}

#[test]
fn a_crash_between_the_servers_answer_and_the_keychain_resumes_with_the_same_key() {
    let app_dir = tempfile::tempdir().unwrap();
    let keychain = Arc::new(MemoryKeychain::default());
    let crashing = Arc::new(CrashOnce { inner: keychain.clone(), armed: false.into() });
    let mut h = Harness::with(app_dir, keychain, crashing.clone());
    h.sign_in();
    let old = h.generate("Invoices").unwrap();
    crashing.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let crashed = h.invoke::<RotationStep>("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"}));
    assert!(crashed.is_err());
    // The server made the replacement; the journal says step 1 was under way, and already
    // names the replacement (journaled before the keychain write).
    assert_eq!(h.keys_named("Invoices").len(), 2);
    let journal: Rotation = serde_json::from_str(&h.journal_files()[0]).unwrap();
    assert_eq!(journal.stage, Stage::Creating);
    let made = journal.new_key.clone().expect("the replacement's id is journaled");
    let idempotency_key = journal.idempotency_key.clone().expect("kept until step 1 is done");

    h.restart();
    h.sign_in();
    let keys: Value = h.invoke("list_keys", json!({})).unwrap();
    assert_eq!(keys["rotations"].as_array().unwrap().len(), 1, "the unfinished rotation is offered");
    assert!(!keys.to_string().contains(&idempotency_key), "the Idempotency-Key never reaches the web view");
    let resumed: Value = h.invoke("resume_rotation", json!({"rotationId": journal.id})).unwrap();
    assert!(!resumed.to_string().contains(&idempotency_key), "the Idempotency-Key never reaches the web view");
    let resumed: RotationStep = serde_json::from_value(resumed).unwrap();
    assert_eq!(resumed.rotation.stage, Stage::Created);
    let again = resumed.generated.expect("the replacement's reveal");
    assert_eq!(again.key.card.id, made.id, "the journaled replacement, found again by its Idempotency-Key");
    assert_eq!(again.key.card.replaces.as_deref(), Some(old.key.card.id.as_str()));
    let cards = h.keys_named("Invoices");
    assert_eq!(cards.len(), 2, "exactly one replacement");
    assert!(cards.iter().any(|c| c.card.id == again.key.card.id));
    assert_eq!(
        h.keychain.load(&KeychainAddress::for_key(&h.ws, "Invoices")).unwrap().as_deref(),
        Some(again.secret.as_str())
    );
    assert_eq!(
        h.keychain.load(&KeychainAddress::previous_for_key(&h.ws, "Invoices")).unwrap().as_deref(),
        Some(old.secret.as_str()),
        "the old secret is not lost"
    );
    h.use_key(&again.secret).unwrap();
    // Resuming again only answers where it stands.
    let r: RotationStep = h.invoke("resume_rotation", json!({"rotationId": journal.id})).unwrap();
    assert!(r.generated.is_none() && r.rotation.stage == Stage::Created);
}

#[test]
fn cancelling_puts_the_old_key_back_and_a_used_old_key_is_reported_and_tests_confirm() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Exports").unwrap();
    let main = KeychainAddress::for_key(&h.ws, "Exports");
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let id = step.rotation.id;
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": "begin_update"})).unwrap();
    h.invoke::<()>("cancel_rotation", json!({"rotationId": id})).unwrap();
    assert_eq!(h.keychain.load(&main).unwrap().as_deref(), Some(old.secret.as_str()), "the old secret is back");
    assert_eq!(h.keychain.load(&KeychainAddress::previous_for_key(&h.ws, "Exports")).unwrap(), None);
    assert_eq!(h.keys_named("Exports").len(), 1, "the replacement is revoked");
    h.use_key(&old.secret).unwrap();
    assert!(h.journal_files().is_empty());

    // Again, while something keeps using the old key after step 2 began: step 3 does not pass
    // by itself, a test of the new key does, and step 4 is warned.
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let id = step.rotation.id.clone();
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": "begin_update"})).unwrap();
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": "begin_confirm"})).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    h.use_key(&old.secret).unwrap();
    h.use_key(&step.generated.unwrap().secret).unwrap();
    let mut check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": id})).unwrap();
    for _ in 0..20 {
        if check.verification.old_used_since_update {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        check = h.invoke("check_rotation", json!({"rotationId": id})).unwrap();
    }
    assert!(check.verification.old_used_since_update && !check.verification.passed);
    let wrong_key =
        h.invoke::<RotationTested>("test_rotation", json!({"rotationId": id, "pasted": old.secret})).unwrap_err();
    assert!(wrong_key.fields.unwrap()[0].message.contains("not the new key"));
    let tested: RotationTested = h.invoke("test_rotation", json!({"rotationId": id, "pasted": null})).unwrap();
    assert_eq!(tested.report.verdict, Verdict::Connected);
    assert_eq!(tested.rotation.confirmation.unwrap().by, ConfirmedBy::Test);
    let done: RotationView = h.invoke("finish_rotation", json!({"rotationId": id, "confirmName": "Exports"})).unwrap();
    assert_eq!(done.stage, Stage::Done);
}

#[test]
fn a_full_workspace_must_make_room_and_only_never_used_keys_go_in_one_click() {
    let h = Harness::new();
    h.sign_in();
    let used = h.generate("Key 0").unwrap();
    h.use_key(&used.secret).unwrap();
    let mut spare = None;
    for i in 1..10 {
        spare = Some(h.generate(&format!("Key {i}")).unwrap());
    }
    let e = h
        .invoke::<RotationStep>("start_rotation", json!({"keyId": used.key.card.id, "reason": "scheduled"}))
        .unwrap_err();
    assert_eq!(e.code, AppErrorCode::KeyLimitReached);
    assert!(e.message.contains("10 of 10") && e.message.contains("never used"), "{}", e.message);
    assert!(h.journal_files().is_empty(), "nothing journaled");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let refused = h.invoke::<()>("delete_unused_key", json!({"keyId": used.key.card.id})).unwrap_err();
    assert!(refused.message.contains("has been used"), "{}", refused.message);
    let spare = spare.unwrap();
    h.invoke::<()>("delete_unused_key", json!({"keyId": spare.key.card.id})).unwrap();
    assert_eq!(h.keychain.load(&KeychainAddress::for_key(&h.ws, &spare.key.card.name)).unwrap(), None);
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": used.key.card.id, "reason": "incident"})).unwrap();
    assert_eq!(step.rotation.stage, Stage::Created);
    // Starting again on the same key resumes the same rotation.
    let same: RotationStep =
        h.invoke("start_rotation", json!({"keyId": used.key.card.id, "reason": "incident"})).unwrap();
    assert_eq!(same.rotation.id, step.rotation.id);
    assert!(same.generated.is_none());
}

#[test]
fn the_demo_opens_without_an_account_and_its_integration_sets_itself_up() {
    let h = Harness::new();
    let session: SessionView = h.invoke("open_demo", json!({})).unwrap();
    assert!(session.account.is_demo);
    let first: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert!(first.keys.len() >= 7, "the demo's keys: {}", first.keys.len());
    // The simulated integration makes its key in the background, into the keychain, and uses it.
    let name = keydeck_desk::demo::INTEGRATION_KEY_NAME;
    let mut used = None;
    for _ in 0..60 {
        let keys: KeysView = h.invoke("list_keys", json!({})).unwrap();
        if let Some(k) = keys.keys.into_iter().find(|k| k.card.name == name && k.card.last_used_at.is_some()) {
            used = Some(k);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let card = used.expect("the integration's key, used");
    assert!(card.in_keychain);
    let address = KeychainAddress::for_key(&session.workspace_id, name);
    assert!(h.keychain.load(&address).unwrap().is_some_and(|s| s.starts_with(&card.card.prefix)));
    // Opening it again gives a fresh session on the same demo.
    let again: SessionView = h.invoke("open_demo", json!({})).unwrap();
    assert_eq!(again.workspace_id, session.workspace_id);
    // The first start-up brings the session's keys along (the window shows them without
    // asking again); later ones do not.
    let first: Startup = h.invoke("startup", json!({})).unwrap();
    assert_eq!(first.session.unwrap().workspace_id, session.workspace_id);
    assert!(first.keys.is_some_and(|k| k.keys.iter().any(|c| c.card.name == name)));
    let later: Startup = h.invoke("startup", json!({})).unwrap();
    assert!(later.session.is_some() && later.keys.is_none());
}

/// Polls `check` every 100 ms for up to `seconds`: the server shows use within 2 seconds.
fn within<T>(seconds: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "not within {seconds} s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl Harness {
    /// Calls `GET /me` with a key and another workspace's ID, as a misconfigured Zapier would.
    fn use_key_with_workspace(&self, secret: &str, ws: &str) -> Result<(), keydeck_client::ClientError> {
        let client = keydeck_client::Client::new(&self.url()).unwrap();
        tauri::async_runtime::block_on(client.me(secret, ws)).unwrap().me.map(drop)
    }

    fn data(&self) -> DataDir {
        DataDir::new(self._dirs.1.path().to_owned())
    }

    fn state(&self) -> &keydeck_server::AppState {
        &self.server.as_ref().unwrap().state
    }
}

#[test]
fn a_refused_request_is_never_taken_for_a_connection_and_the_fix_is_named() {
    let h = Harness::new();
    h.sign_in();
    let zapier = h.generate("Zapier").unwrap();
    let id = zapier.key.card.id.clone();
    // Zapier set up with another workspace's ID: every request refused.
    let refused = h.use_key_with_workspace(&zapier.secret, "ws_NotThisOne000000").unwrap_err();
    assert_eq!(refused.code(), Some(keydeck_core::ErrorCode::WorkspaceMismatch));
    let card = within(3, || {
        let card: KeyCardView = h.invoke("key_card", json!({"keyId": id})).unwrap();
        card.refusal.is_some().then_some(card)
    });
    assert!(card.card.last_used_at.is_some(), "the request counts as use");
    assert_eq!(card.card.last_success_at, None, "but not as success: nothing says connected");
    let advice = card.refusal.unwrap();
    assert_eq!(advice.cause, "sent another workspace's ID with it");
    assert_eq!(advice.fix, format!("Paste {} into the Workspace ID field, then try again.", h.ws));
    // Fixed in Zapier: the next request succeeds, and the advice goes.
    h.use_key(&zapier.secret).unwrap();
    let card = within(3, || {
        let card: KeyCardView = h.invoke("key_card", json!({"keyId": id})).unwrap();
        card.card.last_success_at.is_some().then_some(card)
    });
    assert!(card.refusal.is_none(), "{:?}", card.refusal);
}

#[test]
fn step_three_does_not_pass_while_the_new_key_is_refused() {
    let h = Harness::new();
    h.sign_in();
    h.invoke::<Value>(
        "save_settings",
        json!({"settings": {"clipboardClearSeconds": 30, "rotationDays": 90, "quietSeconds": 5, "theme": "system"}}),
    )
    .unwrap();
    let old = h.generate("Payroll").unwrap();
    let step: RotationStep =
        h.invoke("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    let id = step.rotation.id.clone();
    let new = step.generated.unwrap();
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": "begin_update"})).unwrap();
    h.invoke::<RotationView>("advance_rotation", json!({"rotationId": id, "action": "begin_confirm"})).unwrap();
    // The integration got the new key but sends another workspace's ID; the old key is silent.
    h.use_key_with_workspace(&new.secret, "ws_NotThisOne000000").unwrap_err();
    let check = within(4, || {
        let check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": id})).unwrap();
        check.verification.new_refusal.is_some().then_some(check)
    });
    assert!(!check.verification.passed && !check.verification.new_succeeded_since_update);
    assert!(check.verification.new_refusal.unwrap().fix.contains(&h.ws));
    // Past the quiet period the old key is quiet, and still step 3 waits: a refusal is no proof.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": id})).unwrap();
    assert!(check.verification.old_silent_seconds >= 5);
    assert!(!check.verification.passed && check.rotation.stage == Stage::Confirming);
    // Fixed: the new key succeeds, and step 3 passes.
    h.use_key(&new.secret).unwrap();
    let check = wait_until_confirmed(&h, &id);
    assert!(check.verification.new_refusal.is_none());
    assert_eq!(check.rotation.stage, Stage::Confirmed);
}

/// A journal as the app leaves it when it stops right after sending step 1's creation.
fn journal_sent(h: &Harness, old: &keydeck_core::wire::KeyCard) -> Rotation {
    let mut r = Rotation::begin(
        "journaled1".into(),
        keydeck_core::rotation::RotationReason::Scheduled,
        format!("ana@example.com at {}", h.url()),
        h.ws.clone(),
        old,
        "kd-rot-journaled-by-the-test-0000000000".into(),
        chrono::Utc::now(),
    );
    r.sending(chrono::Utc::now()).unwrap();
    h.data().save_rotation(&r).unwrap();
    r
}

#[test]
fn recovery_finds_the_replacement_by_its_idempotency_key_and_never_adopts_another_key_of_the_name() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Invoices").unwrap();
    let main = KeychainAddress::for_key(&h.ws, "Invoices");
    // Made before names were kept apart: a second live "Invoices", whose secret now sits at the
    // name's keychain address (the trap the old recovery fell into: it adopted such a key).
    let other = keydeck_core::KeySecret::generate(&mut rand::rng());
    let other_id = "key_legacyTwin000000".to_owned();
    tauri::async_runtime::block_on(h.state().store.insert_keys(
        &[keydeck_server::store::NewKeyRow {
            id: other_id.clone(),
            workspace_id: h.ws.clone(),
            name: "Invoices".into(),
            secret_hash: other.sha256(),
            prefix: other.display_prefix().into(),
            hint: other.hint().into(),
            scopes: [keydeck_core::Scope::ReportsRead].into_iter().collect(),
            created_at: h.state().clock.now_ms(),
            created_by: tauri::async_runtime::block_on(h.state().store.user_by_email("ana@example.com")).unwrap().id,
            expires_at: None,
            rate_limit: keydeck_core::RateLimit::default(),
            replaces: None,
            allowed_ips: Default::default(),
            inherits_allowed_ips: false,
        }],
        None,
    ))
    .unwrap();
    h.keychain.store(&main, other.expose()).unwrap();
    // A new rotation of a name two live keys share is refused: rename one first.
    let twin = h
        .invoke::<RotationStep>("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"}))
        .unwrap_err();
    assert!(twin.message.contains("Rename one of them"), "{}", twin.message);
    assert!(h.journal_files().is_empty());

    // One journaled before the upgrade, cut off after sending: resuming replays the
    // Idempotency-Key, which makes (or finds) this rotation's own replacement.
    let r = journal_sent(&h, &old.key.card);
    let resumed: RotationStep = h.invoke("resume_rotation", json!({"rotationId": r.id})).unwrap();
    let generated = resumed.generated.expect("the replacement's reveal");
    assert_ne!(generated.key.card.id, other_id, "the other key of the name is never adopted");
    assert_eq!(generated.key.card.replaces.as_deref(), Some(old.key.card.id.as_str()));
    assert_eq!(h.keychain.load(&main).unwrap().as_deref(), Some(other.expose()), "its entry is left alone");
    assert!(generated.keychain.is_none() && generated.keychain_problem.unwrap().contains("another live key"));
    // Cancelling revokes this rotation's replacement only.
    h.invoke::<()>("cancel_rotation", json!({"rotationId": r.id})).unwrap();
    let left: Vec<String> = h.keys_named("Invoices").into_iter().map(|k| k.card.id).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&other_id) && left.contains(&old.key.card.id), "{left:?}");
    assert_eq!(h.keychain.load(&main).unwrap().as_deref(), Some(other.expose()));
}

#[test]
fn an_answer_still_being_handled_never_deletes_the_journal() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Exports").unwrap();
    let r = journal_sent(&h, &old.key.card);
    // The first send's request is still being handled by the server.
    let user = tauri::async_runtime::block_on(h.state().store.user_by_email("ana@example.com")).unwrap();
    let lookup =
        keydeck_server::idempotency::lookup(&format!("{}/{}", user.id, h.ws), r.idempotency_key.as_ref().unwrap());
    let busy = h.state().in_flight.begin(lookup).unwrap();
    let e = h.invoke::<RotationStep>("resume_rotation", json!({"rotationId": r.id})).unwrap_err();
    assert!(e.message.contains("still being handled"), "{}", e.message);
    let journal: Rotation = serde_json::from_str(&h.journal_files()[0]).unwrap();
    assert_eq!((journal.stage, journal.creation_attempts), (Stage::Creating, 2), "the journal stays");
    assert_eq!(h.keys_named("Exports").len(), 1);
    // Cancelling meanwhile cannot learn what the first send made: it is refused, the journal stays.
    let e = h.invoke::<()>("cancel_rotation", json!({"rotationId": r.id})).unwrap_err();
    assert!(e.message.contains("not cancelled"), "{}", e.message);
    assert_eq!(h.journal_files().len(), 1);
    // Once the server is done, resuming finishes step 1 with one replacement.
    drop(busy);
    let resumed: RotationStep = h.invoke("resume_rotation", json!({"rotationId": r.id})).unwrap();
    assert_eq!(resumed.rotation.stage, Stage::Created);
    assert_eq!(h.keys_named("Exports").len(), 2);
}

#[test]
fn a_replacement_whose_secret_was_lost_past_the_replay_window_is_revoked_and_made_again() {
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Billing").unwrap();
    let mut r = journal_sent(&h, &old.key.card);
    // The server answered; the app journaled the answer and stopped before the keychain write.
    let client = keydeck_client::Client::new(&h.url()).unwrap();
    let session = tauri::async_runtime::block_on(client.sign_in("ana@example.com", PASSWORD)).unwrap();
    let lost = tauri::async_runtime::block_on(client.create_key(
        &session.token,
        &h.ws,
        &r.replacement_request(),
        r.idempotency_key.as_deref(),
    ))
    .unwrap();
    r.made(keydeck_core::rotation::KeyRef::of(&lost.key)).unwrap();
    // ...eleven minutes ago: the server no longer replays it.
    r.first_sent_at = Some(chrono::Utc::now() - chrono::Duration::minutes(11));
    h.data().save_rotation(&r).unwrap();
    h.state().clock.advance(std::time::Duration::from_secs(11 * 60));
    let resumed: RotationStep = h.invoke("resume_rotation", json!({"rotationId": r.id})).unwrap();
    let made = resumed.generated.expect("a new replacement, revealed");
    assert_ne!(made.key.card.id, lost.key.id);
    let ids: Vec<String> = h.keys_named("Billing").into_iter().map(|k| k.card.id).collect();
    assert_eq!(ids.len(), 2, "the old key and one replacement: {ids:?}");
    assert!(!ids.contains(&lost.key.id), "the lost one is revoked");
    assert_eq!(
        h.keychain.load(&KeychainAddress::for_key(&h.ws, "Billing")).unwrap().as_deref(),
        Some(made.secret.as_str())
    );
}

#[test]
fn a_rename_moves_the_keychain_entry_and_a_taken_name_is_the_name_field_s_error() {
    let h = Harness::new();
    h.sign_in();
    let dashboard = h.generate("Dashboard").unwrap();
    h.generate("Exports").unwrap();
    let id = dashboard.key.card.id.clone();
    let taken =
        h.invoke::<KeyCardView>("update_key", json!({"keyId": id, "changes": {"name": "exports"}})).unwrap_err();
    assert_eq!(taken.fields.unwrap()[0].field, "name");
    let renamed: KeyCardView =
        h.invoke("update_key", json!({"keyId": id, "changes": {"name": "Sales dashboard"}})).unwrap();
    assert!(renamed.in_keychain);
    assert_eq!(renamed.keychain_account, format!("{}/Sales dashboard", h.ws));
    assert_eq!(h.keychain.load(&KeychainAddress::for_key(&h.ws, "Dashboard")).unwrap(), None);
    assert_eq!(
        h.keychain.load(&KeychainAddress::for_key(&h.ws, "Sales dashboard")).unwrap().as_deref(),
        Some(dashboard.secret.as_str())
    );
    let tested: TestReport =
        h.invoke("test_key", json!({"input": {"source": "keychain", "keyName": "Sales dashboard"}})).unwrap();
    assert_eq!(tested.verdict, Verdict::Connected);
}

#[test]
fn two_servers_with_the_same_workspace_id_never_share_keychain_entries() {
    let h = Harness::new();
    h.sign_in();
    let prod = h.generate("Zapier").unwrap();
    let address = KeychainAddress::for_key(&h.ws, "Zapier");
    // A second server restored from the first one's database: same workspace id, same key.
    let clone_dir = tempfile::tempdir().unwrap();
    let clone_db = clone_dir.path().join("clone.db");
    tauri::async_runtime::block_on(
        sqlx::query("VACUUM INTO ?").bind(clone_db.to_str().unwrap()).execute(h.state().store.reader()),
    )
    .unwrap();
    let staging = tauri::async_runtime::block_on(keydeck_server::start(
        ServerConfig::new(&clone_db, ([127, 0, 0, 1], 0).into()),
        Clock::default(),
    ))
    .unwrap();
    let staging_url = staging.url();
    let session: SessionView = h
        .invoke(
            "sign_in",
            json!({"serverUrl": staging_url, "email": "ana@example.com", "password": PASSWORD, "allowUnencrypted": false}),
        )
        .unwrap();
    assert_eq!(session.workspace_id, h.ws, "the same workspace id");
    // Staging has the same key, but the keychain entry is production's: not shown as held here,
    // and never sent to staging.
    let keys: KeysView = h.invoke("list_keys", json!({})).unwrap();
    let copy = keys.keys.iter().find(|k| k.card.name == "Zapier").unwrap();
    assert_eq!(copy.card.id, prod.key.card.id);
    assert!(!copy.in_keychain);
    let refused =
        h.invoke::<TestReport>("test_key", json!({"input": {"source": "keychain", "keyName": "Zapier"}})).unwrap_err();
    assert!(refused.message.contains(&h.url()), "names the entry's server: {}", refused.message);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let card: KeyCardView = h.invoke("key_card", json!({"keyId": copy.card.id})).unwrap();
    assert_eq!(card.card.last_used_at, None, "staging never received production's secret");
    // Revoking staging's copy and making a new "Zapier" there leaves production's entry alone.
    h.invoke::<()>("revoke_key", json!({"keyId": copy.card.id, "confirmName": "Zapier"})).unwrap();
    assert_eq!(h.keychain.load(&address).unwrap().as_deref(), Some(prod.secret.as_str()));
    let clash = h.generate("Zapier").unwrap_err();
    assert!(clash.fields.unwrap()[0].message.contains(&h.url()));
    let elsewhere = h.generate("Zapier staging").unwrap();
    assert!(elsewhere.key.in_keychain);
    assert_eq!(h.keychain.load(&address).unwrap().as_deref(), Some(prod.secret.as_str()));
    // Back on production, its entry works as before.
    let accounts: Startup = h.invoke("startup", json!({})).unwrap();
    let prod_account = accounts.accounts.iter().find(|a| a.server_url == h.url()).unwrap();
    h.invoke::<SessionView>("switch_workspace", json!({"accountId": prod_account.id, "workspaceId": h.ws})).unwrap();
    let tested: TestReport =
        h.invoke("test_key", json!({"input": {"source": "keychain", "keyName": "Zapier"}})).unwrap();
    assert_eq!(tested.verdict, Verdict::Connected);
    tauri::async_runtime::block_on(staging.stop());
}

#[test]
fn signing_out_of_an_account_not_opened_since_start_ends_its_session_on_the_server() {
    let mut h = Harness::new();
    let session = h.sign_in();
    let token_address = KeychainAddress::for_session(&h.url(), "ana@example.com");
    let token = h.keychain.load(&token_address).unwrap().unwrap();
    // The app starts again; the account is remembered but not opened.
    h.restart();
    let startup: Startup = h.invoke("sign_out", json!({"accountId": session.account.id})).unwrap();
    assert!(startup.session.is_none());
    assert_eq!(h.keychain.load(&token_address).unwrap(), None, "the token left the keychain");
    let client = keydeck_client::Client::new(&h.url()).unwrap();
    let refused = tauri::async_runtime::block_on(client.workspaces(&token)).unwrap_err();
    assert_eq!(refused.code(), Some(keydeck_core::ErrorCode::InvalidSession), "the server ended the session");
}

#[test]
fn signing_in_over_plain_http_to_another_computer_asks_first() {
    let h = Harness::new();
    let asked = h
        .invoke::<SessionView>(
            "sign_in",
            json!({"serverUrl": "http://keys.example.invalid", "email": "ana@example.com", "password": PASSWORD, "allowUnencrypted": false}),
        )
        .unwrap_err();
    assert_eq!(asked.code, AppErrorCode::Unencrypted);
    assert!(asked.message.contains("not encrypted"), "{}", asked.message);
    // Agreed: it goes on (and here finds no server).
    let tried = h
        .invoke::<SessionView>(
            "sign_in",
            json!({"serverUrl": "http://keys.example.invalid", "email": "ana@example.com", "password": PASSWORD, "allowUnencrypted": true}),
        )
        .unwrap_err();
    assert_ne!(tried.code, AppErrorCode::Unencrypted);
    // This computer's own server needs no question.
    h.sign_in();
}

#[test]
fn on_exit_the_clipboard_is_cleared_if_it_still_holds_a_key() {
    let h = Harness::new();
    h.sign_in();
    h.generate("Dashboard").unwrap();
    let desk = Desk::new(
        DataDir::new(h._dirs.1.path().to_owned()),
        h.keychain.clone(),
        None,
        Ok(h.clipboard.clone() as Arc<dyn SecretClipboard>),
    );
    tauri::async_runtime::block_on(async {
        desk.sign_in(&h.url(), "ana@example.com", PASSWORD, false).await.unwrap();
        let generated = desk
            .generate_key(serde_json::from_value(json!({"name": "Exit test", "purpose": "custom", "scopes": ["reports:read"],
                "expiresInDays": 7, "rateLimit": {"enabled": true, "maxRequests": 100, "windowSeconds": 60}, "storeInKeychain": true})).unwrap())
            .await
            .unwrap();
        assert_eq!(h.clipboard.read_text().unwrap().as_deref(), Some(generated.secret.as_str()));
        desk.shutdown().await;
    });
    assert_eq!(h.clipboard.read_text().unwrap(), None, "the key left the clipboard on exit");
    // Something the user copied since is left alone.
    tauri::async_runtime::block_on(async {
        desk.generate_key(serde_json::from_value(json!({"name": "Exit test 2", "purpose": "custom", "scopes": ["reports:read"],
            "expiresInDays": 7, "rateLimit": {"enabled": true, "maxRequests": 100, "windowSeconds": 60}, "storeInKeychain": true})).unwrap())
            .await
            .unwrap();
        h.clipboard.copy_secret("a note the user copied").unwrap();
        desk.shutdown().await;
    });
    assert_eq!(h.clipboard.read_text().unwrap().as_deref(), Some("a note the user copied"));
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_everything_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let h = Harness::new();
    h.sign_in();
    let old = h.generate("Payroll").unwrap();
    h.invoke::<RotationStep>("start_rotation", json!({"keyId": old.key.card.id, "reason": "scheduled"})).unwrap();
    h.invoke::<SessionView>("open_demo", json!({})).unwrap();
    fn walk(dir: &std::path::Path, found: &mut Vec<(std::path::PathBuf, u32)>) {
        for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            found.push((entry.path(), mode));
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), found);
            }
        }
    }
    let root = h._dirs.1.path();
    let mut found = vec![(root.to_owned(), std::fs::metadata(root).unwrap().permissions().mode() & 0o777)];
    walk(root, &mut found);
    assert!(found.len() > 6, "{found:?}");
    for (path, mode) in found {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
}

/// `kdk` finds the window's data directory by the identifier `keydeck_desk` names; Tauri names
/// it from `tauri.conf.json`. The two must agree, or kdk and the window see different accounts.
#[test]
fn the_command_line_and_the_window_share_one_data_directory() {
    let conf: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(conf["identifier"], keydeck_desk::APP_IDENTIFIER);
}
