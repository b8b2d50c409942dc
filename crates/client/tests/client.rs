//! The client against a real workspace server over HTTP.

use keydeck_client::{Client, ClientError};
use keydeck_core::app::ActivityQuery;
use keydeck_core::wire::{AuditAction, CreateKeyRequest, Plan, UpdateKeyRequest};
use keydeck_core::{ErrorCode, ExpiresInDays, Scope};
use keydeck_server::{Clock, ServerConfig, admin};

const PASSWORD: &str = "correct horse battery";

async fn server() -> (keydeck_server::RunningServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = keydeck_server::start(
        ServerConfig::new(dir.path().join("k.db"), "127.0.0.1:0".parse().unwrap()),
        Clock::default(),
    )
    .await
    .unwrap();
    let clock = Clock::default();
    admin::create_user(&server.state.store, &clock, "ana@example.com", PASSWORD, "Ana").await.unwrap();
    let ws =
        admin::create_workspace(&server.state.store, &clock, "Studio", Plan::Team, "ana@example.com").await.unwrap();
    (server, ws, dir)
}

fn new_key(name: &str) -> CreateKeyRequest {
    CreateKeyRequest {
        name: Some(name.to_owned()),
        scopes: vec![Scope::ReportsRead],
        expires_in_days: ExpiresInDays::new(30),
        rate_limit: None,
        replaces: None,
        allowed_ips: None,
    }
}

#[tokio::test]
async fn the_whole_key_lifecycle_through_the_client() {
    let (server, ws, _dir) = server().await;
    let client = Client::new(&format!("{}/api/v1", server.url())).unwrap();
    client.healthz().await.unwrap();
    let session = client.sign_in("ana@example.com", PASSWORD).await.unwrap();
    let token = &session.token;
    assert_eq!(client.workspaces(token).await.unwrap().workspaces[0].id, ws);

    let created = client
        .create_key(token, &ws, &new_key("Dashboard"), Some("0f9c2b1e-1111-4222-8333-944455556666"))
        .await
        .unwrap();
    let again = client
        .create_key(token, &ws, &new_key("Dashboard"), Some("0f9c2b1e-1111-4222-8333-944455556666"))
        .await
        .unwrap();
    assert_eq!(created.secret, again.secret);
    assert_eq!(client.list_keys(token, &ws).await.unwrap().keys.len(), 1);

    let answer = client.me(&created.secret, &ws).await.unwrap();
    assert_eq!(answer.me.unwrap().key.id, created.key.id);
    let budget = answer.budget.unwrap();
    assert_eq!((budget.limit, budget.remaining), (100, 99));

    let changed = client
        .update_key(token, &ws, &created.key.id, &UpdateKeyRequest { enabled: Some(false), ..Default::default() })
        .await
        .unwrap();
    assert!(!changed.enabled);
    let refused = client.me(&created.secret, &ws).await.unwrap();
    assert_eq!(refused.me.unwrap_err().code(), Some(ErrorCode::KeyDisabled));
    assert!(refused.budget.is_none(), "a refused key is not counted against its limit");

    assert_eq!(client.key_usage(token, &ws, &created.key.id, 7).await.unwrap().days.len(), 7);
    client.revoke_key(token, &ws, &created.key.id).await.unwrap();
    let gone = client.key(token, &ws, &created.key.id).await.unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::NotFound));
    client.sign_out(token).await.unwrap();
    assert_eq!(client.workspaces(token).await.unwrap_err().code(), Some(ErrorCode::InvalidSession));
}

#[tokio::test]
async fn api_errors_keep_their_code_message_and_fields() {
    let (server, ws, _dir) = server().await;
    let client = Client::new(&server.url()).unwrap();
    let wrong = client.sign_in("ana@example.com", "nope nope").await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::InvalidCredentials));
    assert!(wrong.to_string().contains("email or password"));
    let token = client.sign_in("ana@example.com", PASSWORD).await.unwrap().token;
    let err = client.create_key(&token, &ws, &new_key("ab"), None).await.unwrap_err();
    let ClientError::Api { status, body } = err else { panic!("{err:?}") };
    assert_eq!(status, 422);
    assert_eq!(body.fields.unwrap()[0].field, "name");
}

#[tokio::test]
async fn an_unreachable_server_and_a_foreign_one_are_told_apart() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = Client::new(&format!("http://127.0.0.1:{port}")).unwrap().healthz().await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("could not be reached"));

    // A server that is not Keydeck: answers 404 HTML to everything.
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = foreign.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = foreign.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<h1>?</h1").await;
        }
    });
    let err = Client::new(&format!("http://{addr}")).unwrap().sign_in("a@example.com", "x").await.unwrap_err();
    assert!(matches!(err, ClientError::Unexpected { status: 404, .. }), "{err:?}");
}

#[tokio::test]
async fn the_audit_log_comes_narrowed_and_paged_as_asked() {
    let (server, ws, _dir) = server().await;
    let client = Client::new(&server.url()).unwrap();
    let token = client.sign_in("ana@example.com", PASSWORD).await.unwrap().token;
    let one = client.create_key(&token, &ws, &new_key("Dashboard"), None).await.unwrap().key;
    let two = client.create_key(&token, &ws, &new_key("Payroll, sync & more"), None).await.unwrap().key;
    let off = UpdateKeyRequest { enabled: Some(false), ..Default::default() };
    client.update_key(&token, &ws, &two.id, &off).await.unwrap();
    client.revoke_key(&token, &ws, &one.id).await.unwrap();

    let all = ActivityQuery::default();
    let everything = client.audit(&token, &ws, &all, 50).await.unwrap();
    let actions: Vec<AuditAction> = everything.entries.iter().map(|e| e.action).collect();
    // The workspace's creation by the admin command line made Ana its owner: the oldest entry.
    let expected = [
        AuditAction::Revoked,
        AuditAction::Disabled,
        AuditAction::Created,
        AuditAction::Created,
        AuditAction::MemberAdded,
    ];
    assert_eq!(actions, expected);

    // One key (its name has a comma and an ampersand: the ids travel, not names), some actions.
    let narrowed = ActivityQuery {
        key_ids: vec![two.id.clone()],
        actions: vec![AuditAction::Disabled, AuditAction::Enabled],
        ..Default::default()
    };
    let page = client.audit(&token, &ws, &narrowed, 50).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(
        (page.entries[0].action, page.entries[0].key_name.as_deref()),
        (AuditAction::Disabled, Some("Payroll, sync & more"))
    );

    // Two at a time, each page from where the one before ended, to the end.
    let (mut paged, mut before, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = client.audit(&token, &ws, &ActivityQuery { before, ..Default::default() }, 2).await.unwrap();
        pages += 1;
        paged.extend(page.entries.iter().map(|e| e.id.clone()));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let whole: Vec<String> = everything.entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!((paged, pages), (whole, 3));

    // By person: Ana made every change but the first; the server and an unknown id (spaces and an ampersand,
    // encoded on the way) made none.
    let ana = everything.entries[0].actor.id.clone();
    let by = |actor: Option<String>| ActivityQuery { actor, ..Default::default() };
    assert_eq!(client.audit(&token, &ws, &by(ana), 50).await.unwrap().entries.len(), 4);
    assert_eq!(client.audit(&token, &ws, &by(Some("admin_cli".into())), 50).await.unwrap().entries.len(), 1);
    assert!(client.audit(&token, &ws, &by(Some("server".into())), 50).await.unwrap().entries.is_empty());
    assert!(client.audit(&token, &ws, &by(Some("usr x&key=1".into())), 50).await.unwrap().entries.is_empty());
}
