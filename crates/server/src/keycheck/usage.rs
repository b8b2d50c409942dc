//! The usage log: each key's requests not yet written (count, last use, last success, last
//! refusal, daily totals, the recent requests), kept in memory and written in batches by the
//! flusher, so that a request costs the database nothing. A crash loses what was not
//! written yet; a failed write puts it back for the next flush.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::store::{PendingUsage, RECENT_REQUESTS_KEPT, RequestRecord, Store, StoreResult, day_of};

/// One key's usage not yet written.
#[derive(Debug, Default)]
pub struct KeyUsage(Mutex<PendingUsage>);

impl KeyUsage {
    /// Notes one answered request.
    pub fn record(&self, request: RequestRecord) {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        pending.count += 1;
        pending.note_outcome(&request);
        *pending.days.entry(day_of(request.at)).or_default() += 1;
        keep_recent(&mut pending.recent, request);
    }

    /// Takes what is pending, leaving the recent requests unless `requests`.
    fn take(&self, requests: bool) -> Option<PendingUsage> {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if pending.count == 0 && (!requests || pending.recent.is_empty()) {
            return None;
        }
        let kept = if requests { VecDeque::new() } else { std::mem::take(&mut pending.recent) };
        let taken = std::mem::take(&mut *pending);
        pending.recent = kept;
        Some(taken)
    }

    /// Puts back usage whose write failed, under what was noted since.
    fn put_back(&self, older: PendingUsage) {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut newer = std::mem::replace(&mut *pending, older);
        let recent = std::mem::take(&mut newer.recent);
        pending.merge(newer);
        for r in recent {
            keep_recent(&mut pending.recent, r);
        }
    }
}

fn keep_recent(recent: &mut VecDeque<RequestRecord>, request: RequestRecord) {
    if recent.len() >= RECENT_REQUESTS_KEPT as usize {
        recent.pop_front();
    }
    recent.push_back(request);
}

#[derive(Default)]
pub struct UsageLog {
    keys: Mutex<HashMap<String, Arc<KeyUsage>>>,
}

impl UsageLog {
    /// The usage of key `key_id`: one per key for the life of the process, so what is not
    /// written yet survives the cache forgetting the key.
    pub fn of(&self, key_id: &str) -> Arc<KeyUsage> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).entry(key_id.to_owned()).or_default().clone()
    }

    /// The requests of a key not written yet, newest first.
    pub fn unwritten_requests(&self, key_id: &str) -> Vec<RequestRecord> {
        let Some(usage) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(key_id).cloned() else {
            return Vec::new();
        };
        let pending = usage.0.lock().unwrap_or_else(|p| p.into_inner());
        pending.recent.iter().rev().cloned().collect()
    }

    /// Writes everything pending. Returns the statements executed.
    pub async fn flush(&self, store: &Store) -> StoreResult<u64> {
        self.flush_with(store, true).await
    }

    /// Writes counts, last use and daily totals, and keeps the recent requests for a later
    /// [`UsageLog::flush`]: a busy key's log is rewritten far less often, and
    /// [`UsageLog::unwritten_requests`] shows what is not written yet.
    pub async fn flush_counts(&self, store: &Store) -> StoreResult<u64> {
        self.flush_with(store, false).await
    }

    async fn flush_with(&self, store: &Store, requests: bool) -> StoreResult<u64> {
        let keys: Vec<(String, Arc<KeyUsage>)> =
            self.keys.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(id, u)| (id.clone(), u.clone())).collect();
        let batch: Vec<(String, PendingUsage)> =
            keys.iter().filter_map(|(id, usage)| Some((id.clone(), usage.take(requests)?))).collect();
        let written = store.flush_usage(&batch).await;
        if written.is_err() {
            let keys: HashMap<_, _> = keys.into_iter().collect();
            for (id, pending) in batch {
                if let Some(usage) = keys.get(&id) {
                    usage.put_back(pending);
                }
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use keydeck_core::ErrorCode;

    use super::*;
    use crate::store::RequestMethod;

    fn request(at: i64, path: &str, status: u16) -> RequestRecord {
        let error = (status >= 400).then_some(ErrorCode::RateLimitExceeded);
        RequestRecord { at, method: RequestMethod::Get, path: path.into(), status, error, ip: None }
    }

    #[test]
    fn a_key_keeps_only_its_newest_requests_and_every_count() {
        let log = UsageLog::default();
        let usage = log.of("key_1");
        for i in 0..250 {
            usage.record(request(i, if i % 3 == 0 { "/api/v1/me" } else { "/api/v1/projects" }, 200));
        }
        usage.record(request(250, "/api/v1/me", 429));
        let pending = usage.take(true).unwrap();
        assert_eq!(pending.count, 251);
        assert_eq!(pending.recent.len(), 200);
        assert_eq!(pending.recent[0].at, 51);
        assert_eq!((pending.last_used_at, pending.last_success_at), (250, Some(249)));
        assert_eq!(pending.last_refusal.map(|r| (r.at, r.status)), Some((250, 429)));
        assert!(usage.take(true).is_none(), "nothing left once taken");
    }

    #[test]
    fn a_counts_flush_leaves_the_requests_for_the_next_full_one() {
        let log = UsageLog::default();
        let usage = log.of("key_1");
        usage.record(request(1, "/api/v1/me", 200));
        usage.record(request(2, "/api/v1/projects", 200));
        let counts = usage.take(false).unwrap();
        assert_eq!((counts.count, counts.recent.len()), (2, 0));
        let paths: Vec<String> = log.unwritten_requests("key_1").iter().map(|r| r.path.to_string()).collect();
        assert_eq!(paths, ["/api/v1/projects", "/api/v1/me"], "newest first");
        let rest = usage.take(true).unwrap();
        assert_eq!((rest.count, rest.recent.len()), (0, 2));
        assert!(log.unwritten_requests("key_1").is_empty());
        assert!(log.unwritten_requests("key_2").is_empty(), "a key never used");
    }

    #[test]
    fn usage_whose_write_failed_is_put_back_under_newer_usage() {
        let log = UsageLog::default();
        let usage = log.of("key_1");
        usage.record(request(1, "/a", 200));
        let failed = usage.take(true).unwrap();
        usage.record(request(2, "/b", 401));
        usage.put_back(failed);
        let pending = usage.take(true).unwrap();
        assert_eq!(pending.count, 2);
        assert_eq!(pending.recent.iter().map(|r| r.at).collect::<Vec<_>>(), [1, 2], "oldest first");
        assert_eq!((pending.last_success_at, pending.last_refusal.map(|r| r.at)), (Some(1), Some(2)));
        assert_eq!(pending.days.values().sum::<u64>(), 2);
    }
}
