//! The commands: each reads its arguments, calls `Desk`, and prints the answer.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keydeck_core::app::{
    GenerateRequest, GenerateResult, KeyCardView, RotationAction, SessionView, TestFailure, TestKeyInput, TestReport,
    Verdict,
};
use keydeck_core::rotation::{RotationReason, RotationView, Stage};
use keydeck_core::rules::ExpiresInDays;
use keydeck_core::wire::{KeyStatus, UpdateKeyRequest};
use keydeck_core::{ErrorCode, Purpose, RateLimit, Scope};
use keydeck_desk::Desk;
use keydeck_desk::store::DataDir;
use keydeck_vault::{OsKeychain, SecretClipboard, VaultError};
use serde::Serialize;

use crate::cli::{Cli, Command, Create, EnvFormat, KeysCommand, Login, PurposeArg, Rotate, Run, Test};
use crate::mask::Masker;
use crate::output::{self, Colour, Progress, paint};
use crate::project::{self, Project};
use crate::{EXIT_FAILED, EXIT_NO_KEYCHAIN, EXIT_NOT_FOUND, EXIT_TIMED_OUT, Failure, Outcome};

/// What every command works with.
struct Kdk {
    desk: Desk,
    json: bool,
    /// `--workspace`, else the project file's.
    workspace: Option<String>,
    project: Option<Project>,
}

pub async fn run(cli: Cli) -> Outcome {
    // Helpers that need no account.
    match &cli.command {
        Command::Completions { shell } => return completions(*shell),
        Command::Man => {
            std::io::stdout().write_all(include_bytes!(concat!(env!("OUT_DIR"), "/kdk.1"))).map_err(io_failure)?;
            return Ok(0);
        }
        Command::HoldClipboard { seconds } => return hold_clipboard(*seconds).await,
        _ => {}
    }
    let data_dir = keydeck_desk::default_data_dir()?;
    let project = std::env::current_dir()
        .ok()
        .map(|d| project::find(&d))
        .transpose()
        .map_err(|m| Failure::new(EXIT_FAILED, m))?
        .flatten();
    let workspace = cli.workspace.clone().or_else(|| project.as_ref().and_then(|p| p.workspace.clone()));
    let kdk = Kdk { desk: desk(data_dir), json: cli.json, workspace, project };
    let outcome = kdk.command(cli.command).await;
    kdk.desk.shutdown().await;
    outcome
}

/// The desk over the real keychain. Unlike the window, `kdk` does not probe the keychain first
/// (a command that uses it reports what went wrong) and leaves the clipboard alone unless
/// `--copy` asks for it.
fn desk(data_dir: PathBuf) -> Desk {
    let no_clipboard = Err(VaultError::NoClipboard("kdk copies only with --copy".to_owned()));
    Desk::new(DataDir::new(data_dir), Arc::new(OsKeychain), None, no_clipboard)
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::new(EXIT_FAILED, e.to_string())
}

fn completions(shell: crate::cli::Shell) -> Outcome {
    let text: &[u8] = match shell {
        crate::cli::Shell::Bash => include_bytes!(concat!(env!("OUT_DIR"), "/kdk.bash")),
        crate::cli::Shell::Zsh => include_bytes!(concat!(env!("OUT_DIR"), "/_kdk")),
        crate::cli::Shell::Fish => include_bytes!(concat!(env!("OUT_DIR"), "/kdk.fish")),
    };
    std::io::stdout().write_all(text).map_err(io_failure)?;
    Ok(0)
}

