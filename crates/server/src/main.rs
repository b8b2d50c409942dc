//! `keydeck-server`: serve the workspace API, or change users and workspaces with `admin`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keydeck_server::store::DbLocation;
use keydeck_server::{Clock, ServerConfig, Store, admin};

#[derive(Parser)]
#[command(
    name = "keydeck-server",
    version,
    about = "The Keydeck workspace server: an API-key service for a time-tracking workspace."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// The database: a SQLite file (created if missing), or a PostgreSQL address
        /// (postgres://user:password@host/database) that several nodes may share.
        #[arg(long, env = "KEYDECK_DB", hide_env_values = true, default_value = "keydeck.db")]
        db: String,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The address integrations reach this server at, if not the one they connect to
        /// (e.g. behind a reverse proxy): https://keys.example.com
        #[arg(long)]
        public_url: Option<String>,
        /// Seed demo data into an empty database and print how to sign in.
        #[arg(long)]
        demo: bool,
        /// Behind a reverse proxy: the header it writes the client's address in, such as
        /// X-Forwarded-For. The last address in it is taken as the request's address (the
        /// audit log's and recent requests'). Set it only when every request comes through
        /// that proxy: any client can write the header. Default: none, the connection's
        /// address.
        #[arg(long, env = "KEYDECK_CLIENT_IP_HEADER")]
        client_ip_header: Option<axum::http::HeaderName>,
        /// A file with the public keys of the secret scanners whose leak reports to trust, as
        /// GitHub publishes them at https://api.github.com/meta/public_keys/secret_scanning.
        /// A key reported in a report signed by one of them is disabled at once. Default: none,
        /// every report is refused.
        #[arg(long, env = "KEYDECK_LEAK_REPORT_KEYS")]
        leak_report_keys: Option<std::path::PathBuf>,
    },
    /// Change users, workspaces, members, plans and billing. Each command returns once every
    /// running server on the database has applied the change.
    Admin {
        /// The database: a SQLite file, or a PostgreSQL address (postgres://…).
        #[arg(long, global = true, env = "KEYDECK_DB", hide_env_values = true, default_value = "keydeck.db")]
        db: String,
        #[command(subcommand)]
        action: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user who can sign in.
    CreateUser {
        #[arg(long)]
        email: String,
        /// At least 8 characters.
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: String,
    },
    /// Create a workspace; prints only its id.
    CreateWorkspace {
        #[arg(long)]
        name: String,
        /// free, solo_pro, team or business (only team and business have API access).
        #[arg(long)]
        plan: String,
        /// The email of the user who will own it.
        #[arg(long)]
        owner: String,
    },
    /// Add a member to a workspace, or change their role.
    AddMember {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        /// owner, admin or member.
        #[arg(long)]
        role: String,
    },
    /// Remove a member; keys they made stop working.
    RemoveMember {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
    /// Change a workspace's plan.
    SetPlan {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        plan: String,
    },
    /// Set billing to active, or read_only (key-authenticated writes and new keys are refused).
    SetBilling {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        status: String,
    },
    /// Print a workspace's audit log, newest first: one change per line.
    Audit {
        #[arg(long)]
        workspace: String,
        /// How many entries, newest first.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keydeck-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { db, listen, public_url, demo, client_ip_header, leak_report_keys } => {
            keydeck_server::init_logging();
            let mut config = ServerConfig::new(DbLocation::parse(&db), listen);
            config.public_url = public_url;
            config.demo = demo;
            config.client_ip_header = client_ip_header;
            if let Some(path) = leak_report_keys {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("could not read the leak-report keys {}: {e}", path.display()))?;
                config.leak_report_keys = keydeck_server::leak_reports::ReportKeys::from_published(&text)
                    .map_err(|e| anyhow::anyhow!("the leak-report keys file {} {e}", path.display()))?;
            }
            let server = keydeck_server::start(config, Clock::default()).await?;
            println!("Keydeck workspace server on {}", server.url());
            println!("API reference: {}/docs", server.url());
            if let Some(d) = &server.demo {
                println!();
                println!("Demo data seeded. Sign in with any of these (password \"{}\"):", d.password);
                println!("  {}  owner of all three workspaces", d.owner_email);
                println!("  {}  admin of Harbor Design Co.", d.admin_email);
                println!("  {}  member of Harbor Design Co. (cannot manage keys)", d.member_email);
                println!(
                    "Workspaces: Harbor Design Co. {} (Business), Alex Morgan Studio {} (Solo Pro, no API), Cedar Bookkeeping {} (read-only)",
                    d.business_workspace, d.solo_workspace, d.read_only_workspace
                );
            }
            stop_requested().await?;
            println!("Stopping...");
            server.stop().await;
            Ok(())
        }
        Command::Admin { db, action } => {
            keydeck_server::init_logging();
            // A running server may hold the write lock for a moment: an admin change that found
            // the database busy changed nothing, so it is tried again for up to 10 seconds.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let result = async {
                    let store = Store::open(&DbLocation::parse(&db)).await?;
                    let result = admin_command(&store, &Clock::default(), &action).await;
                    store.close().await;
                    result
                }
                .await;
                match result {
                    Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    other => return other,
                }
            }
        }
    }
}

/// Ctrl-C, or SIGTERM (what a service manager or a container runtime sends): either way the
/// server stops accepting, finishes what is under way and writes pending usage before it exits.
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.downcast_ref::<keydeck_server::store::StoreError>().is_some_and(|e| e.is_busy())
        || e.downcast_ref::<admin::AdminError>()
            .is_some_and(|e| matches!(e, admin::AdminError::Store(s) if s.is_busy()))
}

async fn admin_command(store: &Store, clock: &Clock, action: &AdminCommand) -> anyhow::Result<()> {
    match action {
        AdminCommand::CreateUser { email, password, name } => {
            let user = admin::create_user(store, clock, email, password, name).await?;
            eprintln!("Created user {} <{}>", user.name, user.email);
            println!("{}", user.id);
        }
        AdminCommand::CreateWorkspace { name, plan, owner } => {
            let plan = admin::parse_plan(plan)?;
            println!("{}", admin::create_workspace(store, clock, name, plan, owner).await?);
        }
        AdminCommand::AddMember { workspace, email, role } => {
            admin::add_member(store, clock, workspace, email, admin::parse_role(role)?).await?;
            eprintln!("{email} is now {role} of {workspace}");
        }
        AdminCommand::RemoveMember { workspace, email } => {
            admin::remove_member(store, clock, workspace, email).await?;
            eprintln!("Removed {email} from {workspace}; keys they made no longer work.");
        }
        AdminCommand::Audit { workspace, limit } => {
            for line in admin::audit_lines(store, workspace, *limit).await? {
                println!("{line}");
            }
        }
        AdminCommand::SetPlan { workspace, plan } => {
            admin::set_plan(store, clock, workspace, admin::parse_plan(plan)?).await?;
            eprintln!("{workspace} is now on the {plan} plan");
        }
        AdminCommand::SetBilling { workspace, status } => {
            admin::set_billing(store, clock, workspace, admin::parse_billing(status)?).await?;
            eprintln!("Billing of {workspace} is now {status}");
        }
    }
    Ok(())
}
