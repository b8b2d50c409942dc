//! API keys: creation under the per-workspace limit and the one-live-key-per-name rule,
//! listing, changes, revocation, and the lookup by hash that authenticates a request.
//!
//! Names are compared trimmed and ignoring case, in Rust rather than SQL (SQLite's `lower`
//! knows only ASCII). The check runs inside the write transaction on the single writer, so two
//! creations of one name at once cannot both pass it.

use keydeck_core::rules::{RateLimit, same_name};
use keydeck_core::wire::{
    AuditAction, BillingStatus, KeyCard, KeyCreator, KeyStatus, LeakMark, Plan, RevokePlan, Role,
};
use keydeck_core::{AllowedIps, ScopeSet, rules::KeyChanges};
use sqlx::Row;

use super::audit::{self, Audit, Changes, Subject};
use super::processes::{Affects, bump_generation};
use super::usage::refusal_of;
use super::{Statement, Store, StoreResult, to_time};

/// A key as stored, with its creator's name and current role in the key's workspace.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub prefix: String,
    pub hint: String,
    pub scopes: String,
    pub created_at: i64,
    pub created_by: String,
    pub creator_name: String,
    pub creator_role: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_refusal_at: Option<i64>,
    pub last_refusal_error: Option<String>,
    pub last_refusal_status: Option<i64>,
    pub request_count: i64,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub rate_limit_enabled: bool,
    pub rate_limit_max: i64,
    pub rate_limit_window: i64,
    pub replaces: Option<String>,
    /// The live key whose `replaces` is this key.
    pub replaced_by: Option<String>,
    pub allowed_ips: AllowedIps,
    pub revoke_when_silent_secs: Option<i64>,
    pub revoke_scheduled_at: Option<i64>,
    pub leaked_at: Option<i64>,
    pub leak_url: Option<String>,
    pub leak_source: Option<String>,
}

/// Flags are stored as 0/1 on both engines.
fn flag(r: &sqlx::any::AnyRow, column: &str) -> bool {
    r.get::<i64, _>(column) != 0
}

fn key_row(r: &sqlx::any::AnyRow) -> KeyRow {
    KeyRow {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        name: r.get("name"),
        prefix: r.get("prefix"),
        hint: r.get("hint"),
        scopes: r.get("scopes"),
        created_at: r.get("created_at"),
        created_by: r.get("created_by"),
        creator_name: r.get("creator_name"),
        creator_role: r.get("creator_role"),
        last_used_at: r.get("last_used_at"),
        last_success_at: r.get("last_success_at"),
        last_refusal_at: r.get("last_refusal_at"),
        last_refusal_error: r.get("last_refusal_error"),
        last_refusal_status: r.get("last_refusal_status"),
        request_count: r.get("request_count"),
        expires_at: r.get("expires_at"),
        enabled: flag(r, "enabled"),
        rate_limit_enabled: flag(r, "rate_limit_enabled"),
        rate_limit_max: r.get("rate_limit_max"),
        rate_limit_window: r.get("rate_limit_window"),
        replaces: r.get("replaces"),
        replaced_by: r.get("replaced_by"),
        allowed_ips: AllowedIps::from_storage(r.get("allowed_ips")),
        revoke_when_silent_secs: r.get("revoke_when_silent_secs"),
        revoke_scheduled_at: r.get("revoke_scheduled_at"),
        leaked_at: r.get("leaked_at"),
        leak_url: r.get("leak_url"),
        leak_source: r.get("leak_source"),
    }
}

impl KeyRow {
    pub fn rate_limit(&self) -> RateLimit {
        RateLimit {
            enabled: self.rate_limit_enabled,
            max_requests: u32::try_from(self.rate_limit_max).unwrap_or(1),
            window_seconds: u32::try_from(self.rate_limit_window).unwrap_or(1),
        }
    }