/// One line from standard input, without its line ending (nothing else is trimmed: the key
/// test reports surrounding spaces itself).
fn read_line(prompt: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(io_failure)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

fn key_line(k: &KeyCardView) -> String {
    format!("\"{}\" (kdk_…{}, {})", k.card.name, k.card.hint, k.card.status.label().to_lowercase())
}

impl Kdk {
    async fn command(&self, command: Command) -> Outcome {
        match command {
            Command::Login(args) => self.login(args).await,
            Command::Logout => self.logout().await,
            Command::Whoami => self.whoami().await,
            Command::Workspaces => self.workspaces().await,
            Command::Use { workspace } => self.use_workspace(&workspace).await,
            Command::Keys { command: None } => self.keys().await,
            Command::Keys { command: Some(c) } => self.keys_command(c).await,
            Command::Get { name } => self.get(&name).await,
            Command::Env { names, format } => self.env(&names, format).await,
            Command::Run(args) => self.run_program(args).await,
            Command::Test(args) => self.test(args).await,
            Command::Rotate(args) => self.rotate(args).await,
            Command::Rotations => self.rotations().await,
            Command::Completions { .. } | Command::Man | Command::HoldClipboard { .. } => Ok(0),
        }
    }

    /// The account used last, its session restored, on the workspace asked for.
    async fn session(&self) -> Result<SessionView, Failure> {
        let session = self.desk.resume().await?;
        match &self.workspace {
            Some(w) if *w != session.workspace_id => Ok(self.desk.visit_workspace(&session, w).await?),
            _ => Ok(session),
        }
    }

    /// The server and workspace whose keychain entries `get`, `env` and `run` read: from the
    /// data directory alone when the workspace is given by ID or not at all (no request is
    /// made), from the server when it is given by name.
    async fn keychain_place(&self) -> Result<(String, String), Failure> {
        let local = self.desk.local().await?;
        let workspace = match &self.workspace {
            Some(id) if id.starts_with("ws_") => id.clone(),
            Some(_) => self.session().await?.workspace_id,
            None => local.workspace_id.clone().ok_or_else(|| {
                Failure::new(EXIT_NOT_FOUND, "No workspace is chosen yet: run `kdk use WORKSPACE` first.")
            })?,
        };
        Ok((local.server, workspace))
    }

    // --- accounts ---

    async fn login(&self, args: Login) -> Outcome {
        let session = if args.demo {
            self.desk.open_demo().await?
        } else {
            let server = args.server.unwrap_or_default();
            let email = match args.email {
                Some(e) => e,
                None => read_line("Email: ")?,
            };
            let password = if args.password_stdin && !std::io::stdin().is_terminal() {
                read_line("")?
            } else if std::io::stdin().is_terminal() {
                rpassword::prompt_password("Password: ").map_err(io_failure)?
            } else {
                return Err(Failure::new(
                    crate::EXIT_FAILED,
                    "There is no terminal to ask for the password: pass it on standard input with --password-stdin.",
                ));
            };
            match self.desk.sign_in(&server, &email, &password, args.allow_unencrypted).await {
                // The window shows these at its address field; here the address is the problem.
                Err(e) if e.fields.iter().flatten().any(|f| f.field == "serverUrl") => {
                    let why = e.fields.iter().flatten().map(|f| f.message.clone()).collect::<Vec<_>>().join(" ");
                    return Err(Failure::new(crate::EXIT_UNREACHABLE, format!("{server}: {why}")));
                }
                Err(e) if e.code == keydeck_core::app::AppErrorCode::Unencrypted => {
                    return Err(Failure::new(
                        EXIT_FAILED,
                        format!("{} To sign in anyway, add --allow-unencrypted.", e.message),
                    ));
                }
                other => other?,
            }
        };
        if !session.account.is_demo && !self.desk.session_is_kept(&session.account.id).await {
            // A session nobody can use again is ended on the server.
            let _ = self.desk.sign_out(&session.account.id).await;
            return Err(Failure::new(
                EXIT_NO_KEYCHAIN,
                "Signed in, but the session could not be kept in this computer's keychain, so the next kdk command will not be signed in. Check that a keychain (Secret Service) is running and unlocked, then sign in again.",
            ));
        }
        if self.json {
            output::json(&session)?;
        } else {
            let ws = session.workspaces.iter().find(|w| w.id == session.workspace_id);
            println!(
                "Signed in to {} as {}{}.",
                if session.account.is_demo { "the demo workspace" } else { &session.account.server_url },
                session.account.email,
                ws.map(|w| format!(", on workspace {} ({})", w.name, w.id)).unwrap_or_default()
            );
        }
        Ok(0)
    }

    async fn logout(&self) -> Outcome {
        let local = self.desk.local().await?;
        self.desk.sign_out(&local.account.id).await?;
        if !self.json {
            println!("Signed out of {} ({}).", local.account.email, local.account.server_url);
        }
        Ok(0)
    }

    async fn whoami(&self) -> Outcome {
        let session = self.session().await?;
        if self.json {
            output::json(&session)?;
            return Ok(0);
        }
        let ws = Desk::workspace_in(&session, &session.workspace_id)?;
        let server =
            if session.account.is_demo { "the demo workspace on this computer" } else { &session.account.server_url };
        println!("{} <{}>", session.account.name, session.account.email);
        println!("Server:    {server}");
        println!("Workspace: {} ({})", ws.name, ws.id);
        println!("Plan:      {}{}", ws.plan.label(), if ws.plan.has_api_access() { "" } else { " (no API access)" });
        println!(
            "Role:      {}{}",
            ws.role.label(),
            if ws.role.can_manage_keys() { "" } else { " (cannot manage keys)" }
        );
        println!("API:       {}", ws.api_base_url);
        Ok(0)
    }

    async fn workspaces(&self) -> Outcome {
        let session = self.session().await?;
        if self.json {
            output::json(&session.workspaces)?;
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = session
            .workspaces
            .iter()
            .map(|w| {
                vec![
                    if w.id == session.workspace_id { "*".to_owned() } else { String::new() },
                    w.name.clone(),
                    w.id.clone(),
                    w.plan.label().to_owned(),
                    w.role.label().to_owned(),
                ]
            })
            .collect();
        output::table(&["", "NAME", "ID", "PLAN", "ROLE"], &rows);
        Ok(0)
    }

    async fn use_workspace(&self, wanted: &str) -> Outcome {
        let session = self.desk.resume().await?;
        let ws = Desk::workspace_in(&session, wanted)?;
        let session = self.desk.switch_workspace(&session.account.id, &ws.id).await?;
        if self.json {
            output::json(&session)?;
        } else {
            println!("Using workspace {} ({}).", ws.name, ws.id);
        }
        Ok(0)
    }

    // --- keys ---

    async fn keys(&self) -> Outcome {
        self.session().await?;
        let keys = self.desk.list_keys().await?;
        if self.json {
            output::json(&keys)?;
            return Ok(0);
        }
        if keys.stale {
            eprintln!(
                "{}",
                paint(
                    &format!(
                        "The server did not answer; these are the keys as they were at {}. {}",
                        keys.fetched_at.format("%H:%M:%S"),
                        keys.stale_reason.clone().unwrap_or_default()
                    ),
                    Colour::Yellow
                )
            );
        }
        let now = Utc::now();
        let rows: Vec<Vec<String>> = keys
            .keys
            .iter()
            .map(|k| {
                let c = &k.card;
                let status = match c.status {
                    KeyStatus::Active => paint(c.status.label(), Colour::Green),
                    KeyStatus::Disabled => paint(c.status.label(), Colour::Yellow),
                    KeyStatus::Expired => paint(c.status.label(), Colour::Red),
                };
                let mut notes = Vec::new();
                if k.in_keychain {
                    notes.push("in this computer's keychain".to_owned());
                }
                if k.rotation_due {
                    notes.push("rotation due".to_owned());
                }
                if k.expires_soon {
                    notes.push("expires soon".to_owned());
                }
                if let Some(r) = &k.refusal {
                    notes.push(format!("latest request refused: {}", r.cause));
                }
                vec![
                    c.name.clone(),
                    status,
                    format!("kdk_…{}", c.hint),
                    c.last_used_at.map_or_else(|| "Never used".to_owned(), |t| output::relative(t, now)),
                    c.request_count.to_string(),
                    format!("{} by {}", c.created_at.format("%Y-%m-%d"), c.created_by.name),
                    c.expires_at.map_or_else(|| "Never".to_owned(), |t| t.format("%Y-%m-%d").to_string()),
                    c.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                    notes.join("; "),
                ]
            })
            .collect();
        output::table(
            &["NAME", "STATUS", "KEY", "LAST USED", "REQUESTS", "ADDED", "EXPIRES", "SCOPES", "NOTES"],
            &rows,
        );
        println!("{} of {} keys", keys.keys.len(), keys.limit);
        Ok(0)
    }

    async fn keys_command(&self, command: KeysCommand) -> Outcome {
        self.session().await?;
        match command {
            KeysCommand::Create(args) => self.create(args).await,
            KeysCommand::Rename { name, new_name } => {
                let key = self.desk.key_named(&name).await?;
                let changes = UpdateKeyRequest { name: Some(new_name), ..UpdateKeyRequest::default() };
                let card = self.desk.update_key(&key.card.id, changes).await?;
                self.print_card(&card, &format!("Renamed \"{}\" to", key.card.name))
            }
            KeysCommand::Disable { name } => self.set_enabled(&name, false).await,
            KeysCommand::Enable { name } => self.set_enabled(&name, true).await,
            KeysCommand::Revoke { name, yes } => {
                let key = self.desk.key_named(&name).await?;
                let typed = if yes {
                    key.card.name.clone()
                } else if std::io::stdin().is_terminal() {
                    eprintln!("Revoking {} stops every program that uses it, for good.", key_line(&key));
                    read_line(&format!("Type the key's name, \"{}\", to revoke it: ", key.card.name))?
                } else {
                    return Err(Failure::new(
                        EXIT_FAILED,
                        "Revoking needs the key's name typed at a terminal; in a script, add --yes.",
                    ));
                };
                self.desk.revoke_key(&key.card.id, &typed).await?;
                if !self.json {
                    println!("Revoked {}.", key_line(&key));
                }
                Ok(0)
            }
        }
    }

    async fn set_enabled(&self, name: &str, enabled: bool) -> Outcome {
        let key = self.desk.key_named(name).await?;
        let changes = UpdateKeyRequest { enabled: Some(enabled), ..UpdateKeyRequest::default() };
        let card = self.desk.update_key(&key.card.id, changes).await?;
        self.print_card(&card, if enabled { "Enabled" } else { "Disabled" })
    }

    fn print_card(&self, card: &KeyCardView, what: &str) -> Outcome {
        if self.json {
            output::json(card)?;
        } else {
            println!("{what} {}.", key_line(card));
        }
        Ok(0)
    }

    async fn create(&self, args: Create) -> Outcome {
        let purpose = match args.purpose {
            PurposeArg::Zapier => Purpose::Zapier,
            PurposeArg::Reporting => Purpose::ReportingDashboard,
            PurposeArg::Finance => Purpose::FinanceSync,
            PurposeArg::Export => Purpose::DataExport,
            PurposeArg::Custom => Purpose::Custom,
        };
        let scopes = if args.scopes.is_empty() {
            purpose.scopes().to_vec()
        } else {
            args.scopes.iter().map(|s| parse_scope(s)).collect::<Result<Vec<_>, _>>()?
        };
        let expires_in_days = match args.expires.as_deref() {
            None => purpose.expires_in_days(),
            Some(text) => parse_expiry(text)?,
        };
        let rate_limit = match args.rate.as_deref() {
            None => RateLimit::default(),
            Some(text) => parse_rate(text)?,
        };
        let request =
            GenerateRequest { name: args.name, purpose, scopes, expires_in_days, rate_limit, store_in_keychain: true };
        let made = self.desk.generate_key(request).await?;
        self.deliver(&made, args.print, args.copy).await?;
        Ok(0)
    }

    /// Says where a new key is; prints or copies it when asked. A key the keychain could not
    /// keep is printed whatever was asked: it exists only here now, and must not be lost.
    async fn deliver(&self, made: &GenerateResult, print: bool, copy: bool) -> Result<(), Failure> {
        let kept = made.keychain.as_ref();
        let must_print = print || kept.is_none();
        // Printed before anything else can fail or wait.
        if must_print && !self.json {
            println!("{}", made.secret);
        }
        let copied = if copy { Some(copy_for_a_while(&made.secret, made.clear_after_seconds).await) } else { None };
        if self.json {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Made<'a> {
                key: &'a KeyCardView,
                keychain: Option<&'a keydeck_core::app::KeychainLocation>,
                keychain_problem: Option<&'a String>,
                #[serde(skip_serializing_if = "Option::is_none")]
                secret: Option<&'a str>,
                copied: bool,
            }
            output::json(&Made {
                key: &made.key,
                keychain: kept,
                keychain_problem: made.keychain_problem.as_ref(),
                secret: must_print.then_some(made.secret.as_str()),
                copied: matches!(copied, Some(Ok(()))),
            })?;
        } else {
            eprintln!("Made {}.", key_line(&made.key));
            match kept {
                Some(at) => eprintln!(
                    "It is in this computer's keychain: service \"{}\", account \"{}\". Read it with: kdk get \"{}\"",
                    at.service, at.account, made.key.card.name
                ),
                None => eprintln!(
                    "{}",
                    paint(
                        &format!(
                            "It is NOT in the keychain: {} It is printed on standard output; save it now, it cannot be shown again.",
                            made.keychain_problem.clone().unwrap_or_default()
                        ),
                        Colour::Yellow
                    )
                ),
            }
            match &copied {
                Some(Ok(())) => eprintln!(
                    "It is on the clipboard; the clipboard is cleared in {} s if it still holds it.",
                    made.clear_after_seconds
                ),
                Some(Err(problem)) => eprintln!("It could not be copied: {problem}"),
                None => {}
            }
        }
        if kept.is_none() {
            // Printed above: the exit code tells a script that nothing else holds it.
            return Err(Failure::new(
                EXIT_NO_KEYCHAIN,
                "The key is made but not in the keychain: it was printed on standard output, the only copy.",
            ));
        }
        match copied {
            Some(Err(problem)) if kept.is_some() && !print => Err(Failure::new(
                EXIT_NO_KEYCHAIN,
                format!("The key is made and in the keychain, but could not be copied: {problem}"),
            )),
            _ => Ok(()),
        }
    }

    // --- keys from the keychain ---

    async fn get(&self, name: &str) -> Outcome {
        let (server, workspace) = self.keychain_place().await?;
        let stored = self.desk.stored_secret(&server, &workspace, name).await?;
        if self.json {
            output::json(&serde_json::json!({
                "name": name, "workspaceId": workspace, "service": stored.address.service,
                "account": stored.address.account, "secret": stored.secret,
            }))?;
        } else {
            println!("{}", stored.secret);
        }
        Ok(0)
    }

    /// Variable → key name: these names (each in a variable named after it), or the project
    /// file's, with `--env` pairs on top.
    fn variables(&self, names: &[String], pairs: &[String]) -> Result<BTreeMap<String, String>, Failure> {
        let mut vars = BTreeMap::new();
        if names.is_empty() {
            vars.extend(self.project.iter().flat_map(|p| p.env.clone()));
        }
        for name in names {
            let var = project::variable_for(name);
            if !project::is_variable_name(&var) {
                return Err(Failure::new(
                    EXIT_FAILED,
                    format!("\"{name}\" makes no variable name: name one with --env VAR=\"{name}\"."),
                ));
            }
            vars.insert(var, name.clone());
        }
        for pair in pairs {
            let Some((var, name)) = pair.split_once('=').filter(|(v, n)| project::is_variable_name(v) && !n.is_empty())
            else {
                return Err(Failure::new(
                    EXIT_FAILED,
                    format!(
                        "--env {pair}: write it as VAR=KEY NAME, such as --env TIMESHEET_API_KEY=\"Reporting dashboard\"."
                    ),
                ));
            };
            vars.insert(var.to_owned(), name.to_owned());
        }
        if vars.is_empty() {
            return Err(Failure::new(
                EXIT_FAILED,
                format!(
                    "No keys were named. Name them (--env VAR=\"key name\"), or list them in a {} file in this project: VAR = \"key name\".",
                    project::FILE_NAME
                ),
            ));
        }
        Ok(vars)
    }

    /// The secrets of `vars`, read from the keychain.
    async fn secrets(&self, vars: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Failure> {
        let (server, workspace) = self.keychain_place().await?;
        let mut out = BTreeMap::new();
        for (var, name) in vars {
            let stored = self.desk.stored_secret(&server, &workspace, &name).await.map_err(|e| {
                let f = Failure::from(e);
                Failure { message: format!("{var}: {}", f.message), ..f }
            })?;
            out.insert(var, stored.secret);
        }
        Ok(out)
    }

    async fn env(&self, names: &[String], format: EnvFormat) -> Outcome {
        let secrets = self.secrets(self.variables(names, &[])?).await?;
        if self.json {
            output::json(&secrets)?;
            return Ok(0);
        }
        for (var, secret) in secrets {
            match format {
                EnvFormat::Shell => println!("export {var}='{}'", secret.replace('\'', "'\\''")),
                EnvFormat::Dotenv => println!("{var}={secret}"),
            }
        }
        Ok(0)
    }

    async fn run_program(&self, args: Run) -> Outcome {
        let secrets = self.secrets(self.variables(&[], &args.env)?).await?;
        let (program, rest) = args.command.split_first().ok_or_else(|| Failure::new(2, "Name a program after --."))?;
        let mut command = tokio::process::Command::new(program);
        command.args(rest).envs(&secrets);
        if !args.no_masking {
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        }
        // Ctrl-C reaches the program too (it shares the terminal): kdk stays to pass its output
        // and exit code on. SIGTERM and SIGHUP, sent to kdk alone, are passed to the program.
        let ignore_interrupts = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
        let mut child = command.spawn().map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            Failure::new(code, format!("Could not start {program}: {e}"))
        })?;
        let forwarding = child.id().map(|pid| tokio::spawn(pass_signals_on(pid)));
        let secrets: Vec<String> = secrets.into_values().collect();
        let out = child.stdout.take().map(|s| tokio::spawn(pass_masked(s, std::io::stdout(), secrets.clone())));
        let err = child.stderr.take().map(|s| tokio::spawn(pass_masked(s, std::io::stderr(), secrets)));
        let status = child.wait().await.map_err(io_failure)?;
        ignore_interrupts.abort();
        if let Some(f) = forwarding {
            f.abort();
        }
        // What the program wrote before it ended; a process it left running that still holds
        // its output is not waited for.
        for task in [out, err].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        Ok(exit_code_of(status))
    }

    // --- tests of keys ---

    async fn test(&self, args: Test) -> Outcome {
        self.session().await?;
        let input = match (args.key, args.name) {
            (Some(key), _) => {
                // Typed on the command line, the key is in the shell's history and visible to
                // other users in the process list while kdk runs.
                if std::io::stdin().is_terminal() && !self.json {
                    eprintln!(
                        "{}",
                        paint(
                            "The key is now in your shell's history. Next time, pipe it in (kdk test < key.txt) or test a keychain entry (kdk test --name NAME).",
                            Colour::Dim
                        )
                    );
                }
                TestKeyInput::Pasted { key }
            }
            (None, Some(key_name)) => TestKeyInput::Keychain { key_name },
            (None, None) if std::io::stdin().is_terminal() => {
                TestKeyInput::Pasted { key: rpassword::prompt_password("Key to test: ").map_err(io_failure)? }
            }
            (None, None) => {
                let mut key = String::new();
                std::io::stdin().read_to_string(&mut key).map_err(io_failure)?;
                let key = key.strip_suffix('\n').unwrap_or(&key);
                TestKeyInput::Pasted { key: key.strip_suffix('\r').unwrap_or(key).to_owned() }
            }
        };
        let report = self.desk.test_key(input).await?;
        if self.json {
            output::json(&report)?;
        } else {
            print_report(&report);
        }
        Ok(test_exit_code(&report))
    }

    // --- rotations ---

    async fn rotations(&self) -> Outcome {
        self.session().await?;
        let rotations = self.desk.rotations().await?;
        if self.json {
            output::json(&rotations)?;
            return Ok(0);
        }
        if rotations.is_empty() {
            println!("No rotation is under way in this workspace.");
            return Ok(0);
        }
        let rows: Vec<Vec<String>> = rotations
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.old_key.name.clone(),
                    format!("{} of 4: {}", r.step, stage_words(r.stage)),
                    r.started_at.format("%Y-%m-%d %H:%M").to_string(),
                ]
            })
            .collect();
        output::table(&["ID", "KEY", "STEP", "STARTED"], &rows);
        Ok(0)
    }

    async fn rotate(&self, args: Rotate) -> Outcome {
        self.session().await?;
        let step = match (&args.resume, &args.name) {
            (Some(id), _) if args.cancel => {
                self.desk.cancel_rotation(id).await?;
                if !self.json {
                    println!(
                        "The rotation is cancelled: any replacement it made is revoked, and the old key keeps working."
                    );
                }
                return Ok(0);
            }
            (Some(id), _) => self.desk.resume_rotation(id).await?,
            (None, Some(name)) => {
                let key = self.desk.key_named(name).await?;
                self.desk.start_rotation(&key.card.id, RotationReason::Scheduled).await?
            }
            (None, None) => return Err(Failure::new(2, "Name the key to rotate, or --resume a rotation.")),
        };
        if let Some(made) = &step.generated {
            self.say(&format!("Step 1 of 4: made the replacement (kdk_…{}).", made.key.card.hint));
            if made.keychain.is_some() {
                self.say(&format!(
                    "Programs that read \"{}\" from the keychain get the new key from now on.",
                    made.key.keychain_account
                ));
                if step.rotation.previous_in_keychain {
                    self.say(&format!(
                        "The old key waits at \"{}\" until step 4.",
                        step.rotation.previous_keychain_account
                    ));
                }
            } else {
                self.deliver(made, true, false).await?;
            }
        }
        let mut rotation = step.rotation;
        loop {
            match rotation.stage {
                Stage::Creating | Stage::Revoking => {
                    let revoking = rotation.stage == Stage::Revoking;
                    rotation = self.desk.resume_rotation(&rotation.id).await?.rotation;
                    if revoking && rotation.stage == Stage::Done {
                        self.say(&format!(
                            "Step 4 of 4: the old key's revocation (kdk_…{}) is finished. The rotation of \"{}\" is done.",
                            rotation.old_key.hint, rotation.old_key.name
                        ));
                    }
                    if matches!(rotation.stage, Stage::Creating | Stage::Revoking) {
                        return Err(Failure::new(
                            EXIT_FAILED,
                            format!(
                                "The rotation did not move on; try again with: kdk rotate --resume {}",
                                rotation.id
                            ),
                        ));
                    }
                }
                Stage::Created => {
                    rotation = self.desk.advance_rotation(&rotation.id, RotationAction::BeginUpdate).await?;
                    let kept =
                        self.desk.key_card(&rotation.new_key.as_ref().map(|k| k.id.clone()).unwrap_or_default()).await;
                    let in_keychain = kept.is_ok_and(|k| k.in_keychain);
                    self.say(&format!(
                        "Step 2 of 4: update every integration that has the old key (kdk_…{}) pasted in{}.",
                        rotation.old_key.hint,
                        if in_keychain { "; programs that read the keychain already have the new one" } else { "" }
                    ));
                }
                Stage::Updating if args.wait => {
                    rotation = self.desk.advance_rotation(&rotation.id, RotationAction::BeginConfirm).await?;
                }
                Stage::Updating => {
                    return self.stop_at(&rotation, "When the integration uses the new key, confirm with", "--wait");
                }
                Stage::Confirming if args.wait => rotation = self.watch(&rotation, args.timeout).await?,
                Stage::Confirming => {
                    let check = self.desk.check_rotation(&rotation.id).await?;
                    if check.rotation.stage == Stage::Confirming {
                        self.say(&step3_line(&check.verification));
                        return self.stop_at(&check.rotation, "Wait for step 3's proof with", "--wait");
                    }
                    rotation = check.rotation;
                }
                Stage::Confirmed if args.revoke_old => {
                    rotation = self.desk.finish_rotation(&rotation.id, &rotation.old_key.name).await?;
                    self.say(&format!(
                        "Step 4 of 4: revoked the old key (kdk_…{}). The rotation of \"{}\" is done.",
                        rotation.old_key.hint, rotation.old_key.name
                    ));
                }
                Stage::Confirmed => {
                    let by = rotation.confirmation.as_ref().map(|c| c.by);
                    self.say(match by {
                        Some(keydeck_core::rotation::ConfirmedBy::Watching) => {
                            "Step 3 of 4: passed. The new key works and the old key is silent."
                        }
                        Some(keydeck_core::rotation::ConfirmedBy::Test) => {
                            "Step 3 of 4: passed by a test of the new key."
                        }
                        _ => "Step 3 of 4: passed without proof, as chosen in the window.",
                    });
                    return self.stop_at(&rotation, "Revoke the old key with", "--revoke-old");
                }
                Stage::Done => {
                    if self.json {
                        output::json(&rotation)?;
                    }
                    return Ok(0);
                }
            }
        }
    }

    /// Step 3 with `--wait`: checks every 2 seconds until it passes or time runs out.
    async fn watch(&self, rotation: &RotationView, timeout: u64) -> Result<RotationView, Failure> {
        let began = std::time::Instant::now();
        let mut progress = Progress::new();
        loop {
            let check = match self.desk.check_rotation(&rotation.id).await {
                Ok(check) => check,
                // The server may come back before time runs out: keep trying.
                Err(e)
                    if e.code == keydeck_core::app::AppErrorCode::Unreachable
                        && began.elapsed() < Duration::from_secs(timeout) =>
                {
                    if !self.json {
                        progress.show(&format!("Step 3 of 4: the server did not answer ({}); trying again", e.message));
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if check.rotation.stage != Stage::Confirming {
                progress.done();
                return Ok(check.rotation);
            }
            if !self.json {
                progress.show(&step3_line(&check.verification));
            }
            if began.elapsed() >= Duration::from_secs(timeout) {
                progress.done();
                return Err(Failure::new(
                    EXIT_TIMED_OUT,
                    format!(
                        "Step 3 did not pass within {timeout} s. The rotation is kept, and nothing was revoked: carry on with `kdk rotate --resume {} --wait`, or in the window.",
                        rotation.id
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Where a rotation is left, and the command that carries it on.
    fn stop_at(&self, rotation: &RotationView, next: &str, flag: &str) -> Outcome {
        if self.json {
            output::json(rotation)?;
        } else {
            println!("{next}: kdk rotate --resume {} {flag}", rotation.id);
        }
        Ok(0)
    }

    /// A line for people, on standard error (standard output stays for data).
    fn say(&self, line: &str) {
        if !self.json {
            eprintln!("{line}");
        }
    }
}

fn step3_line(v: &keydeck_core::rotation::Verification) -> String {
    let new = match (&v.new_refusal, v.new_succeeded_since_update) {
        (Some(r), _) => format!("new key refused: {}; {}", r.cause, r.fix),
        (None, true) => "new key works".to_owned(),
        (None, false) => "new key not used yet".to_owned(),
    };
    format!(
        "Step 3 of 4: {new} | old key silent {} of {} s",
        v.old_silent_seconds.min(v.quiet_seconds),
        v.quiet_seconds
    )
}

fn stage_words(stage: Stage) -> &'static str {
    match stage {
        Stage::Creating => "making the replacement",
        Stage::Created => "replacement made",
        Stage::Updating => "updating the integration",
        Stage::Confirming => "waiting for proof",
        Stage::Confirmed => "ready to revoke the old key",
        Stage::Revoking => "revoking the old key",
        Stage::Done => "done",
    }
}

fn print_report(report: &TestReport) {
    let title = match report.verdict {
        Verdict::Connected => paint(&report.title, Colour::Green),
        Verdict::Problem => paint(&report.title, Colour::Red),
    };
    println!("{title}");
    println!("{}", report.detail);
    if !report.action.is_empty() {
        println!("{}", report.action);
    }
}

/// `kdk test`'s exit code: see `cli::EXIT_CODES`.
pub fn test_exit_code(report: &TestReport) -> u8 {
    match (report.verdict, report.failure, report.code) {
        (Verdict::Connected, _, _) => 0,
        (_, Some(TestFailure::Malformed), _) => 10,
        (_, Some(TestFailure::Unreachable), _) => crate::EXIT_UNREACHABLE,
        (
            _,
            _,
            Some(
                ErrorCode::InvalidApiKey
                | ErrorCode::KeyRevoked
                | ErrorCode::KeyExpired
                | ErrorCode::KeyDisabled
                | ErrorCode::KeyOwnerRemoved,
            ),
        ) => 11,
        (_, _, Some(ErrorCode::PlanRequired | ErrorCode::WorkspaceReadOnly)) => 12,
        (_, _, Some(ErrorCode::WorkspaceMismatch)) => 13,
        (_, _, Some(ErrorCode::RateLimitExceeded)) => 14,
        _ => 15,
    }
}

fn parse_scope(text: &str) -> Result<Scope, Failure> {
    Scope::parse(text.trim()).ok_or_else(|| {
        let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        Failure::new(2, format!("--scope {text}: no such scope. Choose from {}.", all.join(", ")))
    })
}

fn parse_expiry(text: &str) -> Result<Option<ExpiresInDays>, Failure> {
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    text.trim()
        .parse::<u16>()
        .ok()
        .and_then(ExpiresInDays::new)
        .map(Some)
        .ok_or_else(|| Failure::new(2, format!("--expires {text}: choose 7, 30, 90, 180 or 365 days, or never.")))
}

fn parse_rate(text: &str) -> Result<RateLimit, Failure> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(RateLimit { enabled: false, ..RateLimit::default() });
    }
    let parsed = text.split_once('/').and_then(|(n, s)| Some((n.trim().parse().ok()?, s.trim().parse().ok()?)));
    let (max_requests, window_seconds) = parsed.ok_or_else(|| {
        Failure::new(2, format!("--rate {text}: write it as REQUESTS/SECONDS, such as 100/60, or none."))
    })?;
    Ok(RateLimit { enabled: true, max_requests, window_seconds })
}

/// Copies a secret by handing it to a `kdk hold-clipboard` of its own, which keeps it on the
/// clipboard (on X11 a copy lives only as long as the program that made it) and clears it after
/// `seconds` if it still holds it, long after this command has returned.
async fn copy_for_a_while(secret: &str, seconds: u32) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .args(["hold-clipboard", &seconds.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| e.to_string())?;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut stdin = child.stdin.take().ok_or("no pipe to the clipboard keeper")?;
    stdin.write_all(secret.as_bytes()).await.map_err(|e| e.to_string())?;
    drop(stdin);
    let stdout = child.stdout.take().ok_or("no pipe from the clipboard keeper")?;
    let mut answer = String::new();
    tokio::io::BufReader::new(stdout).read_line(&mut answer).await.map_err(|e| e.to_string())?;
    match answer.trim() {
        "copied" => Ok(()),
        "" => Err("the clipboard keeper stopped".to_owned()),
        problem => Err(problem.to_owned()),
    }
}

/// `kdk hold-clipboard SECONDS`: copies standard input, says `copied` (or why not), keeps the
/// clipboard's content alive, and clears it after SECONDS if it still holds the secret.
async fn hold_clipboard(seconds: u32) -> Outcome {
    let mut secret = String::new();
    std::io::stdin().read_to_string(&mut secret).map_err(io_failure)?;
    let clipboard = match keydeck_vault::SystemClipboard::open() {
        Ok(c) => c,
        Err(e) => {
            println!("{e}");
            return Ok(EXIT_NO_KEYCHAIN);
        }
    };
    if let Err(e) = clipboard.copy_secret(&secret) {
        println!("{e}");
        return Ok(EXIT_NO_KEYCHAIN);
    }
    println!("copied");
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await;
    let _ = keydeck_vault::clear_if_holds(&clipboard, &secret);
    Ok(0)
}

/// Copies a program's output stream to ours, secrets hidden, as it arrives.
/// When ours is closed (`kdk run -- yes | head`), reading stops, so the program gets a broken
/// pipe as it would without kdk.
async fn pass_masked(mut from: impl tokio::io::AsyncRead + Unpin, mut to: impl Write, secrets: Vec<String>) {
    use tokio::io::AsyncReadExt;
    let mut masker = Masker::new(secrets);
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&masker.push(&buffer[..n])).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        }
    }
    let _ = to.write_all(&masker.finish());
    let _ = to.flush();
}

/// Passes SIGTERM and SIGHUP sent to kdk on to the program (with `kill`, as the code forbids
/// `unsafe`), so that stopping kdk stops what it runs.
async fn pass_signals_on(pid: u32) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return;
        };
        loop {
            let name = tokio::select! {
                _ = term.recv() => "TERM",
                _ = hup.recv() => "HUP",
            };
            let _ = tokio::process::Command::new("kill").args(["-s", name, &pid.to_string()]).status().await;
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// A program's exit code, passed on; a program ended by a signal gives 128 + the signal's
/// number, as shells report it.
fn exit_code_of(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(EXIT_FAILED);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(EXIT_FAILED);
        }
    }
    EXIT_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_expiries_read_as_written_or_say_how_to_write_them() {
        assert_eq!(parse_rate("100/60").unwrap(), RateLimit { enabled: true, max_requests: 100, window_seconds: 60 });
        assert!(!parse_rate("none").unwrap().enabled);
        assert!(parse_rate("100").unwrap_err().message.contains("REQUESTS/SECONDS"));
        assert_eq!(parse_expiry("never").unwrap(), None);
        assert_eq!(parse_expiry("30").unwrap().map(ExpiresInDays::days), Some(30));
        assert!(parse_expiry("31").unwrap_err().message.contains("7, 30, 90, 180 or 365"));
        assert!(parse_scope("reports:write").unwrap_err().message.contains("reports:read"));
    }
}
