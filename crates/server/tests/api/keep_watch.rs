//! What an admin sets to keep watch over a key, over HTTP: the IP allowlist (IPv4 and IPv6,
//! behind a trusted proxy header), and the plan to revoke a key once it has been silent, which
//! the server carries out by itself, once, however many nodes serve the database.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, World, assert_error, eventually, json_of, key_body};

/// A world behind a proxy that writes the client's address in `X-Forwarded-For`.
async fn behind_proxy() -> World {
    let ts = TestServer::start_configured(|config| {
        config.client_ip_header = Some(axum::http::HeaderName::from_static("x-forwarded-for"));
    })
    .await;
    World::on(ts).await
}

/// `GET /me` with `key`, from `from` as the proxy saw it.
async fn me_from(w: &World, key: &str, from: &str) -> (StatusCode, Value) {
    let response =
        w.ts.http
            .get(format!("{}/api/v1/me", w.ts.url))
            .bearer_auth(key)
            .header("X-Workspace-Id", &w.ws)
            .header("X-Forwarded-For", from)
            .send()
            .await
            .unwrap();
    json_of(response).await
}

async fn card(w: &World, id: &str) -> Value {
    let (status, card) = w.ts.send(Method::GET, &format!("{}/{id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    card
}

async fn patch(w: &World, id: &str, body: Value) -> (StatusCode, Value) {
    w.ts.send(Method::PATCH, &format!("{}/{id}", w.keys_path()), Some(&w.admin), Some(body)).await
}

/// The workspace's audit entries about one key, oldest first.
async fn key_history(w: &World, id: &str) -> Vec<Value> {
    let path = format!("/api/v1/workspaces/{}/audit?limit=200", w.ws);
    let (status, page) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut entries: Vec<Value> =
        page["entries"].as_array().unwrap().iter().filter(|e| e["keyId"] == json!(id)).cloned().collect();
    entries.reverse();
    entries
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_allowlist_lets_its_ranges_in_and_names_the_address_it_refuses() {
    let w = behind_proxy().await;
    let mut body = key_body("Office sync");
    body["allowedIps"] = json!(["203.0.113.0/24", "2001:db8:1::/48"]);
    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, body).await;
    assert_eq!(card(&w, &id).await["allowedIps"], json!(["203.0.113.0/24", "2001:db8:1::/48"]));

    for allowed in ["203.0.113.9", "203.0.113.255", "2001:db8:1::5", "2001:db8:1:ffff::1"] {
        let (status, me) = me_from(&w, &secret, allowed).await;
        assert_eq!(status, StatusCode::OK, "{allowed}: {me}");
    }
    for refused in ["203.0.114.1", "198.51.100.7", "2001:db8:2::1", "::1"] {
        let (status, body) = me_from(&w, &secret, refused).await;
        assert_error(status, &body, 403, "ip_not_allowed");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("does not accept requests from {refused}, the address")), "{message}");
        assert!(!message.contains("203.0.113.0") && !message.contains("2001:db8:1::"), "no range told: {message}");
    }
    // Every route is behind the same check, not only /me.
    let projects = w.ts.with_key(Method::GET, "/projects", &secret, &w.ws, None).await;
    let (status, body) = json_of(projects).await;
    assert_error(status, &body, 403, "ip_not_allowed");
    assert!(body["message"].as_str().unwrap().contains("requests from 127.0.0.1,"), "no header: the peer itself");

    // The refusal is the key's latest, for the app to explain.
    eventually(Duration::from_secs(3), || async { card(&w, &id).await["lastRefusal"]["error"] == "ip_not_allowed" })
        .await;

    // Emptying the list lets every address in, from the very next request.
    let (status, changed) = patch(&w, &id, json!({"allowedIps": []})).await;
    assert_eq!((status, &changed["allowedIps"]), (StatusCode::OK, &json!([])), "{changed}");
    assert_eq!(me_from(&w, &secret, "198.51.100.7").await.0, StatusCode::OK);
    // And a new list shuts them out again, just as fast.
    assert_eq!(patch(&w, &id, json!({"allowedIps": ["2001:db8::/32"]})).await.0, StatusCode::OK);
    assert_eq!(me_from(&w, &secret, "198.51.100.7").await.0, StatusCode::FORBIDDEN);
    assert_eq!(me_from(&w, &secret, "2001:db8:ab::1").await.0, StatusCode::OK);

    let history = key_history(&w, &id).await;
    assert_eq!(actions(&history), ["created", "allowed_ips_changed", "allowed_ips_changed"]);
    assert_eq!(history[0]["changes"]["allowedIps"], json!({"from": null, "to": ["203.0.113.0/24", "2001:db8:1::/48"]}));
    assert_eq!(history[1]["changes"]["allowedIps"], json!({"from": ["203.0.113.0/24", "2001:db8:1::/48"], "to": []}));
    assert_eq!(history[2]["changes"]["allowedIps"], json!({"from": [], "to": ["2001:db8::/32"]}));
}

