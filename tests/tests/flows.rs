//! End to end, in the real window, on the demo workspace: guided rotation (by itself, with the
//! old key still in use, with the new key refused, and across SIGKILLs), incident response,
//! "Connect Zapier" (refused, then connected; run twice), a rotation begun with `kdk` and
//! killed that the window carries on, and axe-core on every screen of these flows. The keychain is read with `secret-tool`; stand-in integrations call the real server
//! over HTTP.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use keydeck_client::{Client, ClientError};
use keydeck_e2e::{App, app_binary, kdk_binary, keychain_secret, real_desktop};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Step 3's quiet period at 5 seconds, so a rotation confirms itself in seconds.
const FAST: &str = r#"{"clipboardClearSeconds": 30, "rotationDays": 90, "quietSeconds": 5, "theme": "system"}"#;
const INTEGRATION: &str = "Timesheet sync (demo integration)";

fn card(name: &str) -> String {
    format!("[data-testid=key-card][data-key-name='{name}']")
}

fn wizard_at(step: &str) -> String {
    format!("[data-testid=rotation-wizard][data-step='{step}']")
}

/// The demo's workspace id and an API client for its server (read from "How it works").
async fn demo_api(app: &App) -> Result<(String, Client)> {
    let ws = app.find("[data-testid=workspace-id]", 30).await?.text().await?;
    let api = app.find("[data-testid=api-address]", 10).await?.text().await?;
    let base = api.trim().trim_end_matches("/api/v1").to_owned();
    Ok((ws, Client::new(&base)?))
}

/// Calls `GET /me` as an integration would; the API's error code when refused.
async fn call(client: &Client, secret: &str, ws: &str) -> Result<Option<&'static str>> {
    Ok(match client.me(secret, ws).await?.me {
        Ok(_) => None,
        Err(ClientError::Api { body, .. }) => Some(body.error.as_str()),
        Err(e) => bail!("{e}"),
    })
}

/// The demo integration's key, once it has set itself up (in the background at start).
async fn integration_secret(app: &App, address: &str) -> Result<String> {
    app.until(30, "the demo integration's key is in the keychain", || async {
        Ok(keychain_secret(address)?.starts_with("kdk_"))
    })
    .await?;
    keychain_secret(address)
}

async fn count(app: &App, css: &str) -> Result<usize> {
    Ok(app.client.find_all(fantoccini::Locator::Css(css)).await?.len())
}

/// Opens a key's page and starts its rotation: step 1 creates the replacement. Answers the
/// revealed secret.
async fn rotate_step_one(app: &App, name: &str) -> Result<String> {
    app.click(&card(name)).await?;
    app.click("[data-testid=rotate-open]").await?;
    app.find(&wizard_at("1"), 20).await?;
    app.click("[data-testid=rotation-create]").await?;
    let secret = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
    ensure!(secret.starts_with("kdk_") && secret.len() == 42, "revealed: {secret:?}");
    Ok(secret)
}

async fn revoke_old(app: &App, name: &str) -> Result<()> {
    app.type_into("[data-testid=rotation-revoke-input]", name).await?;
    app.click("[data-testid=rotation-revoke-submit]").await?;
    app.find("[data-testid=rotation-done]", 30).await?;
    Ok(())
}

