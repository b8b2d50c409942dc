//! The test harness: a real server on a random port, a reqwest client, and a world of users
//! and workspaces.

use std::io::Write;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use keydeck_core::wire::{Plan, Role};
use keydeck_server::store::DbLocation;
use keydeck_server::{Clock, RunningServer, ServerConfig, admin};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Debug logging of everything (server, sqlx, hyper), captured in memory for the whole run.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static INIT: Once = Once::new();
    let logs = LOGS.get_or_init(|| Arc::new(Mutex::new(Vec::new()))).clone();
    INIT.call_once(|| {
        let writer = LogWriter(logs.clone());
        tracing_subscriber::fmt().with_env_filter("debug").with_ansi(false).with_writer(move || writer.clone()).init();
    });
    logs
}

/// Set by `scripts/with-postgres.sh`: a PostgreSQL server on which each test makes a database
/// of its own. When it is set, the whole suite runs on PostgreSQL; otherwise on SQLite.
pub const POSTGRES: &str = "KEYDECK_TEST_POSTGRES";

/// A new, empty database for one test: a file in `dir`, or a database of its own on the
/// PostgreSQL server named by [`POSTGRES`].
pub async fn fresh_database(dir: &std::path::Path) -> DbLocation {
    let Ok(server) = std::env::var(POSTGRES) else {
        return DbLocation::Sqlite(dir.join("keydeck.db"));
    };
    use sqlx::Connection;
    let name = format!("t_{}", keydeck_core::key::random_base62(&mut rand::rng(), 12).to_lowercase());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    admin.close().await.unwrap();
    DbLocation::Postgres(format!("{server}/{name}"))
}

/// What a database holds, as bytes to search: the SQLite file and its write-ahead log, or a
/// `pg_dump` of the PostgreSQL database.
pub fn database_contents(db: &DbLocation) -> Vec<u8> {
    match db {
        DbLocation::Sqlite(path) => {
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            bytes
        }
        DbLocation::Postgres(url) => {
            let dump = std::process::Command::new(std::env::var("KEYDECK_TEST_PG_DUMP").unwrap_or("pg_dump".into()))
                .args(["--data-only", "--dbname", url])
                .output()
                .unwrap();
            assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
            dump.stdout
        }
    }
}

