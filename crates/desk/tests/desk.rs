//! `Desk` as the command line uses it, through the narrow traits the commands use (stand-in
//! keychain and clipboard), against a real workspace server over HTTP. The window's commands
//! over the same `Desk` are tested through IPC in `src-tauri/tests/commands.rs`.

use std::sync::Arc;

use keydeck_core::app::{AppErrorCode, GenerateRequest, SessionView};
use keydeck_core::reminders::ReminderKind;
use keydeck_core::{Purpose, RateLimit};
use keydeck_desk::Desk;
use keydeck_desk::store::{DataDir, KeychainRecord};
use keydeck_server::RunningServer;
use keydeck_server::testing::{OWNER_PASSWORD as PASSWORD, StudioServer};
use keydeck_vault::testing::{MemoryClipboard, MemoryKeychain};
use keydeck_vault::{KeychainAddress, SecretClipboard, SecretStore, VaultError};

struct World {
    server: Option<RunningServer>,
    url: String,
    studio: String,
    other: String,
    keychain: Arc<MemoryKeychain>,
    data: tempfile::TempDir,
    _db: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let s = StudioServer::start().await;
        World {
            server: Some(s.server),
            url: s.url,
            studio: s.studio,
            other: s.other,
            keychain: Arc::default(),
            data: tempfile::tempdir().unwrap(),
            _db: s.db,
        }
    }

    /// A desk on this world's data directory, as a new process (another `kdk`) would make it.
    fn desk_with(&self, keychain: Arc<dyn SecretStore>) -> Desk {
        let clipboard = Arc::new(MemoryClipboard::default()) as Arc<dyn SecretClipboard>;
        Desk::new(DataDir::new(self.data.path().to_owned()), keychain, None, Ok(clipboard))
    }

    fn desk(&self) -> Desk {
        self.desk_with(self.keychain.clone())
    }

    async fn signed_in(&self) -> (Desk, SessionView) {
        let desk = self.desk();
        let session = desk.sign_in(&self.url, "ana@example.com", PASSWORD, false).await.unwrap();
        let session = desk.switch_workspace(&session.account.id, &self.studio).await.unwrap();
        (desk, session)
    }
}

