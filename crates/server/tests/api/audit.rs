//! The audit log: each action on a key or a membership writes exactly one entry, in the
//! change's transaction, with who made it, from where, and the fields before and after; never a
//! secret; pages stay stable while entries are added.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{World, assert_error, key_body};

/// The workspace's whole log, newest first, read page by page.
async fn log(w: &World, token: &str, limit: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/workspaces/{}/audit?limit={limit}", w.ws);
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let (status, page) = w.ts.send(Method::GET, &path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["nextBefore"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => return entries,
        }
    }
}

fn summary(entry: &Value) -> (String, String, Value) {
    (
        entry["action"].as_str().unwrap().to_owned(),
        entry["actor"]["kind"].as_str().unwrap().to_owned(),
        entry["changes"].clone(),
    )
}

#[tokio::test]
async fn every_change_writes_one_entry_with_its_actor_and_fields() {
    let w = World::new().await;
    let start = log(&w, &w.owner, 50).await;
    // The owner, who came with the workspace, and the two members the world added, all with
    // the admin command line.
    assert_eq!(start.len(), 3, "{start:?}");
    assert!(
        start.iter().all(|e| e["action"] == "member_added" && e["actor"]["kind"] == "admin_cli" && e["ip"].is_null())
    );
    assert_eq!(start[0]["changes"]["role"], json!({"from": null, "to": "member"}));
    assert_eq!(start[2]["changes"]["role"], json!({"from": null, "to": "owner"}));

    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    let key_path = format!("{}/{id}", w.keys_path());
    let patch = |body: Value| w.ts.send(Method::PATCH, &key_path, Some(&w.admin), Some(body));
    assert_eq!(patch(json!({"name": "Zapier sync", "scopes": ["projects:read"]})).await.0, StatusCode::OK);
    assert_eq!(patch(json!({"name": "Zapier sync"})).await.0, StatusCode::OK, "no change: no entry");
    assert_eq!(patch(json!({"enabled": false})).await.0, StatusCode::OK);
    assert_eq!(patch(json!({"enabled": true})).await.0, StatusCode::OK);
    let limit = json!({"enabled": true, "maxRequests": 500, "windowSeconds": 60});
    assert_eq!(patch(json!({"rateLimit": limit})).await.0, StatusCode::OK);
    assert_eq!(w.ts.send(Method::DELETE, &key_path, Some(&w.admin), None).await.0, StatusCode::NO_CONTENT);
    let promoted =
        w.ts.admin_cli(&["add-member", "--workspace", &w.ws, "--email", "member@example.com", "--role", "admin"]).await;
    assert!(promoted.status.success());
    let member_id = log(&w, &w.owner, 50).await[0]["userId"].as_str().unwrap().to_owned();
    let removed =
        w.ts.send(Method::DELETE, &format!("/api/v1/workspaces/{}/members/{member_id}", w.ws), Some(&w.owner), None)
            .await;
    assert_eq!(removed.0, StatusCode::NO_CONTENT, "{}", removed.1);

    let entries = log(&w, &w.owner, 3).await;
    let new: Vec<(String, String, Value)> = entries[..entries.len() - 3].iter().rev().map(summary).collect();
    let user = "user".to_owned();
    assert_eq!(new[0].0, "created");
    assert_eq!(new[0].2["name"], json!({"from": null, "to": "Zapier"}));
    assert_eq!(new[0].2["scopes"]["to"], json!(["time_entries:read", "projects:read"]));
    assert_eq!(
        &new[1..],
        &[
            ("renamed".to_owned(), user.clone(), json!({"name": {"from": "Zapier", "to": "Zapier sync"}})),
            (
                "scopes_changed".to_owned(),
                user.clone(),
                json!({"scopes": {"from": ["time_entries:read", "projects:read"], "to": ["projects:read"]}})
            ),
            ("disabled".to_owned(), user.clone(), json!({"enabled": {"from": true, "to": false}})),
            ("enabled".to_owned(), user.clone(), json!({"enabled": {"from": false, "to": true}})),
            (
                "rate_limit_changed".to_owned(),
                user.clone(),
                json!({"rateLimit": {"from": {"enabled": true, "maxRequests": 100, "windowSeconds": 60}, "to": limit}})
            ),
            ("revoked".to_owned(), user.clone(), new[6].2.clone()),
            ("role_changed".to_owned(), "admin_cli".to_owned(), json!({"role": {"from": "member", "to": "admin"}})),
            ("member_removed".to_owned(), user.clone(), json!({"role": {"from": "admin", "to": null}})),
        ][..]
    );
    assert!(new[6].2["revokedAt"]["to"].is_string());
    let key_entries: Vec<&Value> = entries.iter().filter(|e| e["keyId"] == json!(id)).collect();
    assert_eq!(key_entries.len(), 7, "every key action names the key");
    let by_admin = &key_entries[0]["actor"];
    assert_eq!((by_admin["id"].as_str(), by_admin["name"].as_str()), (Some(w.admin_id.as_str()), Some("Adam Admin")));
    assert_eq!(key_entries[0]["ip"], "127.0.0.1", "the address the change came from");
    assert_eq!(entries[0]["actor"]["name"], "Olive Owner");

    // Never a secret or its hash, in the answer or in the table.
    let text = serde_json::to_string(&entries).unwrap();
    let hash: String = keydeck_core::key::sha256_of(&secret).iter().map(|b| format!("{b:02x}")).collect();
    for needle in [secret.as_str(), &secret[4..], hash.as_str()] {
        assert!(!text.contains(needle));
    }
    let printed = w.ts.admin_cli(&["audit", "--workspace", &w.ws]).await;
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert_eq!(printed.lines().count(), entries.len());
    assert!(
        printed.lines().any(|l| l.contains("Adam Admin") && l.contains("renamed") && l.contains("\"Zapier sync\""))
    );
    assert!(!printed.contains(&secret));
}

