//! The audit log: every change to a key or a membership, recorded in the change's own
//! transaction, so an entry exists exactly when its change does. Append-only: the server has no
//! statement that updates or deletes an entry. Entries name fields and their values, never a
//! secret or a hash.

use std::collections::BTreeMap;

use keydeck_core::wire::{ActorKind, AuditAction, AuditActor, AuditChange, AuditEntry, Role, UserInfo};
use serde::Serialize;
use sqlx::Row;

use super::{Statement, Store, StoreResult, to_time};

/// Who made a change, when, and from which address: given to every change the log records.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: AuditActor,
    pub at: i64,
    /// `None` for the admin command line and the server itself.
    pub ip: Option<String>,
}

impl Audit {
    /// A signed-in user, through the API.
    pub fn user(user: &UserInfo, at: i64, ip: Option<std::net::IpAddr>) -> Audit {
        let actor = AuditActor { kind: ActorKind::User, id: Some(user.id.clone()), name: Some(user.name.clone()) };
        Audit { actor, at, ip: ip.map(|ip| ip.to_string()) }
    }

    /// `keydeck-server admin ...`.
    pub fn admin_cli(at: i64) -> Audit {
        Audit { actor: AuditActor { kind: ActorKind::AdminCli, id: None, name: None }, at, ip: None }
    }

    /// The server on its own: the demo seed, expiry, scheduled revocations.
    pub fn server(at: i64) -> Audit {
        Audit { actor: AuditActor { kind: ActorKind::Server, id: None, name: None }, at, ip: None }
    }
}

/// Which entries a page of the log holds; the default is all of them.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries about any of these keys.
    pub key_ids: Vec<String>,
    pub actor: Option<ActorFilter>,
    /// Entries of any of these actions.
    pub actions: Vec<AuditAction>,
}

/// Whose changes: one user's, or all the admin command line's or the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    User(String),
    Kind(ActorKind),
}

/// The fields a change set, with their values before and after.
#[derive(Debug, Default)]
pub struct Changes(BTreeMap<String, AuditChange>);

impl Changes {
    pub fn field(mut self, name: &str, from: impl Serialize, to: impl Serialize) -> Changes {
        let from = serde_json::to_value(from).unwrap_or_default();
        let to = serde_json::to_value(to).unwrap_or_default();
        self.0.insert(name.to_owned(), AuditChange { from, to });
        self
    }
}

/// What an entry is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub key_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
}

/// Adds an entry inside the change's transaction.
pub(super) async fn record(
    tx: &mut sqlx::AnyConnection,
    workspace_id: &str,
    audit: &Audit,
    action: AuditAction,
    subject: Subject<'_>,
    changes: Changes,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, at, actor_kind, actor_id, actor_name, ip, action, key_id, user_id, changes,
                                key_name, user_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 (SELECT name FROM api_keys WHERE id = $8), (SELECT name FROM users WHERE id = $9))",
    )
    .bind(workspace_id.to_owned())
    .bind(audit.at)
    .bind(text(audit.actor.kind))
    .bind(audit.actor.id.clone())
    .bind(audit.actor.name.clone())
    .bind(audit.ip.clone())
    .bind(text(action))
    .bind(subject.key_id.map(str::to_owned))
    .bind(subject.user_id.map(str::to_owned))
    .bind(serde_json::to_string(&changes.0).unwrap_or_else(|_| "{}".to_owned()))
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the log already holds a `leak_reported` entry for this key naming this place.
pub(super) async fn leak_place_recorded(
    tx: &mut sqlx::AnyConnection,
    key_id: &str,
    url: Option<&str>,
) -> StoreResult<bool> {
    let entries: Vec<String> = sqlx::query_scalar("SELECT changes FROM audit_log WHERE key_id = $1 AND action = $2")
        .bind(key_id)
        .bind(text(AuditAction::LeakReported))
        .fetch_all(tx)
        .await?;
    let place = serde_json::to_value(url).unwrap_or_default();
    Ok(entries.iter().any(|changes| {
        serde_json::from_str::<BTreeMap<String, AuditChange>>(changes)
            .is_ok_and(|c| c.get("leakUrl").is_some_and(|change| change.to == place))
    }))
}

