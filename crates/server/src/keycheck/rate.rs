//! Rate limits: each key may make `max_requests` requests in a fixed window of
//! `window_seconds`, aligned to Unix time so that every client computes the same reset.
//!
//! Across nodes, a window's budget lives behind [`Budget`]: a node takes requests from its
//! own share of the window and, when that runs out, claims another batch. On one node
//! ([`LocalBudget`]) the first claim of a window takes the whole limit, so counting is all in
//! memory. On several nodes ([`SharedBudget`]) a claim is one statement on the shared
//! database that adds the batch to the window's row and returns the new total; the node keeps
//! what was left below the limit. No node can accept more than the database granted it, so the
//! nodes together never accept more than the limit.
//!
//! A batch is sized by the node's own demand: what it has accepted for the key so far in the
//! window, or half of what it accepted in the last window it served the key in, whichever is
//! more, and at least a 200th of the limit. A busy node's claims double within a window, so a
//! busy key costs each node two or three claims a window whatever its rate.
//!
//! What the design gives up:
//! - A node's unused share is lost to the others: near the end of a window, another node may
//!   refuse while one still holds part of a batch, at most its last claim. While every node
//!   is busy this costs nothing (each spends what it claimed within moments); when a window's
//!   demand is close to the limit, fewer than the limit may be accepted. Never more.
//! - The request that empties a node's share waits for the database (one round trip per
//!   batch; other requests of the key on that node wait for the same claim, not their own).
//! - `X-RateLimit-Remaining` counts what the node knows: the budget not yet claimed by any
//!   node at its last claim, plus its own unspent share.
//! - When the database cannot be reached, a node counts against the limit on its own until it
//!   can again (logged): refusing every request of every key would be worse than letting each
//!   node allow the full limit for as long as the database is down.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use keydeck_core::rules::RateLimit;

use crate::store::{Store, StoreResult};

/// One claim of part of a window's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    pub key_id: &'a str,
    /// Unix seconds.
    pub window_start: i64,
    pub window_seconds: u32,
    pub want: u32,
}

/// What a claim got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// Requests this node may now accept, at most what it asked for.
    pub granted: u32,
    /// Requests claimed by every node in the window so far, this claim included (may pass the
    /// limit: the part over it is what no one was granted).
    pub claimed: u64,
}

impl Granted {
    /// The answer to a claim of `want` that made the window's total `claimed`.
    pub fn of(want: u32, claimed: u64, max_requests: u32) -> Granted {
        let before = claimed.saturating_sub(u64::from(want));
        let left = u64::from(max_requests).saturating_sub(before);
        Granted { granted: u32::try_from(left.min(u64::from(want))).unwrap_or(want), claimed }
    }
}

pub type ClaimFuture<'a> = Pin<Box<dyn Future<Output = StoreResult<u64>> + Send + 'a>>;

/// Where the windows' budgets are kept: the part of rate limiting that crosses nodes.
pub trait Budget: Send + Sync {
    /// How many requests to claim at once for a key with `max_requests` per window.
    fn batch(&self, max_requests: u32) -> u32;
    /// Adds `claim.want` to the window's claimed total and returns the new total.
    fn claim<'a>(&'a self, claim: Claim<'a>) -> ClaimFuture<'a>;
}

/// One node: the window's whole budget in one claim, counted in memory.
#[derive(Debug, Default)]
pub struct LocalBudget;

impl Budget for LocalBudget {
    fn batch(&self, max_requests: u32) -> u32 {
        max_requests
    }

    fn claim<'a>(&'a self, claim: Claim<'a>) -> ClaimFuture<'a> {
        // This node is the only one to claim, and it claims a window once.
        Box::pin(std::future::ready(Ok(u64::from(claim.want))))
    }
}

/// Several nodes on one database: a window's claims are added up in its row.
pub struct SharedBudget(pub Store);

impl SharedBudget {
    /// A 200th of the limit, at least 1.
    pub fn batch_of(max_requests: u32) -> u32 {
        (max_requests / 200).max(1)
    }
}

impl Budget for SharedBudget {
    fn batch(&self, max_requests: u32) -> u32 {
        SharedBudget::batch_of(max_requests)
    }

