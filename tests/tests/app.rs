//! End to end, in the real window: the demo scenario and signing in to a separately started
//! `keydeck-server`. One WebDriver session at a time (they share the display and clipboard).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use keydeck_e2e::desktop::Desktop;
use keydeck_e2e::{App, clipboard, clipboard_targets, keychain_secret, real_desktop, root};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A 5-second clipboard delay, so the test sees the clipboard cleared without waiting the
/// default 30 seconds.
const FAST_CLIPBOARD: &str = r#"{"clipboardClearSeconds": 5, "rotationDays": 90, "theme": "system"}"#;

async fn verdict(app: &App) -> Result<(String, String)> {
    let v = app.find("[data-testid=test-verdict]", 20).await?;
    Ok((v.attr("data-verdict").await?.unwrap_or_default(), v.text().await?))
}

#[tokio::test]
async fn demo_generate_keychain_clipboard_test_revoke() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let app = App::launch(4444, Some(FAST_CLIPBOARD)).await?;
        app.click("[data-testid=open-demo]").await?;
        app.find("[data-testid=key-card]", 90).await.context("the demo's cards")?;
        app.screenshot("keys").await?;
        let workspace = app.find("[data-testid=workspace-id]", 10).await?.text().await?;
        ensure!(workspace.starts_with("ws_"), "workspace id shown: {workspace}");

        // Generate: keychain first, then clipboard, then the one reveal.
        let name = "E2E reporting key";
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", name).await?;
        app.screenshot("generate").await?;
        app.click("[data-testid=generate-submit]").await?;
        let secret = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        ensure!(secret.starts_with("kdk_") && secret.len() == 42, "revealed: {secret:?}");
        app.screenshot("reveal").await?;
        ensure!(
            keychain_secret(&format!("{workspace}/{name}"))? == secret,
            "secret-tool finds the secret at the documented address"
        );
        ensure!(clipboard()? == secret, "xclip reads the same secret");
        ensure!(
            clipboard_targets()?.contains("x-kde-passwordManagerHint"),
            "the clipboard item is marked to stay out of history"
        );
        app.until(20, "the clipboard is cleared after the delay", || async { Ok(clipboard()?.is_empty()) }).await?;
        ensure!(keychain_secret(&format!("{workspace}/{name}"))? == secret, "the keychain keeps it");
        app.click("[data-testid=reveal-close]").await?;

        // Test the key: connected.
        app.click("[data-testid=test-open]").await?;
        app.type_into("[data-testid=test-input]", &secret).await?;
        app.click("[data-testid=test-submit]").await?;
        let (v, text) = verdict(&app).await?;
        ensure!(v == "connected", "test verdict {v}: {text}");
        app.screenshot("test-connected").await?;
        app.click("[data-testid=test-dialog] button[aria-label=Close]").await?;

        // Revoke it after typing its name.
        app.click(&format!("[data-testid=key-card][data-key-name='{name}']")).await?;
        app.find("[data-testid=usage-chart]", 20).await?;
        app.screenshot("key-detail").await?;
        app.type_into("[data-testid=revoke-confirm-input]", name).await?;
        app.click("[data-testid=revoke-submit]").await?;
        app.until(20, "the revoked key's card disappears", || async {
            Ok(app
                .client
                .find_all(fantoccini::Locator::Css(&format!("[data-testid=key-card][data-key-name='{name}']")))
                .await?
                .is_empty())
        })
        .await?;

        // Test it again: revoked.
        app.click("[data-testid=test-open]").await?;
        app.type_into("[data-testid=test-input]", &secret).await?;
        app.click("[data-testid=test-submit]").await?;
        let (v, text) = verdict(&app).await?;
        ensure!(v == "problem" && text.to_lowercase().contains("revoked"), "after revoking: {v}: {text}");
        app.screenshot("test-revoked").await?;
        app.close().await
    })
    .await
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_binary() -> std::path::PathBuf {
    keydeck_e2e::app_binary().with_file_name("keydeck-server")
}

