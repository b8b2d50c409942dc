//! The server's performance figures from the issue, each measured side by side in one run:
//!
//! 1. authenticated `GET /api/v1/me` throughput at least 0.80 of `GET /healthz` on the same
//!    server;
//! 2. `/me` throughput with 1,000,000 keys stored at least 0.95 of that with 10 keys stored;
//! 3. at most 0.01 database write statements per authenticated request, with every key's
//!    `request_count` exact once usage is flushed;
//! 4. accepted / allowed within 1% when 32 connections push one key past its rate limit;
//! 5. `/me` throughput on one node on PostgreSQL at least 0.95 of that on one node on SQLite;
//! 6. key-authenticated `GET /api/v1/projects` (20 projects) at least 0.5 of `/healthz`, on
//!    SQLite and on PostgreSQL;
//! 7. figure 3 with three nodes on one PostgreSQL database, 32 connections each;
//! 8. figure 4 with three nodes on one PostgreSQL database, 32 connections each;
//! 9. a revocation on one node refused by the two others: the largest delay over 200, at most
//!    1 s;
//! 10. figure 2 on PostgreSQL.
//!
//! Figures 5 to 10 need PostgreSQL: the server named by `KEYDECK_TEST_POSTGRES`, which
//! `scripts/with-postgres.sh` starts (`make bench-server` runs it); each figure gets a new
//! database on it.
//!
//! Run with `cargo bench -p keydeck-server --bench server`. The server runs in-process on one
//! multi-thread tokio runtime, the load generator (hyper 1 HTTP/1.1 clients with keep-alive,
//! one request at a time per connection) on another; on a 2-core machine both share the cores,
//! equally for both sides of every ratio. Throughput pairs are measured in alternating rounds
//! (ABBA) after a warm-up; a figure is the median of the ratios of the rounds measured next to
//! each other, which cancels the slow drift of a shared machine's speed (the ratio of the two
//! sides' medians is printed next to it). Exits non-zero when any figure misses.
//! `cargo bench -p keydeck-server --bench server -- 1 4` runs only figures 1 and 4.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use keydeck_core::key::random_base62;
use keydeck_core::wire::Plan;
use keydeck_core::{KeySecret, RateLimit, Scope, ScopeSet};
use keydeck_server::store::{DbLocation, NewKeyRow};
use keydeck_server::{Clock, RunningServer, ServerConfig, admin};
use tokio::runtime::Runtime;

/// Concurrent client connections of every load run.
const CONNECTIONS: usize = 32;
/// Measured rounds per side of a throughput ratio.
const ROUNDS: usize = 15;
/// Length of one measured round.
const ROUND: Duration = Duration::from_millis(600);
/// Warm-up per side before the measured rounds.
const WARMUP: Duration = Duration::from_secs(1);
/// Length of the run that counts write statements.
const WRITE_RUN: Duration = Duration::from_secs(5);
/// Whole rate-limit windows the limiter run covers.
const LIMIT_WINDOWS: u64 = 4;

const HEALTHZ: &str = "/healthz";
const ME: &str = "/api/v1/me";
const OWNER_EMAIL: &str = "bench-owner@example.com";
const OWNER_PASSWORD: &str = "bench-password";

/// The product's limit of live keys per workspace, kept for the pool of figures 1 and 3.
const KEYS_PER_WORKSPACE: usize = 10;
/// Keys stored in the large database of figure 2.
const LARGE_TOTAL_KEYS: usize = 1_000_000;
/// Workspaces the large database spreads its filler keys over.
const LARGE_WORKSPACES: usize = 1_000;
/// Keys the `/me` load of figure 2 uses, present in both databases.
const MEASURED_KEYS: usize = 10;

/// A rate limit that runs the limiter on every request but never refuses at these rates.
const GENEROUS: RateLimit = RateLimit { enabled: true, max_requests: 10_000, window_seconds: 1 };
/// The keys figure 2 loads have no limit: spread over 10 keys, its load passes 9,000 requests a
/// second per key, next to the largest limit a key can have (10,000 a second). Figure 1
/// measures the limiter.
const UNLIMITED: RateLimit = RateLimit { enabled: false, max_requests: 10_000, window_seconds: 1 };
/// The limit figure 4 pushes past.
const TIGHT: RateLimit = RateLimit { enabled: true, max_requests: 500, window_seconds: 1 };
/// Projects in each workspace of figure 6.
const PROJECTS: usize = 20;
/// Revocations figure 9 times.
const REVOCATIONS: usize = 200;
/// Nodes on one PostgreSQL database in figures 7 to 9.
const NODES: usize = 3;
const PROJECTS_PATH: &str = "/api/v1/projects";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("benchmark error: {e:#}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The load generator

/// What one connection asks for, over and over.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    path: &'static str,
    /// `Authorization` and `X-Workspace-Id`, for key-authenticated paths.
    key: Option<(HeaderValue, HeaderValue)>,
}

impl Target {
    fn open(addr: SocketAddr, path: &'static str) -> Target {
        Target { addr, path, key: None }
    }