#[tokio::test]
async fn rotation_incident_and_zapier_on_the_demo() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let app = App::launch(4464, Some(FAST)).await?;
        app.click("[data-testid=open-demo]").await?;
        app.find(&card(INTEGRATION), 90).await.context("the demo integration's card")?;
        app.accessible("the keys screen").await?;
        app.click("[data-testid=test-open]").await?;
        app.find("[data-testid=test-dialog]", 10).await?;
        app.accessible("the test dialog").await?;
        app.click("[data-testid=test-dialog] button[aria-label=Close]").await?;
        let (ws, api) = demo_api(&app).await?;
        let address = format!("{ws}/{INTEGRATION}");
        let previous = format!("{address} (previous)");
        let old = integration_secret(&app, &address).await?;

        // 1. A full rotation of the key the demo integration reads from the keychain: step 3
        // completes by itself once the integration has moved to the new key and the old fell quiet.
        app.click(&card(INTEGRATION)).await?;
        app.find("[data-testid=rotate-open]", 20).await?;
        app.accessible("a key's page").await?;
        app.click("[data-testid=key-back]").await?;
        let new = rotate_step_one(&app, INTEGRATION).await?;
        app.accessible("rotation step 1").await?;
        app.screenshot("rotation-1-created").await?;
        ensure!(keychain_secret(&address)? == new, "the key's address holds the new secret");
        ensure!(keychain_secret(&previous)? == old, "the old secret waits at the previous address");
        app.click("[data-testid=rotation-next]").await?;
        app.find(&wizard_at("2"), 20).await?;
        let shown = app.find("[data-testid=rotation-previous-account]", 5).await?.text().await?;
        ensure!(shown.contains(&previous), "step 2 names the previous address: {shown}");
        app.accessible("rotation step 2").await?;
        app.screenshot("rotation-2-update").await?;
        app.click("[data-testid=rotation-updated]").await?;
        app.find(&wizard_at("3"), 20).await?;
        app.accessible("rotation step 3").await?;
        app.screenshot("rotation-3-confirm").await?;
        app.find(&wizard_at("4"), 90).await.context("step 3 passes by itself")?;
        app.accessible("rotation step 4").await?;
        ensure!(
            count(&app, "[data-testid=rotation-old-used-warning]").await? == 0,
            "no warning: the old key fell quiet"
        );
        app.screenshot("rotation-4-revoke").await?;
        revoke_old(&app, INTEGRATION).await?;
        app.screenshot("rotation-done").await?;
        ensure!(keychain_secret(&address)? == new, "the keychain address holds the new secret");
        ensure!(keychain_secret(&previous)?.is_empty(), "the previous entry is gone");
        ensure!(call(&api, &old, &ws).await? == Some("key_revoked"), "the old key is revoked");
        ensure!(call(&api, &new, &ws).await?.is_none(), "the new key works");
        app.click("[data-testid=rotation-close]").await?;

        // Activity tells that rotation as one story, from the server's log: replacement made,
        // then the old key revoked, each by the demo's owner.
        app.click("[data-testid=activity-open]").await?;
        let story = "[data-testid=activity-rotation][data-state=done]";
        let told = app.find(story, 20).await.context("the rotation's story")?.text().await?;
        ensure!(told.contains(&format!("Rotated “{INTEGRATION}”")), "the story names the key: {told}");
        let steps = format!("{story} [data-testid=activity-step]");
        let mut actions = Vec::new();
        for step in app.client.find_all(fantoccini::Locator::Css(&steps)).await? {
            actions.push(step.attr("data-action").await?.unwrap_or_default());
        }
        ensure!(actions == ["created", "revoked"], "one story of two steps: {actions:?}");
        app.accessible("Activity").await?;
        app.screenshot("activity").await?;
        app.click("[data-testid=activity-close]").await?;

        // 2. A rotation while something keeps using the old key: step 3 cannot pass by itself, the
        // user overrides, and step 4 warns.
        let name = "E2E billing export";
        app.find("[data-testid=generate-open]", 20).await?;
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", name).await?;
        app.accessible("the generate dialog").await?;
        app.click("[data-testid=generate-submit]").await?;
        let billing = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=reveal-close]").await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let user = {
            let (api, billing, ws) = (api.clone(), billing.clone(), ws.clone());
            tokio::spawn(async move {
                loop {
                    let _ = api.me(&billing, &ws).await;
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(700)) => {}
                        _ = stopped.changed() => return,
                    }
                }
            })
        };
        rotate_step_one(&app, name).await?;
        app.click("[data-testid=rotation-next]").await?;
        app.click("[data-testid=rotation-updated]").await?;
        app.find(&wizard_at("3"), 20).await?;
        tokio::time::sleep(Duration::from_secs(8)).await;
        ensure!(count(&app, &wizard_at("3")).await? == 1, "step 3 does not pass while the old key is in use");
        app.click("[data-testid=rotation-override]").await?;
        app.click("[data-testid=rotation-override-ack]").await?;
        app.click("[data-testid=rotation-override-submit]").await?;
        app.find(&wizard_at("4"), 20).await?;
        app.find("[data-testid=rotation-old-used-warning]", 20).await.context("step 4 warns")?;
        app.screenshot("rotation-4-warning").await?;
        let _ = stop.send(true);
        user.await?;
        revoke_old(&app, name).await?;
        app.click("[data-testid=rotation-close]").await?;

        // 3. Connect Zapier: a stand-in for Zapier first sends another workspace's ID (refused:
        // never "connected", and the fix is named), then the right one (connected).
        app.click("[data-testid=zapier-open]").await?;
        app.find("[data-testid=zapier-screen]", 20).await?;
        app.type_into("[data-testid=zapier-name]", "E2E Zapier").await?;
        app.click("[data-testid=zapier-create]").await?;
        let zapier = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        let shown = app.find("[data-testid=zapier-workspace-id]", 10).await?.text().await?;
        ensure!(shown.contains(&ws), "the workspace ID to paste into Zapier: {shown}");
        app.find("[data-testid=zapier-waiting]", 20).await?;
        app.screenshot("zapier-waiting").await?;
        let wrong_id = "ws_AnotherWorkspace0";
        ensure!(call(&api, &zapier, wrong_id).await? == Some("workspace_mismatch"), "refused by the server");
        let refused = app.find("[data-testid=zapier-refused]", 20).await.context("the refusal is explained")?;
        let said = refused.text().await?;
        ensure!(said.contains("Zapier tried the key at") && said.contains("another workspace's ID"), "{said}");
        ensure!(said.contains(&format!("Paste {ws} into the Workspace ID field")), "names the fix: {said}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        ensure!(count(&app, "[data-testid=zapier-connected]").await? == 0, "a refusal is never a connection");
        app.accessible("Connect Zapier").await?;
        app.client
            .execute("arguments[0].scrollIntoView({block: 'center'});", vec![serde_json::to_value(&refused)?])
            .await?;
        app.screenshot("zapier-refused").await?;
        ensure!(call(&api, &zapier, &ws).await?.is_none(), "Zapier's test request is accepted");
        let connected = app.find("[data-testid=zapier-connected]", 30).await.context("the flow sees the first use")?;
        ensure!(connected.text().await?.contains("Zapier is connected"));
        app.screenshot("zapier-connected").await?;

        // 4. Incident response on that key: after "disable now" the next request is refused.
        app.find("[data-testid=zapier-screen]", 5).await?;
        app.click("[data-testid=zapier-close]").await?;
        app.click(&card("E2E Zapier")).await?;
        app.click("[data-testid=incident-open]").await?;
        app.find("[data-testid=incident-screen]", 20).await?;
        app.click("[data-testid=incident-disable]").await?;
        app.find("[data-testid=incident-status][data-enabled='false']", 20).await?;
        ensure!(call(&api, &zapier, &ws).await? == Some("key_disabled"), "the next request is refused");
        app.find("[data-testid=incident-requests]", 20).await?;
        app.accessible("incident response").await?;
        app.screenshot("incident").await?;
        app.close().await
    })
    .await
}

