//! `keydeck-server admin ...` against a running server's database.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::{PASSWORD, TestServer, eventually, key_body};

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn fails_with(out: &std::process::Output, words: &str) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(words), "expected {words:?} in: {stderr}");
}

#[tokio::test]
async fn admin_commands_set_up_a_workspace_that_a_running_server_serves() {
    let ts = TestServer::start().await;
    ok(&ts.admin_cli(&["create-user", "--email", "ana@example.com", "--password", PASSWORD, "--name", "Ana"]).await);
    ok(&ts.admin_cli(&["create-user", "--email", "ben@example.com", "--password", PASSWORD, "--name", "Ben"]).await);
    let stdout = ok(&ts
        .admin_cli(&["create-workspace", "--name", "Studio", "--plan", "team", "--owner", "ana@example.com"])
        .await);
    let ws = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "only the id on stdout: {stdout}");
    assert!(ws.starts_with("ws_") && ws.len() == 19, "{ws}");
    ok(&ts.admin_cli(&["add-member", "--workspace", ws, "--email", "ben@example.com", "--role", "admin"]).await);

    let ana = ts.sign_in("ana@example.com").await;
    let ben = ts.sign_in("ben@example.com").await;
    let (_, key) = ts.new_key(&ben, ws, key_body("Ben's")).await;
    assert_eq!(ts.me(&key, ws).await.0, StatusCode::OK);
    let (_, list) = ts.send(Method::GET, "/api/v1/workspaces", Some(&ana), None).await;
    assert_eq!(list["workspaces"][0]["plan"], "team");

    ok(&ts.admin_cli(&["set-plan", "--workspace", ws, "--plan", "business"]).await);
    eventually(Duration::from_secs(2), || async {
        ts.send(Method::GET, "/api/v1/workspaces", Some(&ana), None).await.1["workspaces"][0]["plan"] == "business"
    })
    .await;
    ok(&ts.admin_cli(&["remove-member", "--workspace", ws, "--email", "ben@example.com"]).await);
    let waited =
        eventually(Duration::from_secs(2), || async { ts.me(&key, ws).await.1["error"] == "key_owner_removed" }).await;
    assert!(waited < Duration::from_secs(2));
}

#[test]
fn bad_admin_input_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_keydeck-server"))
            .arg("admin")
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    fails_with(
        &run(&["create-user", "--email", "not-an-email", "--password", PASSWORD, "--name", "X"]),
        "not an email address",
    );
    fails_with(
        &run(&["create-user", "--email", "a@example.com", "--password", "short", "--name", "X"]),
        "at least 8 characters",
    );
    ok(&run(&["create-user", "--email", "a@example.com", "--password", PASSWORD, "--name", "A"]));
    fails_with(
        &run(&["create-user", "--email", "A@example.com", "--password", PASSWORD, "--name", "A"]),
        "already exists",
    );
    fails_with(
        &run(&["create-workspace", "--name", "W", "--plan", "gold", "--owner", "a@example.com"]),
        "free, solo_pro, team or business",
    );
    fails_with(
        &run(&["create-workspace", "--name", "W", "--plan", "team", "--owner", "b@example.com"]),
        "No user has the email",
    );
    fails_with(&run(&["set-billing", "--workspace", "ws_nope", "--status", "read_only"]), "No workspace has the id");
    fails_with(&run(&["set-billing", "--workspace", "ws_nope", "--status", "late"]), "active or read_only");
    fails_with(
        &run(&["add-member", "--workspace", "ws_nope", "--email", "a@example.com", "--role", "boss"]),
        "owner, admin or member",
    );
}