    fn claim<'a>(&'a self, claim: Claim<'a>) -> ClaimFuture<'a> {
        Box::pin(self.0.claim_rate_budget(claim))
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset: i64,
    /// Seconds until then, at least 1.
    pub retry_after: u64,
}

/// One key's current window on this node.
#[derive(Debug, Default)]
pub struct KeyWindow {
    state: Mutex<WindowState>,
    /// Held while this node claims more of the window, so that the requests waiting for the
    /// claim make one, not one each.
    claiming: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default, Clone, Copy)]
struct WindowState {
    /// Unix seconds, with the window's length: a changed length starts a new window.
    start: i64,
    seconds: u32,
    /// Requests this node accepted in the window, and may accept in all.
    used: u32,
    granted: u32,
    /// Claimed by all nodes at this node's last claim.
    claimed: u64,
    /// Requests this node accepted in the last window before this one that it counted.
    used_before: u32,
    /// The window's budget is spent: refuse without claiming again.
    spent: bool,
}

impl WindowState {
    /// Moves to the window of `start`. Windows only move forward: a request that read the
    /// clock just before a boundary but counts just after it counts in the new window, since
    /// moving back would start the old window's count from zero and let a burst through.
    fn enter(&mut self, start: i64, seconds: u32) {
        if start > self.start || seconds != self.seconds {
            let used_before = if seconds == self.seconds { self.used } else { 0 };
            *self = WindowState { start, seconds, used_before, ..WindowState::default() };
        }
    }

    fn decide(&mut self, limit: RateLimit, now_s: i64) -> Option<Decision> {
        let allowed = self.used < self.granted;
        if !allowed && !self.spent {
            return None;
        }
        if allowed {
            self.used += 1;
        }
        let unclaimed = u64::from(limit.max_requests).saturating_sub(self.claimed);
        let remaining = u32::try_from(unclaimed).unwrap_or(u32::MAX).saturating_add(self.granted - self.used);
        let reset = self.start + i64::from(self.seconds);
        Some(Decision {
            allowed,
            limit: limit.max_requests,
            remaining: remaining.min(limit.max_requests),
            reset,
            retry_after: u64::try_from(reset - now_s).unwrap_or(1).max(1),
        })
    }
}

pub struct RateLimiter {
    budget: Box<dyn Budget>,
    windows: Mutex<HashMap<String, Arc<KeyWindow>>>,
}

impl RateLimiter {
    pub fn new(budget: Box<dyn Budget>) -> RateLimiter {
        RateLimiter { budget, windows: Mutex::default() }
    }