#[tokio::test]
async fn pages_stay_the_same_while_entries_are_added() {
    let w = World::new().await;
    let (id, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Paged")).await;
    let key_path = format!("{}/{id}", w.keys_path());
    let rename = |name: &str| w.ts.send(Method::PATCH, &key_path, Some(&w.owner), Some(json!({"name": name})));
    for i in 0..5 {
        assert_eq!(rename(&format!("Paged {i}")).await.0, StatusCode::OK);
    }
    let whole = log(&w, &w.owner, 200).await;
    assert_eq!(whole.len(), 9);
    let path = |query: &str| format!("/api/v1/workspaces/{}/audit?{query}", w.ws);
    let (_, first) = w.ts.send(Method::GET, &path("limit=3"), Some(&w.owner), None).await;
    // New entries arrive between pages.
    assert_eq!(rename("Paged again").await.0, StatusCode::OK);
    let mut seen: Vec<Value> = first["entries"].as_array().unwrap().clone();
    let mut next = first["nextBefore"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(before) = next {
        pages += 1;
        let (status, page) =
            w.ts.send(Method::GET, &path(&format!("limit=3&before={before}")), Some(&w.owner), None).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(page["entries"].as_array().unwrap().iter().cloned());
        next = page["nextBefore"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, whole, "the pages, put together, are the log as it was when paging began");
    assert_eq!(pages, 3, "9 entries in pages of 3: no empty page after a full one");
    let (status, body) = w.ts.send(Method::GET, &path("before=abc"), Some(&w.owner), None).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "before");
    let (status, body) = w.ts.send(Method::GET, &path(""), Some(&w.member), None).await;
    assert_error(status, &body, 403, "forbidden");
}

#[tokio::test]
async fn expiry_and_a_removed_creator_are_recorded_by_the_server_once() {
    let w = World::new().await;
    let (expiring, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Weekly")).await;
    let mut body = key_body("Admin's");
    body["expiresInDays"] = json!(null);
    let (admins, _) = w.ts.new_key(&w.admin, &w.ws, body).await;
    // The admin leaves: their key stops working, and the log says why.
    let out = w.ts.admin_cli(&["remove-member", "--workspace", &w.ws, "--email", "admin@example.com"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let entries = log(&w, &w.owner, 50).await;
    assert_eq!(entries[0]["action"], "creator_removed");
    assert_eq!(
        (entries[0]["keyId"].as_str(), entries[0]["userId"].as_str()),
        (Some(admins.as_str()), Some(w.admin_id.as_str()))
    );
    assert_eq!(entries[0]["changes"]["creatorRole"], json!({"from": "admin", "to": null}));
    assert_eq!(entries[1]["action"], "member_removed");
    // Back as an admin: the key works again, and the log says so.
    let out =
        w.ts.admin_cli(&["add-member", "--workspace", &w.ws, "--email", "admin@example.com", "--role", "admin"]).await;
    assert!(out.status.success());
    let entries = log(&w, &w.owner, 50).await;
    assert_eq!(
        (entries[0]["action"].as_str(), entries[0]["keyId"].as_str()),
        (Some("creator_restored"), Some(admins.as_str()))
    );
    assert_eq!(entries[1]["action"], "member_added");
    // 91 days on, the 90-day key has expired: the server records it, dated when it expired,
    // once however many times it looks.
    w.ts.clock.advance(std::time::Duration::from_secs(91 * 86_400));
    let store = &w.ts.server.state.store;
    let now = w.ts.clock.now_ms();
    let recorded = store.record_expiries(now).await.unwrap() + store.record_expiries(now).await.unwrap();
    assert!(recorded <= 1, "recorded {recorded} times");
    crate::support::eventually(std::time::Duration::from_secs(3), || async {
        store
            .audit_log(&w.ws, None, 50, &Default::default())
            .await
            .unwrap()
            .0
            .iter()
            .any(|e| e.key_id.as_deref() == Some(&expiring))
    })
    .await;
    let owner = w.ts.sign_in("owner@example.com").await;
    let entries = log(&w, &owner, 50).await;
    let expired: Vec<&Value> = entries.iter().filter(|e| e["action"] == "expired").collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(
        (expired[0]["keyId"].as_str(), expired[0]["actor"]["kind"].as_str()),
        (Some(expiring.as_str()), Some("server"))
    );
    let created = entries.iter().find(|e| e["action"] == "created" && e["keyId"] == json!(expiring)).unwrap();
    assert_eq!(expired[0]["keyName"], created["keyName"], "an expiry names the key, as every key entry does");
    assert_eq!(expired[0]["at"], created["changes"]["expiresAt"]["to"], "dated when it expired");
}

/// Behind a proxy the operator names the forwarded header to trust, and the address the proxy
/// saw (the header's last entry) is the one recorded. Without the setting the header is
/// ignored: any client can write it.
#[tokio::test]
async fn a_trusted_forwarded_header_gives_the_address_recorded() {
    for trusted in [true, false] {
        let ts = crate::support::TestServer::start_configured(|config| {
            config.client_ip_header = trusted.then(|| axum::http::HeaderName::from_static("x-forwarded-for"));
        })
        .await;
        let w = World::on(ts).await;
        let created =
            w.ts.http
                .post(format!("{}{}", w.ts.url, w.keys_path()))
                .bearer_auth(&w.owner)
                .header("X-Forwarded-For", "198.51.100.7, 203.0.113.9")
                .json(&key_body("Zapier"))
                .send()
                .await
                .unwrap();
        let (status, created) = crate::support::json_of(created).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let entries = log(&w, &w.owner, 50).await;
        let expected = if trusted { "203.0.113.9" } else { "127.0.0.1" };
        assert_eq!(entries[0]["action"], "created");
        assert_eq!(entries[0]["ip"], expected, "trusted: {trusted}");

        let (id, secret) = (created["key"]["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
        let called =
            w.ts.http
                .get(format!("{}/api/v1/me", w.ts.url))
                .bearer_auth(secret)
                .header("X-Workspace-Id", &w.ws)
                .header("X-Forwarded-For", "2001:db8::5")
                .send()
                .await
                .unwrap();
        assert_eq!(called.status(), StatusCode::OK);
        let expected = if trusted { "2001:db8::5" } else { "127.0.0.1" };
        let path = format!("{}/{id}/requests", w.keys_path());
        crate::support::eventually(std::time::Duration::from_secs(3), || async {
            let (_, list) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
            list["requests"][0]["ip"] == expected
        })
        .await;
    }
}

/// Every entry of `query` (`key=…&actor=…&action=…`), read in pages of `limit`.
async fn filtered(w: &World, query: &str, limit: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/api/v1/workspaces/{}/audit?limit={limit}&{query}{before}", w.ws);
        let (status, page) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["nextBefore"].as_str() {
            Some(next) => before = format!("&before={next}"),
            None => return entries,
        }
    }
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_log_narrows_to_keys_a_person_and_actions_and_names_what_entries_are_about() {
    let w = World::new().await;
    let (old, _) = w.ts.new_key(&w.admin, &w.ws, key_body("Payroll")).await;
    let (other, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Reports")).await;
    let old_path = format!("{}/{old}", w.keys_path());
    let renamed = w.ts.send(Method::PATCH, &old_path, Some(&w.admin), Some(json!({"name": "Payroll sync"}))).await;
    assert_eq!(renamed.0, StatusCode::OK);
    let other_path = format!("{}/{other}", w.keys_path());
    let disabled = w.ts.send(Method::PATCH, &other_path, Some(&w.owner), Some(json!({"enabled": false}))).await;
    assert_eq!(disabled.0, StatusCode::OK);
    // A rotation: the replacement, then the old key revoked.
    let replacement = json!({"replaces": old, "scopes": ["time_entries:read"], "expiresInDays": 90});
    let (new, _) = w.ts.new_key(&w.admin, &w.ws, replacement).await;
    assert_eq!(w.ts.send(Method::DELETE, &old_path, Some(&w.admin), None).await.0, StatusCode::NO_CONTENT);

    // One key, read a page of one entry at a time: exactly its entries, newest first, each
    // with the key's name as it was then, kept after the key was revoked.
    let by_key = filtered(&w, &format!("key={old}"), 1).await;
    assert_eq!(actions(&by_key), ["revoked", "renamed", "created"]);
    let names: Vec<&str> = by_key.iter().map(|e| e["keyName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Payroll sync", "Payroll sync", "Payroll"]);
    // A key's page asks for the key and its replacement: the rotation's whole story.
    let story = filtered(&w, &format!("key={old},{new}"), 50).await;
    assert_eq!(actions(&story), ["revoked", "created", "renamed", "created"]);
    assert_eq!(story[1]["keyId"], json!(new));
    assert_eq!(story[1]["changes"]["replaces"]["to"], json!(old));

    // One person; the admin command line; some actions; and all three narrowings at once.
    let by_admin = filtered(&w, &format!("actor={}", w.admin_id), 2).await;
    assert_eq!(actions(&by_admin), ["revoked", "created", "renamed", "created"]);
    assert!(by_admin.iter().all(|e| e["actor"]["id"] == json!(w.admin_id)));
    let by_cli = filtered(&w, "actor=admin_cli", 50).await;
    assert_eq!(actions(&by_cli), ["member_added"; 3]);
    assert!(by_cli.iter().all(|e| e["userName"].is_string()), "{by_cli:?}");
    let revocations = filtered(&w, "action=revoked,disabled", 50).await;
    assert_eq!(actions(&revocations), ["revoked", "disabled"]);
    let narrow = filtered(&w, &format!("key={old},{other}&actor={}&action=created,disabled", w.admin_id), 50).await;
    assert_eq!(actions(&narrow), ["created"]);
    assert_eq!(narrow[0]["keyId"], json!(old));
    assert!(filtered(&w, "actor=usr_nobody", 50).await.is_empty());

    // What is wrong, named.
    let path = |query: &str| format!("/api/v1/workspaces/{}/audit?{query}", w.ws);
    let (status, body) = w.ts.send(Method::GET, &path("action=created,deleted"), Some(&w.owner), None).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "action");
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("`deleted`"), "{body}");
    let many = vec!["key_x"; 21].join(",");
    let (status, body) = w.ts.send(Method::GET, &path(&format!("key={many}")), Some(&w.owner), None).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "key");
}