#[tokio::test]
async fn a_rotation_survives_sigkill_after_step_one_and_after_step_two_begins() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let port = 4474;
        let app = App::launch(port, Some(FAST)).await?;
        app.click("[data-testid=open-demo]").await?;
        app.find(&card(INTEGRATION), 90).await?;
        let (ws, _) = demo_api(&app).await?;
        let address = format!("{ws}/{INTEGRATION}");
        let previous = format!("{address} (previous)");
        let old = integration_secret(&app, &address).await?;
        let new = rotate_step_one(&app, INTEGRATION).await?;
        let data = app.kill().await?;

        // Start again: the unfinished rotation is offered and resumes after step 1.
        let app = App::launch_with(port, None, Some(&data), &app_binary()).await?;
        app.find(&card(INTEGRATION), 60).await?;
        ensure!(count(&app, &card(INTEGRATION)).await? == 2, "exactly one replacement beside the old key");
        app.screenshot("rotation-resume-offered").await?;
        app.click("[data-testid=rotation-resume-banner] [data-testid=rotation-resume]").await?;
        app.find("[data-testid=rotation-wizard][data-step='1'][data-stage='created']", 30).await?;
        ensure!(keychain_secret(&address)? == new, "the new secret is still at the key's address");
        ensure!(keychain_secret(&previous)? == old, "the old secret is still at the previous address");
        app.click("[data-testid=rotation-next]").await?;
        app.find("[data-testid=rotation-wizard][data-step='2'][data-stage='updating']", 20).await?;
        let data = app.kill().await?;

        // Again, right after step 2 began: it resumes at step 2, still with one replacement.
        let app = App::launch_with(port, None, Some(&data), &app_binary()).await?;
        app.find(&card(INTEGRATION), 60).await?;
        ensure!(count(&app, &card(INTEGRATION)).await? == 2, "exactly one replacement beside the old key");
        app.click("[data-testid=rotation-resume-banner] [data-testid=rotation-resume]").await?;
        app.find("[data-testid=rotation-wizard][data-step='2'][data-stage='updating']", 30).await?;
        ensure!(keychain_secret(&address)? == new && keychain_secret(&previous)? == old, "no secret lost");
        app.click("[data-testid=rotation-updated]").await?;
        app.find(&wizard_at("4"), 90).await.context("step 3 passes by itself after the restarts")?;
        revoke_old(&app, INTEGRATION).await?;
        ensure!(keychain_secret(&address)? == new && keychain_secret(&previous)?.is_empty());
        app.close().await
    })
    .await
}

