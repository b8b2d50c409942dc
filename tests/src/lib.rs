//! The end-to-end harness: starts tauri-driver (which starts WebKitWebDriver and the real
//! Keydeck binary in the Xvfb display), connects a WebDriver client, and offers the few
//! helpers the scenarios need: waiting for elements, reading the keychain with `secret-tool`
//! and the clipboard with `xclip`, checking what the window shows with axe-core, and saving
//! screenshots as test artifacts.

pub mod desktop;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// Runs a scenario with an overall time limit, so a WebDriver command that never answers
/// fails the test instead of holding up the whole run.
pub async fn bounded(secs: u64, scenario: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(secs), scenario)
        .await
        .with_context(|| format!("the scenario did not finish within {secs} s"))?
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The app binary under test: `KEYDECK_APP` or the debug build in the target directory.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYDECK_APP") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("debug").join("keydeck")
}

/// The command line under test: `KDK` or the debug build beside the app's.
pub fn kdk_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KDK") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    target.join("debug").join("kdk")
}

/// Where screenshots go: `artifacts/screens` under the repository.
pub fn artifacts() -> PathBuf {
    let dir = root().join("artifacts").join("screens");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Whether this run has a real desktop (see scripts/with-desktop.sh).
pub fn real_desktop() -> bool {
    let on = std::env::var_os("KEYDECK_REAL_DESKTOP").is_some();
    if !on {
        eprintln!(
            "KEYDECK_REAL_DESKTOP is not set: the end-to-end tests need `make e2e` (a display, D-Bus and a keyring)"
        );
    }
    on
}

/// A running app driven over WebDriver. Dropping it ends the session and stops the driver.
pub struct App {
    pub client: Client,
    driver: Child,
    /// The app's own XDG_DATA_HOME: each launch starts with no remembered accounts.
    data_home: PathBuf,
    /// When the app was launched: each step is logged with the seconds since, so a scenario
    /// that runs out of time shows (in the test's captured output) the step it was on.
    started: Instant,
}

impl App {
    /// Starts tauri-driver on `port` (and `port + 1` for WebKitWebDriver) and the app, with a
    /// fresh data directory holding `settings` (the app's settings.json) when given.
    pub async fn launch(port: u16, settings: Option<&str>) -> Result<App> {
        Self::launch_with(port, settings, None, &app_binary()).await
    }

    /// Like [`App::launch`], with a chosen data directory (kept as it is) and binary.
    pub async fn launch_with(
        port: u16,
        settings: Option<&str>,
        data_home: Option<&Path>,
        binary: &Path,
    ) -> Result<App> {
        let data_home = match data_home {
            Some(d) => d.to_path_buf(),
            None => {
                let fresh = std::env::temp_dir().join(format!("keydeck-e2e-data-{}-{port}", std::process::id()));
                let _ = std::fs::remove_dir_all(&fresh);
                fresh
            }
        };
        let app_dir = data_home.join("dev.keydeck.app");
        std::fs::create_dir_all(&app_dir)?;
        if let Some(settings) = settings {
            std::fs::write(app_dir.join("settings.json"), settings)?;
        }
        if !binary.exists() {
            bail!("{} does not exist: build the app first (make e2e does)", binary.display());
        }
        for p in [port, port + 1] {
            free_port(p).await?;
        }
        no_app_running(binary).await?;
        let native = which("WebKitWebDriver")?;
        let driver = Command::new(which("tauri-driver")?)
            .args(["--port", &port.to_string(), "--native-port", &(port + 1).to_string(), "--native-driver"])
            .arg(native)
            .env("XDG_DATA_HOME", &data_home)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting tauri-driver")?;
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), serde_json::json!({"application": binary}));
        caps.insert("browserName".into(), "wry".into());
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = format!("http://127.0.0.1:{port}");
        let client = loop {
            let mut builder = ClientBuilder::rustls()?;
            let connect = builder.capabilities(caps.clone()).connect(&address);
            match tokio::time::timeout(Duration::from_secs(60), connect).await {
                Ok(Ok(c)) => break c,
                Ok(Err(_)) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(250)).await,
                Ok(Err(e)) => bail!("could not start a WebDriver session: {e}"),
                Err(_) => bail!("tauri-driver on port {port} took a session request and gave no answer within 60 s"),
            }
        };
        Ok(App { client, driver, data_home, started: Instant::now() })
    }

    /// The first element matching `css`, waiting up to `secs` seconds for it.
    /// When it does not come, the error says what the window showed instead.
    pub async fn find(&self, css: &str, secs: u64) -> Result<Element> {
        self.step(&format!("find {css}"));
        let waited = self
            .client
            .wait()
            .at_most(Duration::from_secs(secs))
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css));
        let found = tokio::time::timeout(Duration::from_secs(secs + 30), waited)
            .await
            .with_context(|| format!("looking for {css}: the window did not answer within {} s", secs + 30))?;
        match found {
            Ok(element) => Ok(element),
            Err(e) => {
                let shown = tokio::time::timeout(
                    Duration::from_secs(5),
                    self.client.execute("return document.body.innerText.slice(0, 3000);", vec![]),
                )
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
                Err(anyhow::Error::new(e)
                    .context(format!("no element {css} within {secs} s; the window shows:\n{shown}")))
            }
        }
    }

    /// Clicks the first element matching `css`. When something covers it (the sticky top bar
    /// over a page scrolled just so), it is brought to the middle of the window first.
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css, 15).await?;
        self.step(&format!("click {css}"));
        let clicked = async {
            if element.clone().click().await.is_err() {
                let arg = serde_json::to_value(&element)?;
                self.client.execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg]).await?;
                element.click().await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        answered(clicked, &format!("clicking {css}")).await
    }

    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let field = self.find(css, 15).await?;
        self.step(&format!("type into {css}"));
        let typed = async {
            field.clear().await?;
            field.send_keys(text).await?;
            Ok::<_, anyhow::Error>(())
        };
        answered(typed, &format!("typing into {css}")).await
    }

    /// Logs a step of the scenario to the test's captured output, which a failure shows.
    pub fn step(&self, what: &str) {
        eprintln!("[e2e +{:.1} s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Waits until `check` holds, polling every 200 ms for up to `secs` seconds.
    pub async fn until<F, Fut>(&self, secs: u64, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        self.step(&format!("until {what}"));
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if check().await.unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{what}: not within {secs} s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs axe-core (npm, injected through WebDriver, which the page's CSP does not stop) on
    /// what the window shows now, and fails on any serious or critical violation, naming the
    /// rule and the elements.
    pub async fn accessible(&self, screen: &str) -> Result<()> {
        let loaded = self.client.execute("return typeof window.axe !== 'undefined';", vec![]).await?;
        if loaded != serde_json::Value::Bool(true) {
            let axe = std::fs::read_to_string(root().join("node_modules/axe-core/axe.min.js"))
                .context("axe-core is missing: npm ci installs it")?;
            self.client.execute(&axe, vec![]).await?;
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.target.join(' ')) }))))
                   .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
                vec![],
            )
            .await?;
        let serious: Vec<String> = found
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{} ({}): {} at {}", v["id"], v["impact"], v["help"], v["nodes"]))
            .collect();
        if !serious.is_empty() {
            bail!("{screen}: {} serious or critical accessibility violations:\n{}", serious.len(), serious.join("\n"));
        }
        Ok(())
    }

    /// The data directory this app runs on (its XDG_DATA_HOME).
    pub fn data_home(&self) -> &Path {
        &self.data_home
    }

    /// Saves a screenshot of the window as `artifacts/screens/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        // WebKitWebDriver's snapshot waits for a painted frame; a still page painted on the CPU
        // (no GPU, so no compositor) may not paint another. Keep frames coming for 2 seconds.
        self.client
            .execute(
                "const s = document.documentElement.style; let n = 0; \
                 const t = setInterval(() => { s.opacity = n++ % 2 ? '' : '0.999'; if (n > 20) { clearInterval(t); s.opacity = ''; } }, 100);",
                vec![],
            )
            .await?;
        let png = tokio::time::timeout(Duration::from_secs(20), self.client.screenshot())
            .await
            .with_context(|| format!("the screenshot {name} did not come within 20 s"))??;
        let path = artifacts().join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Kills the app process with SIGKILL (no chance to save anything), ends the driver, and
    /// answers the data directory, kept for [`App::launch_with`].
    pub async fn kill(mut self) -> Result<PathBuf> {
        let binary = app_binary();
        let pids = processes_of(&binary)?;
        if pids.is_empty() {
            bail!("no running {} to kill", binary.display());
        }
        for pid in &pids {
            Command::new("kill").args(["-KILL", pid]).status()?;
        }
        stop(&mut self.driver);
        Ok(std::mem::take(&mut self.data_home))
    }

    pub async fn close(mut self) -> Result<()> {
        let _ = self.client.clone().close().await;
        stop(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.data_home);
        Ok(())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        stop(&mut self.driver);
    }
}