fn request(name: &str) -> GenerateRequest {
    GenerateRequest {
        name: name.to_owned(),
        purpose: Purpose::Custom,
        scopes: Purpose::Custom.scopes().to_vec(),
        expires_in_days: Purpose::Custom.expires_in_days(),
        rate_limit: RateLimit::default(),
        store_in_keychain: true,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_read_from_the_keychain_without_the_server_and_never_from_another_servers_entry() {
    let w = World::new().await;
    let (desk, _) = w.signed_in().await;
    let made = desk.generate_key(request("Dashboard")).await.unwrap();

    // Another process, after the server has gone: the account and the key come from disk and
    // the keychain alone.
    let mut w = w;
    w.server.take().unwrap().stop().await;
    let url = w.url.clone();
    let later = w.desk();
    let local = later.local().await.unwrap();
    assert_eq!((local.server.as_str(), local.workspace_id.as_deref()), (url.as_str(), Some(w.studio.as_str())));
    let stored = later.stored_secret(&local.server, &w.studio, "Dashboard").await.unwrap();
    assert_eq!(stored.secret, made.secret);
    assert_eq!(stored.address, KeychainAddress::for_key(&w.studio, "Dashboard"));

    let missing = later.stored_secret(&local.server, &w.studio, "Nope").await.unwrap_err();
    assert_eq!(missing.code, AppErrorCode::NotFound);
    assert!(missing.message.contains(&format!("{}/Nope", w.studio)), "{}", missing.message);

    // An entry recorded as another server's is never read for this one.
    DataDir::new(w.data.path().to_owned())
        .update_keychain_records(|r| {
            r.entries.insert(
                KeychainAddress::for_key(&w.studio, "Dashboard").account,
                KeychainRecord { server: "https://staging.example.com".to_owned(), key_id: "k_x".to_owned() },
            );
        })
        .unwrap();
    let refused = later.stored_secret(&local.server, &w.studio, "Dashboard").await.unwrap_err();
    assert!(refused.message.contains("https://staging.example.com"), "{}", refused.message);
    assert!(!refused.message.contains(&made.secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_visited_for_one_command_is_not_the_one_remembered() {
    let w = World::new().await;
    let (desk, session) = w.signed_in().await;
    desk.generate_key(request("Only in Studio")).await.unwrap();

    let visiting = desk.visit_workspace(&session, "other").await.unwrap();
    assert_eq!(visiting.workspace_id, w.other);
    assert!(desk.list_keys().await.unwrap().keys.is_empty(), "the keys are the visited workspace's");
    let unknown = desk.visit_workspace(&session, "Nowhere").await.unwrap_err();
    assert_eq!(unknown.code, AppErrorCode::NotFound);
    assert!(unknown.message.contains("Studio") && unknown.message.contains("Other"), "{}", unknown.message);

    // The next process resumes on the workspace chosen last.
    let next = w.desk().resume().await.unwrap();
    assert_eq!(next.workspace_id, w.studio);
}

/// A keychain that answers nothing: locked, or its service not running.
struct Unreadable;

impl SecretStore for Unreadable {
    fn store(&self, _: &KeychainAddress, _: &str) -> Result<(), VaultError> {
        Err(VaultError::NoKeychain("the keyring is locked".to_owned()))
    }
    fn load(&self, _: &KeychainAddress) -> Result<Option<String>, VaultError> {
        Err(VaultError::NoKeychain("the keyring is locked".to_owned()))
    }
    fn remove(&self, _: &KeychainAddress) -> Result<bool, VaultError> {
        Err(VaultError::NoKeychain("the keyring is locked".to_owned()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keychain_that_cannot_be_read_is_reported_as_that_not_as_signed_out() {
    let w = World::new().await;
    let (desk, session) = w.signed_in().await;
    assert!(desk.session_is_kept(&session.account.id).await);

    let locked = w.desk_with(Arc::new(Unreadable));
    let e = locked.resume().await.unwrap_err();
    assert_eq!(e.code, AppErrorCode::NoKeychain, "{}", e.message);

    // Signing in where the token cannot be kept: the session works now, and says it is not kept.
    let forgetful = w.desk_with(Arc::new(Unreadable));
    let s = forgetful.sign_in(&w.url, "ana@example.com", PASSWORD, false).await.unwrap();
    assert!(!forgetful.session_is_kept(&s.account.id).await);

    // With no account remembered at all, it is "signed out".
    let empty = tempfile::tempdir().unwrap();
    let fresh = Desk::new(
        DataDir::new(empty.path().to_owned()),
        w.keychain.clone(),
        None,
        Err(VaultError::NoClipboard("none".into())),
    );
    assert_eq!(fresh.resume().await.unwrap_err().code, AppErrorCode::SignedOut);
    assert_eq!(fresh.local().await.unwrap_err().code, AppErrorCode::SignedOut);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_found_by_name_as_the_server_compares_names() {
    let w = World::new().await;
    let (desk, _) = w.signed_in().await;
    desk.generate_key(request("Finance sync")).await.unwrap();
    assert_eq!(desk.key_named("  finance SYNC ").await.unwrap().card.name, "Finance sync");
    let e = desk.key_named("Payroll").await.unwrap_err();
    assert_eq!(e.code, AppErrorCode::NotFound);
    assert!(e.message.contains("Payroll"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_is_a_reminder_told_once_across_restarts_until_a_success_ends_the_run() {
    let w = World::new().await;
    let (desk, _) = w.signed_in().await;
    let made = desk.generate_key(request("Invoices")).await.unwrap();
    let secret = made.secret.clone();
    let api = keydeck_client::Client::new(&w.url).unwrap();
    let nothing = desk.reminders().await.unwrap();
    assert!(nothing.current.is_empty() && nothing.new.is_empty(), "{nothing:?}");

    // Sent with another workspace's ID: refused.
    assert!(api.me(&secret, &w.other).await.unwrap().me.is_err());
    let check = || async {
        // The server shows a refusal within two seconds.
        for _ in 0..40 {
            let check = desk.reminders().await.unwrap();
            if !check.current.is_empty() {
                return check;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no reminder for the refused key");
    };
    let first = check().await;
    assert_eq!(first.new.len(), 1, "{first:?}");
    assert_eq!(first.new[0].kind, ReminderKind::Refused);
    assert_eq!(first.new[0].key_id, made.key.card.id);
    assert!(first.new[0].body.contains(&w.studio), "says which ID to paste: {}", first.new[0].body);
    // Not shown (the notification failed): still news at the next look.
    desk.reminders_told(&first, &[]).unwrap();
    let first = desk.reminders().await.unwrap();
    assert_eq!(first.new.len(), 1);
    desk.reminders_told(&first, &first.new).unwrap();
    // Looked at again, by this process or a new one: still current, not news.
    assert!(desk.reminders().await.unwrap().new.is_empty());
    let (restarted, _) = w.signed_in().await;
    let again = restarted.reminders().await.unwrap();
    assert_eq!((again.current.len(), again.new.len()), (1, 0));
    // A success ends the run: nothing needs attention.
    api.me(&secret, &w.studio).await.unwrap().me.unwrap();
    for _ in 0..40 {
        if restarted.reminders().await.unwrap().current.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("a success did not end the reminder");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_turned_off_is_neither_told_nor_counted_and_the_count_follows_the_keys() {
    let w = World::new().await;
    let (desk, session) = w.signed_in().await;
    let made = desk.generate_key(request("Invoices")).await.unwrap();
    let api = keydeck_client::Client::new(&w.url).unwrap();
    let attention = desk.attention();
    assert!(attention.borrow().reminders.is_empty());
    assert!(api.me(&made.secret, &w.other).await.unwrap().me.is_err());
    let mut counted = false;
    for _ in 0..40 {
        desk.list_keys().await.unwrap();
        if !attention.borrow().reminders.is_empty() {
            counted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(counted, "a fresh key list counts the refused key");
    assert_eq!(attention.borrow().workspace_id.as_deref(), Some(w.studio.as_str()));
    assert_eq!(attention.borrow().reminders[0].key_id, made.key.card.id);

    // Turned off: out of the count at once, and not news.
    let off = keydeck_core::Settings {
        reminders_off: vec![ReminderKind::Refused, ReminderKind::Refused],
        ..desk.settings().await
    };
    let saved = desk.save_settings(off).await.unwrap();
    assert_eq!(saved.reminders_off, vec![ReminderKind::Refused], "kept once");
    assert!(attention.borrow().reminders.is_empty(), "the tray's count drops without another look");
    let check = desk.reminders().await.unwrap();
    assert!(check.current.is_empty() && check.new.is_empty(), "{check:?}");
    desk.reminders_told(&check, &check.new).unwrap();

    // On again: the refusal was never told, so it is news now.
    let on = keydeck_core::Settings { reminders_off: Vec::new(), ..desk.settings().await };
    desk.save_settings(on).await.unwrap();
    let check = desk.reminders().await.unwrap();
    assert_eq!((check.current.len(), check.new.len()), (1, 1), "{check:?}");
    assert_eq!(attention.borrow().reminders.len(), 1);

    // Another workspace open: its count, not this one's; back again, this one's at once.
    desk.switch_workspace(&session.account.id, &w.other).await.unwrap();
    assert_eq!(attention.borrow().workspace_id.as_deref(), Some(w.other.as_str()));
    assert!(attention.borrow().reminders.is_empty(), "nothing of the other workspace is counted");
    desk.switch_workspace(&session.account.id, &w.studio).await.unwrap();
    assert_eq!(attention.borrow().reminders.len(), 1, "the last list of the workspace is counted again");

    // Signed out: nothing to count.
    desk.sign_out(&session.account.id).await.unwrap();
    assert!(attention.borrow().reminders.is_empty() && attention.borrow().workspace_id.is_none());
}