    pub fn card(&self, now_ms: i64) -> KeyCard {
        let expires_at = self.expires_at.map(to_time);
        KeyCard {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            hint: self.hint.clone(),
            scopes: ScopeSet::from_storage(&self.scopes).to_vec(),
            created_at: to_time(self.created_at),
            created_by: KeyCreator {
                id: self.created_by.clone(),
                name: self.creator_name.clone(),
                can_manage_keys: self.creator_role.as_deref().and_then(Role::parse).is_some_and(Role::can_manage_keys),
            },
            last_used_at: self.last_used_at.map(to_time),
            last_success_at: self.last_success_at.map(to_time),
            last_refusal: refusal_of(
                self.last_refusal_at,
                self.last_refusal_error.as_deref(),
                self.last_refusal_status,
            )
            .map(|r| r.wire()),
            request_count: u64::try_from(self.request_count).unwrap_or(0),
            expires_at,
            enabled: self.enabled,
            status: KeyStatus::at(self.enabled, expires_at, to_time(now_ms)),
            rate_limit: self.rate_limit(),
            replaces: self.replaces.clone(),
            replaced_by: self.replaced_by.clone(),
            allowed_ips: self.allowed_ips.to_vec(),
            revoke_plan: self.revoke_plan().map(|plan| RevokePlan {
                silent_seconds: u32::try_from(plan.silent_ms / 1000).unwrap_or(u32::MAX),
                scheduled_at: to_time(plan.scheduled_at),
                revokes_at: to_time(plan.due_at()),
            }),
            leak: self.leaked_at.map(|at| LeakMark {
                reported_at: to_time(at),
                url: self.leak_url.clone(),
                source: self.leak_source.clone(),
            }),
        }
    }

    fn revoke_plan(&self) -> Option<SilencePlan> {
        Some(SilencePlan {
            silent_ms: self.revoke_when_silent_secs? * 1000,
            scheduled_at: self.revoke_scheduled_at?,
            last_used_at: self.last_used_at,
        })
    }
}

/// A plan to revoke a key once it has been silent: it runs once no request has come for
/// `silent_ms`, counted from the later of the key's last request and the plan's making.
#[derive(Debug, Clone, Copy)]
struct SilencePlan {
    silent_ms: i64,
    scheduled_at: i64,
    last_used_at: Option<i64>,
}

impl SilencePlan {
    fn due_at(self) -> i64 {
        self.last_used_at.unwrap_or(0).max(self.scheduled_at) + self.silent_ms
    }
}

const KEY_COLUMNS: &str = "k.id, k.workspace_id, k.name, k.prefix, k.hint, k.scopes, k.created_at, k.created_by,
    u.name AS creator_name, m.role AS creator_role, k.last_used_at, k.last_success_at, k.last_refusal_at,
    k.last_refusal_error, k.last_refusal_status, k.request_count, k.expires_at, k.enabled,
    k.rate_limit_enabled, k.rate_limit_max, k.rate_limit_window, k.replaces, k.allowed_ips,
    k.revoke_when_silent_secs, k.revoke_scheduled_at, k.leaked_at, k.leak_url, k.leak_source,
    (SELECT r.id FROM api_keys r WHERE r.replaces = k.id AND r.revoked_at IS NULL LIMIT 1) AS replaced_by
    FROM api_keys k JOIN users u ON u.id = k.created_by
    LEFT JOIN memberships m ON m.workspace_id = k.workspace_id AND m.user_id = k.created_by";

/// What a leak report about one token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakOutcome {
    /// No key of this server has that hash.
    NotOurs,
    /// One of the server's keys, reported before at the same place, and already not usable.
    Repeat,
    /// One of the server's keys: recorded (and disabled if it was live), at this change generation.
    Recorded(i64),
}

/// Everything needed to decide whether a request made with a key may proceed.
#[derive(Debug, Clone)]
pub struct KeyAuthRow {
    pub id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub plan: Plan,
    pub name: String,
    pub hint: String,
    pub scopes: ScopeSet,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub revoked: bool,
    pub rate_limit: RateLimit,
    pub creator_role: Option<Role>,
    pub allowed_ips: AllowedIps,
}

/// A key about to be stored.
#[derive(Debug, Clone)]
pub struct NewKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub secret_hash: [u8; 32],
    pub prefix: String,
    pub hint: String,
    pub scopes: ScopeSet,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub rate_limit: RateLimit,
    /// The live key this one replaces (a rotation's replacement).
    pub replaces: Option<String>,
    pub allowed_ips: AllowedIps,
    /// `allowed_ips` is the replaced key's, read before the insert: the insert checks, under
    /// the workspace's lock, that the replaced key still has exactly that list.
    pub inherits_allowed_ips: bool,
}