    /// The window of key `key_id`: one per key for the life of the process, so a key's count
    /// carries on when the cache forgets it.
    pub fn window(&self, key_id: &str) -> Arc<KeyWindow> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).entry(key_id.to_owned()).or_default().clone()
    }

    /// Counts one request of the key `key_id` (whose window is `window`) at `now_ms`.
    pub async fn check(&self, key_id: &str, window: &KeyWindow, limit: RateLimit, now_ms: i64) -> Decision {
        let seconds = limit.window_seconds.max(1);
        let now_s = now_ms.div_euclid(1000);
        let start = now_s - now_s.rem_euclid(i64::from(seconds));
        loop {
            let current = {
                let mut state = window.state.lock().unwrap_or_else(|p| p.into_inner());
                state.enter(start, seconds);
                if let Some(decision) = state.decide(limit, now_s) {
                    return decision;
                }
                *state
            };
            let _claiming = window.claiming.lock().await;
            {
                let state = window.state.lock().unwrap_or_else(|p| p.into_inner());
                if state.start != current.start || state.granted != current.granted || state.spent {
                    continue; // Another request claimed meanwhile, or the window moved on.
                }
            }
            let demand = current.used.max(current.used_before / 2);
            let want = self.budget.batch(limit.max_requests).max(demand).min(limit.max_requests);
            let claim = Claim { key_id, window_start: current.start, window_seconds: seconds, want };
            let granted = match self.budget.claim(claim).await {
                // Grants made alone while the database was away are not in its total.
                Ok(claimed) => {
                    let alone = u64::from(current.granted) + u64::from(want);
                    Granted::of(want, claimed.max(alone), limit.max_requests)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim rate-limit budget; counting on this node alone");
                    Granted::of(want, u64::from(current.granted) + u64::from(want), limit.max_requests)
                }
            };
            let mut state = window.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.start == current.start && state.seconds == seconds {
                state.granted += granted.granted;
                state.claimed = state.claimed.max(granted.claimed);
                state.spent = granted.granted < want || granted.claimed >= u64::from(limit.max_requests);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A window's row, as the shared database keeps it, for any number of limiters.
    #[derive(Default)]
    struct Row {
        claimed: Mutex<HashMap<(String, i64), u64>>,
        claims: AtomicU64,
    }

    struct Shared(Arc<Row>);

    impl Budget for Shared {
        fn batch(&self, max_requests: u32) -> u32 {
            SharedBudget::batch_of(max_requests)
        }
        fn claim<'a>(&'a self, claim: Claim<'a>) -> ClaimFuture<'a> {
            self.0.claims.fetch_add(1, Ordering::Relaxed);
            let mut rows = self.0.claimed.lock().unwrap();
            let total = rows.entry((claim.key_id.to_owned(), claim.window_start)).or_default();
            *total += u64::from(claim.want);
            let total = *total;
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(total)
            })
        }
    }

    const T0: i64 = 1_700_000_000_000; // a multiple of 10 s

    fn limit(max_requests: u32, window_seconds: u32) -> RateLimit {
        RateLimit { enabled: true, max_requests, window_seconds }
    }

    #[tokio::test]
    async fn the_window_allows_exactly_max_requests_then_resets_on_the_boundary() {
        let limiter = RateLimiter::new(Box::new(LocalBudget));
        let window = limiter.window("key_1");
        let limit = limit(3, 10);
        let mut d = Vec::new();
        for i in 0..4 {
            d.push(limiter.check("key_1", &window, limit, T0 + i * 1000).await);
        }
        assert_eq!(d.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!((d[0].remaining, d[2].remaining, d[3].remaining), (2, 0, 0));
        assert_eq!(d[3].reset, 1_700_000_010);
        assert_eq!(d[3].retry_after, 7);
        assert!(limiter.check("key_1", &window, limit, T0 + 10_000).await.allowed);
        assert!(limiter.check("key_2", &limiter.window("key_2"), limit, T0).await.allowed, "each key its own");
    }

    #[tokio::test]
    async fn a_late_request_from_the_previous_window_does_not_start_it_again() {
        // Connections read the clock, then count in any order: around a boundary, requests
        // stamped before it arrive after requests stamped after it.
        let limiter = RateLimiter::new(Box::new(LocalBudget));
        let window = limiter.window("k");
        let limit = limit(2, 1);
        let mut allowed = Vec::new();
        for t in [T0 + 900, T0 + 1_001, T0 + 999, T0 + 1_002, T0 + 998, T0 + 1_003] {
            allowed.push(limiter.check("k", &window, limit, t).await.allowed);
        }
        assert_eq!(allowed, [true, true, true, false, false, false]);
        let late = limiter.check("k", &window, limit, T0 + 997).await;
        assert_eq!(late.reset, 1_700_000_002, "a late request is told the current window's reset");
    }

    #[tokio::test]
    async fn a_changed_window_length_starts_a_new_window() {
        let limiter = RateLimiter::new(Box::new(LocalBudget));
        let window = limiter.window("k");
        let minute = limit(1, 60);
        let s0 = 1_699_999_980_000; // a multiple of 60 s
        assert!(limiter.check("k", &window, minute, s0).await.allowed);
        assert!(!limiter.check("k", &window, minute, s0 + 1_000).await.allowed);
        let second = limiter.check("k", &window, limit(1, 1), s0 + 1_500).await;
        assert!(second.allowed);
        assert_eq!(second.reset, s0 / 1000 + 2);
    }

    #[test]
    fn a_claim_gets_what_was_left_below_the_limit() {
        assert_eq!(Granted::of(5, 5, 100).granted, 5);
        assert_eq!(Granted::of(5, 100, 100).granted, 5);
        assert_eq!(Granted::of(5, 102, 100).granted, 3);
        assert_eq!(Granted::of(5, 110, 100).granted, 0);
    }

    #[tokio::test]
    async fn three_nodes_on_one_budget_accept_exactly_the_limit_between_them() {
        let row = Arc::new(Row::default());
        let nodes: Vec<RateLimiter> = (0..3).map(|_| RateLimiter::new(Box::new(Shared(row.clone())))).collect();
        let windows: Vec<_> = nodes.iter().map(|n| n.window("k")).collect();
        let limit = limit(1_000, 10);
        // 32 concurrent requests per node at a time, 3,000 requests each, all in one window.
        let accepted = AtomicU64::default();
        let node_load = nodes.iter().zip(&windows).map(|(node, window)| {
            let accepted = &accepted;
            async move {
                for _ in 0..3_000 / 32 + 1 {
                    let burst = (0..32).map(|_| node.check("k", window, limit, T0 + 1));
                    for d in futures::future::join_all(burst).await {
                        if d.allowed {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        futures::future::join_all(node_load).await;
        assert_eq!(accepted.load(Ordering::Relaxed), 1_000);
        let claims = row.claims.load(Ordering::Relaxed);
        assert!(claims <= 1_000 / 5 + 3, "one claim per batch, not per request: {claims}");
    }

    #[tokio::test]
    async fn a_busy_node_claims_more_at_once_the_more_it_accepts() {
        let row = Arc::new(Row::default());
        let node = RateLimiter::new(Box::new(Shared(row.clone())));
        let window = node.window("k");
        let limit = limit(10_000, 1);
        for i in 0..2_000 {
            assert!(node.check("k", &window, limit, T0 + i / 4).await.allowed);
        }
        // A 200th of the limit (50), then as much as accepted so far: 50, 50, 100, ... 1,600.
        assert_eq!(row.claims.load(Ordering::Relaxed), 7, "claims double within a window");
        for i in 0..2_000 {
            assert!(node.check("k", &window, limit, T0 + 1_000 + i / 4).await.allowed);
        }
        // Half of the 2,000 of the window before, then 1,000 more.
        assert_eq!(row.claims.load(Ordering::Relaxed), 7 + 2);
    }

    #[tokio::test]
    async fn a_node_whose_claim_fails_counts_on_its_own() {
        struct Down;
        impl Budget for Down {
            fn batch(&self, _: u32) -> u32 {
                2
            }
            fn claim<'a>(&'a self, _: Claim<'a>) -> ClaimFuture<'a> {
                Box::pin(std::future::ready(Err(crate::store::StoreError::Conflict("the database is down".into()))))
            }
        }
        let limiter = RateLimiter::new(Box::new(Down));
        let window = limiter.window("k");
        let limit = limit(3, 10);
        let mut allowed = 0;
        for _ in 0..10 {
            allowed += u32::from(limiter.check("k", &window, limit, T0).await.allowed);
        }
        assert_eq!(allowed, 3, "never more than the limit on one node");
    }

    #[tokio::test]
    async fn grants_made_alone_while_the_database_was_away_still_count_once_it_is_back() {
        struct Flaky(std::sync::atomic::AtomicU32, Shared);
        impl Budget for Flaky {
            fn batch(&self, _: u32) -> u32 {
                2
            }
            fn claim<'a>(&'a self, claim: Claim<'a>) -> ClaimFuture<'a> {
                if self.0.fetch_add(1, Ordering::Relaxed) < 2 {
                    return Box::pin(std::future::ready(Err(crate::store::StoreError::Conflict("down".into()))));
                }
                self.1.claim(claim)
            }
        }
        let limiter = RateLimiter::new(Box::new(Flaky(Default::default(), Shared(Arc::default()))));
        let window = limiter.window("k");
        let mut allowed = 0;
        for _ in 0..20 {
            allowed += u32::from(limiter.check("k", &window, limit(6, 10), T0).await.allowed);
        }
        assert_eq!(allowed, 6, "4 granted alone, then only what is left of the limit");
    }
}
