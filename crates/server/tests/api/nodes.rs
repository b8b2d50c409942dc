//! Several `keydeck-server serve` processes (the real binary) on one database behave as one
//! server: start-up, counts, last use, idempotency, the sign-in lockout; and a node says when
//! it is ready. The suite runs on SQLite and again on PostgreSQL (`scripts/with-postgres.sh`);
//! several nodes is what PostgreSQL is for, and the same holds for several processes on one
//! SQLite file.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    PASSWORD, ServerProcess, admin, assert_error, eventually, fresh_database, json_of, key_body, session_token,
};
use keydeck_server::store::DbLocation;

/// Three nodes on a fresh database with one Team workspace owned by ana@example.com.
struct Cluster {
    db: DbLocation,
    nodes: Vec<ServerProcess>,
    ws: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_database(dir.path()).await;
        admin(&db, &["create-user", "--email", "ana@example.com", "--password", PASSWORD, "--name", "Ana"]);
        let ws = admin(&db, &["create-workspace", "--name", "Studio", "--plan", "team", "--owner", "ana@example.com"]);
        let nodes = futures::future::join_all((0..3).map(|_| ServerProcess::spawn(&db))).await;
        Cluster { db, nodes, ws, http: reqwest::Client::new(), _dir: dir }
    }

    async fn sign_in(&self, node: usize, password: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/sessions", self.nodes[node].url))
            .json(&json!({"email": "ana@example.com", "password": password}))
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    async fn token(&self, node: usize) -> String {
        session_token(&self.http, &self.nodes[node].url, "ana@example.com", PASSWORD).await
    }

    fn keys(&self, node: usize) -> String {
        format!("{}/api/v1/workspaces/{}/keys", self.nodes[node].url, self.ws)
    }

    async fn card(&self, node: usize, token: &str, id: &str) -> Value {
        let response = self.http.get(format!("{}/{id}", self.keys(node))).bearer_auth(token).send().await.unwrap();
        let (status, card) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{card}");
        card
    }

    /// Stops every node with SIGTERM and waits for each to exit.
    async fn terminate(&mut self) {
        for node in &mut self.nodes {
            let pid = node.child.id().unwrap();
            assert!(std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
            let exited = tokio::time::timeout(Duration::from_secs(10), node.child.wait()).await;
            assert!(exited.expect("a node did not stop within 10 s of SIGTERM").unwrap().success());
        }
    }
}

#[tokio::test]
async fn nodes_starting_at_once_on_an_empty_database_migrate_and_seed_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let nodes = futures::future::join_all((0..3).map(|_| ServerProcess::spawn_with(&db, &["--demo"]))).await;
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for node in &nodes {
        let token = session_token(&http, &node.url, "owner@example.com", keydeck_server::demo::DEMO_PASSWORD).await;
        let (_, list) =
            json_of(http.get(format!("{}/api/v1/workspaces", node.url)).bearer_auth(token).send().await.unwrap()).await;
        let mut ids: Vec<String> =
            list["workspaces"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        seen.push(ids);
    }
    assert_eq!(seen[0].len(), 3, "the demo has three workspaces, seeded once: {:?}", seen[0]);
    assert!(seen.iter().all(|ids| *ids == seen[0]), "every node serves the same workspaces: {seen:?}");
}

#[tokio::test]
async fn request_counts_are_exact_across_nodes_and_sigterm_writes_them_before_exit() {
    let mut cluster = Cluster::start().await;
    let token = cluster.token(0).await;
    let mut body = key_body("Shared");
    body["rateLimit"] = json!({"enabled": true, "maxRequests": 10_000, "windowSeconds": 60});
    let created: Value =
        cluster.http.post(cluster.keys(0)).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
    let (id, key) = (created["key"]["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
    // A request on node 0 shows as the last use on node 2 within the 2 seconds promised.
    assert_eq!(cluster.nodes[0].me(&cluster.http, &key, &cluster.ws).await.0, StatusCode::OK);
    let waited =
        eventually(Duration::from_secs(2), || async { cluster.card(2, &token, &id).await["lastUsedAt"].is_string() })
            .await;
    assert!(waited < Duration::from_secs(2));
    // 300 more, at once, spread over the three nodes.
    let answers =
        futures::future::join_all((0..300).map(|i| cluster.nodes[i % 3].me(&cluster.http, &key, &cluster.ws))).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    // Stopped at once, before their next flush: each writes what it counted on the way out.
    cluster.terminate().await;
    let fresh = ServerProcess::spawn(&cluster.db).await;
    let token = session_token(&cluster.http, &fresh.url, "ana@example.com", PASSWORD).await;
    let response = cluster
        .http
        .get(format!("{}/api/v1/workspaces/{}/keys/{id}", fresh.url, cluster.ws))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (_, card) = json_of(response).await;
    assert_eq!(card["requestCount"], 301, "{card}");
}

#[tokio::test]
async fn an_idempotency_key_replays_on_another_node_and_a_repeat_on_two_nodes_at_once_makes_one_key() {
    let cluster = Cluster::start().await;
    let token = cluster.token(0).await;
    let post = |node: usize, idem: &'static str, name: &str| {
        cluster
            .http
            .post(cluster.keys(node))
            .bearer_auth(&token)
            .header("Idempotency-Key", idem)
            .json(&key_body(name))
            .send()
    };
    let first = json_of(post(0, "5b0c6a1e-0000-4000-8000-000000000001", "Zapier").await.unwrap()).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = json_of(post(1, "5b0c6a1e-0000-4000-8000-000000000001", "Zapier").await.unwrap()).await;
    assert_eq!(again, first, "the lost answer comes back whole from another node");
    let (a, b) = futures::future::join(
        post(1, "5b0c6a1e-0000-4000-8000-000000000002", "Reports"),
        post(2, "5b0c6a1e-0000-4000-8000-000000000002", "Reports"),
    )
    .await;
    let (a, b) = (json_of(a.unwrap()).await, json_of(b.unwrap()).await);
    assert_eq!(a.1["secret"], b.1["secret"], "both answers name the one key made: {} / {}", a.1, b.1);
    let (_, list) = json_of(cluster.http.get(cluster.keys(2)).bearer_auth(&token).send().await.unwrap()).await;
    let names: Vec<&str> = list["keys"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "one key per Idempotency-Key: {names:?}");
}

#[tokio::test]
async fn the_sign_in_lockout_counts_failures_on_every_node() {
    let cluster = Cluster::start().await;
    for i in 0..5 {
        let (status, body) = cluster.sign_in(i % 3, "wrong password").await;
        assert_error(status, &body, 401, "invalid_credentials");
    }
    for node in 0..3 {
        let (status, body) = cluster.sign_in(node, PASSWORD).await;
        assert_error(status, &body, 429, "too_many_attempts");
    }
}

#[tokio::test]
async fn readiness_says_whether_the_database_answers() {
    let ts = crate::support::TestServer::start().await;
    let ready = ts.http.get(format!("{}/readyz", ts.url)).send().await.unwrap();
    assert_eq!(json_of(ready).await, (StatusCode::OK, json!({"status": "ready"})));
    // The database gone from under the node: it is up (healthz) but must not be sent requests.
    ts.server.state.store.close().await;
    let (status, body) = json_of(ts.http.get(format!("{}/readyz", ts.url)).send().await.unwrap()).await;
    assert_eq!((status, &body["status"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("unavailable")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("database"), "{body}");
    let (status, _) = json_of(ts.http.get(format!("{}/healthz", ts.url)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_node_killed_under_load_loses_no_key_it_acknowledged() {
    let mut cluster = Cluster::start().await;
    let token = cluster.token(0).await;
    let stop = std::sync::atomic::AtomicBool::new(false);
    // On each node in turn, until told to stop: make a key and, to stay under the workspace's
    // limit of live keys, revoke it. A key counts as acknowledged once its 201 arrived.
    let load = |node: usize| {
        let (cluster, token, stop) = (&cluster, &token, &stop);
        async move {
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let Ok(response) = cluster
                    .http
                    .post(cluster.keys(node))
                    .bearer_auth(token)
                    .json(&key_body(&format!("Load {node}-{i}")))
                    .send()
                    .await
                else {
                    break; // this node is gone
                };
                let (status, created) = json_of(response).await;
                if status != StatusCode::CREATED {
                    continue;
                }
                acknowledged.push(created["secret"].as_str().unwrap().to_owned());
                let id = created["key"]["id"].as_str().unwrap();
                let _ = cluster.http.delete(format!("{}/{id}", cluster.keys(node))).bearer_auth(token).send().await;
            }
            acknowledged
        }
    };
    let killer = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let pid = cluster.nodes[1].child.id().unwrap();
        assert!(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
        tokio::time::sleep(Duration::from_millis(700)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let ((a, b, c), ()) = futures::future::join(futures::future::join3(load(0), load(1), load(2)), killer).await;
    assert!(!b.is_empty(), "the killed node had acknowledged keys before it died");
    // Every acknowledged key is in the database: a surviving node knows it (revoked, or live
    // when its revocation was cut short), never as an unknown key.
    let survivor = &cluster.nodes[2];
    for secret in a.iter().chain(&b).chain(&c) {
        let (status, body) = survivor.me(&cluster.http, secret, &cluster.ws).await;
        assert!(status == StatusCode::OK || body["error"] == "key_revoked", "an acknowledged key is lost: {body}");
    }
    cluster.nodes.remove(1);
}

#[tokio::test]
async fn a_rate_limit_counts_across_nodes_on_postgresql_and_per_node_on_sqlite() {
    let cluster = Cluster::start().await;
    let token = cluster.token(0).await;
    let mut body = key_body("Limited");
    body["rateLimit"] = json!({"enabled": true, "maxRequests": 60, "windowSeconds": 3600});
    let created: Value =
        cluster.http.post(cluster.keys(0)).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
    let key = created["secret"].as_str().unwrap().to_owned();
    // 100 requests per node, all at once: (node, status, the window's reset).
    let call = |i: usize| {
        let (http, url, key, ws) = (&cluster.http, &cluster.nodes[i % 3].url, &key, &cluster.ws);
        async move {
            let response = http
                .get(format!("{url}/api/v1/me"))
                .bearer_auth(key)
                .header("X-Workspace-Id", ws)
                .send()
                .await
                .unwrap();
            let reset = response.headers()["x-ratelimit-reset"].to_str().unwrap().to_owned();
            (i % 3, response.status(), reset)
        }
    };
    let answers = futures::future::join_all((0..300).map(call)).await;
    assert!(answers.iter().all(|(_, s, _)| [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS].contains(s)));
    // Grouped by window: a run that crosses an hour's boundary counts in two.
    let mut windows: std::collections::BTreeMap<(Option<usize>, &str), (usize, usize)> = Default::default();
    let shared = matches!(cluster.db, DbLocation::Postgres(_));
    for (node, status, reset) in &answers {
        let entry = windows.entry((if shared { None } else { Some(*node) }, reset.as_str())).or_default();
        entry.0 += 1;
        entry.1 += usize::from(*status == StatusCode::OK);
    }
    for ((node, reset), (requests, accepted)) in &windows {
        // PostgreSQL: the three nodes together accept exactly the limit. SQLite: each node
        // counts on its own, as the README says.
        assert_eq!(*accepted, (*requests).min(60), "node {node:?}, window ending {reset}: {windows:?}");
    }
}

#[tokio::test]
async fn a_project_added_on_one_node_is_listed_by_every_node_once_the_answer_is_back() {
    let cluster = Cluster::start().await;
    let token = cluster.token(0).await;
    let mut body = key_body("Projects");
    body["scopes"] = json!(["projects:read", "projects:write"]);
    let created: Value =
        cluster.http.post(cluster.keys(0)).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
    let key = created["secret"].as_str().unwrap().to_owned();
    let projects = |node: usize| {
        let request = cluster.http.get(format!("{}/api/v1/projects", cluster.nodes[node].url));
        let request = request.bearer_auth(&key).header("X-Workspace-Id", &cluster.ws);
        async move {
            let (status, list) = json_of(request.send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{list}");
            list["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    for name in ["Website", "Audit"] {
        // Every node has listed (and keeps in memory) the projects before this one.
        let before: Vec<Vec<String>> = futures::future::join_all((0..3).map(projects)).await;
        assert!(before.iter().all(|names| !names.contains(&name.to_owned())));
        let response = cluster
            .http
            .post(format!("{}/api/v1/projects", cluster.nodes[1].url))
            .bearer_auth(&key)
            .header("X-Workspace-Id", &cluster.ws)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        for node in 0..3 {
            assert!(projects(node).await.contains(&name.to_owned()), "node {node} does not list {name} yet");
        }
    }
}
