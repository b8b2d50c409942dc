//! The admin commands (`keydeck-server admin ...`): users, workspaces, members, plans,
//! billing, and reading the audit log. Each change bumps a counter that running servers watch (every
//! `ServerConfig::watch_interval`, 100 ms), and the command returns once every running server
//! on the database has applied it (or after [`PROPAGATION_TIMEOUT`]).

use keydeck_core::key::random_base62;
use keydeck_core::wire::{BillingStatus, Plan, Role, UserInfo};

use std::time::Duration;

use crate::clock::Clock;
use crate::store::{Audit, AuditFilter, Store, StoreError};

/// How long an admin change waits, at most, for running servers to apply it.
pub const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits until every running server on the database has applied the change `generation`.
async fn applied_everywhere(store: &Store, clock: &Clock, generation: i64) -> Result<(), AdminError> {
    let clock = clock.clone();
    if !store.wait_until_seen(generation, None, PROPAGATION_TIMEOUT, move || clock.now_ms()).await? {
        tracing::warn!(generation, "a running server did not apply the change within 2 seconds");
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

fn check_email(email: &str) -> Result<String, AdminError> {
    let email = email.trim();
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.contains(char::is_whitespace);
    if ok {
        Ok(email.to_owned())
    } else {
        Err(invalid(format!("\"{email}\" is not an email address. Use one like ana@example.com.")))
    }
}

pub async fn create_user(
    store: &Store,
    clock: &Clock,
    email: &str,
    password: &str,
    name: &str,
) -> Result<UserInfo, AdminError> {
    let email = check_email(email)?;
    if password.chars().count() < 8 {
        return Err(invalid("The password is too short: use at least 8 characters."));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("Give the user a name of 1 to 100 characters."));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(|e| invalid(e.to_string()))?
        .map_err(|e| invalid(format!("Could not hash the password: {e}")))?;
    let id = format!("usr_{}", random_base62(&mut rand::rng(), 16));
    Ok(store.insert_user(&id, &email, name, &hash, clock.now_ms()).await?)
}

pub fn parse_plan(plan: &str) -> Result<Plan, AdminError> {
    Plan::parse(plan).ok_or_else(|| invalid(format!("\"{plan}\" is not a plan. Use free, solo_pro, team or business.")))
}

pub fn parse_role(role: &str) -> Result<Role, AdminError> {
    Role::parse(role).ok_or_else(|| invalid(format!("\"{role}\" is not a role. Use owner, admin or member.")))
}

pub fn parse_billing(status: &str) -> Result<BillingStatus, AdminError> {
    BillingStatus::parse(status)
        .ok_or_else(|| invalid(format!("\"{status}\" is not a billing status. Use active or read_only.")))
}

/// Creates a workspace owned by the user with `owner_email`. Returns its id.
pub async fn create_workspace(
    store: &Store,
    clock: &Clock,
    name: &str,
    plan: Plan,
    owner_email: &str,
) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("Give the workspace a name of 1 to 100 characters."));
    }
    let owner = store.user_by_email(owner_email.trim()).await?;
    let id = format!("ws_{}", random_base62(&mut rand::rng(), 16));
    store.insert_workspace(&id, name, plan, &owner.id, &Audit::admin_cli(clock.now_ms())).await?;
    Ok(id)
}

pub async fn add_member(
    store: &Store,
    clock: &Clock,
    workspace_id: &str,
    email: &str,
    role: Role,
) -> Result<(), AdminError> {
    let user = store.user_by_email(email.trim()).await?;
    let generation = store.upsert_member(workspace_id, &user.id, role, &Audit::admin_cli(clock.now_ms())).await?;
    applied_everywhere(store, clock, generation).await
}

pub async fn remove_member(store: &Store, clock: &Clock, workspace_id: &str, email: &str) -> Result<(), AdminError> {
    let user = store.user_by_email(email.trim()).await?;
    store.workspace(workspace_id).await?;
    let generation = store
        .delete_member(workspace_id, &user.id, &Audit::admin_cli(clock.now_ms()))
        .await?
        .ok_or_else(|| invalid(format!("{} is not a member of {workspace_id}.", user.email)))?;
    applied_everywhere(store, clock, generation).await
}

pub async fn set_plan(store: &Store, clock: &Clock, workspace_id: &str, plan: Plan) -> Result<(), AdminError> {
    let generation = store.set_plan(workspace_id, plan).await?;
    applied_everywhere(store, clock, generation).await
}

pub async fn set_billing(
    store: &Store,
    clock: &Clock,
    workspace_id: &str,
    status: BillingStatus,
) -> Result<(), AdminError> {
    let generation = store.set_billing(workspace_id, status).await?;
    applied_everywhere(store, clock, generation).await
}

/// A workspace's audit log, newest first, one line per entry:
/// `<time>  <who> [from <address>]  <action>  [key <id>] [member <id>]  <field>: <from> -> <to>; ...`.
pub async fn audit_lines(store: &Store, workspace_id: &str, limit: u32) -> Result<Vec<String>, AdminError> {
    store.workspace(workspace_id).await?;
    let (entries, _) = store.audit_log(workspace_id, None, limit.clamp(1, 10_000), &AuditFilter::default()).await?;
    Ok(entries
        .iter()
        .map(|e| {
            use keydeck_core::wire::ActorKind;
            let who = match e.actor.kind {
                ActorKind::User => format!(
                    "{} ({})",
                    e.actor.name.as_deref().unwrap_or("a user"),
                    e.actor.id.as_deref().unwrap_or("?")
                ),
                ActorKind::AdminCli => "the admin command line".to_owned(),
                ActorKind::Server => "the server".to_owned(),
            };
            let from = e.ip.as_deref().map(|ip| format!(" from {ip}")).unwrap_or_default();
            let action =
                serde_json::to_value(e.action).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let mut subject = String::new();
            if let Some(key) = &e.key_id {
                subject.push_str(&format!("  key {key}"));
            }
            if let Some(user) = &e.user_id {
                subject.push_str(&format!("  member {user}"));
            }
            let changes: Vec<String> =
                e.changes.iter().map(|(field, c)| format!("{field}: {} -> {}", c.from, c.to)).collect();
            format!("{}  {who}{from}  {action}{subject}  {}", e.at.to_rfc3339(), changes.join("; "))
        })
        .collect())
}