/// A sealed response of `POST /keys`, stored with the key it made.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub lookup: [u8; 32],
    pub request_hash: [u8; 32],
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
    pub created_at: i64,
}

/// A live key that stands in the way of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyInsertError {
    #[error("the workspace has reached its key limit")]
    LimitReached,
    #[error("the workspace is read-only")]
    ReadOnly,
    #[error("another live key has this name")]
    NameTaken(LiveKey),
    #[error("the key to replace is not a live key of this workspace")]
    NoSuchKeyToReplace,
    #[error("the key to replace has a live replacement already")]
    AlreadyReplaced(LiveKey),
    #[error("a replacement takes the name of the key it replaces")]
    NotTheReplacedName(String),
    #[error("the key to replace is itself the replacement in a rotation under way")]
    ReplacementInRotation,
    /// The replaced key's allowlist changed after it was read for the replacement: prepare the
    /// replacement again.
    #[error("the allowlist of the key to replace changed meanwhile")]
    ReplacedKeyChanged,
    /// Another request with the same `Idempotency-Key` made its key first (on this process
    /// or another): answer with that one.
    #[error("already made with this Idempotency-Key")]
    Replay(IdempotencyRecord),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// Why a change to a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyChangeRefusal {
    #[error("no such key")]
    NotFound,
    #[error(transparent)]
    Rename(RenameRefusal),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum RenameRefusal {
    #[error("another live key has this name")]
    NameTaken(LiveKey),
    /// The key and its replacement are both live: the rotation must end first.
    #[error("the key is being rotated")]
    InRotation,
}

impl From<sqlx::Error> for KeyChangeRefusal {
    fn from(e: sqlx::Error) -> Self {
        KeyChangeRefusal::Store(e.into())
    }
}

async fn idempotency_record(
    connection: &mut sqlx::AnyConnection,
    lookup: &[u8; 32],
    since: i64,
) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT lookup, request_hash, nonce, sealed, created_at FROM idempotency WHERE lookup = $1 AND created_at > $2",
    )
    .bind(&lookup[..])
    .bind(since)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|r| IdempotencyRecord {
        lookup: *lookup,
        request_hash: r.get::<Vec<u8>, _>("request_hash").try_into().unwrap_or([0; 32]),
        nonce: r.get("nonce"),
        sealed: r.get("sealed"),
        created_at: r.get("created_at"),
    }))
}

/// A live key of the workspace, with the key it replaces.
struct LiveRow {
    key: LiveKey,
    replaces: Option<String>,
    /// As stored.
    allowed_ips: String,
}

async fn live_keys(tx: &mut sqlx::AnyConnection, workspace_id: &str) -> Result<Vec<LiveRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, hint, created_at, replaces, allowed_ips FROM api_keys
         WHERE workspace_id = $1 AND revoked_at IS NULL",
    )
    .bind(workspace_id)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| LiveRow {
            key: LiveKey { id: r.get("id"), name: r.get("name"), hint: r.get("hint"), created_at: r.get("created_at") },
            replaces: r.get("replaces"),
            allowed_ips: r.get("allowed_ips"),
        })
        .collect())
}

impl From<sqlx::Error> for KeyInsertError {
    fn from(e: sqlx::Error) -> Self {
        KeyInsertError::Store(e.into())
    }
}

/// A new key's audit entry: what it was made with (never its secret or hash).
fn created(key: &NewKeyRow) -> Changes {
    let none = Option::<()>::None;
    Changes::default()
        .field("name", none, &key.name)
        .field("scopes", none, key.scopes.to_vec())
        .field("rateLimit", none, key.rate_limit)
        .field("expiresAt", none, key.expires_at.map(to_time))
        .field("replaces", none, &key.replaces)
        .field("allowedIps", none, key.allowed_ips.to_vec())
}