/// A `keydeck-server` of its own on `dir/server.db`, with Riley, the owner of a Business
/// workspace: the server, its address and the workspace's id.
async fn separate_server(dir: &std::path::Path, port: u16) -> Result<(Server, String, String)> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join("server.db");
    let admin = |args: &[&str]| -> Result<String> {
        let out = Command::new(server_binary()).arg("admin").arg("--db").arg(&db).args(args).output()?;
        ensure!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    admin(&["create-user", "--email", "riley@example.com", "--password", "riley-password-1", "--name", "Riley Chen"])?;
    let ws =
        admin(&["create-workspace", "--name", "Riley's Agency", "--plan", "business", "--owner", "riley@example.com"])?;
    let server = Server(
        Command::new(server_binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(&db)
            .stdout(Stdio::null())
            .spawn()?,
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((server, format!("http://127.0.0.1:{port}"), ws))
}

/// Sets `assignments` (SQL, such as `expires_at = 123`) on one key's row of a stopped or running
/// server's SQLite database, with Python's sqlite3 (the server's own writes wait their turn):
/// how a test makes time pass for one key.
fn change_key_row(db: &std::path::Path, key_id: &str, assignments: &str) -> Result<()> {
    let script = format!(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=10)\n\
         c.execute({:?}, (sys.argv[2],))\nc.commit()",
        format!("UPDATE api_keys SET {assignments} WHERE id = ?")
    );
    let out = Command::new("python3").arg("-c").arg(script).arg(db).arg(key_id).output()?;
    ensure!(out.status.success(), "changing {key_id} ({assignments}): {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

async fn sign_in_as_riley(app: &App, url: &str) -> Result<()> {
    app.type_into("[data-testid=signin-server]", url).await?;
    app.type_into("[data-testid=signin-email]", "riley@example.com").await?;
    app.type_into("[data-testid=signin-password]", "riley-password-1").await?;
    app.click("[data-testid=signin-submit]").await
}

#[tokio::test]
async fn sign_in_to_a_separately_started_server() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let dir = std::env::temp_dir().join(format!("keydeck-e2e-{}", std::process::id()));
        let port = 18_000 + (std::process::id() % 1000) as u16;
        let (_server, url, ws) = separate_server(&dir, port).await?;

        let app = App::launch(4454, None).await?;
        app.type_into("[data-testid=signin-server]", &url).await?;
        app.type_into("[data-testid=signin-email]", "riley@example.com").await?;
        app.type_into("[data-testid=signin-password]", "riley-password-1").await?;
        app.screenshot("sign-in").await?;
        app.click("[data-testid=signin-submit]").await?;
        let count = app.find("[data-testid=key-count]", 30).await?;
        let text = count.text().await?;
        ensure!(text.contains("0 of 10"), "key count: {text}");
        ensure!(app.find("[data-testid=workspace-id]", 10).await?.text().await? == ws);
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", "Agency dashboard").await?;
        app.click("[data-testid=generate-submit]").await?;
        let secret = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        ensure!(keychain_secret(&format!("{ws}/Agency dashboard"))? == secret);
        app.click("[data-testid=reveal-close]").await?;
        app.find("[data-testid=key-card][data-key-name='Agency dashboard']", 20).await?;
        let text = app.find("[data-testid=key-count]", 5).await?.text().await?;
        ensure!(text.contains("1 of 10"), "key count after generating: {text}");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = root();
        app.close().await
    })
    .await
}