/// `keydeck-server admin …` on `db`; returns its standard output.
pub fn admin(db: &DbLocation, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keydeck-server"))
        .arg("admin")
        .arg("--db")
        .arg(db.as_argument())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Signs in at the server at `url`; returns the session token.
pub async fn session_token(http: &reqwest::Client, url: &str, email: &str, password: &str) -> String {
    let response =
        http.post(format!("{url}/api/v1/sessions")).json(&json!({"email": email, "password": password})).send().await;
    let (status, body) = json_of(response.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

pub struct TestServer {
    pub server: RunningServer,
    pub url: String,
    pub http: reqwest::Client,
    pub clock: Clock,
    pub db: DbLocation,
    secrets: Mutex<Vec<String>>,
    logs: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(false).await
    }

    pub async fn start_with(demo: bool) -> TestServer {
        Self::start_configured(|config| config.demo = demo).await
    }

    /// A server with a short flush interval, then `configure`'s changes.
    pub async fn start_configured(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let logs = capture_logs();
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_database(dir.path()).await;
        let mut config = ServerConfig::new(db.clone(), "127.0.0.1:0".parse().unwrap());
        config.flush_interval = Duration::from_millis(200);
        configure(&mut config);
        let clock = Clock::default();
        let server = keydeck_server::start(config, clock.clone()).await.unwrap();
        let url = server.url();
        TestServer {
            server,
            url,
            http: reqwest::Client::new(),
            clock,
            db,
            secrets: Mutex::new(vec![PASSWORD.to_owned()]),
            logs,
            _dir: dir,
        }
    }

    /// Stops the server and starts it again on the same database (on another port).
    pub async fn restart(&mut self) {
        let mut config = ServerConfig::new(self.db.clone(), "127.0.0.1:0".parse().unwrap());
        config.flush_interval = Duration::from_millis(200);
        let fresh = keydeck_server::start(config, self.clock.clone()).await.unwrap();
        self.url = fresh.url();
        std::mem::replace(&mut self.server, fresh).stop().await;
    }

    /// Remembers a value that must never appear in the log.
    pub fn watch(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_owned());
    }

    pub async fn user(&self, email: &str, name: &str) -> String {
        admin::create_user(&self.server.state.store, &self.clock, email, PASSWORD, name).await.unwrap().id
    }

    pub async fn workspace(&self, name: &str, plan: Plan, owner_email: &str) -> String {
        admin::create_workspace(&self.server.state.store, &self.clock, name, plan, owner_email).await.unwrap()
    }

    pub async fn add_member(&self, ws: &str, email: &str, role: Role) {
        admin::add_member(&self.server.state.store, &self.clock, ws, email, role).await.unwrap();
    }

    pub async fn sign_in(&self, email: &str) -> String {
        self.sign_in_with(email, PASSWORD).await
    }

    pub async fn sign_in_with(&self, email: &str, password: &str) -> String {
        self.watch(password);
        let (status, body) = self
            .send(Method::POST, "/api/v1/sessions", None, Some(json!({"email": email, "password": password})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        self.watch(&token);
        token
    }

    /// A request with an optional bearer token and JSON body; returns the status and JSON.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    /// Creates a key; returns (id, secret).
    pub async fn new_key(&self, token: &str, ws: &str, body: Value) -> (String, String) {
        let (status, created) =
            self.send(Method::POST, &format!("/api/v1/workspaces/{ws}/keys"), Some(token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["secret"].as_str().unwrap().to_owned();
        self.watch(&secret);
        (created["key"]["id"].as_str().unwrap().to_owned(), secret)
    }

    /// A request made with an API key.
    pub async fn with_key(&self, method: Method, path: &str, key: &str, ws: &str, body: Option<Value>) -> Response {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(key)
            .header("X-Workspace-Id", ws);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn me(&self, key: &str, ws: &str) -> (StatusCode, Value) {
        json_of(self.with_key(Method::GET, "/me", key, ws, None).await).await
    }

    /// Runs `keydeck-server admin ...` against this server's database. Awaited, never
    /// blocking: the server runs on this test's runtime and must keep serving (and finish any
    /// write it has begun) while the command runs.
    pub async fn admin_cli(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_keydeck-server"))
            .arg("admin")
            .arg("--db")
            .arg(self.db.as_argument())
            .args(args)
            .output()
            .await
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let logs = String::from_utf8_lossy(&self.logs.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
        assert!(!logs.is_empty(), "debug logging captured nothing: the check below would prove nothing");
        for secret in self.secrets.lock().unwrap().iter() {
            assert!(!logs.contains(secret.as_str()), "a secret, session token or password appears in the debug log");
        }
    }
}

pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, value)
}

/// Asserts the API's error shape with this status and code.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.len() > 20 && message.ends_with('.'), "the message should be a sentence: {body}");
}

/// Polls `check` until it returns true, for at most `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn key_body(name: &str) -> Value {
    json!({"name": name, "scopes": ["time_entries:read", "projects:read"], "expiresInDays": 90})
}

/// An owner, an admin and a member of a Business workspace, signed in.
pub struct World {
    pub ts: TestServer,
    pub ws: String,
    pub owner: String,
    pub admin: String,
    pub member: String,
    pub admin_id: String,
}

impl World {
    pub async fn new() -> World {
        Self::on(TestServer::start().await).await
    }

    /// The same people and workspace on `ts`.
    pub async fn on(ts: TestServer) -> World {
        ts.user("owner@example.com", "Olive Owner").await;
        let admin_id = ts.user("admin@example.com", "Adam Admin").await;
        ts.user("member@example.com", "Mel Member").await;
        let ws = ts.workspace("Acme", Plan::Business, "owner@example.com").await;
        ts.add_member(&ws, "admin@example.com", Role::Admin).await;
        ts.add_member(&ws, "member@example.com", Role::Member).await;
        let owner = ts.sign_in("owner@example.com").await;
        let admin = ts.sign_in("admin@example.com").await;
        let member = ts.sign_in("member@example.com").await;
        World { ts, ws, owner, admin, member, admin_id }
    }

    pub fn keys_path(&self) -> String {
        format!("/api/v1/workspaces/{}/keys", self.ws)
    }
}

/// A `keydeck-server serve` process of its own (the real binary), on a database that other
/// processes may share. Killed when dropped.
pub struct ServerProcess {
    pub url: String,
    pub child: tokio::process::Child,
}

impl ServerProcess {
    /// Starts `keydeck-server serve --db db` on a free port and waits until it answers.
    pub async fn spawn(db: &DbLocation) -> ServerProcess {
        Self::spawn_with(db, &[]).await
    }

    /// The same, with more arguments to `serve`.
    pub async fn spawn_with(db: &DbLocation, args: &[&str]) -> ServerProcess {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_keydeck-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db.as_argument())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("Keydeck workspace server on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("keydeck-server exited before it listened");
        })
        .await
        .expect("keydeck-server did not start within 30 s");
        // Keep reading its output, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess { url, child }
    }

    /// `GET /me` with a key, against this process.
    pub async fn me(&self, http: &reqwest::Client, key: &str, ws: &str) -> (StatusCode, Value) {
        let response =
            http.get(format!("{}/api/v1/me", self.url)).bearer_auth(key).header("X-Workspace-Id", ws).send().await;
        json_of(response.unwrap()).await
    }

    /// The most memory the process has held at once (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let pid = self.child.id().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}