#[tokio::test]
async fn a_rotation_begun_with_kdk_and_killed_with_sigkill_is_finished_in_the_window() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let port = 4484;
        let data = std::env::temp_dir().join(format!("keydeck-e2e-kdk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(data.join("dev.keydeck.app"))?;
        std::fs::write(data.join("dev.keydeck.app").join("settings.json"), FAST)?;
        let kdk = |args: &[&str]| {
            let mut c = tokio::process::Command::new(kdk_binary());
            c.args(args).env("XDG_DATA_HOME", &data).current_dir(&data).kill_on_drop(true);
            c
        };
        let login = kdk(&["login", "--demo"]).output().await?;
        ensure!(login.status.success(), "kdk login --demo: {}", String::from_utf8_lossy(&login.stderr));
        let me: serde_json::Value = serde_json::from_slice(&kdk(&["whoami", "--json"]).output().await?.stdout)?;
        let address = format!("{}/{INTEGRATION}", me["workspaceId"].as_str().context("no workspace")?);
        let previous = format!("{address} (previous)");
        let old = kdk(&["get", INTEGRATION]).output().await?;
        let old = String::from_utf8(old.stdout)?.trim().to_owned();
        ensure!(old.starts_with("kdk_"), "the demo integration's key is in the keychain: {old:?}");

        // kdk makes the replacement and waits at step 3; it is killed as soon as step 1 is done.
        let mut rotate =
            kdk(&["rotate", INTEGRATION, "--wait", "--timeout", "300"]).stderr(std::process::Stdio::piped()).spawn()?;
        let mut lines =
            tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(rotate.stderr.take().context("stderr")?));
        loop {
            let line = lines.next_line().await?.context("kdk rotate ended before step 1 was done")?;
            if line.starts_with("Step 1 of 4") {
                break;
            }
        }
        rotate.start_kill()?;
        let status = rotate.wait().await?;
        ensure!(!status.success(), "kdk was killed");
        let new = keychain_secret(&address)?;
        ensure!(new.starts_with("kdk_") && new != old, "the key's address holds the replacement");
        ensure!(keychain_secret(&previous)? == old, "the old key waits at the previous address");
        let journals: serde_json::Value =
            serde_json::from_slice(&kdk(&["rotations", "--json"]).output().await?.stdout)?;
        ensure!(journals.as_array().map(Vec::len) == Some(1), "one rotation journaled: {journals}");

        // The window, on the same data directory, offers the rotation and carries it to the end.
        let app = App::launch_with(port, None, Some(&data), &app_binary()).await?;
        app.find(&card(INTEGRATION), 90).await?;
        ensure!(count(&app, &card(INTEGRATION)).await? == 2, "exactly one replacement beside the old key");
        app.click("[data-testid=rotation-resume-banner] [data-testid=rotation-resume]").await?;
        // kdk may have journaled step 2 (or step 3) before it died: the window resumes there.
        let wizard = app.find("[data-testid=rotation-wizard]", 30).await?;
        let step = wizard.attr("data-step").await?.unwrap_or_default();
        app.screenshot("rotation-from-kdk-resumed").await?;
        if step == "1" {
            app.click("[data-testid=rotation-next]").await?;
            app.find(&wizard_at("2"), 20).await?;
        }
        if step != "3" {
            app.click("[data-testid=rotation-updated]").await?;
        }
        app.find(&wizard_at("4"), 90).await.context("step 3 passes by itself in the window")?;
        revoke_old(&app, INTEGRATION).await?;
        ensure!(keychain_secret(&address)? == new, "the replacement stays at the key's address");
        ensure!(keychain_secret(&previous)?.is_empty(), "the old key's entry is gone");
        app.close().await
    })
    .await
}