#[tokio::test]
async fn a_bad_range_is_refused_naming_the_network_meant_and_nothing_is_changed() {
    let w = World::new().await;
    let mut body = key_body("Office sync");
    body["allowedIps"] = json!(["203.0.113.7/24"]);
    let (status, answer) = w.ts.send(Method::POST, &w.keys_path(), Some(&w.admin), Some(body)).await;
    assert_error(status, &answer, 422, "validation_failed");
    let message = answer["fields"][0]["message"].as_str().unwrap();
    assert_eq!(answer["fields"][0]["field"], "allowedIps");
    assert!(message.contains("Write 203.0.113.0/24 for the whole network, or 203.0.113.7"), "{message}");

    let mut body = key_body("Office sync");
    body["allowedIps"] = json!(["203.0.113.7"]);
    let (id, _) = w.ts.new_key(&w.admin, &w.ws, body).await;
    let (status, answer) = patch(&w, &id, json!({"allowedIps": ["office wifi"], "name": "Renamed"})).await;
    assert_error(status, &answer, 422, "validation_failed");
    let card = card(&w, &id).await;
    assert_eq!((card["name"].as_str(), &card["allowedIps"]), (Some("Office sync"), &json!(["203.0.113.7"])));
}

#[tokio::test]
async fn a_replacement_keeps_the_old_keys_allowlist_unless_it_is_given_one() {
    let w = World::new().await;
    let mut body = key_body("Office sync");
    body["allowedIps"] = json!(["127.0.0.1", "::1"]);
    let (old, _) = w.ts.new_key(&w.admin, &w.ws, body).await;
    let replacement = json!({"replaces": old, "scopes": ["time_entries:read"], "expiresInDays": 90});
    let (new, secret) = w.ts.new_key(&w.admin, &w.ws, replacement).await;
    assert_eq!(card(&w, &new).await["allowedIps"], json!(["127.0.0.1", "::1"]));
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK, "127.0.0.1 is on the list");
}

