//! Leak reports over HTTP, signed as GitHub's secret scanning signs them, with a key pair made
//! by the test: a report signed by a trusted key disables the keys it names at once and marks
//! them leaked; anything unsigned or signed badly is refused and changes nothing.

use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{ServerProcess, TestServer, World, assert_error, fresh_database, json_of, key_body};

const KEY_ID: &str = "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d";

fn signing_key() -> SigningKey {
    SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap()
}

/// The document GitHub publishes at /meta/public_keys/secret_scanning, for `key`.
fn published(key: &SigningKey) -> String {
    let pem = key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
    json!({"public_keys": [{"key_identifier": KEY_ID, "key": pem, "is_current": true}]}).to_string()
}

fn signature_of(key: &SigningKey, body: &[u8]) -> String {
    let signature: Signature = key.sign(body);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

async fn trusting(key: &SigningKey) -> World {
    let keys = keydeck_server::leak_reports::ReportKeys::from_published(&published(key)).unwrap();
    World::on(TestServer::start_configured(|config| config.leak_report_keys = keys).await).await
}

/// Posts `body` to /leaks with the given key id and signature headers.
async fn post(url: &str, body: &str, key_id: Option<&str>, signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/api/v1/leaks"))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(id) = key_id {
        request = request.header("Github-Public-Key-Identifier", id);
    }
    if let Some(signature) = signature {
        request = request.header("Github-Public-Key-Signature", signature);
    }
    json_of(request.send().await.unwrap()).await
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

async fn leak_entries(w: &World, id: &str) -> Vec<Value> {
    let path = format!("/api/v1/workspaces/{}/audit?limit=200", w.ws);
    let (status, page) = w.ts.send(Method::GET, &path, Some(&w.owner), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["keyId"] == json!(id) && e["action"] == "leak_reported")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_signed_report_disables_the_key_at_once_and_marks_where_it_was_found() {
    let scanner = signing_key();
    let w = trusting(&scanner).await;
    let (leaked_id, leaked) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    let (kept_id, kept) = w.ts.new_key(&w.admin, &w.ws, key_body("Reports")).await;
    assert_eq!(w.ts.me(&leaked, &w.ws).await.0, StatusCode::OK);
    let url = "https://github.com/octocat/hello/blob/abc123/.env";
    let stranger = "kdk_0000000000000000000000000000000000000A";
    let body = json!([
        {"token": leaked, "type": "keydeck_api_key", "url": url, "source": "content"},
        {"token": stranger, "type": "keydeck_api_key", "url": url, "source": "content"},
        {"token": "not a key at all", "type": "keydeck_api_key"},
    ])
    .to_string();
    let (status, verdicts) = post(&w.ts.url, &body, Some(KEY_ID), Some(&signature_of(&scanner, body.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK, "{verdicts}");
    assert_eq!(
        verdicts,
        json!([
            {"token_hash": sha256_hex(&leaked), "token_type": "keydeck_api_key", "label": "true_positive"},
            {"token_hash": sha256_hex(stranger), "token_type": "keydeck_api_key", "label": "false_positive"},
            {"token_hash": sha256_hex("not a key at all"), "token_type": "keydeck_api_key", "label": "false_positive"},
        ])
    );
    // Refused by the very next request; the other key goes on working.
    let (status, refusal) = w.ts.me(&leaked, &w.ws).await;
    assert_error(status, &refusal, 401, "key_disabled");
    assert_eq!(w.ts.me(&kept, &w.ws).await.0, StatusCode::OK);

    let (_, card) = w.ts.send(Method::GET, &format!("{}/{leaked_id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(card["enabled"], json!(false));
    assert_eq!(card["leak"]["url"], json!(url));
    assert_eq!(card["leak"]["source"], json!("content"));
    assert!(card["leak"]["reportedAt"].is_string(), "{card}");
    let (_, other) = w.ts.send(Method::GET, &format!("{}/{kept_id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(other["leak"], Value::Null);

    let entries = leak_entries(&w, &leaked_id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"]["kind"], json!("server"));
    assert_eq!(entries[0]["changes"]["leakUrl"]["to"], json!(url));
    assert_eq!(entries[0]["changes"]["enabled"], json!({"from": true, "to": false}));
    let text = entries[0].to_string();
    assert!(!text.contains(&leaked) && !text.contains(&sha256_hex(&leaked)), "no secret or hash: {text}");

    // GitHub sends a match again when it sees it again: the same place adds nothing, a new
    // place adds one entry and leaves the first report on the card.
    let signature = signature_of(&scanner, body.as_bytes());
    assert_eq!(post(&w.ts.url, &body, Some(KEY_ID), Some(&signature)).await.0, StatusCode::OK);
    assert_eq!(leak_entries(&w, &leaked_id).await.len(), 1);
    let elsewhere = "https://github.com/octocat/fork/blob/def456/.env";
    let again = json!([{"token": leaked, "type": "keydeck_api_key", "url": elsewhere, "source": "commit"}]).to_string();
    let (status, _) = post(&w.ts.url, &again, Some(KEY_ID), Some(&signature_of(&scanner, again.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK);
    let entries = leak_entries(&w, &leaked_id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["changes"]["leakUrl"]["to"], json!(elsewhere));
    assert_eq!(entries[0]["changes"].get("enabled"), None, "it was disabled already");
    let (_, card) = w.ts.send(Method::GET, &format!("{}/{leaked_id}", w.keys_path()), Some(&w.owner), None).await;
    assert_eq!(card["leak"]["url"], json!(url));
    // The second place, reported again, is not new either.
    let (status, _) = post(&w.ts.url, &again, Some(KEY_ID), Some(&signature_of(&scanner, again.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(leak_entries(&w, &leaked_id).await.len(), 2);
}

#[tokio::test]
async fn a_report_without_a_place_is_recorded_and_a_key_enabled_again_is_disabled_again() {
    let scanner = signing_key();
    let w = trusting(&scanner).await;
    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    // `url` and `source` are optional in GitHub's format: stored as NULL on both engines.
    let body = json!([{"token": secret, "type": "keydeck_api_key"}]).to_string();
    let signature = signature_of(&scanner, body.as_bytes());
    let (status, verdicts) = post(&w.ts.url, &body, Some(KEY_ID), Some(&signature)).await;
    assert_eq!(status, StatusCode::OK, "{verdicts}");
    assert_eq!(verdicts[0]["label"], json!("true_positive"));
    assert_error_of(w.ts.me(&secret, &w.ws).await, "key_disabled");
    let card_path = format!("{}/{id}", w.keys_path());
    let (_, card) = w.ts.send(Method::GET, &card_path, Some(&w.owner), None).await;
    assert!(card["leak"]["reportedAt"].is_string(), "{card}");
    assert_eq!(card["leak"]["url"], Value::Null, "{card}");
    assert_eq!(card["leak"]["source"], Value::Null, "{card}");
    let entries = leak_entries(&w, &id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["changes"]["leakUrl"], json!({"from": null, "to": null}));
    assert_eq!(post(&w.ts.url, &body, Some(KEY_ID), Some(&signature)).await.0, StatusCode::OK);
    assert_eq!(leak_entries(&w, &id).await.len(), 1, "the same report again adds nothing");

    // An owner who decides the report was wrong can enable the key again; the mark stays, and
    // the same report arriving again disables it again, with an entry saying so.
    let (status, enabled) = w.ts.send(Method::PATCH, &card_path, Some(&w.owner), Some(json!({"enabled": true}))).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert!(enabled["leak"]["reportedAt"].is_string(), "{enabled}");
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK);
    assert_eq!(post(&w.ts.url, &body, Some(KEY_ID), Some(&signature)).await.0, StatusCode::OK);
    assert_error_of(w.ts.me(&secret, &w.ws).await, "key_disabled");
    let entries = leak_entries(&w, &id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["changes"]["enabled"], json!({"from": true, "to": false}));
    assert_eq!(entries[0]["changes"].get("leakedAt"), None, "the first report's time stays");
}

fn assert_error_of((status, body): (StatusCode, Value), code: &str) {
    assert_error(status, &body, 401, code);
}

#[tokio::test]
async fn unsigned_or_badly_signed_reports_are_refused_and_change_nothing() {
    let scanner = signing_key();
    let impostor = signing_key();
    let w = trusting(&scanner).await;
    let (id, secret) = w.ts.new_key(&w.admin, &w.ws, key_body("Zapier")).await;
    let body = json!([{"token": secret, "type": "keydeck_api_key", "url": "https://example.com/x"}]).to_string();
    let good = signature_of(&scanner, body.as_bytes());
    let tampered = body.replace("example.com", "example.org");
    let refused = [
        ("unsigned", body.clone(), None, None, "not signed"),
        ("no signature", body.clone(), Some(KEY_ID), None, "not signed"),
        ("unknown key", body.clone(), Some("someone-else"), Some(good.clone()), "does not trust"),
        ("impostor", body.clone(), Some(KEY_ID), Some(signature_of(&impostor, body.as_bytes())), "does not match"),
        ("tampered body", tampered, Some(KEY_ID), Some(good.clone()), "does not match"),
        ("garbage signature", body.clone(), Some(KEY_ID), Some("bm90IGEgc2lnbmF0dXJl".to_owned()), "not a base64 DER"),
    ];
    for (case, body, key_id, signature, says) in refused {
        let (status, answer) = post(&w.ts.url, &body, key_id, signature.as_deref()).await;
        assert_error(status, &answer, 401, "invalid_signature");
        assert!(answer["message"].as_str().unwrap().contains(says), "{case}: {answer}");
    }
    assert_eq!(w.ts.me(&secret, &w.ws).await.0, StatusCode::OK, "the key still works");
    assert!(leak_entries(&w, &id).await.is_empty());

    // Signed, but not a list of matches.
    let not_a_list = r#"{"token": "x"}"#;
    let (status, answer) =
        post(&w.ts.url, not_a_list, Some(KEY_ID), Some(&signature_of(&scanner, not_a_list.as_bytes()))).await;
    assert_error(status, &answer, 422, "validation_failed");

    // A server whose operator configured no keys believes no report, however it is signed.
    let untrusting = TestServer::start().await;
    let (status, answer) = post(&untrusting.url, &body, Some(KEY_ID), Some(&good)).await;
    assert_error(status, &answer, 401, "invalid_signature");
    assert!(answer["message"].as_str().unwrap().contains("--leak-report-keys"), "{answer}");
}

#[tokio::test]
async fn the_serve_command_reads_the_keys_file_and_refuses_a_bad_one() {
    let scanner = signing_key();
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let keys = dir.path().join("secret_scanning.json");
    std::fs::write(&keys, published(&scanner)).unwrap();
    let node = ServerProcess::spawn_with(&db, &["--leak-report-keys", keys.to_str().unwrap()]).await;
    let body = json!([{"token": "kdk_0000000000000000000000000000000000000A", "type": "keydeck_api_key"}]).to_string();
    let (status, verdicts) = post(&node.url, &body, Some(KEY_ID), Some(&signature_of(&scanner, body.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK, "{verdicts}");
    assert_eq!(verdicts[0]["label"], json!("false_positive"));
    drop(node);

    std::fs::write(&keys, r#"{"public_keys": []}"#).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keydeck-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db.as_argument())
        .args(["--leak-report-keys", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("secret_scanning.json lists no public key"), "{stderr}");
}
