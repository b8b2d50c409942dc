//! The key cache: what the database said about each key seen, by the SHA-256 the database
//! searches keys by, so that a request with a known key reads no row.
//!
//! It knows nothing of HTTP. [`KeyCache::load`] takes the database read as a function, and
//! [`check`] says whether a key may be used as plain data; the middleware turns both into
//! answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use keydeck_core::wire::{Me, MeKey, MeWorkspace};

use super::rate::KeyWindow;
use super::usage::KeyUsage;
use crate::store::{KeyAuthRow, StoreResult, to_time};

/// Past this many entries the cache is emptied rather than grown.
const CAPACITY: usize = 100_000;

/// How long after the watcher's last successful look for changes the cache may answer.
/// Shorter than the time a change waits for the other nodes (`ServerConfig::propagation_timeout`),
/// so once that wait is over every node has either applied the change or stopped trusting its
/// cache: a node that misses changes (its watcher stalled, its database stopped answering)
/// reads every key from the database until it looks again.
pub const LEASE_MS: i64 = 1_000;

/// A key as the key check needs it, with handles on its rate-limit window and its usage so
/// that a request takes no lock shared with other keys once it has found its key.
#[derive(Debug)]
pub struct CachedKey {
    pub row: KeyAuthRow,
    /// The body of `GET /me` for this key, serialized once.
    pub me_body: Bytes,
    pub window: Arc<KeyWindow>,
    pub usage: Arc<KeyUsage>,
}

impl CachedKey {
    pub fn new(row: KeyAuthRow, window: Arc<KeyWindow>, usage: Arc<KeyUsage>) -> CachedKey {
        let me = Me {
            workspace: MeWorkspace { id: row.workspace_id.clone(), name: row.workspace_name.clone() },
            key: MeKey {
                id: row.id.clone(),
                name: row.name.clone(),
                hint: row.hint.clone(),
                scopes: row.scopes.to_vec(),
                expires_at: row.expires_at.map(to_time),
            },
        };
        let me_body = Bytes::from(serde_json::to_vec(&me).unwrap_or_default());
        CachedKey { row, me_body, window, usage }
    }
}

/// Why a known key may not make a request, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired,
    Disabled,
    /// Its creator is no longer an owner or admin of the workspace.
    OwnerRemoved,
    /// The request names another workspace.
    OtherWorkspace,
    /// The workspace's plan has no API access.
    NoApiAccess,
}

/// Whether `key` may make a request for `workspace` at `now_ms`.
pub fn check(key: &KeyAuthRow, workspace: &str, now_ms: i64) -> Result<(), Unusable> {
    if key.revoked {
        Err(Unusable::Revoked)
    } else if key.expires_at.is_some_and(|e| e <= now_ms) {
        Err(Unusable::Expired)
    } else if !key.enabled {
        Err(Unusable::Disabled)
    } else if !key.creator_role.is_some_and(|r| r.can_manage_keys()) {
        Err(Unusable::OwnerRemoved)
    } else if key.workspace_id != workspace {
        Err(Unusable::OtherWorkspace)
    } else if !key.plan.has_api_access() {
        Err(Unusable::NoApiAccess)
    } else {
        Ok(())
    }
}

/// What the database said about a key, `None` for a key it does not have.
type Entry = Option<Arc<CachedKey>>;

#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    /// Bumped by every [`KeyCache::invalidate`], so a read that raced with a change is not kept.
    generation: AtomicU64,
    /// Unix milliseconds until which the cache may answer (see [`LEASE_MS`]).
    trusted_until: AtomicI64,
}

impl KeyCache {
    /// What the cache knows of the key with SHA-256 `hash` at `now_ms`: `None` when it has not
    /// read it yet (or its lease has run out), `Some(None)` when the key is known not to exist.
    pub fn get(&self, hash: &[u8; 32], now_ms: i64) -> Option<Entry> {
        if now_ms > self.trusted_until.load(Ordering::Acquire) {
            return None;
        }
        self.entries.read().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }

    /// Reads a key with `read` and keeps what it found. A change that lands while the row is
    /// read makes it read again: the caller never gets what the database held before a change
    /// this node has already applied.
    pub async fn load<F, R>(&self, hash: [u8; 32], mut read: F) -> StoreResult<Entry>
    where
        F: FnMut() -> R,
        R: Future<Output = StoreResult<Entry>>,
    {
        loop {
            let generation = self.generation.load(Ordering::Acquire);
            let found = read().await?;
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            if self.generation.load(Ordering::Acquire) == generation {
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                entries.insert(hash, found.clone());
                return Ok(found);
            }
        }
    }

