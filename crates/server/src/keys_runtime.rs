//! What the server keeps in memory for each key so the hot path never touches the database:
//! the authentication cache, the rate-limit windows, and usage not yet written.
//!
//! The cache is filled on first use of a key (one indexed lookup) and emptied whenever keys,
//! members or workspaces change: through the API directly, through admin commands of another
//! process by the watcher (which polls a counter those commands bump). A generation number
//! keeps a lookup that raced with a change from caching what it read before the change.
//! Each cached key carries its `/me` answer, already serialized, and a handle on its own
//! rate-limit and usage state, so a request takes no global lock after the cache read.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use keydeck_core::rules::{RATE_LIMIT_MAX_REQUESTS, RateLimit};
use keydeck_core::wire::{Me, MeKey, MeWorkspace};

use crate::store::{
    KeyAuthRow, PendingUsage, RECENT_REQUESTS_KEPT, RequestRecord, Store, StoreResult, day_of, to_time,
};

/// Past this many entries the cache is emptied rather than grown.
const CACHE_CAPACITY: usize = 100_000;

/// A key as the hot path needs it.
#[derive(Debug)]
pub struct CachedKey {
    pub row: KeyAuthRow,
    /// The body of `GET /me` for this key.
    pub me_body: Bytes,
    /// The `X-RateLimit-Limit` value, made once (a slice of a static table: free to clone).
    pub limit_header: HeaderValue,
    state: Arc<Mutex<PerKey>>,
}

impl CachedKey {
    fn new(row: KeyAuthRow, state: Arc<Mutex<PerKey>>) -> CachedKey {
        CachedKey { me_body: me_body(&row), limit_header: number_header(row.rate_limit.max_requests), row, state }
    }

    /// What the key gate needs before running the handler, under one lock: the rate-limit
    /// decision (when the key has a limit) and the request's path as usage will keep it.
    pub fn admit(&self, now_ms: i64, path: &str) -> (Option<RateDecision>, Arc<str>) {
        let mut state = self.lock();
        let decision = self.rate_limit.enabled.then(|| count(&mut state, self.rate_limit, now_ms));
        (decision, shared_path(&mut state, path))
    }

    /// `path` as usage keeps it; a path the key called last time shares that record's copy.
    pub fn shared_path(&self, path: &str) -> Arc<str> {
        shared_path(&mut self.lock(), path)
    }

    /// Notes one request made with this key; written by the next [`KeyRuntime::flush`].
    pub fn record(&self, request: RequestRecord) {
        push(&mut self.lock().pending, request);
    }

    /// The answer of `GET /me` for this key, serialized once when the key was cached: the
    /// connection test costs no more than a ping.
    pub fn me_response(&self) -> Response {
        ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.me_body.clone()).into_response()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PerKey> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn shared_path(state: &mut PerKey, path: &str) -> Arc<str> {
    let path = RequestRecord::cut(path);
    match &state.last_path {
        Some(last) if **last == *path => last.clone(),
        _ => {
            let path: Arc<str> = path.into();
            state.last_path = Some(path.clone());
            path
        }
    }
}

/// Counts a request against the key's fixed window (aligned to Unix time, so every client can
/// compute the same reset) and says whether it may proceed.
fn count(state: &mut PerKey, limit: RateLimit, now_ms: i64) -> RateDecision {
    let window = i64::from(limit.window_seconds.max(1));
    let now_s = now_ms.div_euclid(1000);
    // Windows only move forward: a request that read the clock just before a boundary but
    // took the lock just after it counts in the new window. Moving back would start the old
    // window's count again from zero and let a burst through.
    let start = now_s - now_s.rem_euclid(window);
    if start > state.window_start {
        state.window_start = start;
        state.window_count = 0;
    }
    let reset = state.window_start + window;
    // Made once per window (and again if the key's window length changes).
    let reset_header = match &state.reset_header {
        Some((at, value)) if *at == reset => value.clone(),
        _ => {
            let value = HeaderValue::from(reset);
            state.reset_header = Some((reset, value.clone()));
            value
        }
    };
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
        reset_header,
    }
}

impl std::ops::Deref for CachedKey {
    type Target = KeyAuthRow;
    fn deref(&self) -> &KeyAuthRow {
        &self.row
    }
}

#[derive(Debug, Default)]
struct PerKey {
    window_start: i64,
    window_count: u32,
    /// `X-RateLimit-Reset` of the current window, with the time it says.
    reset_header: Option<(i64, HeaderValue)>,
    pending: PendingUsage,
    /// The path of the latest request, shared by the records of the same path.
    last_path: Option<Arc<str>>,
}

#[derive(Default)]
pub struct KeyRuntime {
    cache: RwLock<HashMap<[u8; 32], Option<Arc<CachedKey>>>>,
    generation: AtomicU64,
    /// Every key's state by id; outlives cache clears so counts and windows carry on.
    per_key: Mutex<HashMap<String, Arc<Mutex<PerKey>>>>,
}

