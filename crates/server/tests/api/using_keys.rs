//! Using a key: authentication errors, isolation between workspaces, changes that take effect
//! on the next request, scopes, rate limits, and the resources themselves.

use std::time::Duration;

use keydeck_core::wire::{Plan, Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, World, assert_error, eventually, json_of, key_body};

fn all_scopes(name: &str) -> Value {
    json!({"name": name, "scopes": ["time_entries:read", "time_entries:write", "employees:read", "reports:read", "projects:read", "projects:write"], "expiresInDays": 7})
}

#[tokio::test]
async fn me_names_the_workspace_and_key_and_carries_rate_limit_headers() {
    let w = World::new().await;
    let (id, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    let response = w.ts.with_key(Method::GET, "/me", &key, &w.ws, None).await;
    let headers = response.headers().clone();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.unwrap();
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert_eq!(headers["content-type"], "application/json");
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(me["workspace"], json!({"id": w.ws, "name": "Acme"}));
    assert_eq!(me["key"]["id"], id.as_str());
    assert_eq!(me["key"]["name"], "Zapier");
    assert_eq!(me["key"]["hint"], &key[38..]);
    assert_eq!(me["key"]["scopes"], json!(["time_entries:read", "projects:read"]));
    assert!(me["key"]["expiresAt"].is_string());
    assert_eq!(headers["x-ratelimit-limit"], "100");
    assert_eq!(headers["x-ratelimit-remaining"], "99");
    let reset: i64 = headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(reset > now && reset <= now + 60, "{reset} vs {now}");
    // HEAD reaches the handler rather than the gate's own answer to GET: the same headers.
    let head = w.ts.with_key(Method::HEAD, "/me", &key, &w.ws, None).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["x-ratelimit-remaining"], "98");
    assert_eq!(head.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_told_apart() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    let no_key = w.ts.http.get(format!("{}/api/v1/me", w.ts.url)).header("X-Workspace-Id", &w.ws).send().await.unwrap();
    let (status, body) = json_of(no_key).await;
    assert_error(status, &body, 401, "missing_api_key");
    let (status, body) = w.ts.me(&key[..39], &w.ws).await;
    assert_error(status, &body, 401, "invalid_api_key");
    assert!(body["message"].as_str().unwrap().contains("3 characters are missing"), "{body}");
    let mut mistyped = key.clone();
    mistyped.replace_range(10..11, if &key[10..11] == "a" { "b" } else { "a" });
    let (status, body) = w.ts.me(&mistyped, &w.ws).await;
    assert_error(status, &body, 401, "invalid_api_key");
    assert!(body["message"].as_str().unwrap().contains("checksum"), "{body}");
    let unknown = keydeck_core::KeySecret::generate(&mut rand::rng());
    let (status, body) = w.ts.me(unknown.expose(), &w.ws).await;
    assert_error(status, &body, 401, "invalid_api_key");
    let no_ws = w.ts.http.get(format!("{}/api/v1/me", w.ts.url)).bearer_auth(&key).send().await.unwrap();
    let (status, body) = json_of(no_ws).await;
    assert_error(status, &body, 400, "missing_workspace_id");
    let basic =
        w.ts.http
            .get(format!("{}/api/v1/me", w.ts.url))
            .basic_auth("user", Some("pass"))
            .header("X-Workspace-Id", &w.ws)
            .send()
            .await
            .unwrap();
    let (status, body) = json_of(basic).await;
    assert_error(status, &body, 401, "invalid_api_key");
}

#[tokio::test]
async fn a_key_of_one_workspace_never_reads_or_writes_another() {
    let w = World::new().await;
    let other = w.ts.workspace("Rival", Plan::Business, "owner@example.com").await;
    let (_, key_a) = w.ts.new_key(&w.owner, &w.ws, all_scopes("Key A")).await;
    let (_, key_b) = w.ts.new_key(&w.owner, &other, all_scopes("Key B")).await;
    let store = &w.ts.server.state.store;
    store.insert_employee("emp_b", &other, "Bea", "bea@example.com", None).await.unwrap();
    // With B's id in the header, A's key is refused everywhere.
    let calls: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/me", None),
        (Method::GET, "/employees", None),
        (Method::GET, "/projects", None),
        (Method::POST, "/projects", Some(json!({"name": "Sneaky"}))),
        (Method::GET, "/time-entries", None),
        (Method::POST, "/time-entries", Some(json!({"employeeId": "emp_b", "start": "2026-11-01T09:00:00Z"}))),
        (Method::GET, "/reports/summary?from=2026-11-01&to=2026-11-30", None),
    ];
    for (method, path, body) in calls.iter().cloned() {
        let (status, reply) = json_of(w.ts.with_key(method, path, &key_a, &other, body).await).await;
        assert_error(status, &reply, 403, "workspace_mismatch");
    }
    // With its own id, A's key sees only A's data and cannot name B's employee.
    let (_, employees) = json_of(w.ts.with_key(Method::GET, "/employees", &key_a, &w.ws, None).await).await;
    assert_eq!(employees["employees"], json!([]));
    let (status, reply) =
        json_of(w.ts.with_key(Method::POST, "/time-entries", &key_a, &w.ws, calls[5].2.clone()).await).await;
    assert_error(status, &reply, 422, "validation_failed");
    assert_eq!(reply["fields"][0]["field"], "employeeId");
    // B's key sees B's employee.
    let (_, employees) = json_of(w.ts.with_key(Method::GET, "/employees", &key_b, &other, None).await).await;
    assert_eq!(employees["employees"][0]["name"], "Bea");
    assert_eq!(w.ts.server.state.store.projects(&other).await.unwrap().len(), 0);
}