/// A unit enum as the string it serializes to.
fn text(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// When a member's role moves across "may manage keys" (`role`: before, after; `None` when not
/// a member), records for each live, unexpired key they created that it stopped working
/// (`creator_removed`) or works again (`creator_restored`). Nothing when the line is not crossed.
pub(super) async fn record_creator_change(
    tx: &mut sqlx::AnyConnection,
    workspace_id: &str,
    audit: &Audit,
    user_id: &str,
    role: (Option<&str>, Option<&str>),
) -> StoreResult<()> {
    let manages = |r: Option<&str>| r.and_then(Role::parse).is_some_and(Role::can_manage_keys);
    let action = match (manages(role.0), manages(role.1)) {
        (true, false) => AuditAction::CreatorRemoved,
        (false, true) => AuditAction::CreatorRestored,
        _ => return Ok(()),
    };
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE workspace_id = $1 AND created_by = $2 AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(audit.at)
    .fetch_all(&mut *tx)
    .await?;
    for key in keys {
        let subject = Subject { key_id: Some(&key), user_id: Some(user_id) };
        let changes = Changes::default().field("creatorRole", role.0, role.1);
        record(tx, workspace_id, audit, action, subject, changes).await?;
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

impl Store {
    /// Records the expiry of every key that expired by `now` (before any revocation) and has no
    /// such entry yet, dated when it expired, by the server: an expiry is computed, not made by
    /// anyone. Each workspace's under its write lock, as every change of the workspace is: each
    /// expiry is recorded once whatever the number of nodes, and entries get ids in the order
    /// they commit, which keeps pages stable.
    pub async fn record_expiries(&self, now: i64) -> StoreResult<u64> {
        const EXPIRED: &str = "k.expires_at IS NOT NULL AND k.expires_at <= $1 \
             AND (k.revoked_at IS NULL OR k.revoked_at > k.expires_at) \
             AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.key_id = k.id AND a.action = 'expired')";
        let workspaces: Vec<String> =
            sqlx::query_scalar(&format!("SELECT DISTINCT k.workspace_id FROM api_keys k WHERE {EXPIRED}"))
                .bind(now)
                .fetch_all(&self.reader)
                .await?;
        let mut recorded = 0;
        for workspace in workspaces {
            let mut tx = self.begin_write("workspace", &workspace).await?;
            recorded += sqlx::query(&format!(
                "INSERT INTO audit_log (workspace_id, at, actor_kind, action, key_id, changes, key_name)
                 SELECT k.workspace_id, k.expires_at, 'server', 'expired', k.id, \
                 '{{\"status\":{{\"from\":\"active\",\"to\":\"expired\"}}}}', k.name
                 FROM api_keys k WHERE k.workspace_id = $2 AND {EXPIRED} ORDER BY k.expires_at"
            ))
            .bind(now)
            .bind(workspace)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            self.count_writes(1);
        }
        Ok(recorded)
    }

    /// A workspace's entries older than entry `before` (all when `None`), in the order they
    /// were recorded, newest first, at most `limit`; with the `before` of the next page when
    /// there is one. Paging by id stays stable while entries are added: new ones get higher ids.
    pub async fn audit_log(
        &self,
        workspace_id: &str,
        before: Option<i64>,
        limit: u32,
        filter: &AuditFilter,
    ) -> StoreResult<(Vec<AuditEntry>, Option<String>)> {
        let mut query = Statement::new(
            self.engine,
            "SELECT id, at, actor_kind, actor_id, actor_name, ip, action, key_id, user_id, changes, key_name, user_name
             FROM audit_log WHERE workspace_id = ",
        );
        query.bind(workspace_id.to_owned());
        if let Some(before) = before {
            query.push(" AND id < ").bind(before);
        }
        if !filter.key_ids.is_empty() {
            query.push(" AND key_id IN ").list(filter.key_ids.clone());
        }
        match &filter.actor {
            Some(ActorFilter::User(id)) => query.push(" AND actor_id = ").bind(id.clone()),
            Some(ActorFilter::Kind(kind)) => query.push(" AND actor_kind = ").bind(text(kind)),
            None => &mut query,
        };
        if !filter.actions.is_empty() {
            query.push(" AND action IN ").list(filter.actions.iter().map(text).collect::<Vec<_>>());
        }
        query.push(" ORDER BY id DESC LIMIT ").bind(i64::from(limit) + 1);
        let rows = query.fetch_all(&self.reader).await?;
        let shown = &rows[..rows.len().min(limit as usize)];
        let next = (rows.len() > shown.len()).then(|| shown.last().map(|r| r.get::<i64, _>("id").to_string()));
        // A row this node cannot read (an action a newer node wrote) is left out of the page,
        // not out of the paging: the cursor comes from the rows as stored.
        let entries = shown
            .iter()
            .filter_map(|r| {
                Some(AuditEntry {
                    id: r.get::<i64, _>("id").to_string(),
                    at: to_time(r.get("at")),
                    actor: AuditActor {
                        kind: parse(&r.get::<String, _>("actor_kind"))?,
                        id: r.get("actor_id"),
                        name: r.get("actor_name"),
                    },
                    ip: r.get("ip"),
                    action: parse(&r.get::<String, _>("action"))?,
                    key_id: r.get("key_id"),
                    user_id: r.get("user_id"),
                    changes: serde_json::from_str(&r.get::<String, _>("changes")).unwrap_or_default(),
                    key_name: r.get("key_name"),
                    user_name: r.get("user_name"),
                })
            })
            .collect();
        Ok((entries, next.flatten()))
    }
}