/// One WebDriver exchange, given 30 seconds: a window that stops answering fails the step it
/// hung on, by name, instead of the whole scenario's deadline.
async fn answered<T>(exchange: impl std::future::Future<Output = Result<T>>, what: &str) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .with_context(|| format!("{what}: the window did not answer within 30 s"))?
        .with_context(|| what.to_owned())
}

/// SIGTERM, so tauri-driver stops WebKitWebDriver too; whatever of the two is still running
/// 5 seconds later is killed, so the next scenario finds its ports free.
fn stop(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let id = child.id().to_string();
    let native = children_of(&id);
    let _ = Command::new("kill").arg("-TERM").arg(&id).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    for pid in native {
        let _ = Command::new("kill").args(["-KILL", &pid]).stderr(Stdio::null()).status();
    }
}

/// Waits up to 10 seconds for no app of `binary` to be running, then kills any left: the app
/// is single-instance, so one an earlier scenario left behind would take this launch over.
async fn no_app_running(binary: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_of(binary)?;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            eprintln!("[e2e] an app of an earlier scenario was still running ({left:?}): killed");
            for pid in &left {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The processes whose parent is `pid`, from `/proc/<pid>/stat` (its fourth field, after the
/// parenthesised command name).
fn children_of(pid: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (parent == pid).then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

/// Waits up to 10 seconds for nothing to listen on `port`; a driver a scenario before left
/// behind would otherwise take this scenario's requests.
async fn free_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let holder = output("ss", &["-ltnpH", &format!("sport = :{port}")]).unwrap_or_default();
            bail!("port {port} is still taken after 10 s, by: {}", holder.trim());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn which(name: &str) -> Result<PathBuf> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if path.is_empty() {
        let cargo_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin").join(name));
        if let Some(p) = cargo_bin.filter(|p| p.exists()) {
            return Ok(p);
        }
        bail!("{name} is not installed (make e2e installs it)");
    }
    Ok(PathBuf::from(path))
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd).args(args).output().with_context(|| format!("running {cmd}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The secret the keychain holds at service `keydeck`, account `account`, read with
/// `secret-tool` (outside the app).
pub fn keychain_secret(account: &str) -> Result<String> {
    Ok(output("secret-tool", &["lookup", "service", "keydeck", "username", account])?.trim_end().to_owned())
}

/// What the X11 clipboard holds, read with `xclip` (outside the app).
pub fn clipboard() -> Result<String> {
    output("xclip", &["-o", "-selection", "clipboard"])
}

pub fn clipboard_targets() -> Result<String> {
    output("xclip", &["-o", "-selection", "clipboard", "-t", "TARGETS"])
}

/// The process ids running `binary`.
pub fn processes_of(binary: &Path) -> Result<Vec<String>> {
    let binary = std::fs::canonicalize(binary)?;
    let mut pids: Vec<String> = std::fs::read_dir("/proc")?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read_link(e.path().join("exe")).is_ok_and(|exe| exe == binary))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    pids.sort();
    Ok(pids)
}

/// The X window whose name is `name`, once it is mapped (with `xdotool`).
pub async fn window_named(name: &str, secs: u64) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(id) = shown_window(name)? {
            return Ok(id);
        }
        if Instant::now() > deadline {
            bail!("no window named {name} within {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The mapped (shown) X window named `name`, if there is one now.
fn shown_window(name: &str) -> Result<Option<String>> {
    let found = output("xdotool", &["search", "--onlyvisible", "--name", &format!("^{name}$")])?;
    Ok(found.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned))
}

/// Whether a window named `name` is mapped (shown) now.
pub fn window_shown(name: &str) -> Result<bool> {
    Ok(shown_window(name)?.is_some())
}

/// Asks an X window to close as a window manager does when its close button is clicked: a
/// `WM_DELETE_WINDOW` message (the display has no window manager of its own).
pub fn close_as_the_user(window: &str) -> Result<()> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
    let (conn, _) = x11rb::connect(None).context("the X display")?;
    let id: u32 = window.trim().parse().with_context(|| format!("an X window id: {window}"))?;
    let protocols = conn.intern_atom(false, b"WM_PROTOCOLS")?.reply()?.atom;
    let delete = conn.intern_atom(false, b"WM_DELETE_WINDOW")?.reply()?.atom;
    let event = ClientMessageEvent::new(32, id, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
    conn.send_event(false, id, EventMask::NO_EVENT, event)?;
    conn.flush()?;
    Ok(())
}

/// The name of the top-level window that has the keyboard focus (with `xdotool`).
pub fn focused_window_name() -> Result<String> {
    let focused = output("xdotool", &["getwindowfocus"])?;
    Ok(output("xdotool", &["getwindowname", focused.trim()])?.trim().to_owned())
}