#[tokio::test]
async fn revoking_disabling_and_expiry_take_effect_on_the_very_next_request() {
    let w = World::new().await;
    let (id, key) =
        w.ts.new_key(&w.owner, &w.ws, json!({"name": "Short", "scopes": ["time_entries:read"], "expiresInDays": 7}))
            .await;
    let path = format!("{}/{id}", w.keys_path());
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);

    w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(json!({"enabled": false}))).await;
    let (status, body) = w.ts.me(&key, &w.ws).await;
    assert_error(status, &body, 401, "key_disabled");
    w.ts.send(Method::PATCH, &path, Some(&w.owner), Some(json!({"enabled": true}))).await;
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);

    w.ts.clock.advance(Duration::from_secs(7 * 86_400 + 1));
    let (status, body) = w.ts.me(&key, &w.ws).await;
    assert_error(status, &body, 401, "key_expired");
    let (_, card) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
    assert_eq!(card["status"], "expired");

    let (_, fresh) = w.ts.new_key(&w.owner, &w.ws, key_body("Fresh")).await;
    assert_eq!(w.ts.me(&fresh, &w.ws).await.0, StatusCode::OK);
    let fresh_id = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await.1["keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.ts.send(Method::DELETE, &format!("{}/{fresh_id}", w.keys_path()), Some(&w.owner), None).await;
    let (status, body) = w.ts.me(&fresh, &w.ws).await;
    assert_error(status, &body, 401, "key_revoked");
}

