//! The desktop app's figures, each measured side by side in one run (`make bench`, inside a
//! throwaway desktop: Xvfb, D-Bus, gnome-keyring):
//!
//! 1. start to first key card painted, against the same binary showing a blank page
//!    (KEYDECK_BENCH=blank): at most 1.25 x;
//! 2. idle memory (PSS of the app and its WebKit processes, 10 s after painting), cards
//!    against the blank page: at most 1.2 x;
//! 3. generate -> keychain -> clipboard -> reveal on the demo workspace, measured in the page
//!    from the click to the frame after the reveal: median at most 150 ms;
//! 4. the release `.deb`: at most 10 MB;
//! 5. `kdk get NAME` against `secret-tool lookup` of the same entry: at most 1.5 x;
//! 6. `kdk run -- true` (one key from the project's variables) against the same lookup: at
//!    most 2 x.
//!
//! Uses the release binary (KEYDECK_APP, or target/release/keydeck) that `make bench` builds
//! with `tauri build`, which also makes the `.deb`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keydeck_e2e::{App, real_desktop, root};

const STARTS_PER_MODE: usize = 7;
const MEMORY_RUNS_PER_MODE: usize = 2;
const GENERATES: usize = 15;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn binary() -> PathBuf {
    std::env::var_os("KEYDECK_APP").map_or_else(|| target_dir().join("release").join("keydeck"), PathBuf::from)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Starts the app in a bench mode and waits for its "painted" line. Returns the time it took
/// and the running child (when `exit_after` is false).
fn start(data_home: &Path, mode: &str, exit_after: bool) -> Result<(Duration, std::process::Child)> {
    let mut command = Command::new(binary());
    command
        .arg("--demo")
        .env("XDG_DATA_HOME", data_home)
        .env("KEYDECK_BENCH", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if exit_after {
        command.env("KEYDECK_BENCH_EXIT", "1");
    }
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("starting {}", binary().display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("KEYDECK_BENCH_PAINTED") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).with_context(|| format!("the {mode} page did not paint within 60 s"))?;
    Ok((started.elapsed(), child))
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Proportional set size, in KiB, of `pid` and every process descended from it.
fn pss_tree(pid: u32) -> Result<u64> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        // The parent pid is the second field after the parenthesised command.
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else { continue };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    let mut total = 0;
    for p in tree {
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        total += rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

async fn generate_latencies(data_home: &Path) -> Result<Vec<f64>> {
    let app = App::launch_with(4464, None, Some(data_home), &binary()).await?;
    app.click("[data-testid=open-demo]").await.ok();
    app.find("[data-testid=key-card]", 90).await?;
    let mut latencies = Vec::new();
    for i in 0..GENERATES {
        let name = format!("Bench key {i}");
        app.click("[data-testid=generate-open]").await?;
        app.type_into("[data-testid=generate-name]", &name).await?;
        app.click("[data-testid=generate-submit]").await?;
        let secret = app.find("[data-testid=revealed-secret][data-latency-ms]", 30).await?;
        let ms: f64 = secret.attr("data-latency-ms").await?.context("latency")?.parse()?;
        latencies.push(ms);
        app.click("[data-testid=reveal-close]").await?;
        app.click(&format!("[data-testid=key-card][data-key-name='{name}']")).await?;
        app.type_into("[data-testid=revoke-confirm-input]", &name).await?;
        app.click("[data-testid=revoke-submit]").await?;
        app.find("[data-testid=generate-open]", 20).await?;
    }
    app.close().await?;
    Ok(latencies)
}

fn deb_size() -> Result<(PathBuf, u64)> {
    let dir = target_dir().join("release").join("bundle").join("deb");
    let deb = std::fs::read_dir(&dir)
        .with_context(|| format!("no {} (make bench builds it)", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("no .deb was built")?;
    let size = std::fs::metadata(&deb)?.len();
    Ok((deb, size))
}

const CLI_RUNS: usize = 25;

/// Runs a command to its end, which must succeed; how long it took.
fn timed(command: &mut Command) -> Result<Duration> {
    let started = Instant::now();
    let out = command.stdout(Stdio::null()).stderr(Stdio::piped()).output()?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(took)
}

/// `kdk get` and `kdk run -- true` against `secret-tool lookup` of the same keychain entry,
/// alternating, on a key made in the demo workspace. Returns the three medians in ms.
fn cli_medians(data_home: &Path) -> Result<(f64, f64, f64)> {
    // The generate scenario's app removed its data directory when it closed.
    std::fs::create_dir_all(data_home)?;
    let kdk = target_dir().join("release").join("kdk");
    let kdk = |args: &[&str]| {
        let mut c = Command::new(&kdk);
        c.args(args).env("XDG_DATA_HOME", data_home).current_dir(data_home);
        c
    };
    timed(&mut kdk(&["login", "--demo"]))?;
    let name = "Bench read key";
    let _ = kdk(&["keys", "revoke", name, "--yes"]).output();
    timed(&mut kdk(&["keys", "create", name, "--purpose", "custom"]))?;
    let me = kdk(&["whoami", "--json"]).output()?;
    let me: serde_json::Value = serde_json::from_slice(&me.stdout)?;
    let account = format!("{}/{name}", me["workspaceId"].as_str().context("no workspace")?);
    std::fs::write(data_home.join(".keydeck.toml"), format!("BENCH_KEY = \"{name}\"\n"))?;
    let mut lookup = Command::new("secret-tool");
    lookup.args(["lookup", "service", "keydeck", "username", &account]);
    let (mut get, mut run, mut tool) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CLI_RUNS {
        tool.push(timed(&mut lookup)?.as_secs_f64() * 1000.0);
        get.push(timed(&mut kdk(&["get", name]))?.as_secs_f64() * 1000.0);
        run.push(timed(&mut kdk(&["run", "--", "true"]))?.as_secs_f64() * 1000.0);
    }
    Ok((median(get), median(run), median(tool)))
}

fn run() -> Result<bool> {
    if !real_desktop() {
        bail!("run through `make bench`, which provides the display, D-Bus and keyring");
    }
    let data_home = std::env::temp_dir().join(format!("keydeck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data_home)?;
    // Warm-up: the first start seeds the demo database and makes the integration's key.
    let (seed, child) = start(&data_home, "cards", false)?;
    std::thread::sleep(Duration::from_secs(2));
    stop(child);
    println!("warm-up start (seeding the demo): {:.0} ms", seed.as_secs_f64() * 1000.0);

    println!("\n[1] start to first paint, {STARTS_PER_MODE} starts per mode, alternating");
    let (mut blank, mut cards) = (Vec::new(), Vec::new());
    for round in 0..STARTS_PER_MODE {
        for mode in ["blank", "cards"] {
            let (t, child) = start(&data_home, mode, true)?;
            let _ = child.wait_with_output();
            let ms = t.as_secs_f64() * 1000.0;
            println!("  round {:>2}  {mode:<5} {ms:>7.0} ms", round + 1);
            if mode == "blank" { blank.push(ms) } else { cards.push(ms) }
        }
    }
    let (blank_ms, cards_ms) = (median(blank), median(cards));
    let startup_ratio = cards_ms / blank_ms;

    println!("\n[2] idle memory 10 s after painting, {MEMORY_RUNS_PER_MODE} runs per mode");
    let (mut blank_kb, mut cards_kb) = (Vec::new(), Vec::new());
    for _ in 0..MEMORY_RUNS_PER_MODE {
        for mode in ["blank", "cards"] {
            let (_, child) = start(&data_home, mode, false)?;
            std::thread::sleep(Duration::from_secs(10));
            let kb = pss_tree(child.id())? as f64;
            stop(child);
            println!("  {mode:<5} {:>7.1} MiB PSS", kb / 1024.0);
            if mode == "blank" { blank_kb.push(kb) } else { cards_kb.push(kb) }
        }
    }
    let (blank_mem, cards_mem) = (median(blank_kb), median(cards_kb));
    let memory_ratio = cards_mem / blank_mem;

    println!("\n[3] generate -> keychain -> clipboard -> reveal, {GENERATES} keys on the demo workspace");
    let latencies = tokio::runtime::Runtime::new()?.block_on(generate_latencies(&data_home))?;
    println!("  {}", latencies.iter().map(|l| format!("{l:.0}")).collect::<Vec<_>>().join(" ms, ") + " ms");
    let generate_ms = median(latencies);

    println!("\n[4] kdk get and kdk run -- true against secret-tool lookup, {CLI_RUNS} runs each, alternating");
    let (get_ms, run_ms, tool_ms) = cli_medians(&data_home)?;
    println!("  kdk get {get_ms:.1} ms, kdk run -- true {run_ms:.1} ms, secret-tool lookup {tool_ms:.1} ms (medians)");

    let (deb, deb_bytes) = deb_size()?;
    let deb_mb = deb_bytes as f64 / 1_000_000.0;
    // kdk's share: its binary as the .deb compresses it (roughly).
    let kdk_gz = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -9c '{}' | wc -c", root().join("artifacts/cli/kdk").display()))
        .output()?;
    let kdk_mb = String::from_utf8_lossy(&kdk_gz.stdout).trim().parse::<f64>().unwrap_or(0.0) / 1_000_000.0;
    let _ = std::fs::remove_dir_all(&data_home);

    let rows = [
        (
            "start to first card / blank page",
            format!("{startup_ratio:.2}"),
            "<= 1.25",
            startup_ratio <= 1.25,
            format!("cards {cards_ms:.0} ms, blank {blank_ms:.0} ms (medians)"),
        ),
        (
            "idle PSS cards / blank page",
            format!("{memory_ratio:.2}"),
            "<= 1.2",
            memory_ratio <= 1.2,
            format!("cards {:.1} MiB, blank {:.1} MiB", cards_mem / 1024.0, blank_mem / 1024.0),
        ),
        (
            "generate to reveal (median)",
            format!("{generate_ms:.0} ms"),
            "<= 150 ms",
            generate_ms <= 150.0,
            format!("{GENERATES} keys"),
        ),
        (
            ".deb size (app and kdk)",
            format!("{deb_mb:.1} MB"),
            "<= 10 MB",
            deb_mb <= 10.0,
            format!("{}; kdk alone {kdk_mb:.1} MB gzipped", deb.display()),
        ),
        (
            "kdk get / secret-tool lookup",
            format!("{:.2}", get_ms / tool_ms),
            "<= 1.5",
            get_ms / tool_ms <= 1.5,
            format!("{get_ms:.1} ms against {tool_ms:.1} ms (medians)"),
        ),
        (
            "kdk run -- true / secret-tool lookup",
            format!("{:.2}", run_ms / tool_ms),
            "<= 2",
            run_ms / tool_ms <= 2.0,
            format!("{run_ms:.1} ms against {tool_ms:.1} ms (medians)"),
        ),
    ];
    println!("\n{:<34} {:>9}   {:<10} {:<6} raw", "figure", "value", "target", "result");
    let mut all = true;
    for (name, value, target, pass, raw) in rows {
        all &= pass;
        println!("{name:<34} {value:>9}   {target:<10} {:<6} {raw}", if pass { "PASS" } else { "FAIL" });
    }
    Ok(all)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("\nat least one figure missed its target");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("benchmark error: {e:#}");
            ExitCode::from(2)
        }
    }
}
