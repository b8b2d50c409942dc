//! A cache that answers only while its node keeps up with changes: what the key check knows of
//! keys, and each workspace's project list.
//!
//! Every change that a cached value depends on is committed with a new change generation;
//! the node that made it forgets its caches at once, and the watcher of every other node
//! forgets them when it sees the new generation (it looks every 100 ms). Each successful look
//! extends a lease of [`LEASE_MS`]: a node whose watcher stalls, or whose database stops
//! answering, reads from the database again until it looks, so it never serves what another
//! node changed from a cache it no longer keeps up to date. A read that raced with a change is
//! read again rather than kept.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::store::StoreResult;

/// Past this many entries a cache is emptied rather than grown.
const CAPACITY: usize = 100_000;

/// How long after the watcher's last successful look for changes a cache may answer.
/// Shorter than the time a change waits for the other nodes (`ServerConfig::propagation_timeout`),
/// so once that wait is over every node has either applied the change or stopped trusting its
/// caches.
pub const LEASE_MS: i64 = 1_000;

pub struct LeasedCache<K, V> {
    entries: RwLock<HashMap<K, V>>,
    /// Bumped by every [`LeasedCache::invalidate`], so a read that raced with a change is not kept.
    generation: AtomicU64,
    /// Unix milliseconds until which the cache may answer.
    trusted_until: AtomicI64,
}

impl<K, V> Default for LeasedCache<K, V> {
    fn default() -> Self {
        LeasedCache {
            entries: RwLock::default(),
            generation: AtomicU64::default(),
            trusted_until: AtomicI64::default(),
        }
    }
}

impl<K: Hash + Eq, V: Clone> LeasedCache<K, V> {
    /// The value kept for `key`, unless there is none or the lease ran out by `now_ms`.
    pub fn get<Q>(&self, key: &Q, now_ms: i64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if now_ms > self.trusted_until.load(Ordering::Acquire) {
            return None;
        }
        self.entries.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// Reads the value of `key` with `read` and keeps it. When a change lands while it is
    /// read, it is read once more and answered without being kept: that read began after this
    /// node applied the change, so the caller never gets what the database held before a change
    /// whose answer has been given, and a stream of changes cannot keep a request re-reading.
    pub async fn load<F, R>(&self, key: K, mut read: F) -> StoreResult<V>
    where
        F: FnMut() -> R,
        R: Future<Output = StoreResult<V>>,
    {
        let generation = self.generation.load(Ordering::Acquire);
        let found = read().await?;
        {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            if self.generation.load(Ordering::Acquire) == generation {
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                entries.insert(key, found.clone());
                return Ok(found);
            }
        }
        read().await
    }

    /// How many times the cache has been emptied: a caller that waited can tell whether a
    /// change landed meanwhile.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets everything: after a change that values may depend on.
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
    use super::*;

    #[tokio::test]
    async fn a_cache_answers_only_within_its_lease_and_forgets_on_a_change() {
        let cache = LeasedCache::<u8, &str>::default();
        assert!(cache.get(&1, 0).is_none(), "nothing read yet");
        cache.load(1, || async { Ok("one") }).await.unwrap();
        assert!(cache.get(&1, 1).is_none(), "no lease yet: the watcher has not looked");
        cache.looked_at(10_000);
        assert_eq!(cache.get(&1, 10_000 + LEASE_MS), Some("one"));
        assert!(cache.get(&1, 10_001 + LEASE_MS).is_none(), "the lease ran out");
        cache.invalidate();
        assert!(cache.get(&1, 10_000).is_none());
    }

    #[tokio::test]
    async fn a_read_that_raced_with_a_change_is_read_again() {
        let cache = LeasedCache::<u8, &str>::default();
        cache.looked_at(0);
        let reads = std::cell::Cell::new(0);
        let found = cache
            .load(1, || {
                reads.set(reads.get() + 1);
                if reads.get() == 1 {
                    // A change applied while the first read was on its way.
                    cache.invalidate();
                    return std::future::ready(Ok("before the change"));
                }
                std::future::ready(Ok("after the change"))
            })
            .await
            .unwrap();
        assert_eq!((reads.get(), found), (2, "after the change"));
        assert_eq!(cache.get(&1, 0), None, "a read that began before a change is not kept");
    }
}
