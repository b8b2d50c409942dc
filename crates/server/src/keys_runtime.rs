//! What the server keeps in memory for each key so the hot path never touches the database:
//! the authentication cache, the rate-limit windows, and usage not yet written.
//!
//! The cache is filled on first use of a key (one indexed lookup) and emptied whenever keys,
//! members or workspaces change: through the API directly, through admin commands and other
//! server processes on the database by the watcher (which polls a counter every change bumps).
//! A generation number keeps a lookup that raced with a change from caching what it read
//! before the change. The cache answers only while the watcher keeps looking: each successful
//! look extends a lease of [`CACHE_LEASE_MS`], and a process whose watcher stalls (or whose
//! database stops answering) reads every key from the database until it looks again, so it
//! never serves a key revoked elsewhere from a cache it no longer keeps up to date.
//! Each cached key carries its `/me` answer, already serialized, and a handle on its own
//! rate-limit and usage state, so a request takes no global lock after the cache read.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use keydeck_core::ErrorCode;
use keydeck_core::rules::{RATE_LIMIT_MAX_REQUESTS, RateLimit};
use keydeck_core::wire::{Me, MeKey, MeWorkspace};
use siphasher::sip128::SipHasher13;

use crate::store::{
    KeyAuthRow, PendingUsage, RECENT_REQUESTS_KEPT, RequestMethod, RequestRecord, Store, StoreResult, day_of, to_time,
};

/// Past this many entries the cache is emptied rather than grown.
const CACHE_CAPACITY: usize = 100_000;

/// How long after the watcher's last successful look the cache may answer. Shorter than the
/// time a change waits for other processes (`ServerConfig::propagation_timeout`), so that once
/// that wait is over, every process either has applied the change or no longer trusts its cache.
pub const CACHE_LEASE_MS: i64 = 1_000;

/// The rate-limit headers of every key-authenticated answer.
pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// A request made with a key, as its usage keeps it, before its answer is known.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: i64,
    pub method: RequestMethod,
    /// `None` when the peer address is not known.
    pub ip: Option<IpAddr>,
}

impl Call {
    /// The request as answered with `status` (and, for a refusal, the API's `error` code).
    pub fn record(&self, path: Arc<str>, status: u16, error: Option<ErrorCode>) -> RequestRecord {
        RequestRecord { at: self.at, method: self.method, path, status, error, ip: self.ip }
    }
}

/// What [`CachedKey::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Over the rate limit; recorded in usage with the refusal's status.
    Refused(RateDecision),
    /// Allowed, and answered by the gate itself; recorded in usage with that answer's status.
    Answered(Option<RateDecision>),
    /// Allowed: the handler answers, then [`CachedKey::record`] notes the request with this path.
    Pass(Option<RateDecision>, Arc<str>),
}

/// A key as the hot path needs it.
#[derive(Debug)]
pub struct CachedKey {
    pub row: KeyAuthRow,
    /// The body of `GET /me` for this key.
    pub me_body: Bytes,
    /// The headers of `GET /me` for this key: type, length and, when the key has a rate limit,
    /// the three rate-limit headers, the last two to be filled in for each answer.
    me_headers: HeaderMap,
    /// The `X-RateLimit-Limit` value, made once (a slice of a static table: free to clone).
    limit_header: HeaderValue,
    state: Arc<Mutex<PerKey>>,
}

impl CachedKey {
    fn new(row: KeyAuthRow, state: Arc<Mutex<PerKey>>) -> CachedKey {
        let me_body = me_body(&row);
        let limit_header = number_header(row.rate_limit.max_requests);
        let mut me_headers = HeaderMap::with_capacity(5);
        me_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // From the static table when it can (it always can: a body is a few hundred bytes), so
        // that copying the map writes no reference count shared by every request of the key.
        me_headers.insert(CONTENT_LENGTH, number_header(u32::try_from(me_body.len()).unwrap_or(u32::MAX)));
        if row.rate_limit.enabled {
            me_headers.insert(LIMIT_HEADER, limit_header.clone());
            // Filled in for each answer; present so that filling them in never grows the map.
            me_headers.insert(REMAINING_HEADER, HeaderValue::from_static("0"));
            me_headers.insert(RESET_HEADER, HeaderValue::from_static("0"));
        }
        CachedKey { me_body, me_headers, limit_header, row, state }
    }

