//! Users, workspaces, memberships and sessions.

use keydeck_core::wire::{AuditAction, BillingStatus, Plan, Role, UserInfo};
use sqlx::Row;

use super::audit::{self, Audit, Changes, Subject};
use super::processes::{Affects, bump_generation};
use super::{Store, StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub billing_status: BillingStatus,
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub workspace: WorkspaceRow,
    pub role: Role,
}

fn workspace_row(row: &sqlx::any::AnyRow) -> WorkspaceRow {
    WorkspaceRow {
        id: row.get("id"),
        name: row.get("name"),
        plan: Plan::parse(row.get("plan")).unwrap_or(Plan::Free),
        billing_status: BillingStatus::parse(row.get("billing_status")).unwrap_or(BillingStatus::ReadOnly),
    }
}

fn membership(row: &sqlx::any::AnyRow) -> Membership {
    Membership { workspace: workspace_row(row), role: Role::parse(row.get("role")).unwrap_or(Role::Member) }
}

fn user(row: &sqlx::any::AnyRow) -> UserInfo {
    UserInfo { id: row.get("id"), email: row.get("email"), name: row.get("name") }
}

impl Store {
    pub async fn insert_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<UserInfo> {
        let result =
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(email)
                .bind(name)
                .bind(password_hash)
                .bind(now)
                .execute(&self.writer)
                .await;
        self.count_writes(1);
        match result {
            Ok(_) => Ok(UserInfo { id: id.to_owned(), email: email.to_owned(), name: name.to_owned() }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("A user with the email {email} already exists.")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user and their password hash, for sign-in.
    pub async fn user_for_sign_in(&self, email: &str) -> StoreResult<Option<(UserInfo, String)>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| (user(&r), r.get("password_hash"))))
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<UserInfo> {
        self.user_for_sign_in(email).await?.map(|(u, _)| u).ok_or_else(|| {
            StoreError::NotFound(format!(
                "No user has the email {email}. Create one with `keydeck-server admin create-user`."
            ))
        })
    }

    pub async fn insert_session(&self, token_hash: &[u8], user_id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&self.writer)
            .await?;
        self.count_writes(1);
        Ok(())
    }

    /// The user a live session belongs to.
    pub async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<UserInfo>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(user))
    }

    pub async fn revoke_session(&self, token_hash: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        self.count_writes(1);
        Ok(())
    }

    pub async fn memberships(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.plan, w.billing_status, m.role FROM memberships m
             JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.name, w.id",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(membership).collect())
    }

    pub async fn membership(&self, workspace_id: &str, user_id: &str) -> StoreResult<Option<Membership>> {
        let row = sqlx::query(
            "SELECT w.id, w.name, w.plan, w.billing_status, m.role FROM memberships m
             JOIN workspaces w ON w.id = m.workspace_id WHERE m.workspace_id = $1 AND m.user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(membership))
    }

    pub async fn workspace(&self, workspace_id: &str) -> StoreResult<WorkspaceRow> {
        let row = sqlx::query("SELECT id, name, plan, billing_status FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("No workspace has the id {workspace_id}.")))?;
        Ok(workspace_row(&row))
    }

    /// Creates a workspace with `owner_id` as its owner.
    pub async fn insert_workspace(
        &self,
        id: &str,
        name: &str,
        plan: Plan,
        owner_id: &str,
        audit: &Audit,
    ) -> StoreResult<()> {
        let now = audit.at;
        let mut tx = self.begin_write("workspace", id).await?;
        sqlx::query("INSERT INTO workspaces (id, name, plan, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(plan.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(id)
            .bind(owner_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let subject = Subject { key_id: None, user_id: Some(owner_id) };
        let changes = Changes::default().field("role", Option::<()>::None, Role::Owner);
        audit::record(&mut tx, id, audit, AuditAction::MemberAdded, subject, changes).await?;
        bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(4);
        Ok(())
    }

    /// Adds a member, or changes the role of one already there. Returns the change generation.
    pub async fn upsert_member(
        &self,
        workspace_id: &str,
        user_id: &str,
        role: Role,
        audit: &Audit,
    ) -> StoreResult<i64> {
        self.workspace(workspace_id).await?;
        let now = audit.at;
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let subject = Subject { key_id: None, user_id: Some(user_id) };
        let action = if before.is_some() { AuditAction::RoleChanged } else { AuditAction::MemberAdded };
        if before.as_deref() != Some(role.as_str()) {
            let changes = Changes::default().field("role", &before, role);
            audit::record(&mut tx, workspace_id, audit, action, subject, changes).await?;
            let roles = (before.as_deref(), Some(role.as_str()));
            audit::record_creator_change(&mut tx, workspace_id, audit, user_id, roles).await?;
        }
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(3);
        Ok(generation)
    }

    /// Removes a member. Returns the change generation, or `None` when they were not a member.
    pub async fn delete_member(&self, workspace_id: &str, user_id: &str, audit: &Audit) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let removed: Option<String> =
            sqlx::query_scalar("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2 RETURNING role")
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(role) = removed else { return Ok(None) };
        let subject = Subject { key_id: None, user_id: Some(user_id) };
        let changes = Changes::default().field("role", &role, Option::<()>::None);
        audit::record(&mut tx, workspace_id, audit, AuditAction::MemberRemoved, subject, changes).await?;
        audit::record_creator_change(&mut tx, workspace_id, audit, user_id, (Some(&role), None)).await?;
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(3);
        Ok(Some(generation))
    }

    /// Returns the change generation.
    pub async fn set_plan(&self, workspace_id: &str, plan: Plan) -> StoreResult<i64> {
        self.update_workspace("plan", plan.as_str(), workspace_id).await
    }

    /// Returns the change generation.
    pub async fn set_billing(&self, workspace_id: &str, status: BillingStatus) -> StoreResult<i64> {
        self.update_workspace("billing_status", status.as_str(), workspace_id).await
    }

    async fn update_workspace(&self, column: &'static str, value: &str, workspace_id: &str) -> StoreResult<i64> {
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let changed = sqlx::query(&format!("UPDATE workspaces SET {column} = $1 WHERE id = $2"))
            .bind(value)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("No workspace has the id {workspace_id}.")));
        }
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(2);
        Ok(generation)
    }
}