/// An edit of the old key's allowlist racing a replacement of it: the replacement carries the
/// list the old key had when the replacement was made, as the log orders the two (both are
/// written under the workspace's lock), never a list the edit had already replaced.
#[tokio::test]
async fn a_replacement_racing_an_allowlist_edit_takes_the_list_the_log_says_was_in_force() {
    let w = World::new().await;
    let (mut after_edit, mut before_edit) = (0, 0);
    for i in 0..12 {
        let mut body = key_body(&format!("Racing {i}"));
        body["allowedIps"] = json!(["10.0.0.1"]);
        let (old, _) = w.ts.new_key(&w.admin, &w.ws, body).await;
        let replacement = json!({"replaces": old, "scopes": ["time_entries:read"], "expiresInDays": 90});
        let keys = w.keys_path();
        let (edited, made) = tokio::join!(
            patch(&w, &old, json!({"allowedIps": ["10.0.0.2"]})),
            w.ts.send(Method::POST, &keys, Some(&w.admin), Some(replacement)),
        );
        assert_eq!(edited.0, StatusCode::OK, "{}", edited.1);
        assert_eq!(made.0, StatusCode::CREATED, "{}", made.1);
        let new = made.1["key"]["id"].as_str().unwrap().to_owned();
        // Newest first: the two entries' order is the order in which they were written.
        let path = format!("/api/v1/workspaces/{}/audit?limit=200", w.ws);
        let page = w.ts.send(Method::GET, &path, Some(&w.owner), None).await.1;
        let entries = page["entries"].as_array().unwrap();
        let position = |key: &str, action: &str| {
            entries.iter().position(|e| e["keyId"] == json!(key) && e["action"] == action).unwrap()
        };
        let edit_first = position(&old, "allowed_ips_changed") > position(&new, "created");
        let expected = if edit_first { json!(["10.0.0.2"]) } else { json!(["10.0.0.1"]) };
        assert_eq!(made.1["key"]["allowedIps"], expected, "the answer, edit first: {edit_first}");
        assert_eq!(card(&w, &new).await["allowedIps"], expected, "as stored, edit first: {edit_first}");
        if edit_first {
            after_edit += 1
        } else {
            before_edit += 1
        }
        for key in [new, old] {
            let path = format!("{keys}/{key}");
            assert_eq!(w.ts.send(Method::DELETE, &path, Some(&w.admin), None).await.0, StatusCode::NO_CONTENT);
        }
    }
    eprintln!("replacement after the edit {after_edit} times, before it {before_edit} times");
}

#[tokio::test]
async fn the_server_revokes_a_key_once_it_has_been_silent_as_long_as_planned() {
    let w = World::new().await;
    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK);

    let (status, planned) = patch(&w, &id, json!({"revokeWhenSilentSeconds": 3_600})).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    let plan = &planned["revokePlan"];
    assert_eq!(plan["silentSeconds"], 3_600);
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(at(&plan["revokesAt"]) - at(&plan["scheduledAt"]), chrono::Duration::hours(1));
    // Sending the same period again keeps the plan as it was.
    assert_eq!(patch(&w, &id, json!({"revokeWhenSilentSeconds": 3_600})).await.1["revokePlan"], *plan);

    // A request half-way breaks the silence: the hour starts again from it.
    w.ts.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK);
    eventually(Duration::from_secs(3), || async {
        card(&w, &id).await["revokePlan"]["revokesAt"] != plan["revokesAt"]
    })
    .await;
    w.ts.clock.advance(Duration::from_secs(45 * 60));
    tokio::time::sleep(Duration::from_millis(800)).await; // the flusher looks every 200 ms
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK, "45 minutes of silence is not an hour");

    // That request broke the silence again; an hour and a bit after it, the key is gone.
    w.ts.clock.advance(Duration::from_secs(61 * 60));
    eventually(Duration::from_secs(5), || async {
        let (status, _) = w.ts.send(Method::GET, &format!("{}/{id}", w.keys_path()), Some(&w.owner), None).await;
        status == StatusCode::NOT_FOUND
    })
    .await;
    let (status, body) = w.ts.me(&secret, &w.ws).await;
    assert_error(status, &body, 401, "key_revoked");

    let history = key_history(&w, &id).await;
    assert_eq!(actions(&history), ["created", "revoke_scheduled", "revoked_when_silent"]);
    assert_eq!(history[1]["changes"]["revokeWhenSilentSeconds"], json!({"from": null, "to": 3_600}));
    assert_eq!(history[1]["actor"]["name"], "Adam Admin");
    assert_eq!((history[2]["actor"]["kind"].as_str(), &history[2]["ip"]), (Some("server"), &Value::Null));
    assert!(history[2]["changes"]["silentSince"]["to"].is_string(), "{}", history[2]);
}

