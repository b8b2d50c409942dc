//! The app's commands through `tauri::test` (a mock runtime, no window), against a real
//! workspace server over HTTP, with stand-in keychain and clipboard that record what they hold.

use std::sync::Arc;

use keydeck_app::desk::Desk;
use keydeck_app::store::DataDir;
use keydeck_core::app::{AppError, GenerateResult, KeysView, SessionView, Startup, TestReport, Verdict};
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

impl Harness {
    fn new() -> Harness {
        let server_dir = tempfile::tempdir().unwrap();
        let app_dir = tempfile::tempdir().unwrap();
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
        let keychain = Arc::new(MemoryKeychain::default());
        let clipboard = Arc::new(MemoryClipboard::default());
        let desk = Desk::new(
            DataDir::new(app_dir.path().to_owned()),
            keychain.clone(),
            None,
            Ok(clipboard.clone() as Arc<dyn SecretClipboard>),
        );
        let app = keydeck_app::app(mock_builder(), desk).build(mock_context(noop_assets())).unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Harness { webview, keychain, clipboard, server: Some(server), ws, _dirs: (server_dir, app_dir) }
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
