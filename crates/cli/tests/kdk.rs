//! `kdk` as people run it: the real binary, against a real workspace server over HTTP, with the
//! real Secret Service keychain (read back with `secret-tool`) and the real X11 clipboard (read
//! with `xclip`). `make test` runs these inside a throwaway desktop (`scripts/with-desktop.sh`)
//! and sets KEYDECK_REAL_DESKTOP=1; without it they say so and do nothing.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use keydeck_core::Settings;
use keydeck_core::wire::Plan;
use keydeck_desk::store::DataDir;
use keydeck_server::testing::{OWNER_EMAIL as EMAIL, OWNER_PASSWORD as PASSWORD, StudioServer};
use keydeck_server::{Clock, RunningServer, admin};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

fn real_desktop() -> bool {
    let on = std::env::var_os("KEYDECK_REAL_DESKTOP").is_some();
    if !on {
        eprintln!("KEYDECK_REAL_DESKTOP is not set: run `make test` to try kdk with the real keychain and clipboard");
    }
    on
}

/// A server with Ana, owner of "Studio" (Team plan) and of "Other", and a home of kdk's own.
struct World {
    server: RunningServer,
    ws: String,
    other_ws: String,
    home: tempfile::TempDir,
    _db: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let s = StudioServer::start().await;
        World { server: s.server, ws: s.studio, other_ws: s.other, home: tempfile::tempdir().unwrap(), _db: s.db }
    }

    /// The data directory kdk and the window share, under this world's XDG_DATA_HOME.
    fn data_dir(&self) -> std::path::PathBuf {
        self.home.path().join(keydeck_desk::APP_IDENTIFIER)
    }

    async fn kdk_in(&self, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kdk"));
        command
            .args(args)
            .current_dir(dir)
            .env("XDG_DATA_HOME", self.home.path())
            .env_remove("KEYDECK_WORKSPACE")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
        }
        let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output()).await.unwrap().unwrap();
        eprintln!(
            "$ kdk {}\n  exit {:?}\n  stdout: {}\n  stderr: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        out
    }

    async fn kdk(&self, args: &[&str]) -> Output {
        self.kdk_in(self.home.path(), args, None).await
    }

    /// `kdk ARGS`, which must succeed; its standard output.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kdk(args).await;
        assert_eq!(out.status.code(), Some(0), "kdk {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    async fn login(&self) {
        let url = self.server.url();
        let out =
            self.kdk_in(self.home.path(), &["login", &url, "--email", EMAIL, "--password-stdin"], Some(PASSWORD)).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Signed in"));
        assert_eq!(self.ok(&["use", "Studio"]).await, format!("Using workspace Studio ({}).\n", self.ws));
    }

    async fn create(&self, name: &str, extra: &[&str]) {
        let mut args = vec!["keys", "create", name, "--purpose", "reporting"];
        args.extend_from_slice(extra);
        self.ok(&args).await;
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// What `secret-tool` finds at a key's documented address.
fn secret_tool(ws: &str, name: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keydeck", "username", &format!("{ws}/{name}")])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (!text.is_empty()).then_some(text)
}

fn clipboard() -> String {
    let out = std::process::Command::new("xclip").args(["-o", "-selection", "clipboard"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn login_then_create_stores_the_key_where_secret_tool_finds_it_and_get_and_env_print_it() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    // Before signing in, every command that needs an account says how to sign in.
    let out = w.kdk(&["keys"]).await;
    assert_eq!(code(&out), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kdk login"));

    w.login().await;
    let me: Value = serde_json::from_str(&w.ok(&["whoami", "--json"]).await).unwrap();
    assert_eq!(me["workspaceId"], w.ws);
    // The session token is in the keychain, at the session's address, not in the data directory.
    let token_address = format!("{EMAIL} at {}", w.server.url());
    let token = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keydeck-session", "username", &token_address])
        .output()
        .unwrap();
    assert!(!token.stdout.is_empty(), "no session token in the keychain");

    // Made without --print: standard output stays empty, and the keychain has the key.
    let out = w.kdk(&["keys", "create", "Dashboard", "--purpose", "reporting"]).await;
    assert_eq!(code(&out), Some(0));
    assert!(out.stdout.is_empty(), "the secret went to standard output unasked");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("account \"{}/Dashboard\"", w.ws)), "{stderr}");
    let secret = secret_tool(&w.ws, "Dashboard").expect("secret-tool finds no key");
    assert!(secret.starts_with("kdk_") && secret.len() == 42, "{secret}");
    // Nothing in the data directory holds it.
    for entry in std::fs::read_dir(w.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(!std::fs::read_to_string(&path).unwrap_or_default().contains(&secret), "{path:?} holds the key");
        }
    }

    assert_eq!(w.ok(&["get", "Dashboard"]).await, format!("{secret}\n"));
    assert_eq!(w.ok(&["env", "Dashboard"]).await, format!("export DASHBOARD='{secret}'\n"));
    assert_eq!(w.ok(&["env", "Dashboard", "--format", "dotenv"]).await, format!("DASHBOARD={secret}\n"));
    let missing = w.kdk(&["get", "Nope"]).await;
    assert_eq!(code(&missing), Some(5));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("holds no key named \"Nope\""));

    // The list has the card's facts, the keychain among them.
    let keys: Value = serde_json::from_str(&w.ok(&["keys", "--json"]).await).unwrap();
    let card = &keys["keys"][0];
    assert_eq!(card["card"]["name"], "Dashboard");
    assert_eq!(card["inKeychain"], true);
    assert_eq!(card["card"]["scopes"], serde_json::json!(["employees:read", "reports:read", "projects:read"]));
    let table = w.ok(&["keys"]).await;
    assert!(
        table.contains("Dashboard") && table.contains("in this computer's keychain") && table.contains("1 of 10 keys")
    );

    // --print puts the new key on standard output, the same one the keychain holds.
    let printed = w.ok(&["keys", "create", "Printed", "--purpose", "custom", "--expires", "never", "--print"]).await;
    assert_eq!(Some(printed), secret_tool(&w.ws, "Printed").map(|s| format!("{s}\n")));

    // A bad flag names itself and how to write it; nothing is made.
    let out = w.kdk(&["keys", "create", "Bad", "--purpose", "custom", "--rate", "lots"]).await;
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("REQUESTS/SECONDS"));
    assert_eq!(secret_tool(&w.ws, "Bad"), None);

    // Renamed: the entry moves with it. Revoked: the entry goes.
    w.ok(&["keys", "rename", "Printed", "Printed two"]).await;
    assert!(secret_tool(&w.ws, "Printed").is_none() && secret_tool(&w.ws, "Printed two").is_some());
    let refused = w.kdk(&["keys", "revoke", "Printed two"]).await;
    assert_eq!(code(&refused), Some(1), "revoked without a typed name or --yes");
    w.ok(&["keys", "revoke", "Printed two", "--yes"]).await;
    assert_eq!(secret_tool(&w.ws, "Printed two"), None);

    // Signed out: the token leaves the keychain, and kdk says to sign in.
    w.ok(&["logout"]).await;
    let token = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "keydeck-session", "username", &token_address])
        .output()
        .unwrap();
    assert!(token.stdout.is_empty(), "the session token stayed in the keychain");
    assert_eq!(code(&w.kdk(&["whoami"]).await), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_hands_the_program_its_keys_from_the_project_file_and_hides_them_in_its_output() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    w.login().await;
    w.create("Timesheet API", &[]).await;
    let secret = secret_tool(&w.ws, "Timesheet API").unwrap();

    let project = tempfile::tempdir().unwrap();
    let nested = project.path().join("src/jobs");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        project.path().join(".keydeck.toml"),
        format!("workspace = \"{}\"\nTIMESHEET_API_KEY = \"Timesheet API\"\n", w.ws),
    )
    .unwrap();
    // A Python program that reads the key from its environment, prints it (as a careless
    // debug line would), writes it where the test can check it really got it, and exits 7.
    let seen = project.path().join("seen.txt");
    let script = format!(
        "import os, sys\nkey = os.environ['TIMESHEET_API_KEY']\nopen({seen:?}, 'w').write(key)\nprint('using', key)\nprint('error with', key, file=sys.stderr)\nsys.exit(7)\n",
        seen = seen.display().to_string()
    );
    std::fs::write(nested.join("job.py"), script).unwrap();

    let out = w.kdk_in(&nested, &["run", "--", "python3", "job.py"], None).await;
    assert_eq!(code(&out), Some(7), "the program's exit code is passed on");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), secret, "the program did not get the key");
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert_eq!(stdout, "using <hidden by kdk>\n");
    assert!(stderr.contains("error with <hidden by kdk>"), "{stderr}");
    assert!(!stdout.contains(&secret) && !stderr.contains(&secret));

    // --env adds a variable by hand; a key the keychain lacks stops the program from starting.
    let out = w
        .kdk_in(
            &nested,
            &["run", "--env", "SECOND=Timesheet API", "--", "sh", "-c", "test \"$SECOND\" = \"$TIMESHEET_API_KEY\""],
            None,
        )
        .await;
    assert_eq!(code(&out), Some(0));
    let out = w.kdk_in(&nested, &["run", "--env", "X=Missing key", "--", "true"], None).await;
    assert_eq!(code(&out), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("X: "));
    // A program that leaves something running on its output does not keep kdk waiting.
    let began = std::time::Instant::now();
    let out = w.kdk_in(&nested, &["run", "--", "sh", "-c", "sleep 20 & echo started"], None).await;
    assert_eq!((code(&out), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "started"));
    assert!(began.elapsed() < Duration::from_secs(15), "kdk waited for the program's background job");
    // A program that cannot be found is said so, with the shell's code.
    let out = w.kdk_in(&nested, &["run", "--", "no-such-program-here"], None).await;
    assert_eq!(code(&out), Some(127));
}