/// The outcome of counting one request against a key's rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset: i64,
    /// Seconds until then, at least 1.
    pub retry_after: u64,
    /// `reset` as a header value.
    pub reset_header: HeaderValue,
}

impl RateDecision {
    /// `remaining` as a header value, without allocating for the values a limit can leave.
    pub fn remaining_header(&self) -> HeaderValue {
        number_header(self.remaining)
    }
}

/// "0" to "10000" (every count a rate limit can leave) written once, and where each starts.
static NUMBERS: LazyLock<(String, Vec<usize>)> = LazyLock::new(|| {
    let max = *RATE_LIMIT_MAX_REQUESTS.end();
    let mut text = String::new();
    let mut starts = Vec::with_capacity(max as usize + 2);
    for n in 0..=max {
        starts.push(text.len());
        text.push_str(&n.to_string());
    }
    starts.push(text.len());
    (text, starts)
});

/// A number as a header value: a slice of [`NUMBERS`] for the usual ones.
fn number_header(n: u32) -> HeaderValue {
    let (text, starts) = &*NUMBERS;
    let n = n as usize;
    match (starts.get(n), starts.get(n + 1)) {
        (Some(&start), Some(&end)) => HeaderValue::from_static(&text[start..end]),
        _ => HeaderValue::from(n),
    }
}

fn me_body(row: &KeyAuthRow) -> Bytes {
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
    Bytes::from(serde_json::to_vec(&me).unwrap_or_default())
}

impl KeyRuntime {
    /// What the cache knows of the key with this hash: `None` when it has not looked yet,
    /// `Some(None)` when the key is known not to exist.
    pub fn cached(&self, hash: &[u8; 32]) -> Option<Option<Arc<CachedKey>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }

    /// Reads the key with this hash from the database, and caches what it found.
    pub async fn load(&self, store: &Store, hash: &[u8; 32]) -> StoreResult<Option<Arc<CachedKey>>> {
        let generation = self.generation.load(Ordering::Acquire);
        let found = store.key_for_auth(hash).await?.map(|row| {
            let state =
                self.per_key.lock().unwrap_or_else(|p| p.into_inner()).entry(row.id.clone()).or_default().clone();
            Arc::new(CachedKey::new(row, state))
        });
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

    /// Writes all pending usage in a few statements. On failure the usage is put back, so
    /// nothing is lost and the next flush tries again.
    pub async fn flush(&self, store: &Store) -> StoreResult<u64> {
        self.flush_with(store, true).await
    }

    /// Writes pending counts, last use and daily totals, and keeps the recent requests for a
    /// later [`KeyRuntime::flush`]: a busy key's log is rewritten far less often, and
    /// [`KeyRuntime::unwritten_requests`] shows what is not written yet.
    pub async fn flush_counts(&self, store: &Store) -> StoreResult<u64> {
        self.flush_with(store, false).await
    }

    /// The requests of a key not written yet, newest first.
    pub fn unwritten_requests(&self, key_id: &str) -> Vec<RequestRecord> {
        let Some(state) = self.per_key.lock().unwrap_or_else(|p| p.into_inner()).get(key_id).cloned() else {
            return Vec::new();
        };
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.pending.recent.iter().rev().cloned().collect()
    }

    async fn flush_with(&self, store: &Store, requests: bool) -> StoreResult<u64> {
        let states: Vec<(String, Arc<Mutex<PerKey>>)> = self
            .per_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        let batch: Vec<(String, PendingUsage)> = states
            .iter()
            .filter_map(|(id, state)| {
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                let pending = &mut state.pending;
                if pending.count == 0 && (!requests || pending.recent.is_empty()) {
                    return None;
                }
                let kept = if requests { VecDeque::new() } else { std::mem::take(&mut pending.recent) };
                let taken = std::mem::take(pending);
                pending.recent = kept;
                Some((id.clone(), taken))
            })
            .collect();
        match store.flush_usage(&batch).await {
            Ok(statements) => Ok(statements),
            Err(e) => {
                let map: HashMap<_, _> = states.into_iter().collect();
                for (id, usage) in batch {
                    let Some(state) = map.get(&id) else { continue };
                    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                    let newer = std::mem::replace(&mut state.pending, usage);
                    state.pending.count += newer.count;
                    state.pending.last_used_at = state.pending.last_used_at.max(newer.last_used_at);
                    for (day, n) in newer.days {
                        *state.pending.days.entry(day).or_default() += n;
                    }
                    for r in newer.recent {
                        push_recent(&mut state.pending.recent, r);
                    }
                }
                Err(e)
            }
        }
    }
}

fn push(pending: &mut PendingUsage, request: RequestRecord) {
    pending.count += 1;
    pending.last_used_at = pending.last_used_at.max(request.at);
    *pending.days.entry(day_of(request.at)).or_default() += 1;
    push_recent(&mut pending.recent, request);
}