impl Store {
    /// Stores a key if the workspace is active and below `limit` live keys, and its name is
    /// free (or, for a replacement, is exactly the name of the live key it replaces, which has
    /// no other live replacement and is not itself one in a rotation under way), together with
    /// its idempotency record, in one transaction on the single writer connection. A record
    /// younger than `replay_since` already made for the same `Idempotency-Key` wins.
    pub async fn insert_key(
        &self,
        key: &NewKeyRow,
        limit: u32,
        idem: Option<&IdempotencyRecord>,
        replay_since: i64,
        audit: &Audit,
    ) -> Result<(), KeyInsertError> {
        let mut tx = self.begin_write("workspace", &key.workspace_id).await?;
        if let Some(idem) = idem
            && let Some(made) = idempotency_record(&mut tx, &idem.lookup, replay_since).await?
        {
            return Err(KeyInsertError::Replay(made));
        }
        let billing: Option<String> = sqlx::query_scalar("SELECT billing_status FROM workspaces WHERE id = $1")
            .bind(&key.workspace_id)
            .fetch_optional(&mut *tx)
            .await?;
        if billing.as_deref().and_then(BillingStatus::parse) != Some(BillingStatus::Active) {
            return Err(KeyInsertError::ReadOnly);
        }
        let live = live_keys(&mut tx, &key.workspace_id).await?;
        match &key.replaces {
            Some(old_id) => {
                let old = live.iter().find(|k| k.key.id == *old_id).ok_or(KeyInsertError::NoSuchKeyToReplace)?;
                if key.name != old.key.name {
                    return Err(KeyInsertError::NotTheReplacedName(old.key.name.clone()));
                }
                if old.replaces.as_ref().is_some_and(|its_old| live.iter().any(|k| k.key.id == *its_old)) {
                    return Err(KeyInsertError::ReplacementInRotation);
                }
                if let Some(other) = live.iter().find(|k| k.replaces.as_deref() == Some(old_id)) {
                    return Err(KeyInsertError::AlreadyReplaced(other.key.clone()));
                }
                if key.inherits_allowed_ips
                    && AllowedIps::from_storage(&old.allowed_ips).to_storage() != key.allowed_ips.to_storage()
                {
                    return Err(KeyInsertError::ReplacedKeyChanged);
                }
            }
            None => {
                if let Some(taken) = live.iter().find(|k| same_name(&k.key.name, &key.name)) {
                    return Err(KeyInsertError::NameTaken(taken.key.clone()));
                }
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, name, secret_hash, prefix, hint, scopes, created_at, created_by,
                expires_at, rate_limit_enabled, rate_limit_max, rate_limit_window, replaces, allowed_ips)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
             WHERE (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $16 AND revoked_at IS NULL) < $17",
        )
        .bind(&key.id)
        .bind(&key.workspace_id)
        .bind(&key.name)
        .bind(&key.secret_hash[..])
        .bind(&key.prefix)
        .bind(&key.hint)
        .bind(key.scopes.to_storage())
        .bind(key.created_at)
        .bind(&key.created_by)
        .bind(key.expires_at)
        .bind(i64::from(key.rate_limit.enabled))
        .bind(i64::from(key.rate_limit.max_requests))
        .bind(i64::from(key.rate_limit.window_seconds))
        .bind(&key.replaces)
        .bind(key.allowed_ips.to_storage())
        .bind(&key.workspace_id)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.count_writes(1);
        if inserted == 0 {
            return Err(KeyInsertError::LimitReached);
        }
        let subject = Subject { key_id: Some(&key.id), user_id: None };
        audit::record(&mut tx, &key.workspace_id, audit, AuditAction::Created, subject, created(key)).await?;
        self.count_writes(1);
        if let Some(idem) = idem {
            sqlx::query(
                "INSERT INTO idempotency (lookup, request_hash, nonce, sealed, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (lookup) DO UPDATE SET request_hash = excluded.request_hash, nonce = excluded.nonce,
                     sealed = excluded.sealed, created_at = excluded.created_at",
            )
            .bind(&idem.lookup[..])
            .bind(&idem.request_hash[..])
            .bind(&idem.nonce)
            .bind(&idem.sealed)
            .bind(idem.created_at)
            .execute(&mut *tx)
            .await?;
            self.count_writes(1);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores keys as they are, without the key limit: for the demo seed and benchmarks. With
    /// `audit`, each key's creation is logged, dated when it was made.
    pub async fn insert_keys(&self, keys: &[NewKeyRow], audit: Option<&Audit>) -> StoreResult<()> {
        let mut tx = self.begin_write("seed", "").await?;
        for chunk in keys.chunks(500) {
            let mut insert = Statement::new(
                self.engine,
                "INSERT INTO api_keys (id, workspace_id, name, secret_hash, prefix, hint, scopes, created_at, created_by,
                    expires_at, rate_limit_enabled, rate_limit_max, rate_limit_window, allowed_ips) VALUES ",
            );
            insert.values(chunk, |b, k| {
                b.bind(k.id.clone())
                    .bind(k.workspace_id.clone())
                    .bind(k.name.clone())
                    .bind(k.secret_hash.to_vec())
                    .bind(k.prefix.clone())
                    .bind(k.hint.clone())
                    .bind(k.scopes.to_storage())
                    .bind(k.created_at)
                    .bind(k.created_by.clone())
                    .bind(k.expires_at)
                    .bind(i64::from(k.rate_limit.enabled))
                    .bind(i64::from(k.rate_limit.max_requests))
                    .bind(i64::from(k.rate_limit.window_seconds))
                    .bind(k.allowed_ips.to_storage());
            });
            insert.execute(&mut *tx).await?;
            self.count_writes(1);
        }
        for key in keys.iter().filter(|_| audit.is_some()) {
            let audit = Audit { at: key.created_at, ..audit.cloned().unwrap_or_else(|| Audit::server(key.created_at)) };
            let subject = Subject { key_id: Some(&key.id), user_id: None };
            audit::record(&mut tx, &key.workspace_id, &audit, AuditAction::Created, subject, created(key)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A stored idempotent response younger than `since`.
    pub async fn idempotency_record(&self, lookup: &[u8; 32], since: i64) -> StoreResult<Option<IdempotencyRecord>> {
        let mut connection = self.writer.acquire().await?;
        Ok(idempotency_record(&mut connection, lookup, since).await?)
    }

    pub async fn purge_idempotency(&self, before: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency WHERE created_at <= $1").bind(before).execute(&self.writer).await?;
        self.count_writes(1);
        Ok(())
    }

    /// Live keys of a workspace, newest first.
    pub async fn list_keys(&self, workspace_id: &str) -> StoreResult<Vec<KeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} WHERE k.workspace_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at DESC, k.id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(key_row).collect())
    }

    /// A live key of a workspace. Read through the writer so a caller sees its own writes.
    pub async fn key(&self, workspace_id: &str, key_id: &str) -> StoreResult<Option<KeyRow>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} WHERE k.workspace_id = $1 AND k.id = $2 AND k.revoked_at IS NULL"
        ))
        .bind(workspace_id)
        .bind(key_id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.as_ref().map(key_row))
    }

    /// Applies `changes` to a live key: a new name must be free and the key not mid-rotation
    /// (it and its replacement both live). Returns the change generation.
    pub async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        changes: &KeyChanges,
        audit: &Audit,
    ) -> Result<i64, KeyChangeRefusal> {
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let before = sqlx::query(
            "SELECT name, scopes, rate_limit_enabled, rate_limit_max, rate_limit_window, enabled, allowed_ips,
                    revoke_when_silent_secs FROM api_keys
             WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(workspace_id)
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(KeyChangeRefusal::NotFound)?;
        let silent_before = before.get::<Option<i64>, _>("revoke_when_silent_secs").and_then(|s| u32::try_from(s).ok());
        let before = KeyChanges {
            name: Some(before.get("name")),
            scopes: Some(ScopeSet::from_storage(&before.get::<String, _>("scopes"))),
            rate_limit: Some(RateLimit {
                enabled: flag(&before, "rate_limit_enabled"),
                max_requests: u32::try_from(before.get::<i64, _>("rate_limit_max")).unwrap_or(0),
                window_seconds: u32::try_from(before.get::<i64, _>("rate_limit_window")).unwrap_or(0),
            }),
            enabled: Some(flag(&before, "enabled")),
            allowed_ips: Some(AllowedIps::from_storage(before.get("allowed_ips"))),
            revoke_when_silent: Some(silent_before),
        };
        if let Some(name) = &changes.name {
            let live = live_keys(&mut tx, workspace_id).await?;
            let this = live.iter().find(|k| k.key.id == key_id).ok_or(KeyChangeRefusal::NotFound)?;
            if *name != this.key.name {
                let replaced_live = this.replaces.as_ref().is_some_and(|old| live.iter().any(|k| k.key.id == *old));
                let has_replacement = live.iter().any(|k| k.replaces.as_deref() == Some(key_id));
                if replaced_live || has_replacement {
                    return Err(KeyChangeRefusal::Rename(RenameRefusal::InRotation));
                }
            }
            if let Some(taken) = live.iter().find(|k| k.key.id != key_id && same_name(&k.key.name, name)) {
                return Err(KeyChangeRefusal::Rename(RenameRefusal::NameTaken(taken.key.clone())));
            }
        }
        let mut update = Statement::new(self.engine, "UPDATE api_keys SET id = id");
        if let Some(name) = &changes.name {
            update.push(", name = ").bind(name.clone());
        }
        if let Some(scopes) = changes.scopes {
            update.push(", scopes = ").bind(scopes.to_storage());
        }
        if let Some(rl) = changes.rate_limit {
            update.push(", rate_limit_enabled = ").bind(i64::from(rl.enabled));
            update.push(", rate_limit_max = ").bind(i64::from(rl.max_requests));
            update.push(", rate_limit_window = ").bind(i64::from(rl.window_seconds));
        }
        if let Some(enabled) = changes.enabled {
            update.push(", enabled = ").bind(i64::from(enabled));
        }
        if let Some(allowed) = &changes.allowed_ips {
            update.push(", allowed_ips = ").bind(allowed.to_storage());
        }
        // A plan is made (or remade with another period) when it differs from the one in place;
        // sending the same period again keeps the plan's start.
        if let Some(silent) = changes.revoke_when_silent.filter(|s| Some(*s) != before.revoke_when_silent) {
            update.push(", revoke_when_silent_secs = ").bind(silent.map(i64::from));
            update.push(", revoke_scheduled_at = ").bind(silent.map(|_| audit.at));
        }
        update.push(" WHERE workspace_id = ").bind(workspace_id.to_owned());
        update.push(" AND id = ").bind(key_id.to_owned());
        update.push(" AND revoked_at IS NULL");
        let changed = update.execute(&mut *tx).await?;
        if changed == 0 {
            return Err(KeyChangeRefusal::NotFound);
        }
        // One entry per action, for the fields whose value really changed.
        let subject = Subject { key_id: Some(key_id), user_id: None };
        let mut entries = Vec::new();
        if let (Some(from), Some(to)) = (&before.name, &changes.name)
            && from != to
        {
            entries.push((AuditAction::Renamed, Changes::default().field("name", from, to)));
        }
        if let (Some(from), Some(to)) = (before.scopes, changes.scopes)
            && from != to
        {
            entries.push((AuditAction::ScopesChanged, Changes::default().field("scopes", from.to_vec(), to.to_vec())));
        }
        if let (Some(from), Some(to)) = (before.rate_limit, changes.rate_limit)
            && from != to
        {
            entries.push((AuditAction::RateLimitChanged, Changes::default().field("rateLimit", from, to)));
        }
        if let (Some(from), Some(to)) = (before.enabled, changes.enabled)
            && from != to
        {
            let action = if to { AuditAction::Enabled } else { AuditAction::Disabled };
            entries.push((action, Changes::default().field("enabled", from, to)));
        }
        if let (Some(from), Some(to)) = (&before.allowed_ips, &changes.allowed_ips)
            && from != to
        {
            let change = Changes::default().field("allowedIps", from.to_vec(), to.to_vec());
            entries.push((AuditAction::AllowedIpsChanged, change));
        }
        if let (Some(from), Some(to)) = (before.revoke_when_silent, changes.revoke_when_silent)
            && from != to
        {
            let action = if to.is_some() { AuditAction::RevokeScheduled } else { AuditAction::RevokeCancelled };
            entries.push((action, Changes::default().field("revokeWhenSilentSeconds", from, to)));
        }
        self.count_writes(entries.len() as u64);
        for (action, changes) in entries {
            audit::record(&mut tx, workspace_id, audit, action, subject, changes).await?;
        }
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(2);
        Ok(generation)
    }

    /// Revokes a live key for good. Returns the change generation, or `None` when there is no
    /// such key.
    pub async fn revoke_key(&self, workspace_id: &str, key_id: &str, audit: &Audit) -> StoreResult<Option<i64>> {
        let now = audit.at;
        let mut tx = self.begin_write("workspace", workspace_id).await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1, revoke_scheduled_at = NULL, revoke_when_silent_secs = NULL
             WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(key_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        let revoked = Changes::default().field("revokedAt", Option::<()>::None, to_time(now));
        let subject = Subject { key_id: Some(key_id), user_id: None };
        audit::record(&mut tx, workspace_id, audit, AuditAction::Revoked, subject, revoked).await?;
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(3);
        Ok(Some(generation))
    }

    /// Revokes every key whose plan to "revoke it once silent" has come due by `now`, plus
    /// `grace`: the time within which every node writes the requests it answered, so a request
    /// made just before the deadline on another node still counts. Each revocation is checked
    /// again by its own write, so on several nodes it runs once, and a request or a
    /// cancellation that came meanwhile wins. Returns how many keys it revoked.
    pub async fn revoke_silent_keys(&self, now: i64, grace: i64) -> StoreResult<usize> {
        // The one statement of when a plan is due (`SilencePlan::due_at` shows the same date on
        // the card): no request, and no plan change, since `deadline`. Bound as $1 and $2.
        const DUE: &str = "revoked_at IS NULL AND revoke_scheduled_at IS NOT NULL
            AND revoke_scheduled_at + revoke_when_silent_secs * 1000 <= $1
            AND (last_used_at IS NULL OR last_used_at + revoke_when_silent_secs * 1000 <= $2)";
        let deadline = now - grace;
        let due: Vec<(String, String)> = sqlx::query(&format!("SELECT id, workspace_id FROM api_keys WHERE {DUE}"))
            .bind(deadline)
            .bind(deadline)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("workspace_id")))
            .collect();
        let mut revoked = 0;
        for (key_id, workspace_id) in due {
            let mut tx = self.begin_write("workspace", &workspace_id).await?;
            let Some(before) = sqlx::query("SELECT last_used_at, revoke_scheduled_at FROM api_keys WHERE id = $1")
                .bind(&key_id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                continue;
            };
            // The due condition is checked again by the revoking write itself, under the
            // workspace's lock: another node may have revoked the key, or a request or a
            // cancellation may have come, since the list was read. Usage is written under
            // another lock than the workspace's, and on PostgreSQL an UPDATE checks its WHERE
            // against the row as the latest committed write left it.
            let changed = sqlx::query(&format!(
                "UPDATE api_keys SET revoked_at = $3, revoke_scheduled_at = NULL, revoke_when_silent_secs = NULL
                 WHERE id = $4 AND {DUE}"
            ))
            .bind(deadline)
            .bind(deadline)
            .bind(now)
            .bind(&key_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                continue;
            }
            let last_used = before.get::<Option<i64>, _>("last_used_at").unwrap_or(0);
            let silent_since = last_used.max(before.get::<Option<i64>, _>("revoke_scheduled_at").unwrap_or(0));
            let changes = Changes::default().field("revokedAt", Option::<()>::None, to_time(now)).field(
                "silentSince",
                Option::<()>::None,
                to_time(silent_since),
            );
            let subject = Subject { key_id: Some(&key_id), user_id: None };
            let audit = Audit::server(now);
            audit::record(&mut tx, &workspace_id, &audit, AuditAction::RevokedWhenSilent, subject, changes).await?;
            bump_generation(&mut tx, Affects::Keys).await?;
            tx.commit().await?;
            self.count_writes(3);
            revoked += 1;
            tracing::info!(workspace = %workspace_id, key = %key_id, "key revoked once silent, as planned");
        }
        Ok(revoked)
    }

    /// Records a secret scanner's report that the key with this SHA-256 was found in public:
    /// disables it if it is live, marks it leaked (the first report's date, place and source
    /// stay on the key; every report with a new place gets its own `leak_reported` entry), and
    /// returns the change generation. `Ok(None)` when no key has this hash: not one of ours.
    pub async fn report_leak(
        &self,
        secret_hash: &[u8; 32],
        url: Option<&str>,
        source: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<LeakOutcome> {
        let Some(found) = sqlx::query("SELECT id, workspace_id FROM api_keys WHERE secret_hash = $1")
            .bind(&secret_hash[..])
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(LeakOutcome::NotOurs);
        };
        let (key_id, workspace_id): (String, String) = (found.get("id"), found.get("workspace_id"));
        let mut tx = self.begin_write("workspace", &workspace_id).await?;
        let before = sqlx::query("SELECT enabled, revoked_at, leaked_at FROM api_keys WHERE id = $1")
            .bind(&key_id)
            .fetch_one(&mut *tx)
            .await?;
        let live = before.get::<Option<i64>, _>("revoked_at").is_none();
        let was_enabled = flag(&before, "enabled");
        let first = before.get::<Option<i64>, _>("leaked_at").is_none();
        // GitHub sends a report again when it finds the token again, in the same place or another.
        // A place already in the log adds nothing, unless the key was made usable again since.
        let changes_the_key = first || (live && was_enabled);
        if !changes_the_key && audit::leak_place_recorded(&mut tx, &key_id, url).await? {
            return Ok(LeakOutcome::Repeat);
        }
        sqlx::query(
            "UPDATE api_keys SET enabled = CASE WHEN revoked_at IS NULL THEN 0 ELSE enabled END,
                 leaked_at = COALESCE(leaked_at, $1),
                 leak_url = CASE WHEN leaked_at IS NULL THEN $2 ELSE leak_url END,
                 leak_source = CASE WHEN leaked_at IS NULL THEN $3 ELSE leak_source END
             WHERE id = $4",
        )
        .bind(audit.at)
        .bind(url.map(str::to_owned))
        .bind(source.map(str::to_owned))
        .bind(&key_id)
        .execute(&mut *tx)
        .await?;
        let mut changes = Changes::default().field("leakUrl", Option::<()>::None, url).field(
            "leakSource",
            Option::<()>::None,
            source,
        );
        if live && was_enabled {
            changes = changes.field("enabled", true, false);
        }
        if first {
            changes = changes.field("leakedAt", Option::<()>::None, to_time(audit.at));
        }
        let subject = Subject { key_id: Some(&key_id), user_id: None };
        audit::record(&mut tx, &workspace_id, audit, AuditAction::LeakReported, subject, changes).await?;
        let generation = bump_generation(&mut tx, Affects::Keys).await?;
        tx.commit().await?;
        self.count_writes(3);
        tracing::warn!(workspace = %workspace_id, key = %key_id, "key reported leaked; disabled");
        Ok(LeakOutcome::Recorded(generation))
    }

    /// The key with this SHA-256, revoked or not, with what authentication needs.
    pub async fn key_for_auth(&self, secret_hash: &[u8; 32]) -> StoreResult<Option<KeyAuthRow>> {
        let row = sqlx::query(
            "SELECT k.id, k.workspace_id, w.name AS workspace_name, w.plan, k.name, k.hint, k.scopes, k.expires_at,
                    k.enabled, k.revoked_at, k.rate_limit_enabled, k.rate_limit_max, k.rate_limit_window, m.role,
                    k.allowed_ips
             FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
             LEFT JOIN memberships m ON m.workspace_id = k.workspace_id AND m.user_id = k.created_by
             WHERE k.secret_hash = $1",
        )
        .bind(&secret_hash[..])
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| KeyAuthRow {
            id: r.get("id"),
            workspace_id: r.get("workspace_id"),
            workspace_name: r.get("workspace_name"),
            plan: Plan::parse(r.get("plan")).unwrap_or(Plan::Free),
            name: r.get("name"),
            hint: r.get("hint"),
            scopes: ScopeSet::from_storage(r.get("scopes")),
            expires_at: r.get("expires_at"),
            enabled: flag(&r, "enabled"),
            revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
            rate_limit: RateLimit {
                enabled: flag(&r, "rate_limit_enabled"),
                max_requests: u32::try_from(r.get::<i64, _>("rate_limit_max")).unwrap_or(1),
                window_seconds: u32::try_from(r.get::<i64, _>("rate_limit_window")).unwrap_or(1),
            },
            creator_role: r.get::<Option<String>, _>("role").as_deref().and_then(Role::parse),
            allowed_ips: AllowedIps::from_storage(r.get("allowed_ips")),
        }))
    }
}