    fn keyed(addr: SocketAddr, path: &'static str, key: &BenchKey) -> Result<Target> {
        let auth = HeaderValue::from_str(&format!("Bearer {}", key.secret.expose()))?;
        let workspace = HeaderValue::from_str(&key.workspace_id)?;
        Ok(Target { addr, path, key: Some((auth, workspace)) })
    }
}

/// What a load run got back.
#[derive(Debug, Default)]
struct Stats {
    /// 2xx responses.
    ok: u64,
    /// 429 responses.
    limited: u64,
    /// Any other status.
    other: u64,
    /// Connections that failed (each stops its connection).
    errors: u64,
    elapsed: Duration,
    /// By `X-RateLimit-Reset`: (2xx, 429), when asked for.
    windows: BTreeMap<i64, (u64, u64)>,
}

impl Stats {
    fn responses(&self) -> u64 {
        self.ok + self.limited + self.other
    }

    fn ok_per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.limited += other.limited;
        self.other += other.other;
        self.errors += other.errors;
        for (window, (ok, limited)) in other.windows {
            let entry = self.windows.entry(window).or_default();
            entry.0 += ok;
            entry.1 += limited;
        }
    }

    fn summary(&self) -> String {
        format!(
            "{:>9.0} req/s  ({} ok, {} 429, {} other, {} errors in {:.2} s)",
            self.ok_per_second(),
            self.ok,
            self.limited,
            self.other,
            self.errors,
            self.elapsed.as_secs_f64()
        )
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One connection sending requests back to back until `deadline`.
async fn drive(mut sender: SendRequest<Empty<Bytes>>, target: Target, deadline: Instant, track_windows: bool) -> Stats {
    let mut stats = Stats::default();
    let Ok(host) = HeaderValue::from_str(&target.addr.to_string()) else {
        stats.errors += 1;
        return stats;
    };
    while Instant::now() < deadline {
        if sender.ready().await.is_err() {
            stats.errors += 1;
            break;
        }
        let mut request = Request::get(target.path).header(HOST, host.clone());
        if let Some((auth, workspace)) = &target.key {
            request = request.header(AUTHORIZATION, auth.clone()).header("x-workspace-id", workspace.clone());
        }
        let Ok(request) = request.body(Empty::new()) else {
            stats.errors += 1;
            break;
        };
        let Ok(response) = sender.send_request(request).await else {
            stats.errors += 1;
            break;
        };
        let status = response.status().as_u16();
        let window = if track_windows {
            response
                .headers()
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
        } else {
            None
        };
        if response.into_body().collect().await.is_err() {
            stats.errors += 1;
            break;
        }
        match status {
            200..=299 => stats.ok += 1,
            429 => stats.limited += 1,
            _ => stats.other += 1,
        }
        if let Some(window) = window {
            let entry = stats.windows.entry(window).or_default();
            match status {
                200..=299 => entry.0 += 1,
                429 => entry.1 += 1,
                _ => {}
            }
        }
    }
    stats
}

/// Opens one connection per target, then runs them all for `duration`. With `align`, the
/// run starts 20 ms after a whole Unix second (where 1-second rate-limit windows begin).
async fn load(targets: &[Target], duration: Duration, track_windows: bool, align: bool) -> Result<Stats> {
    let mut senders = Vec::with_capacity(targets.len());
    for target in targets {
        senders.push(connect(target.addr).await?);
    }
    if align {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 1000;
        let wait = (1020 - ms) % 1000;
        tokio::time::sleep(Duration::from_millis(u64::try_from(wait)?)).await;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .zip(targets.iter().cloned())
        .map(|(sender, target)| tokio::spawn(drive(sender, target, deadline, track_windows)))
        .collect();
    let mut total = Stats::default();
    for task in tasks {
        total.merge(task.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// Runs `a` and `b` alternately: a warm-up of each, then [`ROUNDS`] rounds in ABBA order (so a
/// slow drift of the machine weighs on both sides alike). Returns the rounds of each side.
fn alternate(
    client: &Runtime,
    a: &[Target],
    b: &[Target],
    label_a: &str,
    label_b: &str,
    before_round: &dyn Fn(),
) -> Result<(Vec<Stats>, Vec<Stats>)> {
    client.block_on(load(a, WARMUP, false, false))?;
    client.block_on(load(b, WARMUP, false, false))?;
    let (mut rounds_a, mut rounds_b) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        for is_a in order {
            before_round();
            let stats = client.block_on(load(if is_a { a } else { b }, ROUND, false, false))?;
            if is_a { rounds_a.push(stats) } else { rounds_b.push(stats) }
        }
        let (sa, sb) = (&rounds_a[round], &rounds_b[round]);
        let flags =
            if all_ok(std::slice::from_ref(sa)) && all_ok(std::slice::from_ref(sb)) { "" } else { "  (not all 2xx!)" };
        println!(
            "  round {:>2}  {label_a} {:>7.0} req/s   {label_b} {:>7.0} req/s   ratio {:.3}{flags}",
            round + 1,
            sa.ok_per_second(),
            sb.ok_per_second(),
            sa.ok_per_second() / sb.ok_per_second()
        );
    }
    Ok((rounds_a, rounds_b))
}

fn median_rps(rounds: &[Stats]) -> f64 {
    let mut rates: Vec<f64> = rounds.iter().map(Stats::ok_per_second).collect();
    rates.sort_by(f64::total_cmp);
    let mid = rates.len() / 2;
    if rates.len() % 2 == 1 { rates[mid] } else { (rates[mid - 1] + rates[mid]) / 2.0 }
}

/// The median of the ratios a/b of rounds measured next to each other: the figure. On a virtual
/// machine whose speed drifts by 10% or more within a run, the two sides' medians can come from
/// rounds at different speeds; each pair was measured within about a second, and the median
/// drops the pairs a burst of other work hit.
fn median_pair_ratio(a: &[Stats], b: &[Stats]) -> f64 {
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a.ok_per_second() / b.ok_per_second()).collect();
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    if ratios.len() % 2 == 1 { ratios[mid] } else { (ratios[mid - 1] + ratios[mid]) / 2.0 }
}

/// Every request of these rounds answered 2xx, over working connections.
fn all_ok(rounds: &[Stats]) -> bool {
    rounds.iter().all(|s| s.ok > 0 && s.limited == 0 && s.other == 0 && s.errors == 0)
}

// ---------------------------------------------------------------------------------------------
// Servers and seeding

struct BenchKey {
    id: String,
    workspace_id: String,
    secret: KeySecret,
}

fn start_server(server_rt: &Runtime, dir: &Path, file: &str) -> Result<RunningServer> {
    start_on(server_rt, DbLocation::Sqlite(dir.join(file)))
}

fn start_on(server_rt: &Runtime, db: DbLocation) -> Result<RunningServer> {
    let config = ServerConfig::new(db, "127.0.0.1:0".parse()?);
    Ok(server_rt.block_on(keydeck_server::start(config, Clock::default()))?)
}

/// A new database on the PostgreSQL server named by `KEYDECK_TEST_POSTGRES`, if there is one.
fn postgres_database(server_rt: &Runtime, label: &str) -> Result<Option<DbLocation>> {
    use sqlx::Connection;
    let Ok(server) = std::env::var("KEYDECK_TEST_POSTGRES") else { return Ok(None) };
    let name = format!("bench_{label}_{}", random_base62(&mut rand::rng(), 8).to_lowercase());
    server_rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await?;
        admin.close().await?;
        anyhow::Ok(())
    })?;
    Ok(Some(DbLocation::Postgres(format!("{server}/{name}"))))
}

/// [`PROJECTS`] projects in each workspace of `keys`.
async fn seed_projects(server: &RunningServer, keys: &[BenchKey]) -> Result<()> {
    let mut workspaces: Vec<&str> = keys.iter().map(|k| k.workspace_id.as_str()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let now = server.state.clock.now_ms();
    for workspace in workspaces {
        for i in 0..PROJECTS {
            let project = keydeck_core::wire::NewProject {
                name: format!("Project {}", i + 1),
                client: Some(format!("Client {}", i % 5 + 1)),
                budget_hours: None,
            };
            let id = format!("prj_{}", random_base62(&mut rand::rng(), 16));
            server.state.store.insert_project_unchecked(&id, workspace, &project, now).await?;
        }
    }
    Ok(())
}

fn key_row(
    rng: &mut impl rand::RngCore,
    workspace_id: &str,
    owner_id: &str,
    name: String,
    rate_limit: RateLimit,
    now: i64,
) -> (KeySecret, NewKeyRow) {
    let secret = KeySecret::generate(rng);
    let row = NewKeyRow {
        id: format!("key_{}", random_base62(rng, 16)),
        workspace_id: workspace_id.to_owned(),
        name,
        secret_hash: secret.sha256(),
        prefix: secret.display_prefix().to_owned(),
        hint: secret.hint().to_owned(),
        scopes: [Scope::TimeEntriesRead, Scope::ProjectsRead].into_iter().collect::<ScopeSet>(),
        created_at: now,
        created_by: owner_id.to_owned(),
        expires_at: None,
        rate_limit,
        replaces: None,
        allowed_ips: Default::default(),
        inherits_allowed_ips: false,
    };
    (secret, row)
}

/// The owner every benchmark workspace belongs to. Returns the owner's user id.
async fn create_owner(server: &RunningServer) -> Result<String> {
    Ok(admin::create_user(&server.state.store, &server.state.clock, OWNER_EMAIL, OWNER_PASSWORD, "Bench Owner")
        .await?
        .id)
}

/// `count` keys in new Business workspaces of at most `per_workspace` keys each.
async fn seed_keys(
    server: &RunningServer,
    owner_id: &str,
    count: usize,
    per_workspace: usize,
    rate_limit: RateLimit,
    label: &str,
) -> Result<Vec<BenchKey>> {
    let (store, clock) = (&server.state.store, &server.state.clock);
    let now = clock.now_ms();
    let mut keys = Vec::with_capacity(count);
    let mut rows = Vec::with_capacity(count);
    let mut rng = rand::rng();
    for (w, start) in (0..count).step_by(per_workspace).enumerate() {
        let workspace_id =
            admin::create_workspace(store, clock, &format!("{label} {}", w + 1), Plan::Business, OWNER_EMAIL).await?;
        for i in start..(start + per_workspace).min(count) {
            let (secret, row) =
                key_row(&mut rng, &workspace_id, owner_id, format!("{label} key {}", i + 1), rate_limit, now);
            keys.push(BenchKey { id: row.id.clone(), workspace_id: workspace_id.clone(), secret });
            rows.push(row);
        }
    }
    store.insert_keys(&rows, None).await?;
    Ok(keys)
}

/// Sum of `request_count` over `keys`, after writing all pending usage of every node and
/// letting any flush their own flushers had under way finish.
async fn settled_request_count(nodes: &[&RunningServer], keys: &[BenchKey]) -> Result<i64> {
    for _ in 0..2 {
        for node in nodes {
            node.state.usage.flush(&node.state.store).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let state = &nodes[0].state;
    let mut workspaces: Vec<&str> = keys.iter().map(|k| k.workspace_id.as_str()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let mut total = 0;
    for workspace in workspaces {
        for row in state.store.list_keys(workspace).await? {
            if keys.iter().any(|k| k.id == row.id) {
                total += row.request_count;
            }
        }
    }
    Ok(total)
}

/// Fills the large database up to [`LARGE_TOTAL_KEYS`] keys: [`LARGE_WORKSPACES`] - 1 more
/// Business workspaces, each holding a block of about 1,000 filler keys (the 10-key limit is
/// an API rule, not a storage rule; `insert_keys` bypasses it as the demo seed does). Key ids
/// and secrets are random, as the server makes them. Rows are generated on a second thread
/// while the writer inserts them. Returns some filler key hashes (every 100th) for the
/// cold-lookup figure, and the time spent in `insert_keys`.
fn seed_filler(
    server_rt: &Runtime,
    server: &RunningServer,
    owner_id: &str,
    filler: usize,
) -> Result<(Vec<[u8; 32]>, Duration)> {
    let (store, clock) = (&server.state.store, &server.state.clock);
    let workspaces = server_rt.block_on(async {
        let mut ids = Vec::with_capacity(LARGE_WORKSPACES - 1);
        for w in 1..LARGE_WORKSPACES {
            ids.push(admin::create_workspace(store, clock, &format!("Filler {w}"), Plan::Business, OWNER_EMAIL).await?);
        }
        anyhow::Ok(ids)
    })?;
    const CHUNK: usize = 50_000;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<NewKeyRow>>(2);
    let owner = owner_id.to_owned();
    let now = clock.now_ms();
    let producer = std::thread::spawn(move || {
        let mut rng = rand::rng();
        let mut samples = Vec::new();
        let mut made = 0;
        while made < filler {
            let n = CHUNK.min(filler - made);
            let mut rows = Vec::with_capacity(n);
            for i in made..made + n {
                let workspace = &workspaces[i * workspaces.len() / filler];
                let (_, row) = key_row(&mut rng, workspace, &owner, format!("Filler key {i}"), GENEROUS, now);
                if i % 100 == 0 {
                    samples.push(row.secret_hash);
                }
                rows.push(row);
            }
            made += n;
            if tx.send(rows).is_err() {
                break;
            }
        }
        samples
    });
    let mut inserting = Duration::ZERO;
    for rows in rx {
        let start = Instant::now();
        server_rt.block_on(store.insert_keys(&rows, None))?;
        inserting += start.elapsed();
    }
    let samples = producer.join().map_err(|_| anyhow::anyhow!("the key generator panicked"))?;
    Ok((samples, inserting))
}

/// Mean time of an uncached `key_for_auth` over `hashes` (cycled to `n` lookups).
fn lookup_micros(server_rt: &Runtime, server: &RunningServer, hashes: &[[u8; 32]], n: usize) -> Result<f64> {
    server_rt.block_on(async {
        let start = Instant::now();
        for hash in hashes.iter().cycle().take(n) {
            ensure!(server.state.store.key_for_auth(hash).await?.is_some(), "a seeded key was not found");
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / n as f64)
    })
}

// ---------------------------------------------------------------------------------------------
// The figures

struct Figure {
    name: &'static str,
    value: String,
    target: String,
    pass: bool,
    raw: String,
}

/// A throughput figure from the rounds of [`alternate`]: the median of the pair ratios a/b,
/// met at `min` or above when every round was clean. `note` ends the raw line.
fn throughput_figure(
    name: &'static str,
    min: f64,
    [(label_a, a), (label_b, b)]: [(&str, &[Stats]); 2],
    note: &str,
) -> Figure {
    let (a_rps, b_rps) = (median_rps(a), median_rps(b));
    let ratio = median_pair_ratio(a, b);
    let clean = all_ok(a) && all_ok(b);
    if !clean {
        println!("  WARNING: a round had a non-2xx response (429 or other) or a failed connection");
    }
    Figure {
        name,
        value: format!("{ratio:.3}"),
        target: format!(">= {min:.2}"),
        pass: ratio >= min && clean,
        raw: format!(
            "{label_a} {a_rps:.0} req/s, {label_b} {b_rps:.0} req/s (medians, ratio {:.3}); {note}",
            a_rps / b_rps
        ),
    }
}

impl Figure {
    /// A figure that needs PostgreSQL, in a run without it.
    fn not_measured(number: u8) -> Figure {
        Figure {
            name: match number {
                5 => "me PostgreSQL/SQLite throughput",
                6 => "projects/healthz, PostgreSQL",
                7 => "writes per request, 3 PG nodes",
                8 => "accepted/allowed, 3 PG nodes",
                9 => "revocation seen on other nodes",
                _ => "me 1M/10 keys, PostgreSQL",
            },
            value: "-".to_owned(),
            target: "-".to_owned(),
            pass: false,
            raw: "not measured: no PostgreSQL (make bench-server starts one)".to_owned(),
        }
    }
}

/// Figures 3 and 7: write statements per authenticated request over `nodes` (32 connections
/// each, the keys spread over them), and whether `request_count` is exact. The flusher of each
/// node writes each key with pending usage once per flush interval (1 s), in up to 4
/// statements whatever its number of requests; on PostgreSQL, rate-limit claims add a few a
/// window per key and node.
fn writes_figures(
    server_rt: &Runtime,
    client_rt: &Runtime,
    nodes: &[&RunningServer],
    keys: &[BenchKey],
    [writes_name, exact_name]: [&'static str; 2],
) -> Result<Vec<Figure>> {
    let targets: Vec<Target> = (0..CONNECTIONS * nodes.len())
        .map(|i| Target::keyed(nodes[i % nodes.len()].addr, ME, &keys[i % keys.len()]))
        .collect::<Result<_>>()?;
    println!("  {} connections x {} s over {} keys", targets.len(), WRITE_RUN.as_secs(), keys.len());
    let writes = || nodes.iter().map(|n| n.state.store.write_statements()).sum::<u64>();
    let count_before = server_rt.block_on(settled_request_count(nodes, keys))?;
    let writes_before = writes();
    let run = client_rt.block_on(load(&targets, WRITE_RUN, false, false))?;
    let count_after = server_rt.block_on(settled_request_count(nodes, keys))?;
    let written = writes() - writes_before;
    let counted = count_after - count_before;
    let responses = run.responses();
    let per_request = written as f64 / responses.max(1) as f64;
    let exact = i64::try_from(responses)? == counted && run.errors == 0;
    println!("  {}", run.summary());
    println!("  {written} write statements for {responses} responses; request_count grew by {counted}");
    Ok(vec![
        Figure {
            name: writes_name,
            value: format!("{per_request:.4}"),
            target: "<= 0.01".to_owned(),
            pass: per_request <= 0.01 && run.ok > 0,
            raw: format!("{written} statements / {responses} requests over {:.1} s", run.elapsed.as_secs_f64()),
        },
        Figure {
            name: exact_name,
            value: if exact { "yes".to_owned() } else { "no".to_owned() },
            target: "exact".to_owned(),
            pass: exact,
            raw: format!(
                "request_count +{counted}, client saw {responses} responses ({} connection errors)",
                run.errors
            ),
        },
    ])
}

/// Figures 4 and 8: 32 connections per node on one key past its limit, over whole windows.
fn rate_limit_figure(
    client_rt: &Runtime,
    nodes: &[&RunningServer],
    key: &BenchKey,
    name: &'static str,
) -> Result<Figure> {
    let targets: Vec<Target> = (0..CONNECTIONS * nodes.len())
        .map(|i| Target::keyed(nodes[i % nodes.len()].addr, ME, key))
        .collect::<Result<_>>()?;
    println!(
        "  limit {}/{} s, {} connections for {LIMIT_WINDOWS} windows",
        TIGHT.max_requests,
        TIGHT.window_seconds,
        targets.len()
    );
    // Starts 20 ms into a window and stops 20 ms before one, so the run covers whole windows
    // (a window touched for a few milliseconds at either end could not fill its allowance).
    let run = client_rt.block_on(load(&targets, Duration::from_millis(LIMIT_WINDOWS * 1000 - 40), true, true))?;
    println!("  {}", run.summary());
    for (reset, (ok, limited)) in &run.windows {
        println!("  window ending {reset}: {ok} accepted, {limited} refused");
    }
    let windows = run.windows.len() as u64;
    let allowed = u64::from(TIGHT.max_requests) * windows;
    let ratio = run.ok as f64 / allowed.max(1) as f64;
    Ok(Figure {
        name,
        value: format!("{ratio:.4}"),
        target: "0.99..=1.01".to_owned(),
        pass: (0.99..=1.01).contains(&ratio) && run.other == 0 && run.errors == 0,
        raw: format!(
            "{} accepted, {} refused (429), allowed {allowed} = {} x {windows} windows",
            run.ok, run.limited, TIGHT.max_requests
        ),
    })
}

/// Figure 6: `/projects` (each key's workspace holds [`PROJECTS`]) against `/healthz`.
fn read_figure(client_rt: &Runtime, server: &RunningServer, keys: &[BenchKey], name: &'static str) -> Result<Figure> {
    let projects: Vec<Target> =
        keys.iter().map(|k| Target::keyed(server.addr, PROJECTS_PATH, k)).collect::<Result<_>>()?;
    let healthz: Vec<Target> = (0..CONNECTIONS).map(|_| Target::open(server.addr, HEALTHZ)).collect();
    let (read_rounds, healthz_rounds) = alternate(client_rt, &projects, &healthz, "/projects", "/healthz", &|| {})?;
    Ok(throughput_figure(
        name,
        0.50,
        [("/projects", &read_rounds), ("/healthz", &healthz_rounds)],
        &format!("{PROJECTS} projects per workspace"),
    ))
}

/// Figure 9: each of [`REVOCATIONS`] keys, cached on nodes 2 and 3, is revoked through node 1's
/// API; the delay runs from sending the revocation until both other nodes refuse the key.
fn propagation_figure(
    server_rt: &Runtime,
    client_rt: &Runtime,
    nodes: &[&RunningServer],
    owner_id: &str,
) -> Result<Figure> {
    // One workspace of 200 keys: past the API's 10-key limit, as the demo seed may.
    let keys = server_rt.block_on(seed_keys(nodes[0], owner_id, REVOCATIONS, REVOCATIONS, UNLIMITED, "Revoked"))?;
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let mut delays = client_rt.block_on(async {
        let http = reqwest::Client::new();
        let signed_in: serde_json::Value = http
            .post(format!("{}/api/v1/sessions", urls[0]))
            .json(&serde_json::json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = signed_in["token"].as_str().context("sign-in gave no token")?.to_owned();
        let me = |url: &str, key: &BenchKey| {
            http.get(format!("{url}{ME}"))
                .bearer_auth(key.secret.expose())
                .header("x-workspace-id", &key.workspace_id)
                .send()
        };
        let mut delays = Vec::with_capacity(keys.len());
        for key in &keys {
            for url in &urls[1..] {
                ensure!(me(url, key).await?.status() == 200, "a key did not work before its revocation");
            }
            let start = Instant::now();
            let revoke = http
                .delete(format!("{}/api/v1/workspaces/{}/keys/{}", urls[0], key.workspace_id, key.id))
                .bearer_auth(&token)
                .send();
            let refused_on = |url: &str| {
                let me = &me;
                let url = url.to_owned();
                async move {
                    while start.elapsed() < Duration::from_secs(5) {
                        if me(&url, key).await?.status() == 401 {
                            break;
                        }
                    }
                    anyhow::Ok(start.elapsed())
                }
            };
            let (revoked, second, third) = tokio::join!(revoke, refused_on(&urls[1]), refused_on(&urls[2]));
            ensure!(revoked?.status().is_success(), "a revocation failed");
            delays.push(second?.max(third?));
        }
        anyhow::Ok(delays)
    })?;
    delays.sort();
    let (largest, median) = (delays[delays.len() - 1], delays[delays.len() / 2]);
    Ok(Figure {
        name: "revocation seen on other nodes",
        value: format!("{:.0} ms", largest.as_secs_f64() * 1000.0),
        target: "<= 1000 ms".to_owned(),
        pass: largest <= Duration::from_secs(1),
        raw: format!("largest of {} revocations, median {:.1} ms", delays.len(), median.as_secs_f64() * 1000.0),
    })
}

/// Figures 2 and 10: `/me` on a database holding [`LARGE_TOTAL_KEYS`] keys against one holding
/// 10, each round starting with empty key caches so it includes the lookups.
fn scale_figure(
    server_rt: &Runtime,
    client_rt: &Runtime,
    small: RunningServer,
    large: RunningServer,
    name: &'static str,
) -> Result<Figure> {
    // Both databases hold one workspace with the 10 keys the load uses; the large one also
    // holds 999,990 filler keys in 999 more workspaces.
    let small_keys = server_rt.block_on(async {
        let owner = create_owner(&small).await?;
        seed_keys(&small, &owner, MEASURED_KEYS, KEYS_PER_WORKSPACE, UNLIMITED, "Measured").await
    })?;
    let seeding = Instant::now();
    let (large_keys, large_owner) = server_rt.block_on(async {
        let owner = create_owner(&large).await?;
        let keys = seed_keys(&large, &owner, MEASURED_KEYS, KEYS_PER_WORKSPACE, UNLIMITED, "Measured").await?;
        anyhow::Ok((keys, owner))
    })?;
    let (samples, inserting) = seed_filler(server_rt, &large, &large_owner, LARGE_TOTAL_KEYS - MEASURED_KEYS)?;
    let seed_time = seeding.elapsed();
    let stored = server_rt.block_on(stored_keys(&large))?;
    ensure!(usize::try_from(stored)? == LARGE_TOTAL_KEYS, "the large database holds {stored} keys");
    println!(
        "  seeded {stored} keys in {LARGE_WORKSPACES} workspaces in {:.1} s ({:.0} keys/s; {:.1} s of it in insert_keys)",
        seed_time.as_secs_f64(),
        stored as f64 / seed_time.as_secs_f64(),
        inserting.as_secs_f64()
    );
    let small_hashes: Vec<[u8; 32]> = small_keys.iter().map(|k| k.secret.sha256()).collect();
    let cold_small = lookup_micros(server_rt, &small, &small_hashes, 5_000)?;
    let cold_large = lookup_micros(server_rt, &large, &samples, 5_000)?;
    println!(
        "  uncached key lookup (key_for_auth): {cold_small:.1} us with 10 keys, {cold_large:.1} us with {stored} keys"
    );
    let per_conn = |server: &RunningServer, keys: &[BenchKey]| -> Result<Vec<Target>> {
        (0..CONNECTIONS).map(|i| Target::keyed(server.addr, ME, &keys[i % keys.len()])).collect()
    };
    let (on_large, on_small) = (per_conn(&large, &large_keys)?, per_conn(&small, &small_keys)?);
    let forget = || {
        large.state.cache.invalidate();
        small.state.cache.invalidate();
    };
    let (large_rounds, small_rounds) =
        alternate(client_rt, &on_large, &on_small, "/me, 1M keys", "/me, 10 keys", &forget)?;
    server_rt.block_on(small.stop());
    server_rt.block_on(large.stop());
    Ok(throughput_figure(
        name,
        0.95,
        [("1M keys", &large_rounds), ("10 keys", &small_rounds)],
        &format!("seeding {:.1} s", seed_time.as_secs_f64()),
    ))
}

/// The figures asked for on the command line (`cargo bench ... -- 1 4`), all when none are.
fn wanted() -> Vec<u8> {
    let asked: Vec<u8> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if asked.is_empty() { (1..=10).collect() } else { asked }
}

fn run() -> Result<bool> {
    let wanted = wanted();
    let server_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("server").enable_all().build()?;
    let client_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("client").enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut figures = Vec::new();

    // ---- Server A, on SQLite: figures 1, 3, 4 and 6 ------------------------------------------
    let a = start_server(&server_rt, dir.path(), "a.sqlite")?;
    let (pool, limited_key) = server_rt.block_on(async {
        let owner = create_owner(&a).await?;
        let pool = seed_keys(&a, &owner, CONNECTIONS, KEYS_PER_WORKSPACE, GENEROUS, "Pool").await?;
        let limited = seed_keys(&a, &owner, 1, 1, TIGHT, "Limited").await?;
        seed_projects(&a, &pool).await?;
        anyhow::Ok((pool, limited))
    })?;
    println!(
        "server A at {}: {} pool keys in {} workspaces (limit {}/{} s each), 1 key limited to {}/{} s",
        a.addr,
        pool.len(),
        CONNECTIONS.div_ceil(KEYS_PER_WORKSPACE),
        GENEROUS.max_requests,
        GENEROUS.window_seconds,
        TIGHT.max_requests,
        TIGHT.window_seconds
    );
    let me: Vec<Target> = pool.iter().map(|k| Target::keyed(a.addr, ME, k)).collect::<Result<_>>()?;

    // Figure 1: /me (one pool key per connection) against /healthz, same server.
    if wanted.contains(&1) {
        println!(
            "\n[1] GET /api/v1/me vs GET /healthz, {CONNECTIONS} connections, {ROUNDS} x {} s rounds each",
            ROUND.as_secs_f64()
        );
        let healthz: Vec<Target> = (0..CONNECTIONS).map(|_| Target::open(a.addr, HEALTHZ)).collect();
        let (me_rounds, healthz_rounds) = alternate(&client_rt, &me, &healthz, "/me", "/healthz", &|| {})?;
        let no_429 = me_rounds.iter().all(|s| s.limited == 0);
        figures.push(throughput_figure(
            "me/healthz throughput",
            0.80,
            [("/me", &me_rounds), ("/healthz", &healthz_rounds)],
            &format!("no 429: {no_429}"),
        ));
    }
    if wanted.contains(&3) {
        println!("\n[3] write statements per /me request, one node on SQLite");
        figures.extend(writes_figures(
            &server_rt,
            &client_rt,
            &[&a],
            &pool,
            ["writes per request", "requestCount exact"],
        )?);
    }
    if wanted.contains(&4) {
        println!("\n[4] one key past its limit, one node on SQLite");
        figures.push(rate_limit_figure(&client_rt, &[&a], &limited_key[0], "accepted/allowed past rate limit")?);
    }
    if wanted.contains(&6) {
        println!("\n[6] GET /api/v1/projects ({PROJECTS} projects) vs GET /healthz, SQLite");
        figures.push(read_figure(&client_rt, &a, &pool, "projects/healthz, SQLite")?);
    }

    // ---- Node P1 alone on PostgreSQL (figures 5 and 6), then with P2 and P3 (7 to 9) ----------
    let on_postgres = [5, 6, 7, 8, 9];
    if wanted.iter().any(|f| on_postgres.contains(f)) {
        match postgres_database(&server_rt, "nodes")? {
            None => {
                for &f in on_postgres.iter().filter(|f| wanted.contains(f)) {
                    figures.push(Figure::not_measured(f));
                }
            }
            Some(db) => {
                // Figures 5 and 6 on one node, as the SQLite side; the other nodes join for 7 to 9.
                let p = &start_on(&server_rt, db.clone())?;
                let (p_pool, p_limited, p_owner) = server_rt.block_on(async {
                    let owner = create_owner(p).await?;
                    let pool = seed_keys(p, &owner, CONNECTIONS, KEYS_PER_WORKSPACE, GENEROUS, "Pool").await?;
                    let limited = seed_keys(p, &owner, 1, 1, TIGHT, "Limited").await?;
                    seed_projects(p, &pool).await?;
                    anyhow::Ok((pool, limited, owner))
                })?;
                println!("\nnode 1 on PostgreSQL at {}", p.addr);
                if wanted.contains(&5) {
                    // The key path must not touch the database on either engine.
                    println!("\n[5] GET /api/v1/me on PostgreSQL vs on SQLite, {CONNECTIONS} connections");
                    let on_p: Vec<Target> =
                        p_pool.iter().map(|k| Target::keyed(p.addr, ME, k)).collect::<Result<_>>()?;
                    let writes_before = p.state.store.write_statements();
                    let (p_rounds, a_rounds) =
                        alternate(&client_rt, &on_p, &me, "/me PostgreSQL", "/me SQLite", &|| {})?;
                    let served: u64 = p_rounds.iter().map(Stats::responses).sum();
                    println!(
                        "  the PostgreSQL node wrote {} statements (usage, rate-limit claims) for {served} requests",
                        p.state.store.write_statements() - writes_before
                    );
                    figures.push(throughput_figure(
                        "me PostgreSQL/SQLite throughput",
                        0.95,
                        [("PostgreSQL", &p_rounds), ("SQLite", &a_rounds)],
                        "same key check, same load",
                    ));
                }
                if wanted.contains(&6) {
                    println!("\n[6] GET /api/v1/projects ({PROJECTS} projects) vs GET /healthz, PostgreSQL");
                    figures.push(read_figure(&client_rt, p, &p_pool, "projects/healthz, PostgreSQL")?);
                }
                let others: Vec<RunningServer> =
                    (1..NODES).map(|_| start_on(&server_rt, db.clone())).collect::<Result<_>>()?;
                let nodes: Vec<&RunningServer> = std::iter::once(p).chain(&others).collect();
                println!("\n{NODES} nodes on PostgreSQL at {:?}", nodes.iter().map(|n| n.addr).collect::<Vec<_>>());
                if wanted.contains(&7) {
                    println!("\n[7] write statements per /me request, {NODES} nodes on PostgreSQL");
                    figures.extend(writes_figures(
                        &server_rt,
                        &client_rt,
                        &nodes,
                        &p_pool,
                        ["writes per request, 3 PG nodes", "requestCount exact, 3 PG nodes"],
                    )?);
                }
                if wanted.contains(&8) {
                    println!("\n[8] one key past its limit, {NODES} nodes on PostgreSQL");
                    let name = "accepted/allowed, 3 PG nodes";
                    figures.push(rate_limit_figure(&client_rt, &nodes, &p_limited[0], name)?);
                }
                if wanted.contains(&9) {
                    println!("\n[9] {REVOCATIONS} revocations on node 1, refused on nodes 2 and 3");
                    figures.push(propagation_figure(&server_rt, &client_rt, &nodes, &p_owner)?);
                }
                for node in nodes {
                    server_rt.block_on(async { node.state.usage.flush(&node.state.store).await })?;
                }
            }
        }
    }
    server_rt.block_on(a.stop());

    // ---- 10 keys stored against 1,000,000: figure 2 (SQLite) and 10 (PostgreSQL) -------------
    if wanted.contains(&2) {
        println!("\n[2] GET /api/v1/me with 10 keys stored vs {LARGE_TOTAL_KEYS} keys stored, SQLite");
        let small = start_server(&server_rt, dir.path(), "small.sqlite")?;
        let large = start_server(&server_rt, dir.path(), "large.sqlite")?;
        let figure = scale_figure(&server_rt, &client_rt, small, large, "me 1M keys / 10 keys throughput")?;
        // Second in the table, after figure 1 when it ran.
        figures.insert(figures.len().min(usize::from(wanted.contains(&1))), figure);
    }
    if wanted.contains(&10) {
        println!("\n[10] GET /api/v1/me with 10 keys stored vs {LARGE_TOTAL_KEYS} keys stored, PostgreSQL");
        match (postgres_database(&server_rt, "small")?, postgres_database(&server_rt, "large")?) {
            (Some(small), Some(large)) => {
                let (small, large) = (start_on(&server_rt, small)?, start_on(&server_rt, large)?);
                let name = "me 1M/10 keys, PostgreSQL";
                figures.push(scale_figure(&server_rt, &client_rt, small, large, name)?);
            }
            _ => figures.push(Figure::not_measured(10)),
        }
    }

    // ---- The table ----------------------------------------------------------------------------
    println!("\n{:<34} {:>8}   {:<14} {:<6} raw", "figure", "value", "target", "result");
    for f in &figures {
        println!(
            "{:<34} {:>8}   {:<14} {:<6} {}",
            f.name,
            f.value,
            f.target,
            if f.pass { "PASS" } else { "FAIL" },
            f.raw
        );
    }
    let passed = figures.iter().all(|f| f.pass);
    if !passed {
        println!("\nat least one figure missed its target");
    }
    Ok(passed)
}

/// How many keys a server's database holds.
async fn stored_keys(server: &RunningServer) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys").fetch_one(server.state.store.reader()).await?)
}