#[tokio::test]
async fn zapier_twice_then_a_refused_rotation_cancelled_touch_only_their_own_key() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let app = App::launch(4504, Some(FAST)).await?;
        app.click("[data-testid=open-demo]").await?;
        app.find(&card(INTEGRATION), 90).await?;
        let (ws, api) = demo_api(&app).await?;
        let connect = |name: &'static str| {
            let app = &app;
            async move {
                app.click("[data-testid=zapier-open]").await?;
                app.find("[data-testid=zapier-screen]", 20).await?;
                app.type_into("[data-testid=zapier-name]", name).await?;
                app.click("[data-testid=zapier-create]").await
            }
        };
        // Connect Zapier, then again with the same name: the second is refused at the name.
        connect("Zapier").await?;
        let first = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=zapier-close]").await?;
        connect("Zapier").await?;
        let error = app.find("[data-testid=zapier-screen] .field-error", 20).await?.text().await?;
        ensure!(error.contains("already called \"Zapier\""), "the name field says why: {error}");
        ensure!(count(&app, "[data-testid=revealed-secret]").await? == 0, "no second key was made");
        // Under its own name, the second key is kept apart, at its own keychain entry.
        app.type_into("[data-testid=zapier-name]", "Zapier 2").await?;
        app.click("[data-testid=zapier-create]").await?;
        let second = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        app.click("[data-testid=zapier-close]").await?;
        ensure!(keychain_secret(&format!("{ws}/Zapier"))? == first);
        ensure!(keychain_secret(&format!("{ws}/Zapier 2"))? == second);
        app.until(15, "one card of each name", || async {
            Ok(count(&app, &card("Zapier")).await? == 1 && count(&app, &card("Zapier 2")).await? == 1)
        })
        .await?;

        // Rotate "Zapier". The workspace is full (ten keys): a never-used demo key makes room.
        app.click(&card("Zapier")).await?;
        app.click("[data-testid=rotate-open]").await?;
        app.click("[data-testid=rotation-create]").await?;
        app.find("[data-testid=rotation-limit]", 20).await?;
        app.click("[data-testid=delete-unused-key][data-key-name='Payroll export (new)']").await?;
        app.click("[data-testid=delete-unused-confirm]").await?;
        app.until(20, "the room is made", || async {
            Ok(app.find("[data-testid=rotation-limit]", 1).await?.text().await?.contains("There's room now"))
        })
        .await?;
        app.click("[data-testid=rotation-create]").await?;
        let new = app.find("[data-testid=revealed-secret]", 30).await?.text().await?.trim().to_owned();
        // Its integration gets the new key but sends another workspace's ID.
        app.click("[data-testid=rotation-next]").await?;
        app.click("[data-testid=rotation-updated]").await?;
        app.find(&wizard_at("3"), 20).await?;
        ensure!(call(&api, &new, "ws_AnotherWorkspace0").await? == Some("workspace_mismatch"));
        let refused = app.find("[data-testid=rotation-new-refused]", 20).await.context("step 3 says why")?;
        ensure!(refused.text().await?.contains(&format!("Paste {ws} into the Workspace ID field")));
        // Past the 5-second quiet period (the old key is silent), still at step 3.
        tokio::time::sleep(Duration::from_secs(8)).await;
        ensure!(count(&app, &wizard_at("3")).await? == 1, "a refused new key does not pass step 3");
        app.screenshot("rotation-3-refused").await?;
        // Cancelled: the replacement goes, the old key and its entry come back, "Zapier 2" is untouched.
        app.click("[data-testid=rotation-cancel]").await?;
        app.click("[data-testid=rotation-cancel-confirm]").await?;
        app.find(&card("Zapier"), 30).await?;
        ensure!(call(&api, &new, &ws).await? == Some("key_revoked"), "the replacement is revoked");
        ensure!(call(&api, &first, &ws).await?.is_none(), "the old key works as before");
        ensure!(call(&api, &second, &ws).await?.is_none(), "the other key was never touched");
        ensure!(keychain_secret(&format!("{ws}/Zapier"))? == first, "the old secret is back at its entry");
        ensure!(keychain_secret(&format!("{ws}/Zapier 2"))? == second, "the other key's entry is untouched");
        ensure!(keychain_secret(&format!("{ws}/Zapier (previous)"))?.is_empty());
        app.close().await
    })
    .await
}