#[tokio::test(flavor = "multi_thread")]
async fn test_exits_with_the_documented_code_for_connected_revoked_cut_off_and_wrong_workspace() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    w.login().await;
    w.create("Checked", &["--print"]).await;
    let secret = secret_tool(&w.ws, "Checked").unwrap();

    let out = w.kdk(&["test", "--name", "Checked"]).await;
    assert_eq!(code(&out), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Connected"));
    // From standard input, as a script would pipe it.
    let out = w.kdk_in(w.home.path(), &["test"], Some(&secret)).await;
    assert_eq!(code(&out), Some(0));

    let out = w.kdk(&["test", &secret[..39]]).await;
    assert_eq!(code(&out), Some(10));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 characters are missing"));

    let out = w.kdk(&["--workspace", "Other", "test", &secret]).await;
    assert_eq!(code(&out), Some(13));
    assert!(String::from_utf8_lossy(&out.stdout).contains("another workspace"));
    // The workspace visited for one command is not the one kept.
    let me: Value = serde_json::from_str(&w.ok(&["whoami", "--json"]).await).unwrap();
    assert_eq!(me["workspaceId"], w.ws);
    assert_ne!(w.ws, w.other_ws);

    let (store, clock) = (&w.server.state.store, Clock::default());
    admin::set_plan(store, &clock, &w.ws, Plan::Free).await.unwrap();
    let out = w.kdk(&["test", &secret]).await;
    assert_eq!(code(&out), Some(12));
    admin::set_plan(store, &clock, &w.ws, Plan::Team).await.unwrap();

    w.create("Tight", &["--rate", "1/3600"]).await;
    let tight = secret_tool(&w.ws, "Tight").unwrap();
    assert_eq!(code(&w.kdk(&["test", &tight]).await), Some(0));
    assert_eq!(code(&w.kdk(&["test", &tight]).await), Some(14));

    w.ok(&["keys", "revoke", "Checked", "--yes"]).await;
    let out = w.kdk(&["test", &secret]).await;
    assert_eq!(code(&out), Some(11));
    assert!(String::from_utf8_lossy(&out.stdout).to_lowercase().contains("revoked"));

    // --json carries the report for scripts.
    let out = w.kdk(&["test", "--json", &secret]).await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["code"], "key_revoked");
    assert_eq!(report["failure"], "refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_with_copy_puts_the_key_on_the_clipboard_and_clears_it_after_the_delay() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    w.login().await;
    DataDir::new(w.data_dir()).save_settings(&Settings { clipboard_clear_seconds: 5, ..Settings::default() }).unwrap();
    let out = w.kdk(&["keys", "create", "Copied", "--purpose", "custom", "--copy"]).await;
    assert_eq!(code(&out), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cleared in 5 s"));
    let secret = secret_tool(&w.ws, "Copied").unwrap();
    // kdk has returned; the key is on the clipboard still.
    assert_eq!(clipboard(), secret);
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_ne!(clipboard(), secret, "the clipboard still holds the key after its delay");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_wait_on_the_demo_finishes_step_3_by_itself_when_the_integration_moves_over() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    w.ok(&["login", "--demo"]).await;
    // Step 3 waits for the old key to be silent this long (the shortest the settings allow).
    DataDir::new(w.data_dir()).save_settings(&Settings { quiet_seconds: 5, ..Settings::default() }).unwrap();
    let name = keydeck_desk::demo::INTEGRATION_KEY_NAME;
    let before: Value = serde_json::from_str(&w.ok(&["keys", "--json"]).await).unwrap();
    let old = before["keys"].as_array().unwrap().iter().find(|k| k["card"]["name"] == name).unwrap().clone();
    let ws = w.ok(&["whoami", "--json"]).await;
    let ws: Value = serde_json::from_str(&ws).unwrap();
    let ws = ws["workspaceId"].as_str().unwrap().to_owned();

    let out = w.kdk(&["rotate", name, "--wait", "--revoke-old", "--timeout", "120"]).await;
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Step 1 of 4") && stderr.contains("new key works") && stderr.contains("Step 4 of 4"),
        "{stderr}"
    );

    let after: Value = serde_json::from_str(&w.ok(&["keys", "--json"]).await).unwrap();
    let named: Vec<&Value> = after["keys"].as_array().unwrap().iter().filter(|k| k["card"]["name"] == name).collect();
    assert_eq!(named.len(), 1, "one live key of the name: the replacement");
    let new = named[0];
    assert_ne!(new["card"]["id"], old["card"]["id"]);
    assert!(new["card"]["lastSuccessAt"].is_string(), "the integration used the new key");
    let stored = secret_tool(&ws, name).unwrap();
    assert!(stored.ends_with(new["card"]["hint"].as_str().unwrap()));
    assert_eq!(secret_tool(&ws, &format!("{name} (previous)")), None);
    assert_eq!(w.ok(&["rotations", "--json"]).await.trim(), "[]");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_wait_gives_up_without_proof_and_revokes_nothing_then_cancel_puts_the_old_key_back() {
    if !real_desktop() {
        return;
    }
    let w = World::new().await;
    w.login().await;
    w.create("Nightly export", &[]).await;
    let old = secret_tool(&w.ws, "Nightly export").unwrap();

    // Nothing uses the new key, so step 3 has no proof: kdk gives up, keeping everything.
    let out = w.kdk(&["rotate", "Nightly export", "--wait", "--timeout", "3", "--revoke-old"]).await;
    assert_eq!(code(&out), Some(7));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing was revoked") && !stderr.contains("Step 4 of 4"), "{stderr}");
    let keys: Value = serde_json::from_str(&w.ok(&["keys", "--json"]).await).unwrap();
    let named: Vec<&Value> =
        keys["keys"].as_array().unwrap().iter().filter(|k| k["card"]["name"] == "Nightly export").collect();
    assert_eq!(named.len(), 2, "the old key and its replacement are both live");
    assert!(named.iter().all(|k| k["card"]["status"] == "active"));
    assert_eq!(secret_tool(&w.ws, "Nightly export (previous)").as_deref(), Some(old.as_str()));
    let rotations: Value = serde_json::from_str(&w.ok(&["rotations", "--json"]).await).unwrap();
    let id = rotations[0]["id"].as_str().expect("the rotation is kept").to_owned();

    w.ok(&["rotate", "--resume", &id, "--cancel"]).await;
    assert_eq!(secret_tool(&w.ws, "Nightly export").as_deref(), Some(old.as_str()), "the old key is back");
    assert_eq!(secret_tool(&w.ws, "Nightly export (previous)"), None);
    let keys: Value = serde_json::from_str(&w.ok(&["keys", "--json"]).await).unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().iter().filter(|k| k["card"]["name"] == "Nightly export").count(), 1);
    assert_eq!(w.ok(&["rotations", "--json"]).await.trim(), "[]");
}
