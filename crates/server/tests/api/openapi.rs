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