#[tokio::test]
async fn a_key_stops_when_its_creator_is_removed_or_demoted() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.admin, &w.ws, key_body("Admin's key")).await;
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    // Removed through the API: the very next request.
    let (status, _) =
        w.ts.send(Method::DELETE, &format!("/api/v1/workspaces/{}/members/{}", w.ws, w.admin_id), Some(&w.owner), None)
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = w.ts.me(&key, &w.ws).await;
    assert_error(status, &body, 401, "key_owner_removed");
    let (_, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
    assert_eq!(list["keys"][0]["createdBy"]["canManageKeys"], false);
    // Back as admin, then demoted to member by the admin command: within 2 seconds.
    w.ts.add_member(&w.ws, "admin@example.com", Role::Admin).await;
    eventually(Duration::from_secs(2), || async { w.ts.me(&key, &w.ws).await.0 == StatusCode::OK }).await;
    let out =
        w.ts.admin_cli(&["add-member", "--workspace", &w.ws, "--email", "admin@example.com", "--role", "member"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eventually(Duration::from_secs(2), || async { w.ts.me(&key, &w.ws).await.1["error"] == "key_owner_removed" }).await;
}

#[tokio::test]
async fn read_only_billing_refuses_the_very_next_write_and_keeps_reads() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, all_scopes("Sync")).await;
    let created = w.ts.with_key(Method::POST, "/projects", &key, &w.ws, Some(json!({"name": "Before"}))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let out = w.ts.admin_cli(&["set-billing", "--workspace", &w.ws, "--status", "read_only"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, body) =
        json_of(w.ts.with_key(Method::POST, "/projects", &key, &w.ws, Some(json!({"name": "After"}))).await).await;
    assert_error(status, &body, 403, "workspace_read_only");
    let (status, projects) = json_of(w.ts.with_key(Method::GET, "/projects", &key, &w.ws, None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    let out = w.ts.admin_cli(&["set-billing", "--workspace", &w.ws, "--status", "active"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        w.ts.with_key(Method::POST, "/projects", &key, &w.ws, Some(json!({"name": "Again"}))).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn adding_a_project_is_listed_at_once_and_leaves_cached_keys_alone() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, all_scopes("Sync")).await;
    let names = || async {
        let (status, list) = json_of(w.ts.with_key(Method::GET, "/projects", &key, &w.ws, None).await).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert!(names().await.is_empty());
    let key_cache = w.ts.server.state.cache.generation();
    let created = w.ts.with_key(Method::POST, "/projects", &key, &w.ws, Some(json!({"name": "Website"}))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(names().await, ["Website"], "the list kept in memory was forgotten");
    // Past a few looks of the watcher: any key may add projects, and that must not empty
    // every workspace's key cache.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(w.ts.server.state.cache.generation(), key_cache);
    // A change that keys depend on still empties it.
    w.ts.admin_cli(&["set-billing", "--workspace", &w.ws, "--status", "read_only"]).await;
    eventually(Duration::from_secs(2), || async { w.ts.server.state.cache.generation() != key_cache }).await;
}

#[tokio::test]
async fn a_plan_without_api_access_stops_keys_within_two_seconds() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    assert_eq!(w.ts.me(&key, &w.ws).await.0, StatusCode::OK);
    let out = w.ts.admin_cli(&["set-plan", "--workspace", &w.ws, "--plan", "solo_pro"]).await;
    assert!(out.status.success());
    eventually(Duration::from_secs(2), || async { w.ts.me(&key, &w.ws).await.1["error"] == "plan_required" }).await;
    let (status, body) = w.ts.me(&key, &w.ws).await;
    assert_error(status, &body, 403, "plan_required");
}

#[tokio::test]
async fn a_missing_scope_is_named() {
    let w = World::new().await;
    let (_, key) =
        w.ts.new_key(&w.owner, &w.ws, json!({"name": "Reports only", "scopes": ["reports:read"], "expiresInDays": 30}))
            .await;
    for (method, path, scope, body) in [
        (Method::GET, "/time-entries", "time_entries:read", None),
        (
            Method::POST,
            "/time-entries",
            "time_entries:write",
            Some(json!({"employeeId": "x", "start": "2026-11-01T09:00:00Z"})),
        ),
        (Method::GET, "/employees", "employees:read", None),
        (Method::GET, "/projects", "projects:read", None),
        (Method::POST, "/projects", "projects:write", Some(json!({"name": "X"}))),
    ] {
        let (status, reply) = json_of(w.ts.with_key(method, path, &key, &w.ws, body).await).await;
        assert_error(status, &reply, 403, "insufficient_scope");
        assert_eq!(reply["requiredScope"], scope);
    }
    let (status, _) =
        json_of(w.ts.with_key(Method::GET, "/reports/summary?from=2026-11-01&to=2026-11-02", &key, &w.ws, None).await)
            .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_rate_limit_counts_down_and_refuses_request_n_plus_one() {
    let w = World::new().await;
    let (tight_id, key) = w
        .ts
        .new_key(&w.owner, &w.ws, json!({"name": "Tight", "scopes": ["projects:read"], "expiresInDays": 7, "rateLimit": {"enabled": true, "maxRequests": 5, "windowSeconds": 3600}}))
        .await;
    for expected in (0..5).rev() {
        let response = w.ts.with_key(Method::GET, "/projects", &key, &w.ws, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-ratelimit-limit"], "5");
        assert_eq!(response.headers()["x-ratelimit-remaining"], expected.to_string().as_str());
    }
    let response = w.ts.with_key(Method::GET, "/projects", &key, &w.ws, None).await;
    let reset: i64 = response.headers()["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let retry_header: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 429, "rate_limit_exceeded");
    let retry = body["retryAfter"].as_u64().unwrap();
    assert_eq!(retry, retry_header);
    let now = chrono::Utc::now().timestamp();
    assert!((1..=3600).contains(&retry) && (reset - now).abs_diff(retry as i64) <= 1, "{retry} {reset} {now}");
    // The connection test is refused alike, with the same headers.
    let response = w.ts.with_key(Method::GET, "/me", &key, &w.ws, None).await;
    assert_eq!(response.headers()["x-ratelimit-limit"], "5");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(response.headers()["x-ratelimit-reset"], reset.to_string().as_str());
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 429, "rate_limit_exceeded");
    // Every request shows in the key's log once, with the status it got.
    let (status, log) =
        w.ts.send(Method::GET, &format!("{}/{tight_id}/requests?limit=50", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Vec<(String, u64)> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap().to_owned(), r["status"].as_u64().unwrap()))
        .collect();
    let mut expected = vec![("/api/v1/me".to_owned(), 429), ("/api/v1/projects".to_owned(), 429)];
    expected.extend(std::iter::repeat_n(("/api/v1/projects".to_owned(), 200), 5));
    assert_eq!(seen, expected);
    // A key without a limit carries no headers and is never refused.
    let (_, free) = w
        .ts
        .new_key(&w.owner, &w.ws, json!({"name": "Unlimited", "scopes": ["projects:read"], "expiresInDays": 7, "rateLimit": {"enabled": false, "maxRequests": 1, "windowSeconds": 3600}}))
        .await;
    for path in ["/projects", "/me", "/projects", "/me"] {
        let response = w.ts.with_key(Method::GET, path, &free, &w.ws, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        for header in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
            assert!(response.headers().get(header).is_none(), "{path} {header}");
        }
    }
}

#[tokio::test]
async fn the_demo_workspace_has_every_card_state_and_real_data() {
    let ts = TestServer::start_with(true).await;
    let demo = ts.server.demo.clone().unwrap();
    let token = ts.sign_in_with(&demo.owner_email, &demo.password).await;
    let ws = &demo.business_workspace;
    let (status, list) = ts.send(Method::GET, &format!("/api/v1/workspaces/{ws}/keys"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let keys = list["keys"].as_array().unwrap();
    assert!((6..=8).contains(&keys.len()));
    let now = chrono::Utc::now();
    let time = |v: &Value| v.as_str().map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    assert!(keys.iter().any(|k| k["lastUsedAt"].is_null()), "never used");
    assert!(
        keys.iter().any(|k| time(&k["lastUsedAt"]).is_some_and(|t| now - t < chrono::Duration::minutes(10))),
        "used minutes ago"
    );
    assert!(keys.iter().any(|k| k["requestCount"].as_u64().unwrap() > 10_000), "heavy use");
    assert!(keys.iter().any(|k| k["status"] == "disabled"));
    assert!(keys.iter().any(|k| k["status"] == "expired"));
    assert!(
        keys.iter().any(|k| time(&k["expiresAt"]).is_some_and(|t| t > now && t - now < chrono::Duration::days(4))),
        "expiring in 3 days"
    );
    assert!(
        keys.iter().any(|k| time(&k["createdAt"]).is_some_and(|t| now - t > chrono::Duration::days(90))),
        "older than 90 days"
    );
    assert!(keys.iter().any(|k| k["createdBy"]["canManageKeys"] == false), "creator removed");
    let heavy = keys.iter().find(|k| k["requestCount"].as_u64().unwrap() > 10_000).unwrap();
    let (_, usage) = ts
        .send(
            Method::GET,
            &format!("/api/v1/workspaces/{ws}/keys/{}/usage", heavy["id"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert!(usage["days"].as_array().unwrap().iter().filter(|d| d["count"].as_u64().unwrap() > 0).count() >= 10);
    // The Solo Pro and read-only workspaces behave as such.
    let (status, body) =
        ts.send(Method::GET, &format!("/api/v1/workspaces/{}/keys", demo.solo_workspace), Some(&token), None).await;
    assert_error(status, &body, 403, "plan_required");
    let (status, body) = ts
        .send(
            Method::POST,
            &format!("/api/v1/workspaces/{}/keys", demo.read_only_workspace),
            Some(&token),
            Some(key_body("New")),
        )
        .await;
    assert_error(status, &body, 403, "workspace_read_only");
    // A member is told they cannot manage keys.
    let member = ts.sign_in_with(&demo.member_email, &demo.password).await;
    let (status, body) = ts.send(Method::GET, &format!("/api/v1/workspaces/{ws}/keys"), Some(&member), None).await;
    assert_error(status, &body, 403, "forbidden");
    // Every resource endpoint returns real data.
    let (_, key) = ts.new_key(&token, ws, all_scopes("Demo reader")).await;
    let (_, employees) = json_of(ts.with_key(Method::GET, "/employees", &key, ws, None).await).await;
    let employees = employees["employees"].as_array().unwrap();
    assert!(employees.len() >= 5 && employees.iter().any(|e| e["clockedIn"] == true));
    let (_, projects) = json_of(ts.with_key(Method::GET, "/projects", &key, ws, None).await).await;
    assert!(projects["projects"].as_array().unwrap().len() >= 3);
    let (_, entries) = json_of(ts.with_key(Method::GET, "/time-entries?limit=500", &key, ws, None).await).await;
    let entries = entries["timeEntries"].as_array().unwrap();
    assert!(entries.len() >= 40, "{}", entries.len());
    let first_id = entries[0]["id"].as_str().unwrap();
    let (status, one) =
        json_of(ts.with_key(Method::GET, &format!("/time-entries/{first_id}"), &key, ws, None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, &entries[0]);
    let from = (now - chrono::Duration::days(14)).date_naive();
    let (status, report) = json_of(
        ts.with_key(Method::GET, &format!("/reports/summary?from={from}&to={}", now.date_naive()), &key, ws, None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report["totalMinutes"].as_u64().unwrap() > 1000);
    assert!(report["byEmployee"].as_array().unwrap().len() >= 5);
    let employee = employees[0]["id"].as_str().unwrap();
    let (status, entry) = json_of(
        ts.with_key(Method::POST, "/time-entries", &key, ws, Some(json!({"employeeId": employee, "start": "2026-11-20T09:00:00Z", "end": "2026-11-20T12:30:00Z", "note": "Workshop"}))).await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let (_, fetched) = json_of(
        ts.with_key(Method::GET, &format!("/time-entries/{}", entry["id"].as_str().unwrap()), &key, ws, None).await,
    )
    .await;
    assert_eq!(fetched["note"], "Workshop");
    let (status, project) = json_of(
        ts.with_key(Method::POST, "/projects", &key, ws, Some(json!({"name": "Launch", "budgetHours": 40}))).await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(project["budgetHours"], 40.0);
    // Restarting with --demo on the same database seeds nothing twice.
    assert!(keydeck_server::demo::seed(&ts.server.state.store, &ts.clock).await.unwrap().is_none());
}
