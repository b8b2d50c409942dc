//! Key management: cards, validation, roles and plans, limits, idempotency, usage.

use std::time::Duration;

use keydeck_core::ParsedKey;
use keydeck_core::wire::{BillingStatus, Plan};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, World, assert_error, eventually, key_body};

#[tokio::test]
async fn a_new_key_is_shown_once_and_its_card_describes_it() {
    let w = World::new().await;
    let (status, created) =
        w.ts.send(
            Method::POST,
            &w.keys_path(),
            Some(&w.admin),
            Some(json!({
                "name": "  Zapier  ", "scopes": ["time_entries:read", "time_entries:write"], "expiresInDays": 30,
                "rateLimit": {"enabled": true, "maxRequests": 50, "windowSeconds": 10}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    w.ts.watch(secret);
    assert!(ParsedKey::parse(secret).is_ok());
    let card = &created["key"];
    assert_eq!(card["name"], "Zapier");
    assert_eq!(card["prefix"], &secret[..8]);
    assert_eq!(card["hint"], &secret[38..]);
    assert_eq!(card["scopes"], json!(["time_entries:read", "time_entries:write"]));
    assert_eq!(card["createdBy"]["name"], "Adam Admin");
    assert_eq!(card["createdBy"]["canManageKeys"], true);
    assert_eq!(card["lastUsedAt"], Value::Null);
    assert_eq!(card["requestCount"], 0);
    assert_eq!(card["status"], "active");
    assert_eq!(card["enabled"], true);
    assert_eq!(card["rateLimit"], json!({"enabled": true, "maxRequests": 50, "windowSeconds": 10}));
    let expires: chrono::DateTime<chrono::Utc> = card["expiresAt"].as_str().unwrap().parse().unwrap();
    let created_at: chrono::DateTime<chrono::Utc> = card["createdAt"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created_at).num_days(), 30);

    // The list and the single read show the same card, and never the secret.
    let (status, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["limit"], 10);
    assert_eq!(list["keys"], json!([card]));
    assert!(!list.to_string().contains(secret));
    let id = card["id"].as_str().unwrap();
    let (_, one) = w.ts.send(Method::GET, &format!("{}/{id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(&one, card);
}

#[tokio::test]
async fn a_key_without_expiry_and_rate_limit_gets_never_and_the_default() {
    let w = World::new().await;
    let (status, created) =
        w.ts.send(
            Method::POST,
            &w.keys_path(),
            Some(&w.owner),
            Some(json!({"name": "Dashboard", "scopes": ["reports:read"], "expiresInDays": null})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    w.ts.watch(created["secret"].as_str().unwrap());
    assert_eq!(created["key"]["expiresAt"], Value::Null);
    assert_eq!(created["key"]["rateLimit"], json!({"enabled": true, "maxRequests": 100, "windowSeconds": 60}));
}

#[tokio::test]
async fn every_invalid_field_is_named_at_once() {
    let w = World::new().await;
    let (status, body) =
        w.ts.send(
            Method::POST,
            &w.keys_path(),
            Some(&w.owner),
            Some(json!({
                "name": "ab", "scopes": ["time_entries:read", "everything"], "expiresInDays": 60,
                "rateLimit": {"enabled": true, "maxRequests": 20000, "windowSeconds": 0}
            })),
        )
        .await;
    assert_error(status, &body, 422, "validation_failed");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "scopes", "expiresInDays", "rateLimit.maxRequests", "rateLimit.windowSeconds"]);
    for f in body["fields"].as_array().unwrap() {
        assert!(f["message"].as_str().unwrap().len() > 10);
    }
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(json!({}))).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"].as_array().unwrap().len(), 3, "{body}");
    let (status, body) =
        w.ts.send(
            Method::POST,
            &w.keys_path(),
            Some(&w.owner),
            Some(json!({"name": "x".repeat(101), "scopes": [], "expiresInDays": 90})),
        )
        .await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"].as_array().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn edits_change_name_scopes_rate_limit_and_enabled_but_never_expiry() {
    let w = World::new().await;
    let (id, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Finance")).await;
    let path = format!("{}/{id}", w.keys_path());
    let (status, card) = w
        .ts
        .send(Method::PATCH, &path, Some(&w.admin), Some(json!({
            "name": "Finance sync", "scopes": ["reports:read"], "rateLimit": {"enabled": false, "maxRequests": 10, "windowSeconds": 1}, "enabled": false
        })))
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["name"], "Finance sync");
    assert_eq!(card["scopes"], json!(["reports:read"]));
    assert_eq!(card["rateLimit"]["enabled"], false);
    assert_eq!(card["status"], "disabled");
    let (status, body) = w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(json!({"expiresInDays": 365}))).await;
    assert_error(status, &body, 422, "expiration_immutable");
    let (status, body) =
        w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(json!({"name": "no", "enabled": "yes"}))).await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["fields"].as_array().unwrap().len(), 2);
    let (status, body) = w
        .ts
        .send(Method::PATCH, &format!("{}/key_nope", w.keys_path()), Some(&w.owner), Some(json!({"name": "Fine name"})))
        .await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn revoked_keys_leave_the_list_for_good() {
    let w = World::new().await;
    let (id, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Temp")).await;
    let path = format!("{}/{id}", w.keys_path());
    let (status, _) = w.ts.send(Method::DELETE, &path, Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = w.ts.send(Method::DELETE, &path, Some(&w.owner), None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(json!({"enabled": true}))).await;
    assert_error(status, &body, 404, "not_found");
    let (_, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
    assert_eq!(list["keys"], json!([]));
}

#[tokio::test]
async fn members_cannot_manage_keys_and_strangers_cannot_see_the_workspace() {
    let w = World::new().await;
    let (id, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    let key_path = format!("{}/{id}", w.keys_path());
    let calls = [
        (Method::GET, w.keys_path(), None),
        (Method::POST, w.keys_path(), Some(key_body("Mine"))),
        (Method::GET, key_path.clone(), None),
        (Method::PATCH, key_path.clone(), Some(json!({"enabled": false}))),
        (Method::DELETE, key_path.clone(), None),
        (Method::GET, format!("{key_path}/requests"), None),
        (Method::GET, format!("{key_path}/usage"), None),
    ];
    for (method, path, body) in calls.iter().cloned() {
        let (status, reply) = w.ts.send(method, &path, Some(&w.member), body).await;
        assert_error(status, &reply, 403, "forbidden");
    }
    w.ts.user("stranger@example.com", "Stranger").await;
    let stranger = w.ts.sign_in("stranger@example.com").await;
    for (method, path, body) in calls {
        let (status, reply) = w.ts.send(method, &path, Some(&stranger), body).await;
        assert_error(status, &reply, 404, "not_found");
    }
}

#[tokio::test]
async fn plans_without_api_access_answer_plan_required() {
    let w = World::new().await;
    for plan in [Plan::Free, Plan::SoloPro] {
        let ws = w.ts.workspace("Small", plan, "owner@example.com").await;
        let (status, body) =
            w.ts.send(Method::GET, &format!("/api/v1/workspaces/{ws}/keys"), Some(&w.owner), None).await;
        assert_error(status, &body, 403, "plan_required");
        let (status, body) =
            w.ts.send(Method::POST, &format!("/api/v1/workspaces/{ws}/keys"), Some(&w.owner), Some(key_body("Zapier")))
                .await;
        assert_error(status, &body, 403, "plan_required");
    }
}

#[tokio::test]
async fn read_only_blocks_new_keys_but_disabling_and_revoking_still_work() {
    let w = World::new().await;
    let (a, _) = w.ts.new_key(&w.owner, &w.ws, key_body("First")).await;
    let (b, _) = w.ts.new_key(&w.owner, &w.ws, key_body("Second")).await;
    w.ts.server.state.store.set_billing(&w.ws, BillingStatus::ReadOnly).await.unwrap();
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(key_body("Third"))).await;
    assert_error(status, &body, 403, "workspace_read_only");
    let (status, card) =
        w.ts.send(Method::PATCH, &format!("{}/{a}", w.keys_path()), Some(&w.owner), Some(json!({"enabled": false})))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(card["status"], "disabled");
    let (status, _) = w.ts.send(Method::DELETE, &format!("{}/{b}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_eleventh_key_is_refused_until_one_is_revoked() {
    let w = World::new().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(w.ts.new_key(&w.owner, &w.ws, key_body(&format!("Key {i}"))).await.0);
    }
    let (status, body) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.owner), Some(key_body("Eleven"))).await;
    assert_error(status, &body, 409, "key_limit_reached");
    w.ts.send(Method::DELETE, &format!("{}/{}", w.keys_path(), ids[0]), Some(&w.owner), None).await;
    w.ts.new_key(&w.owner, &w.ws, key_body("Eleven")).await;
}

#[tokio::test]
async fn twenty_concurrent_creations_never_exceed_the_limit() {
    let w = World::new().await;
    let path = w.keys_path();
    let ts = &w.ts;
    let requests = (0..20).map(|i| {
        let token = if i % 2 == 0 { w.owner.clone() } else { w.admin.clone() };
        let path = path.clone();
        async move { ts.send(Method::POST, &path, Some(&token), Some(key_body(&format!("Racer {i}")))).await }
    });
    let results = futures::future::join_all(requests).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let refused =
        results.iter().filter(|(s, b)| *s == StatusCode::CONFLICT && b["error"] == "key_limit_reached").count();
    for (_, body) in &results {
        if let Some(secret) = body["secret"].as_str() {
            w.ts.watch(secret);
        }
    }
    assert_eq!((created, refused), (10, 10));
    let (_, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
    assert_eq!(list["keys"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn an_idempotent_create_repeated_after_a_lost_response_returns_the_same_secret_and_one_key() {
    let w = World::new().await;
    let idem = "6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b";
    let post = |body: Value, key: &'static str| {
        w.ts.http
            .post(format!("{}{}", w.ts.url, w.keys_path()))
            .bearer_auth(&w.owner)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = crate::support::json_of(post(key_body("Zapier"), idem).await.unwrap()).await;
    assert_eq!(first.0, StatusCode::CREATED);
    w.ts.watch(first.1["secret"].as_str().unwrap());
    // Same key, same body (key order differs): the same response, secret included.
    let again = crate::support::json_of(
        post(json!({"expiresInDays": 90, "scopes": ["time_entries:read", "projects:read"], "name": "Zapier"}), idem)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again, first);
    // Same key, another body: a conflict.
    let other = crate::support::json_of(post(key_body("Something else"), idem).await.unwrap()).await;
    assert_error(other.0, &other.1, 409, "idempotency_conflict");
    let (_, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    // The database holds no secret in the clear.
    let raw = crate::support::database_contents(&w.ts.db);
    let secret = first.1["secret"].as_str().unwrap().as_bytes();
    assert!(raw.windows(4).any(|x| x == b"Zapi"), "the check must see the database's contents");
    assert!(!raw.windows(secret.len()).any(|x| x == secret));
    // Another user with the same Idempotency-Key gets their own key.
    let theirs =
        w.ts.http
            .post(format!("{}{}", w.ts.url, w.keys_path()))
            .bearer_auth(&w.admin)
            .header("Idempotency-Key", idem)
            .json(&key_body("Zapier for Adam"))
            .send()
            .await
            .unwrap();
    let theirs = crate::support::json_of(theirs).await;
    assert_eq!(theirs.0, StatusCode::CREATED);
    w.ts.watch(theirs.1["secret"].as_str().unwrap());
    assert_ne!(theirs.1["secret"], first.1["secret"]);
    // After ten minutes the record is gone: the same request is a new one, and "Zapier" is
    // taken by the key it made the first time.
    w.ts.clock.advance(Duration::from_secs(601));
    let later = crate::support::json_of(post(key_body("Zapier"), idem).await.unwrap()).await;
    assert_error(later.0, &later.1, 409, "name_taken");
    // A weak Idempotency-Key is refused with what to use instead.
    let weak = crate::support::json_of(post(key_body("Zapier"), "1").await.unwrap()).await;
    assert_error(weak.0, &weak.1, 400, "bad_request");
    assert!(weak.1["message"].as_str().unwrap().contains("UUID"));
}

#[tokio::test]
async fn the_request_log_shows_requests_before_they_are_written_newest_first_without_repeats() {
    // Counts are written every 200 ms here, the log only when asked: the API must show the
    // requests the log has not written yet, and once written, each exactly once.
    let ts = TestServer::start_configured(|c| c.log_interval = Duration::from_secs(3600)).await;
    let w = World::on(ts).await;
    let (id, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Dashboard")).await;
    let state = &w.ts.server.state;
    let w = &w;
    let id = id.as_str();
    let log = |limit: u32| async move {
        let path = format!("{}/{id}/requests?limit={limit}", w.keys_path());
        let (status, body) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
        assert_eq!(status, StatusCode::OK);
        body["requests"].as_array().unwrap().iter().map(|r| r["path"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    assert_eq!(w.ts.with_key(Method::GET, "/employees", &key, &w.ws, None).await.status(), StatusCode::FORBIDDEN);
    state.usage.flush(&state.store).await.unwrap();
    assert!(state.usage.unwritten_requests(id).is_empty(), "a full flush writes the log");
    assert_eq!(w.ts.with_key(Method::GET, "/projects", &key, &w.ws, None).await.status(), StatusCode::OK);
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    state.usage.flush_counts(&state.store).await.unwrap();
    assert_eq!(state.usage.unwritten_requests(id).len(), 2, "a counts flush keeps the log in memory");
    let newest_first = ["/api/v1/me", "/api/v1/projects", "/api/v1/employees", "/api/v1/me"];
    assert_eq!(log(50).await, newest_first, "two in memory, then two written");
    assert_eq!(log(3).await, newest_first[..3]);
    assert_eq!(log(1).await, newest_first[..1]);
    let (_, card) = w.ts.send(Method::GET, &format!("{}/{id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(card["requestCount"], 4, "counts are written without the log");
    state.usage.flush(&state.store).await.unwrap();
    assert!(state.usage.unwritten_requests(id).is_empty());
    assert_eq!(log(50).await, newest_first, "all written: the same list, none twice");
}

#[tokio::test]
async fn usage_requests_and_daily_counts_show_within_two_seconds() {
    let w = World::new().await;
    let (id, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Dashboard")).await;
    for _ in 0..3 {
        assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    }
    let forbidden = w.ts.with_key(Method::GET, "/employees", &key, &w.ws, None).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let card_path = format!("{}/{id}", w.keys_path());
    let waited = eventually(Duration::from_secs(2), || async {
        let (_, card) = w.ts.send(Method::GET, &card_path, Some(&w.owner), None).await;
        card["requestCount"] == 4 && card["lastUsedAt"].is_string()
    })
    .await;
    assert!(waited < Duration::from_secs(2));
    let (status, requests) =
        w.ts.send(Method::GET, &format!("{card_path}/requests?limit=2"), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK);
    let requests = requests["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["path"], "/api/v1/employees");
    assert_eq!(requests[0]["status"], 403);
    assert_eq!(requests[0]["method"], "GET");
    assert_eq!(requests[0]["ip"], "127.0.0.1");
    assert_eq!(requests[1]["status"], 200);
    let (status, usage) = w.ts.send(Method::GET, &format!("{card_path}/usage?days=14"), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK);
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["date"], chrono::Utc::now().date_naive().to_string());
    assert_eq!(days[13]["count"], 4);
    assert!(days[..13].iter().all(|d| d["count"] == 0));
}
