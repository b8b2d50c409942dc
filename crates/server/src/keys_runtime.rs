//! What the server keeps in memory for each key so the hot path never touches the database:
//! the authentication cache, the rate-limit windows, and usage not yet written.
//!
//! The cache is filled on first use of a key (one indexed lookup) and emptied whenever keys,
//! members or workspaces change: through the API directly, through admin commands of another
//! process by the watcher (which polls a counter those commands bump). A generation number
//! keeps a lookup that raced with a change from caching what it read before the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keydeck_core::rules::RateLimit;

use crate::store::{KeyAuthRow, PendingUsage, RequestRecord, Store, StoreResult};
use crate::store::{RECENT_REQUESTS_KEPT, day_of};

/// Past this many entries the cache is emptied rather than grown.
const CACHE_CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct KeyRuntime {
    cache: RwLock<HashMap<[u8; 32], Option<Arc<KeyAuthRow>>>>,
    generation: AtomicU64,
    per_key: Mutex<HashMap<Arc<str>, PerKey>>,
}

#[derive(Default)]
struct PerKey {
    window_start: i64,
    window_count: u32,
    pending: PendingUsage,
}

/// The outcome of counting one request against a key's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset: i64,
    /// Seconds until then, at least 1.
    pub retry_after: u64,
}

impl KeyRuntime {
    /// The key with this hash, from the cache or the database (`None`: no such key).
    pub async fn lookup(&self, store: &Store, hash: &[u8; 32]) -> StoreResult<Option<Arc<KeyAuthRow>>> {
        if let Some(hit) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(hash) {
            return Ok(hit.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = store.key_for_auth(hash).await?.map(Arc::new);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(*hash, found.clone());
        }
        Ok(found)
    }

    /// Forgets every cached key: called after any change to keys, members or workspaces.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Counts a request against the key's fixed window (aligned to Unix time, so every
    /// client can compute the same reset) and says whether it may proceed.
    pub fn check_rate(&self, key_id: &Arc<str>, limit: RateLimit, now_ms: i64) -> RateDecision {
        let window = i64::from(limit.window_seconds.max(1));
        let now_s = now_ms.div_euclid(1000);
        let start = now_s - now_s.rem_euclid(window);
        let reset = start + window;
        let mut map = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
        let state = map.entry(key_id.clone()).or_default();
        if state.window_start != start {
            state.window_start = start;
            state.window_count = 0;
        }
        let allowed = state.window_count < limit.max_requests;
        if allowed {
            state.window_count += 1;
        }
        RateDecision {
            allowed,
            limit: limit.max_requests,
            remaining: limit.max_requests.saturating_sub(state.window_count),
            reset,
            retry_after: u64::try_from(reset - now_s).unwrap_or(1).max(1),
        }
    }

    /// Notes one request made with a key; written by the next [`KeyRuntime::flush`].
    pub fn record(&self, key_id: &Arc<str>, request: RequestRecord) {
        let mut map = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
        let pending = &mut map.entry(key_id.clone()).or_default().pending;
        pending.count += 1;
        pending.last_used_at = pending.last_used_at.max(request.at);
        *pending.days.entry(day_of(request.at)).or_default() += 1;
        if pending.recent.len() >= RECENT_REQUESTS_KEPT as usize {
            pending.recent.remove(0);
        }
        pending.recent.push(request);
    }

    /// Writes all pending usage in one transaction. On failure the usage is put back, so
    /// nothing is lost and the next flush tries again.
    pub async fn flush(&self, store: &Store) -> StoreResult<u64> {
        let batch: Vec<(String, PendingUsage)> = {
            let mut map = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
            map.iter_mut()
                .filter(|(_, s)| s.pending.count > 0)
                .map(|(id, s)| (id.to_string(), std::mem::take(&mut s.pending)))
                .collect()
        };
        match store.flush_usage(&batch).await {
            Ok(statements) => Ok(statements),
            Err(e) => {
                let mut map = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
                for (id, usage) in batch {
                    let pending = &mut map.entry(Arc::from(id.as_str())).or_default().pending;
                    pending.count += usage.count;
                    pending.last_used_at = pending.last_used_at.max(usage.last_used_at);
                    for (day, n) in usage.days {
                        *pending.days.entry(day).or_default() += n;
                    }
                    let mut recent = usage.recent;
                    recent.append(&mut pending.recent);
                    let excess = recent.len().saturating_sub(RECENT_REQUESTS_KEPT as usize);
                    recent.drain(..excess);
                    pending.recent = recent;
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_exactly_max_requests_then_resets_on_the_boundary() {
        let rt = KeyRuntime::default();
        let id: Arc<str> = Arc::from("key_1");
        let limit = RateLimit { enabled: true, max_requests: 3, window_seconds: 10 };
        let t0 = 1_700_000_000_000; // a multiple of 10 s
        let d: Vec<_> = (0..4).map(|i| rt.check_rate(&id, limit, t0 + i * 1000)).collect();
        assert_eq!(d.iter().filter(|d| d.allowed).count(), 3);
        assert_eq!(d[0].remaining, 2);
        assert_eq!(d[2].remaining, 0);
        assert!(!d[3].allowed);
        assert_eq!(d[3].reset, 1_700_000_010);
        assert_eq!(d[3].retry_after, 7);
        assert!(rt.check_rate(&id, limit, t0 + 10_000).allowed);
    }

    #[test]
    fn recorded_usage_keeps_only_the_newest_requests() {
        let rt = KeyRuntime::default();
        let id: Arc<str> = Arc::from("key_1");
        for i in 0..250 {
            rt.record(
                &id,
                RequestRecord { at: i, method: "GET".into(), path: "/me".into(), status: 200, ip: "x".into() },
            );
        }
        let map = rt.per_key.lock().unwrap();
        let p = &map[&id].pending;
        assert_eq!(p.count, 250);
        assert_eq!(p.recent.len(), 200);
        assert_eq!(p.recent[0].at, 50);
        assert_eq!(p.last_used_at, 249);
    }
}