#[tokio::test]
async fn the_server_revokes_a_rotated_key_once_silent_while_the_app_is_closed() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let dir = std::env::temp_dir().join(format!("keydeck-e2e-silent-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = 19_000 + (std::process::id() % 1000) as u16;
        let (_server, url, ws) = separate_server(&dir, port).await?;
        let api = keydeck_client::Client::new(&url)?;
        let works = |secret: String| {
            let (api, ws) = (&api, &ws);
            async move { anyhow::Ok(api.me(&secret, ws).await?.me.is_ok()) }
        };

        let app = App::launch(4514, None).await?;
        sign_in_as_riley(&app, &url).await?;
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", "Nightly export").await?;
        app.click("[data-testid=generate-submit]").await?;
        let old = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=reveal-close]").await?;
        let old_id = api.me(&old, &ws).await?.me?.key.id;

        // Rotate it; step 3 passes by testing the new key (from the keychain, against the
        // server); then leave the old key to the server.
        app.click("[data-testid=key-card][data-key-name='Nightly export']").await?;
        app.click("[data-testid=rotate-open]").await?;
        app.click("[data-testid=rotation-create]").await?;
        let new = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=rotation-next]").await?;
        app.find("[data-testid=rotation-wizard][data-step='2']", 20).await?;
        app.click("[data-testid=rotation-updated]").await?;
        app.find("[data-testid=rotation-wizard][data-step='3']", 20).await?;
        app.click("[data-testid=rotation-test]").await?;
        app.find("[data-testid=rotation-silent-choice]", 30).await.context("a connected test passes step 3")?;
        app.click("[data-testid=rotation-silent-submit]").await?;
        let said = app.find("[data-testid=rotation-done-silent]", 30).await?.text().await?;
        ensure!(said.contains("once it has had no request for 1 day"), "{said}");
        app.screenshot("rotation-silent-planned").await?;
        app.close().await?;
        ensure!(keydeck_e2e::processes_of(&keydeck_e2e::app_binary())?.is_empty(), "the app is closed");

        // With the app closed, the old key still works: it has not been silent for a day.
        ensure!(works(old.clone()).await?, "the old key works until it falls silent");
        // That request's time reaches the database within two of the server's 1-second flushes.
        tokio::time::sleep(Duration::from_secs(3)).await;
        // A day and a bit pass for this key: its plan's start and its last request move back
        // 25 hours in the server's database (what a day of silence leaves there).
        let shift = "revoke_scheduled_at = revoke_scheduled_at - 90000000, last_used_at = last_used_at - 90000000";
        change_key_row(&dir.join("server.db"), &old_id, shift)?;
        // The server revokes it by itself (watched through Riley's session: a request with the
        // old key would break its silence), and the new key is untouched.
        let token = api.sign_in("riley@example.com", "riley-password-1").await?.token;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while api.key(&token, &ws, &old_id).await.is_ok() {
            ensure!(std::time::Instant::now() < deadline, "the server did not revoke the silent key within 20 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let refused = api.me(&old, &ws).await?.me.err().and_then(|e| e.code()).map(|c| c.as_str());
        ensure!(refused == Some("key_revoked"), "refused as revoked: {refused:?}");
        ensure!(works(new.clone()).await?, "the new key works");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_key_expiring_in_three_days_is_one_notification_counted_in_the_tray_and_either_opens_it() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let dir = std::env::temp_dir().join(format!("keydeck-e2e-remind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = 20_000 + (std::process::id() % 1000) as u16;
        let (_server, url, ws) = separate_server(&dir, port).await?;
        let data = dir.join("app-data");
        std::fs::create_dir_all(data.join("dev.keydeck.app"))?;

        let app = App::launch_with(4524, None, Some(&data), &keydeck_e2e::app_binary()).await?;
        sign_in_as_riley(&app, &url).await?;
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", "Quarterly export").await?;
        app.click("[data-testid=generate-submit]").await?;
        let secret = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=reveal-close]").await?;
        ensure!(keychain_secret(&format!("{ws}/Quarterly export"))? == secret, "in the keychain");
        let id = keydeck_client::Client::new(&url)?.me(&secret, &ws).await?.me?.key.id;
        app.kill().await?;

        // Its expiry comes to 3 days from now (an expiry is fixed when a key is made, so the
        // test moves it in the server's database).
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
        let expires = now_ms + 3 * 86_400_000 + 3_600_000;
        change_key_row(&dir.join("server.db"), &id, &format!("expires_at = {expires}"))?;

        // The desktop's notification server and tray host, on this session's bus.
        let desktop = Desktop::start().await?;
        let title = "“Quarterly export” expires in 3 days";

        // Started again, signed in from the keychain: one notification names the key.
        let app = App::launch_with(4524, None, Some(&data), &keydeck_e2e::app_binary()).await?;
        app.find("[data-testid=key-card][data-key-name='Quarterly export']", 60).await?;
        app.until(30, "a notification", || async { Ok(!desktop.shown().is_empty()) }).await?;
        let sent = desktop.shown();
        ensure!(sent.len() == 1, "one notification: {sent:?}");
        ensure!(sent[0].summary == title, "names the key and when: {:?}", sent[0]);
        ensure!(!sent[0].summary.contains(&secret) && !sent[0].body.contains(&secret), "never the secret");
        ensure!(sent[0].actions.iter().any(|a| a == "default"), "offers a click: {:?}", sent[0].actions);

        // The tray icon counts it, and its menu lists it.
        app.until(30, "the tray icon counting 1", || async {
            Ok(desktop.has_tray_icon() && desktop.tray_label().await.unwrap_or_default() == "1")
        })
        .await?;
        let menu: Vec<String> = desktop.tray_menu().await?.into_iter().map(|e| e.label).collect();
        ensure!(
            menu == ["1 thing needs attention", title, "Open Keydeck", "Quit Keydeck"],
            "the tray's menu: {menu:?}"
        );

        // A click on the notification opens the key's page.
        let key_page = format!("[data-testid=key-page][data-key-id='{id}']");
        desktop.click_notification(sent[0].id).await?;
        app.find(&key_page, 20).await.context("the key's page, from the notification")?;
        app.click("[data-testid=key-back]").await?;
        app.find("[data-testid=key-card][data-key-name='Quarterly export']", 20).await?;
        // So does its entry in the tray's menu.
        desktop.click_tray_entry(title).await?;
        app.find(&key_page, 20).await.context("the key's page, from the tray")?;
        app.click("[data-testid=key-back]").await?;

        // Kept in the tray: closing the window hides it, reminders go on, the tray brings it back.
        app.find("[data-testid=key-card][data-key-name='Quarterly export']", 20).await?;
        app.click("[data-testid=settings-open]").await?;
        app.click("[data-testid=settings-keep-in-tray]").await?;
        app.click("[data-testid=settings-save]").await?;
        app.find("[data-testid=notice]", 10).await?;
        let window = keydeck_e2e::window_named("Keydeck", 10).await?;
        keydeck_e2e::close_as_the_user(&window)?;
        app.until(10, "the window hidden", || async { Ok(!keydeck_e2e::window_shown("Keydeck")?) }).await?;
        let binary = keydeck_e2e::app_binary();
        ensure!(!keydeck_e2e::processes_of(&binary)?.is_empty(), "Keydeck still runs, in the tray");
        desktop.click_tray_entry("Open Keydeck").await?;
        keydeck_e2e::window_named("Keydeck", 10).await.context("the window, back from the tray")?;
        app.kill().await?;

        // Started once more: the same expiry is not news; the tray still counts it. Quit from
        // the tray ends Keydeck. Each look at the reminders rewrites reminders.json, so its
        // time tells that the new process has looked.
        let record = data.join("dev.keydeck.app").join("reminders.json");
        let written = std::fs::metadata(&record)?.modified()?;
        let app = App::launch_with(4524, None, Some(&data), &keydeck_e2e::app_binary()).await?;
        app.find("[data-testid=key-card][data-key-name='Quarterly export']", 60).await?;
        app.until(30, "the new process's look at the reminders", || async {
            Ok(std::fs::metadata(&record)?.modified()? > written)
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await; // a notification of that look on its way
        app.until(30, "the new tray icon counting 1", || async {
            Ok(desktop.tray_label().await.unwrap_or_default() == "1")
        })
        .await?;
        let after = desktop.shown();
        ensure!(after.len() == 1, "still one notification after a restart: {after:?}");
        desktop.click_tray_entry("Quit Keydeck").await?;
        app.until(15, "Keydeck to quit", || async { Ok(keydeck_e2e::processes_of(&binary)?.is_empty()) }).await?;
        app.close().await?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
    .await
}