    /// Counts a request against the key's rate limit and, when the gate answers it without a
    /// handler, records it in the key's usage, under one lock. `answered` is the status the
    /// gate answers an allowed request with itself (`None`: the handler answers, and
    /// [`CachedKey::record`] notes it afterwards); `refused` is that of a request over the limit.
    pub fn admit(&self, call: &Call, path: &str, refused: ErrorCode, answered: Option<u16>) -> Admission {
        let mut state = self.lock();
        let decision = self.rate_limit.enabled.then(|| count(&mut state, self.rate_limit, call.at));
        let path = shared_path(&mut state, path);
        let refusal = decision.as_ref().is_some_and(|d| !d.allowed);
        let answer = if refusal { Some((refused.status(), Some(refused))) } else { answered.map(|s| (s, None)) };
        match answer {
            Some((status, error)) => {
                push(&mut state.pending, call.record(path, status, error));
                match decision {
                    Some(d) if refusal => Admission::Refused(d),
                    decision => Admission::Answered(decision),
                }
            }
            None => Admission::Pass(decision, path),
        }
    }

    /// `path` as usage keeps it; a path the key called last time shares that record's copy.
    pub fn shared_path(&self, path: &str) -> Arc<str> {
        shared_path(&mut self.lock(), path)
    }

    /// Notes one request made with this key; written by the next [`KeyRuntime::flush`].
    pub fn record(&self, request: RequestRecord) {
        push(&mut self.lock().pending, request);
    }

    /// The answer of `GET /me` for this key, made once when the key was cached (the rate-limit
    /// headers aside): the connection test costs little more than a ping.
    pub fn me_response(&self, decision: Option<RateDecision>) -> Response {
        let mut response = Response::new(Body::from(self.me_body.clone()));
        *response.headers_mut() = self.me_headers.clone();
        if let Some(d) = decision {
            d.fill_in_place(response.headers_mut());
        }
        response
    }

