//! The app's commands through `tauri::test` (a mock runtime, no window), against a real
//! workspace server over HTTP, with stand-in keychain and clipboard that record what they hold.

use std::sync::Arc;

use keydeck_app::desk::Desk;
use keydeck_app::store::DataDir;
use keydeck_core::app::{
    AppError, AppErrorCode, GenerateResult, KeyCardView, KeysView, RotationCheck, RotationStep, RotationTested,
    SessionView, Startup, TestReport, Verdict,
};
use keydeck_core::rotation::{ConfirmedBy, Rotation, Stage};
use keydeck_core::wire::Plan;
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
            .map(|d| d.filter_map(Result::ok).map(|e| std::fs::read_to_string(e.path()).unwrap()).collect())
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
        self.invoke("sign_in", json!({"serverUrl": self.url(), "email": "ana@example.com", "password": PASSWORD}))
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
        .invoke::<SessionView>("sign_in", json!({"serverUrl": "not a url", "email": "a@b.c", "password": "x"}))
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
    let r: Rotation =
        h.invoke("advance_rotation", json!({"rotationId": rotation.id, "action": "begin_update"})).unwrap();
    assert_eq!(r.stage, Stage::Updating);
    let early =
        h.invoke::<Value>("finish_rotation", json!({"rotationId": rotation.id, "confirmName": "Payroll"})).unwrap_err();
    assert!(early.message.contains("step 2"), "{}", early.message);
    h.invoke::<Rotation>("advance_rotation", json!({"rotationId": rotation.id, "action": "begin_confirm"})).unwrap();
    let check: RotationCheck = h.invoke("check_rotation", json!({"rotationId": rotation.id})).unwrap();
    assert!(!check.verification.passed && !check.verification.new_used_since_update);
    h.use_key(&new.secret).unwrap();
    let check = wait_until_confirmed(&h, &rotation.id);
    assert!(!check.verification.old_used_since_update);
    assert_eq!(check.rotation.stage, Stage::Confirmed);
    assert_eq!(check.rotation.confirmation.unwrap().by, ConfirmedBy::Watching);

    // Step 4: the old key's name must be typed; then it is revoked and "previous" is deleted.
    let wrong =
        h.invoke::<Value>("finish_rotation", json!({"rotationId": rotation.id, "confirmName": "payroll"})).unwrap_err();
    assert_eq!(wrong.fields.unwrap()[0].field, "confirmName");
    let done: Rotation =
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
    // The server made the replacement, the journal says step 1 was under way.
    assert_eq!(h.keys_named("Invoices").len(), 2);
    let journal: Rotation = serde_json::from_str(&h.journal_files()[0]).unwrap();
    assert_eq!(journal.stage, Stage::Creating);

    h.restart();
    h.sign_in();
    let keys: KeysView = h.invoke("list_keys", json!({})).unwrap();
    assert_eq!(keys.rotations.len(), 1, "the unfinished rotation is offered");
    let resumed: RotationStep = h.invoke("resume_rotation", json!({"rotationId": journal.id})).unwrap();
    assert_eq!(resumed.rotation.stage, Stage::Created);
    let again = resumed.generated.expect("the replacement's reveal");
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
    h.invoke::<Rotation>("advance_rotation", json!({"rotationId": id, "action": "begin_update"})).unwrap();
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
    h.invoke::<Rotation>("advance_rotation", json!({"rotationId": id, "action": "begin_update"})).unwrap();
    h.invoke::<Rotation>("advance_rotation", json!({"rotationId": id, "action": "begin_confirm"})).unwrap();
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
    let done: Rotation = h.invoke("finish_rotation", json!({"rotationId": id, "confirmName": "Exports"})).unwrap();
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
    let name = keydeck_app::demo::INTEGRATION_KEY_NAME;
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
