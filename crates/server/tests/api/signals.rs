//! Signals that must be true under hostile and concurrent conditions: a refused request is use
//! but not success, a rotation's replacement is linked and unique, one live key per name, a
//! change reaches every server process on the database, and sign-in cannot be raced, flooded
//! or reset by a restart.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, ServerProcess, TestServer, World, assert_error, eventually, key_body};

async fn card(w: &World, id: &str) -> Value {
    let (status, card) = w.ts.send(Method::GET, &format!("{}/{id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    card
}

/// Waits (at most the 2 seconds the API promises) until the card satisfies `check`.
async fn card_shows(w: &World, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let now = card(w, id).await;
        if check(&now) {
            return now;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "not shown within 2 s: {now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_refused_request_is_use_but_only_a_2xx_answer_is_success() {
    let w = World::new().await;
    let (id, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    let fresh = card(&w, &id).await;
    assert_eq!((fresh["lastUsedAt"].is_null(), fresh["lastSuccessAt"].is_null()), (true, true));
    assert!(fresh["lastRefusal"].is_null());

    // Zapier set up with another workspace's ID: refused, and the card says so.
    let (status, body) = w.ts.me(&key, "ws_SomeoneElses0000").await;
    assert_error(status, &body, 403, "workspace_mismatch");
    let refused = card_shows(&w, &id, |c| !c["lastUsedAt"].is_null()).await;
    assert!(refused["lastSuccessAt"].is_null(), "a refusal is not a success: {refused}");
    assert_eq!(refused["lastRefusal"]["error"], "workspace_mismatch");
    assert_eq!(refused["lastRefusal"]["status"], 403);
    assert_eq!(refused["lastRefusal"]["at"], refused["lastUsedAt"]);

    // Fixed: the next request succeeds; the refusal stays on record, older than the success.
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    let working = card_shows(&w, &id, |c| !c["lastSuccessAt"].is_null()).await;
    assert_eq!(working["lastSuccessAt"], working["lastUsedAt"]);
    assert_eq!(working["lastRefusal"]["error"], "workspace_mismatch");

    // A refusal by a handler (a scope the key lacks) is recorded with its own code.
    let response = w.ts.with_key(Method::POST, "/projects", &key, &w.ws, Some(json!({"name": "Not allowed"}))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let scoped = card_shows(&w, &id, |c| c["lastRefusal"]["error"] == "insufficient_scope").await;
    assert_eq!(scoped["lastRefusal"]["status"], 403);
    assert_eq!(scoped["lastSuccessAt"], working["lastSuccessAt"], "the last success did not move");
    assert_eq!(scoped["requestCount"], 3);
}

#[tokio::test]
async fn a_replacement_is_linked_to_the_key_it_replaces_and_there_is_only_one() {
    let w = World::new().await;
    let (old, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Payroll")).await;
    // The name may be left out: a replacement takes the old key's.
    let replacement = json!({"replaces": old, "scopes": ["time_entries:read"], "expiresInDays": 30});
    let (new, _) = w.ts.new_key(&w.owner, &w.ws, replacement.clone()).await;
    let new_card = card(&w, &new).await;
    assert_eq!((new_card["name"].as_str(), new_card["replaces"].as_str()), (Some("Payroll"), Some(old.as_str())));
    assert_eq!(card(&w, &old).await["replacedBy"], new.as_str());
    // A second replacement of the same key is refused, naming the first.
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(replacement.clone())).await;
    assert_error(status, &body, 409, "name_taken");
    assert!(body["message"].as_str().unwrap().contains(&new), "{body}");
    // The replacement cannot itself be replaced while the key it replaces lives.
    let chained = json!({"replaces": new, "scopes": ["time_entries:read"], "expiresInDays": 30});
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(chained)).await;
    assert_error(status, &body, 409, "name_taken");
    // A replacement under another name, or of a key that is not live, is refused.
    let renamed = json!({"replaces": old, "name": "Payroll 2", "scopes": ["time_entries:read"], "expiresInDays": 30});
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(renamed)).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "name");
    let nowhere = json!({"replaces": "key_0000000000000000", "scopes": ["time_entries:read"], "expiresInDays": 30});
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(nowhere)).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "replaces");
    // While both are live neither can be renamed: the name is their shared keychain address.
    let (status, body) = w
        .ts
        .send(Method::PATCH, &format!("{}/{old}", w.keys_path()), Some(&w.owner), Some(json!({"name": "Payroll old"})))
        .await;
    assert_error(status, &body, 422, "validation_failed");
    // Cancelled (the replacement revoked): the old key has no replacement, and may get another.
    w.ts.send(Method::DELETE, &format!("{}/{new}", w.keys_path()), Some(&w.owner), None).await;
    assert!(card(&w, &old).await["replacedBy"].is_null());
    let (again, _) = w.ts.new_key(&w.owner, &w.ws, replacement).await;
    // Finished (the old key revoked): the replacement is the one "Payroll", free to rename.
    w.ts.send(Method::DELETE, &format!("{}/{old}", w.keys_path()), Some(&w.owner), None).await;
    let (status, body) = w
        .ts
        .send(Method::PATCH, &format!("{}/{again}", w.keys_path()), Some(&w.owner), Some(json!({"name": "Payroll v2"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["replaces"], old.as_str());
}

#[tokio::test]
async fn a_workspace_has_one_live_key_per_name_even_under_a_burst() {
    let w = World::new().await;
    let (first, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    // Trimmed and ignoring case, it is the same name.
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(key_body(" zapier "))).await;
    assert_error(status, &body, 409, "name_taken");
    assert!(body["message"].as_str().unwrap().contains("\"Zapier\""), "{body}");
    // Ten creations of one new name at once: exactly one is made.
    let keys = w.keys_path();
    let burst = futures::future::join_all(
        (0..10).map(|_| w.ts.send(Method::POST, &keys, Some(&w.owner), Some(key_body("Finance sync")))),
    )
    .await;
    let made: Vec<&Value> = burst.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(made.len(), 1, "{burst:?}");
    w.ts.watch(made[0]["secret"].as_str().unwrap());
    assert!(burst.iter().all(|(s, b)| *s == StatusCode::CREATED || b["error"] == "name_taken"), "{burst:?}");
    // Renaming onto a taken name is refused too; the rotation's name form is never a name.
    let (second, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Reports")).await;
    let rename = |name: &str| json!({ "name": name });
    let path = format!("{}/{second}", w.keys_path());
    let (status, body) = w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(rename("ZAPIER"))).await;
    assert_error(status, &body, 409, "name_taken");
    for name in ["Zapier (previous)", "Reports (previous)"] {
        let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(key_body(name))).await;
        assert_error(status, &body, 422, "validation_failed");
        assert!(body["fields"][0]["message"].as_str().unwrap().contains("(previous)"), "{body}");
    }
    // Once revoked, a name is free again.
    w.ts.send(Method::DELETE, &format!("{}/{first}", w.keys_path()), Some(&w.owner), None).await;
    let (status, body) = w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(rename("Zapier"))).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("Zapier")), "{body}");
}