    /// Forgets every key: after any change to keys, members or workspaces.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The watcher looked for changes at `now_ms` and applied what it found: the cache may
    /// answer for another [`LEASE_MS`].
    pub fn looked_at(&self, now_ms: i64) {
        self.trusted_until.fetch_max(now_ms + LEASE_MS, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use keydeck_core::ScopeSet;
    use keydeck_core::rules::RateLimit;
    use keydeck_core::wire::{Plan, Role};

    use super::*;

    fn row() -> KeyAuthRow {
        KeyAuthRow {
            id: "key_1".into(),
            workspace_id: "ws_1".into(),
            workspace_name: "W".into(),
            plan: Plan::Team,
            name: "K".into(),
            hint: "abcd".into(),
            scopes: ScopeSet::default(),
            expires_at: None,
            enabled: true,
            revoked: false,
            rate_limit: RateLimit::default(),
            creator_role: Some(Role::Admin),
        }
    }

    fn cached(row: KeyAuthRow) -> Entry {
        Some(Arc::new(CachedKey::new(row, Arc::default(), Arc::default())))
    }

    #[test]
    fn a_key_is_refused_for_the_first_reason_that_applies() {
        let now = 1_000;
        assert_eq!(check(&row(), "ws_1", now), Ok(()));
        assert_eq!(check(&row(), "ws_2", now), Err(Unusable::OtherWorkspace));
        let revoked_and_disabled = KeyAuthRow { revoked: true, enabled: false, ..row() };
        assert_eq!(check(&revoked_and_disabled, "ws_1", now), Err(Unusable::Revoked));
        assert_eq!(check(&KeyAuthRow { expires_at: Some(now), ..row() }, "ws_1", now), Err(Unusable::Expired));
        assert_eq!(check(&KeyAuthRow { expires_at: Some(now + 1), ..row() }, "ws_1", now), Ok(()));
        assert_eq!(check(&KeyAuthRow { enabled: false, ..row() }, "ws_1", now), Err(Unusable::Disabled));
        for role in [None, Some(Role::Member)] {
            assert_eq!(check(&KeyAuthRow { creator_role: role, ..row() }, "ws_1", now), Err(Unusable::OwnerRemoved));
        }
        assert_eq!(check(&KeyAuthRow { plan: Plan::Free, ..row() }, "ws_1", now), Err(Unusable::NoApiAccess));
    }

    #[tokio::test]
    async fn the_cache_answers_only_within_its_lease_and_forgets_on_a_change() {
        let cache = KeyCache::default();
        let hash = [7; 32];
        assert!(cache.get(&hash, 0).is_none(), "nothing read yet");
        cache.load(hash, || async { Ok(cached(row())) }).await.unwrap();
        assert!(cache.get(&hash, 1).is_none(), "no lease yet: the watcher has not looked");
        cache.looked_at(10_000);
        assert_eq!(cache.get(&hash, 10_000 + LEASE_MS).unwrap().unwrap().row.id, "key_1");
        assert!(cache.get(&hash, 10_001 + LEASE_MS).is_none(), "the lease ran out");
        cache.load([8; 32], || async { Ok(None) }).await.unwrap();
        assert!(cache.get(&[8; 32], 10_000).unwrap().is_none(), "known not to exist");
        cache.invalidate();
        assert!(cache.get(&hash, 10_000).is_none());
    }

    #[tokio::test]
    async fn a_read_that_raced_with_a_change_is_read_again() {
        let cache = KeyCache::default();
        cache.looked_at(0);
        let reads = std::cell::Cell::new(0);
        let found = cache
            .load([1; 32], || {
                reads.set(reads.get() + 1);
                if reads.get() == 1 {
                    // A change applied while the first read was on its way.
                    cache.invalidate();
                    return std::future::ready(Ok(cached(row())));
                }
                std::future::ready(Ok(cached(KeyAuthRow { revoked: true, ..row() })))
            })
            .await
            .unwrap();
        assert_eq!(reads.get(), 2);
        assert!(found.unwrap().row.revoked, "what the database held after the change");
        assert!(cache.get(&[1; 32], 0).unwrap().unwrap().row.revoked);
    }

    #[test]
    fn the_me_answer_is_serialized_once_with_the_key() {
        let key = CachedKey::new(row(), Arc::default(), Arc::default());
        let me: serde_json::Value = serde_json::from_slice(&key.me_body).unwrap();
        assert_eq!(me["key"]["hint"], "abcd");
        assert_eq!(me["workspace"]["id"], "ws_1");
    }
}