fn push_recent(recent: &mut VecDeque<RequestRecord>, request: RequestRecord) {
    if recent.len() >= RECENT_REQUESTS_KEPT as usize {
        recent.pop_front();
    }
    recent.push_back(request);
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;
    use keydeck_core::ScopeSet;

    /// One request of `k` counted against `limit`, as `CachedKey::admit` counts it.
    fn rate(k: &CachedKey, limit: RateLimit, now_ms: i64) -> RateDecision {
        count(&mut k.lock(), limit, now_ms)
    }

    fn key() -> CachedKey {
        let row = KeyAuthRow {
            id: "key_1".into(),
            workspace_id: "ws_1".into(),
            workspace_name: "W".into(),
            plan: keydeck_core::wire::Plan::Team,
            name: "K".into(),
            hint: "abcd".into(),
            scopes: ScopeSet::default(),
            expires_at: None,
            enabled: true,
            revoked: false,
            rate_limit: RateLimit::default(),
            creator_role: None,
        };
        CachedKey::new(row, Arc::default())
    }

    #[test]
    fn the_window_allows_exactly_max_requests_then_resets_on_the_boundary() {
        let k = key();
        let limit = RateLimit { enabled: true, max_requests: 3, window_seconds: 10 };
        let t0 = 1_700_000_000_000; // a multiple of 10 s
        let d: Vec<_> = (0..4).map(|i| rate(&k, limit, t0 + i * 1000)).collect();
        assert_eq!(d.iter().filter(|d| d.allowed).count(), 3);
        assert_eq!(d[0].remaining, 2);
        assert_eq!(d[2].remaining, 0);
        assert!(!d[3].allowed);
        assert_eq!(d[3].reset, 1_700_000_010);
        assert_eq!(d[3].retry_after, 7);
        assert!(rate(&k, limit, t0 + 10_000).allowed);
    }

    #[test]
    fn a_late_request_from_the_previous_window_does_not_start_it_again() {
        // 32 connections read the clock, then take the key's lock in any order: around a
        // boundary, requests stamped before it arrive after requests stamped after it.
        let k = key();
        let limit = RateLimit { enabled: true, max_requests: 2, window_seconds: 1 };
        let t0 = 1_700_000_000_000;
        let stamps = [t0 + 900, t0 + 1_001, t0 + 999, t0 + 1_002, t0 + 998, t0 + 1_003];
        let allowed: Vec<bool> = stamps.iter().map(|&t| rate(&k, limit, t).allowed).collect();
        // One in the first window; then the second window's two, late arrivals included.
        assert_eq!(allowed, [true, true, true, false, false, false]);
        let late = rate(&k, limit, t0 + 997);
        assert_eq!(late.reset, 1_700_000_002, "a late request is told the current window's reset");
    }

    #[test]
    fn recorded_usage_keeps_only_the_newest_requests() {
        let k = key();
        for i in 0..250 {
            let path = k.shared_path(if i % 3 == 0 { "/api/v1/me" } else { "/api/v1/projects" });
            k.record(RequestRecord { at: i, method: Method::GET, path, status: 200, ip: None });
        }
        let state = k.state.lock().unwrap();
        assert_eq!(state.pending.count, 250);
        assert_eq!(state.pending.recent.len(), 200);
        assert_eq!(state.pending.recent[0].at, 50);
        assert_eq!(state.pending.last_used_at, 249);
        assert_eq!(&*state.pending.recent[0].path, "/api/v1/projects", "request 50");
        assert_eq!(&*state.pending.recent[1].path, "/api/v1/me", "request 51");
        assert!(
            Arc::ptr_eq(&state.pending.recent[2].path, &state.pending.recent[3].path),
            "one copy for a path repeated"
        );
    }

    #[test]
    fn the_reset_header_follows_a_changed_window_length() {
        let k = key();
        let s0: i64 = 1_699_999_980; // a multiple of 60
        let said = |d: &RateDecision| (d.reset, d.reset_header.to_str().unwrap().parse::<i64>().unwrap());
        let minute = RateLimit { enabled: true, max_requests: 5, window_seconds: 60 };
        assert_eq!(said(&rate(&k, minute, s0 * 1000 + 1_000)), (s0 + 60, s0 + 60));
        let second = RateLimit { window_seconds: 1, ..minute };
        assert_eq!(said(&rate(&k, second, s0 * 1000 + 1_500)), (s0 + 2, s0 + 2));
        // Back to a minute within that second: the window does not move back, and the header
        // says the same time as the decision.
        assert_eq!(said(&rate(&k, minute, s0 * 1000 + 1_600)), (s0 + 61, s0 + 61));
    }

    #[test]
    fn remaining_counts_are_written_as_decimal_header_values() {
        for n in [0, 7, 10, 99, 100, 4321, 10_000, 10_001, u32::MAX] {
            assert_eq!(number_header(n).to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn the_me_answer_is_serialized_once_with_the_key() {
        let k = key();
        let me: serde_json::Value = serde_json::from_slice(&k.me_body).unwrap();
        assert_eq!(me["key"]["hint"], "abcd");
        assert_eq!(me["workspace"]["id"], "ws_1");
    }
}
