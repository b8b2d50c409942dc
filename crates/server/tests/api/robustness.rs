//! Bad input of every kind gets the API's error shape: never a 500, never a panic.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{World, assert_error, json_of, key_body};

async fn raw(
    w: &World,
    method: Method,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let response =
        w.ts.http
            .request(method, format!("{}{path}", w.ts.url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
    json_of(response).await
}

#[tokio::test]
async fn malformed_bodies_are_named_not_crashed_on() {
    let w = World::new().await;
    let path = w.keys_path();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("application/json", b"{\"name\": \"Zapier\",".to_vec(), 400, "bad_request"),
        ("application/json", b"".to_vec(), 400, "bad_request"),
        ("application/json", b"{} trailing".to_vec(), 400, "bad_request"),
        ("application/json", vec![0xff, 0xfe, 0x00], 400, "bad_request"),
        ("text/plain", b"name=Zapier".to_vec(), 400, "bad_request"),
        ("application/json", b"[1, 2, 3]".to_vec(), 422, "validation_failed"),
        (
            "application/json",
            br#"{"name": 42, "scopes": "all", "expiresInDays": "soon", "rateLimit": 5}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "application/json",
            br#"{"name": "Zapier", "scopes": ["reports:read"], "expiresInDays": 7, "admin": true}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "application/json",
            br#"{"name": "Zapier", "scopes": ["reports:read"], "expiresInDays": 1e300}"#.to_vec(),
            422,
            "validation_failed",
        ),
        ("application/json", format!("{{\"name\": \"{}\"}}", "a".repeat(70_000)).into_bytes(), 400, "bad_request"),
    ];
    for (content_type, body, status, code) in cases {
        let (got, reply) = raw(&w, Method::POST, &path, &w.owner, content_type, body).await;
        assert_error(got, &reply, status, code);
    }
    let (got, reply) = raw(
        &w,
        Method::POST,
        &path,
        &w.owner,
        "application/json",
        br#"{"name": 42, "scopes": "all", "expiresInDays": "soon", "rateLimit": 5}"#.to_vec(),
    )
    .await;
    assert_error(got, &reply, 422, "validation_failed");
    assert_eq!(reply["fields"].as_array().unwrap().len(), 4, "{reply}");
    let (got, reply) = raw(
        &w,
        Method::POST,
        &path,
        &w.owner,
        "application/json",
        format!("{{\"name\": \"{}\"}}", "a".repeat(70_000)).into_bytes(),
    )
    .await;
    assert_error(got, &reply, 400, "bad_request");
    assert!(reply["message"].as_str().unwrap().contains("64 KiB"));
    // Typed bodies name the bad field too.
    let (_, key) =
        w.ts.new_key(
            &w.owner,
            &w.ws,
            json!({"name": "Writer", "scopes": ["projects:write", "time_entries:write"], "expiresInDays": 7}),
        )
        .await;
    for (path, body, field) in [
        ("/projects", json!({"name": "X", "colour": "red"}), "colour"),
        ("/projects", json!({"name": ["X"]}), "body"),
        ("/time-entries", json!({"employeeId": "e", "start": "yesterday"}), "body"),
        ("/time-entries", json!({"start": "2026-11-01T09:00:00Z"}), "employeeId"),
    ] {
        let (status, reply) = json_of(w.ts.with_key(Method::POST, path, &key, &w.ws, Some(body)).await).await;
        assert_error(status, &reply, 422, "validation_failed");
        assert_eq!(reply["fields"][0]["field"], field, "{reply}");
    }
}

#[tokio::test]
async fn absurd_query_values_are_refused_with_the_parameter_named() {
    let w = World::new().await;
    let (id, key) =
        w.ts.new_key(
            &w.owner,
            &w.ws,
            json!({"name": "Reader", "scopes": ["time_entries:read", "reports:read"], "expiresInDays": 7}),
        )
        .await;
    let key_path = format!("{}/{id}", w.keys_path());
    for (path, field) in [
        (format!("{key_path}/requests?limit=99999999999999999999999"), "limit"),
        (format!("{key_path}/requests?limit=-1"), "limit"),
        (format!("{key_path}/requests?limit=0"), "limit"),
        (format!("{key_path}/usage?days=abc"), "days"),
        (format!("{key_path}/usage?days=100000"), "days"),
    ] {
        let (status, reply) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
        assert_error(status, &reply, 422, "validation_failed");
        assert_eq!(reply["fields"][0]["field"], field);
    }
    for (path, field) in [
        ("/time-entries?limit=1e9", "limit"),
        ("/time-entries?from=last%20week", "from"),
        ("/time-entries?sort=desc", "sort"),
        ("/reports/summary?from=2026-01-01&to=2029-01-01", "to"),
        ("/reports/summary?from=2026-13-45&to=2026-01-01", "from"),
        ("/reports/summary", "from"),
    ] {
        let (status, reply) = json_of(w.ts.with_key(Method::GET, path, &key, &w.ws, None).await).await;
        assert_error(status, &reply, 422, "validation_failed");
        assert_eq!(reply["fields"][0]["field"], field, "{path}: {reply}");
    }
    let (status, reply) =
        json_of(w.ts.with_key(Method::GET, "/time-entries?limit=%FF%FE", &key, &w.ws, None).await).await;
    assert!(status.is_client_error() && reply["error"].is_string(), "{status} {reply}");
}

#[tokio::test]
async fn non_utf8_headers_get_the_error_shape() {
    let w = World::new().await;
    let (_, key) = w.ts.new_key(&w.owner, &w.ws, key_body("Zapier")).await;
    let bad = HeaderValue::from_bytes(&[0x42, 0xff, 0xfe, 0x80]).unwrap();
    let send = |name: &'static str, value: HeaderValue, path: String, authorization: Option<String>| {
        let mut request = w.ts.http.get(format!("{}{path}", w.ts.url)).header(HeaderName::from_static(name), value);
        if let Some(a) = authorization {
            request = request.bearer_auth(a);
        }
        request.send()
    };
    let mut bearer_bad = b"Bearer kdk_".to_vec();
    bearer_bad.extend_from_slice(&[0xff; 38]);
    let response =
        send("authorization", HeaderValue::from_bytes(&bearer_bad).unwrap(), "/api/v1/me".into(), None).await.unwrap();
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 401, "invalid_api_key");
    let response = send("x-workspace-id", bad.clone(), "/api/v1/me".into(), Some(key.clone())).await.unwrap();
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 400, "bad_request");
    let response =
        send("authorization", HeaderValue::from_bytes(&bearer_bad).unwrap(), "/api/v1/workspaces".into(), None)
            .await
            .unwrap();
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 401, "invalid_session");
    let response =
        w.ts.http
            .post(format!("{}{}", w.ts.url, w.keys_path()))
            .bearer_auth(&w.owner)
            .header("idempotency-key", bad)
            .json(&key_body("Zapier"))
            .send()
            .await
            .unwrap();
    let (status, body) = json_of(response).await;
    assert_error(status, &body, 400, "bad_request");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let w = World::new().await;
    let (status, body) = w.ts.send(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = w.ts.send(Method::PUT, "/api/v1/sessions", None, None).await;
    assert_error(status, &body, 405, "method_not_allowed");
    let (status, body) = w.ts.send(Method::GET, "/api/v1/workspaces/%FF%FE/keys", Some(&w.owner), None).await;
    assert!(status.is_client_error() && body["error"].is_string(), "{status} {body}");
}