#[tokio::test]
async fn a_cancelled_plan_never_runs() {
    let w = World::new().await;
    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    assert_eq!(patch(&w, &id, json!({"revokeWhenSilentSeconds": 3_600})).await.0, StatusCode::OK);
    let (status, cancelled) = patch(&w, &id, json!({"revokeWhenSilentSeconds": null})).await;
    assert_eq!((status, &cancelled["revokePlan"]), (StatusCode::OK, &Value::Null), "{cancelled}");
    w.ts.clock.advance(Duration::from_secs(8 * 86_400));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK);
    assert_eq!(actions(&key_history(&w, &id).await), ["created", "revoke_scheduled", "revoke_cancelled"]);

    // Out of bounds, with what the bounds are.
    for bad in [json!(60), json!(8 * 86_400)] {
        let (status, body) = patch(&w, &id, json!({"revokeWhenSilentSeconds": bad})).await;
        assert_error(status, &body, 422, "validation_failed");
        assert_eq!(body["fields"][0]["field"], "revokeWhenSilentSeconds");
    }
}

/// Two nodes on one database, on one clock: both look for due plans every 200 ms, and the key
/// is revoked once, with one entry in the log.
#[tokio::test]
async fn on_two_nodes_a_planned_revocation_runs_once() {
    let w = World::new().await;
    let mut config = keydeck_server::ServerConfig::new(w.ts.db.clone(), "127.0.0.1:0".parse().unwrap());
    config.flush_interval = Duration::from_millis(200);
    let second = keydeck_server::start(config, w.ts.clock.clone()).await.unwrap();
    let mut keys = Vec::new();
    for name in ["One", "Two", "Three"] {
        let (id, _) = w.ts.new_key(&w.admin, &w.ws, key_body(name)).await;
        assert_eq!(patch(&w, &id, json!({"revokeWhenSilentSeconds": 3_600})).await.0, StatusCode::OK);
        keys.push(id);
    }
    w.ts.clock.advance(Duration::from_secs(3_700));
    eventually(Duration::from_secs(5), || async {
        let (_, list) = w.ts.send(Method::GET, &w.keys_path(), Some(&w.owner), None).await;
        list["keys"].as_array().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    for id in &keys {
        let runs = key_history(&w, id).await.iter().filter(|e| e["action"] == "revoked_when_silent").count();
        assert_eq!(runs, 1, "{id}");
    }
    second.stop().await;
}

/// Two stores on one database look for due plans at the same moment, over and over: each due
/// key is revoked by exactly one of them, with one entry in the log.
#[tokio::test]
async fn revokers_racing_on_one_database_revoke_each_key_once() {
    let w = World::new().await;
    let one = keydeck_server::store::Store::open(&w.ts.db).await.unwrap();
    let other = keydeck_server::store::Store::open(&w.ts.db).await.unwrap();
    for round in 0..3 {
        let mut keys = Vec::new();
        for n in 0..4 {
            let (id, _) = w.ts.new_key(&w.admin, &w.ws, key_body(&format!("Race {round}-{n}"))).await;
            assert_eq!(patch(&w, &id, json!({"revokeWhenSilentSeconds": 3_600})).await.0, StatusCode::OK);
            keys.push(id);
        }
        // Due for the racers, not yet for the server's own flusher (whose clock is not moved).
        let later = w.ts.clock.now_ms() + 3_700_000;
        let (a, b) = tokio::join!(one.revoke_silent_keys(later, 0), other.revoke_silent_keys(later, 0));
        assert_eq!(a.unwrap() + b.unwrap(), keys.len(), "round {round}");
        for id in &keys {
            let runs = key_history(&w, id).await.iter().filter(|e| e["action"] == "revoked_when_silent").count();
            assert_eq!(runs, 1, "round {round}, {id}");
        }
    }
    one.close().await;
    other.close().await;
}
