//! The admin commands (`keydeck-server admin ...`): users, workspaces, members, plans and
//! billing. Each change bumps a counter that running servers watch, so it takes effect there
//! within 2 seconds (the watcher polls it every `ServerConfig::watch_interval`, 100 ms).

use keydeck_core::key::random_base62;
use keydeck_core::wire::{BillingStatus, Plan, Role, UserInfo};

use crate::clock::Clock;
use crate::store::{Store, StoreError};

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
    store.insert_workspace(&id, name, plan, &owner.id, clock.now_ms()).await?;
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
    Ok(store.upsert_member(workspace_id, &user.id, role, clock.now_ms()).await?)
}

pub async fn remove_member(store: &Store, workspace_id: &str, email: &str) -> Result<(), AdminError> {
    let user = store.user_by_email(email.trim()).await?;
    store.workspace(workspace_id).await?;
    if !store.delete_member(workspace_id, &user.id).await? {
        return Err(invalid(format!("{} is not a member of {workspace_id}.", user.email)));
    }
    Ok(())
}
