//! Signing in and out, the lockout, and the caller's workspaces.

use std::time::Duration;

use keydeck_core::wire::Plan;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestServer, World, assert_error};

#[tokio::test]
async fn sign_in_gives_a_token_that_works_until_sign_out() {
    let w = World::new().await;
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = w.ts.send(Method::DELETE, "/api/v1/sessions/current", Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.owner), None).await;
    assert_error(status, &body, 401, "invalid_session");
    // The other users' sessions are untouched.
    let (status, _) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.admin), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_session_names_its_user_and_expiry() {
    let ts = TestServer::start().await;
    let id = ts.user("Ana@Example.com", "Ana").await;
    let (status, body) = ts
        .send(Method::POST, "/api/v1/sessions", None, Some(json!({"email": "ana@example.com", "password": PASSWORD})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    ts.watch(body["token"].as_str().unwrap());
    assert_eq!(body["user"]["id"], id.as_str());
    assert_eq!(body["user"]["name"], "Ana");
    let expires: chrono::DateTime<chrono::Utc> = body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > chrono::Utc::now() + chrono::Duration::days(29));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_the_same_error() {
    let ts = TestServer::start().await;
    ts.user("ana@example.com", "Ana").await;
    for email in ["ana@example.com", "nobody@example.com"] {
        let (status, body) = ts
            .send(Method::POST, "/api/v1/sessions", None, Some(json!({"email": email, "password": "not it at all"})))
            .await;
        assert_error(status, &body, 401, "invalid_credentials");
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_sign_in_for_that_email_for_fifteen_minutes() {
    let ts = TestServer::start().await;
    ts.user("ana@example.com", "Ana").await;
    ts.user("bo@example.com", "Bo").await;
    for _ in 0..5 {
        let (status, body) = ts
            .send(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"email": "ana@example.com", "password": "wrong password"})),
            )
            .await;
        assert_error(status, &body, 401, "invalid_credentials");
    }
    // Now even the right password is refused, with how long to wait.
    let response = ts
        .http
        .post(format!("{}/api/v1/sessions", ts.url))
        .json(&json!({"email": "ana@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 800);
    let (status, body) = crate::support::json_of(response).await;
    assert_error(status, &body, 429, "too_many_attempts");
    let retry = body["retryAfter"].as_u64().unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    // Another email is not affected.
    ts.sign_in("bo@example.com").await;
    // After fifteen minutes the right password works again.
    ts.clock.advance(Duration::from_secs(15 * 60));
    ts.sign_in("ana@example.com").await;
}

#[tokio::test]
async fn management_needs_a_live_session_not_a_key_or_garbage() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, crate::support::key_body("Zapier")).await;
    for token in [None, Some("garbage"), Some(key.as_str())] {
        let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", token, None).await;
        assert_error(status, &body, 401, "invalid_session");
    }
    let (_, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&key), None).await;
    assert!(body["message"].as_str().unwrap().contains("API key"), "{body}");
    // A session expires after 30 days.
    w.ts.clock.advance(Duration::from_secs(31 * 86_400));
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.owner), None).await;
    assert_error(status, &body, 401, "invalid_session");
}

#[tokio::test]
async fn workspaces_list_role_plan_billing_and_api_address() {
    let w = World::new().await;
    let other = w.ts.workspace("Solo", Plan::SoloPro, "admin@example.com").await;
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let list = body["workspaces"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let acme = list.iter().find(|x| x["id"] == w.ws.as_str()).unwrap();
    assert_eq!(acme["role"], "admin");
    assert_eq!(acme["plan"], "business");
    assert_eq!(acme["billingStatus"], "active");
    assert_eq!(acme["apiBaseUrl"], format!("{}/api/v1", w.ts.url));
    let solo = list.iter().find(|x| x["id"] == other.as_str()).unwrap();
    assert_eq!(solo["role"], "owner");
    assert_eq!(solo["plan"], "solo_pro");
}

#[tokio::test]
async fn owners_remove_members_and_nobody_else_does() {
    let w = World::new().await;
    let member_id = w.ts.server.state.store.user_by_email("member@example.com").await.unwrap().id;
    let path = format!("/api/v1/workspaces/{}/members/{member_id}", w.ws);
    let (status, body) = w.ts.send(Method::DELETE, &path, Some(&w.admin), None).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, _) = w.ts.send(Method::DELETE, &path, Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = w.ts.send(Method::DELETE, &path, Some(&w.owner), None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces", Some(&w.member), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["workspaces"].as_array().unwrap().len(), 0);
}