    /// Adds the rate-limit headers of `decision` to an answer.
    pub fn set_rate_headers(&self, decision: RateDecision, headers: &mut HeaderMap) {
        headers.insert(LIMIT_HEADER, self.limit_header.clone());
        decision.fill_in(headers);
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

pub struct KeyRuntime {
    /// Keys by their [`CacheTag`].
    cache: RwLock<HashMap<CacheTag, Option<Arc<CachedKey>>, BuildTag>>,
    /// The secret half of every [`CacheTag`], drawn when the server starts.
    tagger: SipHasher13,
    generation: AtomicU64,
    /// Unix milliseconds until which the cache may answer (see [`CACHE_LEASE_MS`]).
    trusted_until: AtomicI64,
    /// Every key's state by id; outlives cache clears so counts and windows carry on.
    per_key: Mutex<HashMap<String, Arc<Mutex<PerKey>>>>,
}

impl Default for KeyRuntime {
    fn default() -> KeyRuntime {
        KeyRuntime {
            cache: RwLock::default(),
            tagger: SipHasher13::new_with_keys(rand::random(), rand::random()),
            generation: AtomicU64::default(),
            trusted_until: AtomicI64::default(),
            per_key: Mutex::default(),
        }
    }
}

/// What the cache files a key under: a 128-bit keyed hash (SipHash-1-3, with a key drawn at
/// start and never stored) of the key as sent: 31 ns here against 69 ns for the SHA-256 the
/// database is searched by, so a request with a cached key computes no SHA-256. Without the
/// secret, no one can make a string with the tag of a cached key but by chance, one in 2^128 a
/// try for each cached key; a string the cache does not know goes through the format check
/// and the database as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheTag(u128);

/// The cache's hasher: a tag is already a keyed hash, so its low bits serve as they are.
#[derive(Debug, Clone, Copy, Default)]
struct BuildTag;

impl BuildHasher for BuildTag {
    type Hasher = TagHasher;
    fn build_hasher(&self) -> TagHasher {
        TagHasher(0)
    }
}

#[derive(Debug)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `CacheTag` stops hashing as one `u128`: fold the bytes in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, tag: u128) {
        // The low 64 bits of a keyed hash.
        self.0 = tag as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
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
    /// Sets the two rate-limit headers that change from one request to the next:
    /// `X-RateLimit-Remaining` (without allocating, for any count a limit can leave) and
    /// `X-RateLimit-Reset`.
    fn fill_in(self, headers: &mut HeaderMap) {
        headers.insert(REMAINING_HEADER, number_header(self.remaining));
        headers.insert(RESET_HEADER, self.reset_header);
    }

    /// [`RateDecision::fill_in`] for a map that has both headers already (the `/me` headers of
    /// a key with a limit): their values are replaced in place, found by walking the map's
    /// few entries rather than hashing both names again.
    fn fill_in_place(self, headers: &mut HeaderMap) {
        let mut reset = Some(self.reset_header);
        for (name, value) in headers.iter_mut() {
            if *name == REMAINING_HEADER {
                *value = number_header(self.remaining);
            } else if *name == RESET_HEADER
                && let Some(reset) = reset.take()
            {
                *value = reset;
            }
        }
    }
}

/// "0" to "10000" (every count a rate limit can leave) written one after the other, once.
static NUMBERS: LazyLock<String> = LazyLock::new(|| TABLED.map(|n| n.to_string()).collect::<Vec<_>>().concat());

/// The numbers [`NUMBERS`] holds.
const TABLED: std::ops::RangeInclusive<u32> = 0..=*RATE_LIMIT_MAX_REQUESTS.end();

/// A number as a header value: a slice of [`NUMBERS`] for the usual ones, found by arithmetic
/// rather than a table of positions (one less place in memory to read per answer).
fn number_header(n: u32) -> HeaderValue {
    if !TABLED.contains(&n) {
        return HeaderValue::from(n);
    }
    // The numbers before `n`, length by length: ten of one digit, ninety of two, and so on.
    let (mut start, mut first, mut next, mut len) = (0, 0, 10, 1);
    while n >= next {
        start += (next - first) as usize * len;
        (first, next, len) = (next, next * 10, len + 1);
    }
    start += (n - first) as usize * len;
    HeaderValue::from_static(&NUMBERS[start..start + len])
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
    /// The tag the cache files the key `token` under.
    pub fn tag(&self, token: &str) -> CacheTag {
        CacheTag(self.tagger.hash(token.as_bytes()).as_u128())
    }

    /// What the cache knows of the key with this tag at `now_ms`: `None` when it has not
    /// looked yet (or its lease has run out), `Some(None)` when the key is known not to exist.
    pub fn cached(&self, tag: CacheTag, now_ms: i64) -> Option<Option<Arc<CachedKey>>> {
        if now_ms > self.trusted_until.load(Ordering::Acquire) {
            return None;
        }
        self.cache.read().unwrap_or_else(|p| p.into_inner()).get(&tag).cloned()
    }

    /// The watcher looked for changes at `now_ms` and applied what it found: the cache may
    /// answer for another [`CACHE_LEASE_MS`].
    pub fn looked_at(&self, now_ms: i64) {
        self.trusted_until.fetch_max(now_ms + CACHE_LEASE_MS, Ordering::AcqRel);
    }

    /// Reads the key whose SHA-256 is `hash` from the database, and caches what it found
    /// under `tag` (the [`KeyRuntime::tag`] of the same key).
    /// A change that lands while the row is read makes it read again: the caller never gets
    /// what the database held before a change this process has already applied.
    pub async fn load(&self, store: &Store, hash: &[u8; 32], tag: CacheTag) -> StoreResult<Option<Arc<CachedKey>>> {
        loop {
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
                cache.insert(tag, found.clone());
                return Ok(found);
            }
        }
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
                    let mut newer = std::mem::replace(&mut state.pending, usage);
                    let recent = std::mem::take(&mut newer.recent);
                    state.pending.merge(newer);
                    for r in recent {
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
    pending.note_outcome(&request);
    *pending.days.entry(day_of(request.at)).or_default() += 1;
    push_recent(&mut pending.recent, request);
}

fn push_recent(recent: &mut VecDeque<RequestRecord>, request: RequestRecord) {
    const KEPT: usize = RECENT_REQUESTS_KEPT as usize;
    if recent.capacity() < KEPT {
        // Room for exactly the requests kept, once: a full list then takes each new request
        // into the slot the oldest leaves, rather than growing to 256 and cycling through
        // memory a quarter larger.
        recent.reserve_exact(KEPT - recent.len());
    }
    if recent.len() >= KEPT {
        recent.pop_front();
    }
    recent.push_back(request);
}

#[cfg(test)]
mod tests {
    use super::*;
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
            k.record(RequestRecord { at: i, method: RequestMethod::Get, path, status: 200, error: None, ip: None });
        }
        let state = k.state.lock().unwrap();
        assert_eq!(state.pending.count, 250);
        assert_eq!(state.pending.recent.len(), 200);
        assert_eq!(state.pending.recent.capacity(), 200, "no room beyond what is kept");
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
    fn a_cache_tag_belongs_to_one_key_string_and_one_server() {
        let (a, b) = (KeyRuntime::default(), KeyRuntime::default());
        let key = "kdk_0123456789abcdefghijABCDEFGHIJ012345";
        assert_eq!(a.tag(key), a.tag(key));
        assert_ne!(a.tag(key), a.tag("kdk_0123456789abcdefghijABCDEFGHIJ012346"));
        assert_ne!(a.tag(key), a.tag(&key[..key.len() - 1]));
        assert_ne!(a.tag(key), b.tag(key), "each server draws its own secret");
    }

    #[test]
    fn the_gate_records_what_it_answers_itself_and_leaves_the_rest_to_the_handler() {
        let k = key();
        let limit = RateLimit { enabled: true, max_requests: 1, window_seconds: 60 };
        let mut k = k;
        k.row.rate_limit = limit;
        let call = Call { at: 1_700_000_000_000, method: RequestMethod::Get, ip: None };
        let limited = ErrorCode::RateLimitExceeded;
        let Admission::Pass(Some(d), path) = k.admit(&call, "/api/v1/projects", limited, None) else {
            panic!("the first request goes to its handler")
        };
        assert!(d.allowed);
        assert_eq!(k.state.lock().unwrap().pending.count, 0, "the handler's answer is recorded later");
        k.record(call.record(path, 200, None));
        let Admission::Refused(d) = k.admit(&call, "/api/v1/me", limited, Some(200)) else { panic!("over the limit") };
        assert!(!d.allowed);
        let state = k.state.lock().unwrap();
        let statuses: Vec<(&str, u16)> = state.pending.recent.iter().map(|r| (&*r.path, r.status)).collect();
        assert_eq!(statuses, [("/api/v1/projects", 200), ("/api/v1/me", 429)]);
        assert_eq!(state.pending.last_refusal.map(|r| r.error), Some(limited));
        drop(state);
        k.row.rate_limit.enabled = false;
        let Admission::Answered(None) = k.admit(&call, "/api/v1/me", limited, Some(200)) else {
            panic!("answered by the gate, no limit to report")
        };
        assert_eq!(k.state.lock().unwrap().pending.count, 3);
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
        for n in (0..=10_000).chain([10_001, 123_456, u32::MAX]) {
            assert_eq!(number_header(n).to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn the_me_answer_carries_this_request_s_rate_limit_headers_once_each() {
        let k = key();
        let limit = k.rate_limit;
        let t0 = 1_700_000_000_000;
        let first = rate(&k, limit, t0);
        let second = rate(&k, limit, t0 + 5);
        for d in [first, second] {
            let (remaining, reset) = (d.remaining.to_string(), d.reset.to_string());
            let response = k.me_response(Some(d));
            let headers = response.headers();
            assert_eq!(headers.len(), 5);
            assert_eq!(headers["x-ratelimit-limit"], limit.max_requests.to_string().as_str());
            assert_eq!(headers.get_all("x-ratelimit-remaining").iter().collect::<Vec<_>>(), [remaining.as_str()]);
            assert_eq!(headers.get_all("x-ratelimit-reset").iter().collect::<Vec<_>>(), [reset.as_str()]);
            assert_eq!(headers["content-length"], k.me_body.len().to_string().as_str());
        }
        let mut unlimited = key();
        unlimited.row.rate_limit.enabled = false;
        let unlimited = CachedKey::new(unlimited.row, Arc::default());
        assert_eq!(unlimited.me_response(None).headers().len(), 2, "type and length only");
    }

    #[test]
    fn the_me_answer_is_serialized_once_with_the_key() {
        let k = key();
        let me: serde_json::Value = serde_json::from_slice(&k.me_body).unwrap();
        assert_eq!(me["key"]["hint"], "abcd");
        assert_eq!(me["workspace"]["id"], "ws_1");
    }
}