#[tokio::test]
async fn a_second_launch_brings_the_first_window_forward_and_exits() -> Result<()> {
    if !real_desktop() {
        return Ok(());
    }
    let _one = ONE_AT_A_TIME.lock().await;
    keydeck_e2e::bounded(300, async {
        let app = App::launch(4494, Some(FAST)).await?;
        app.click("[data-testid=open-demo]").await?;
        app.find(&card(INTEGRATION), 90).await?;
        let running = keydeck_e2e::processes_of(&app_binary())?;
        ensure!(running.len() == 1, "one app: {running:?}");
        // Something else takes the focus.
        let mut other =
            std::process::Command::new("xmessage").args(["-name", "keydeck-e2e-other", "elsewhere"]).spawn()?;
        let other_window = keydeck_e2e::window_named("keydeck-e2e-other", 10).await?;
        keydeck_e2e::output("xdotool", &["windowfocus", "--sync", &other_window])?;
        ensure!(keydeck_e2e::focused_window_name()? != "Keydeck", "the other window has the focus");
        // Keydeck is started again, on the same data directory: it hands over and exits.
        let second = tokio::process::Command::new(app_binary())
            .env("XDG_DATA_HOME", app.data_home())
            .stdout(std::process::Stdio::null())
            .status();
        let status =
            tokio::time::timeout(Duration::from_secs(30), second).await.context("the second launch exits")??;
        ensure!(status.success(), "the second launch exits cleanly: {status}");
        app.until(10, "the first window has the focus", || async {
            Ok(keydeck_e2e::focused_window_name()? == "Keydeck")
        })
        .await?;
        ensure!(keydeck_e2e::processes_of(&app_binary())? == running, "still the one app, no second demo server");
        // The first window carries on.
        app.click(&card(INTEGRATION)).await?;
        app.find("[data-testid=rotate-open]", 20).await?;
        let _ = other.kill();
        app.close().await
    })
    .await
}
