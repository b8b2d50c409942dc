//! The OpenAPI document matches the committed snapshot, is what the server serves, and the
//! reference page lists every endpoint.

use reqwest::StatusCode;

use crate::support::TestServer;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn the_openapi_document_matches_the_committed_snapshot() {
    let current = serde_json::to_string_pretty(&keydeck_server::openapi()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &current).unwrap();
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        committed == current,
        "The API changed: crates/server/openapi.json no longer matches the code. If the change is intended, run `make openapi` and commit the file."
    );
}

#[tokio::test]
async fn the_server_publishes_the_document_and_a_readable_reference() {
    let ts = TestServer::start().await;
    let served: serde_json::Value =
        ts.http.get(format!("{}/api/v1/openapi.json", ts.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, serde_json::to_value(keydeck_server::openapi()).unwrap());
    let paths = served["paths"].as_object().unwrap();
    for path in [
        "/api/v1/sessions",
        "/api/v1/workspaces/{ws}/keys",
        "/api/v1/workspaces/{ws}/keys/{id}/usage",
        "/api/v1/me",
        "/api/v1/reports/summary",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let page = ts.http.get(format!("{}/docs", ts.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script"));
    for path in paths.keys() {
        assert!(html.contains(path.as_str()), "{path} missing from /docs");
    }
    assert!(html.contains("X-Workspace-Id") && html.contains("KeyCard"));
}

#[test]
fn every_operation_documents_the_statuses_its_checks_can_answer() {
    let document = serde_json::to_value(keydeck_server::openapi()).unwrap();
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let statuses: Vec<&str> = operation["responses"].as_object().unwrap().keys().map(String::as_str).collect();
            let tags = operation["tags"].to_string();
            let mut expected = Vec::new();
            if tags.contains("\"API\"") {
                // The key check: workspace header, key, workspace and plan, rate limit.
                expected.extend(["400", "401", "403", "429"]);
            } else if operation.get("security").is_some() {
                expected.push("401");
            }
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "422"]);
            }
            if path.contains("{ws}") {
                expected.extend(["403", "404"]);
            }
            for status in expected {
                if !statuses.contains(&status) {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented statuses: {missing:#?}");
}