#[tokio::test]
async fn a_change_through_one_server_process_is_refused_by_the_next_request_to_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::support::fresh_database(dir.path()).await;
    let admin = |args: &[&str]| crate::support::admin(&db, args);
    admin(&["create-user", "--email", "ana@example.com", "--password", PASSWORD, "--name", "Ana"]);
    let ws = admin(&["create-workspace", "--name", "Studio", "--plan", "team", "--owner", "ana@example.com"]);
    let a = ServerProcess::spawn(&db).await;
    let b = ServerProcess::spawn(&db).await;
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/api/v1/sessions", a.url))
        .json(&json!({"email": "ana@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap();
    let keys = format!("{}/api/v1/workspaces/{ws}/keys", a.url);
    let created: Value =
        http.post(&keys).bearer_auth(token).json(&key_body("Shared")).send().await.unwrap().json().await.unwrap();
    let (id, key) = (created["key"]["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    // B has the key in its cache.
    assert_eq!(b.me(&http, key, &ws).await.0, StatusCode::OK);

    let change = |body: Value| http.patch(format!("{keys}/{id}")).bearer_auth(token).json(&body).send();
    // Disabled through A: the very next request to B is refused.
    assert_eq!(change(json!({"enabled": false})).await.unwrap().status(), StatusCode::OK);
    let (status, body) = b.me(&http, key, &ws).await;
    assert_error(status, &body, 401, "key_disabled");
    assert_eq!(change(json!({"enabled": true})).await.unwrap().status(), StatusCode::OK);
    assert_eq!(b.me(&http, key, &ws).await.0, StatusCode::OK);
    // Edited through A (a scope taken away): B refuses what the key may no longer do.
    assert_eq!(change(json!({"scopes": ["projects:read"]})).await.unwrap().status(), StatusCode::OK);
    let entries = http
        .get(format!("{}/api/v1/time-entries", b.url))
        .bearer_auth(key)
        .header("X-Workspace-Id", &ws)
        .send()
        .await
        .unwrap();
    assert_eq!(entries.status(), StatusCode::FORBIDDEN);
    // Revoked through A: the very next request to B is refused.
    let revoked = http.delete(format!("{keys}/{id}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let (status, body) = b.me(&http, key, &ws).await;
    assert_error(status, &body, 401, "key_revoked");
    // And the same for a change made by the admin command while both serve.
    let (_, second) = {
        let made: Value =
            http.post(&keys).bearer_auth(token).json(&key_body("Second")).send().await.unwrap().json().await.unwrap();
        (made["key"]["id"].as_str().unwrap().to_owned(), made["secret"].as_str().unwrap().to_owned())
    };
    assert_eq!(b.me(&http, &second, &ws).await.0, StatusCode::OK);
    admin(&["set-plan", "--workspace", &ws, "--plan", "free"]);
    assert_error(b.me(&http, &second, &ws).await.0, &b.me(&http, &second, &ws).await.1, 403, "plan_required");
    assert_eq!(a.me(&http, &second, &ws).await.1["error"], "plan_required");
}

#[tokio::test]
async fn two_hundred_wrong_passwords_at_once_get_at_most_five_answers_and_the_lockout_outlives_a_restart() {
    let mut ts = TestServer::start().await;
    ts.user("ana@example.com", "Ana").await;
    ts.watch("wrong password");
    let attempts = futures::future::join_all((0..200).map(|_| {
        ts.send(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"email": "Ana@example.com ", "password": "wrong password"})),
        )
    }))
    .await;
    let answered = attempts.iter().filter(|(_, b)| b["error"] == "invalid_credentials").count();
    let paused = attempts.iter().filter(|(_, b)| b["error"] == "too_many_attempts").count();
    assert!(answered <= 5, "{answered} guesses were answered");
    assert_eq!(answered + paused, 200);
    // The lockout is in the database: a restart does not lift it, even for the right password.
    ts.restart().await;
    let (status, body) = ts
        .send(Method::POST, "/api/v1/sessions", None, Some(json!({"email": "ana@example.com", "password": PASSWORD})))
        .await;
    assert_error(status, &body, 429, "too_many_attempts");
    // An address longer than any email is refused before anything is counted.
    let long = format!("{}@example.com", "a".repeat(250));
    let (status, body) =
        ts.send(Method::POST, "/api/v1/sessions", None, Some(json!({"email": long, "password": "x"}))).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"][0]["field"], "email");
    // Fifteen minutes on, sign-in is open again and old attempts are pruned.
    ts.clock.advance(Duration::from_secs(16 * 60));
    ts.sign_in("ana@example.com").await;
    let reader = ts.server.state.store.reader().clone();
    eventually(Duration::from_secs(5), || async {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_attempts").fetch_one(&reader).await.unwrap();
        left == 0
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_sign_ins_waits_for_the_password_checks_instead_of_exhausting_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(&crate::support::fresh_database(dir.path()).await).await;
    let http = reqwest::Client::new();
    let before = server.peak_memory_kib();
    // Every email its own, so the lockout stops none of them: 200 argon2id checks of 19 MiB.
    let answers = futures::future::join_all((0..200).map(|i| {
        http.post(format!("{}/api/v1/sessions", server.url))
            .json(&json!({"email": format!("guess{i}@example.com"), "password": "wrong password"}))
            .send()
    }))
    .await;
    // Those beyond what may wait (32 per check at a time) are told to come back in a moment;
    // every other one is checked and answered.
    let statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().status().as_u16()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let turned_away = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + turned_away, 200, "{statuses:?}");
    assert!(checked >= 64, "{checked} checked");
    for answer in answers.into_iter().map(Result::unwrap).filter(|a| a.status() == 429) {
        assert_eq!(answer.headers()["retry-after"], "1");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "too_many_attempts");
    }
    let peak = server.peak_memory_kib();
    // Unbounded, the checks would hold about 200 × 19 MiB = 3.8 GiB at once.
    let processors = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let allowed = before + (processors + 2) * 19 * 1024 + 64 * 1024;
    assert!(peak < allowed, "peak {peak} KiB, from {before} KiB; allowed {allowed} KiB");
}
