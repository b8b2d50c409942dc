//! Key usage: request counts, last use, last success and last refusal, daily totals and recent
//! requests, written in batches by the usage flusher rather than once per request.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::http::Method;
use chrono::NaiveDate;
use keydeck_core::ErrorCode;
use keydeck_core::wire::{KeyRefusal, KeyRequestLog, UsageDay};
use sqlx::Row;

use super::{Statement, Store, StoreResult, to_time};

/// How many recent requests are kept per key.
pub const RECENT_REQUESTS_KEPT: i64 = 200;

/// One request made with a key. Small (48 bytes): each key keeps its latest 200 in memory, and
/// the busier the server, the more of them every request passes through the processor's cache.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub at: i64,
    pub method: RequestMethod,
    /// The request's path, cut to [`RequestRecord::PATH_CHARS`] characters. An owned copy:
    /// keeping the request's `Uri` instead would keep the connection's whole read buffer alive
    /// until the record leaves the recent list, and make the server allocate a new buffer for
    /// every request. Shared: a key calling the same path again shares one copy.
    pub path: Arc<str>,
    pub status: u16,
    /// The API's error code of a refused request's answer; `None` for a success.
    pub error: Option<ErrorCode>,
    /// `None` when the peer address is not known.
    pub ip: Option<std::net::IpAddr>,
}

/// A refused request, as a key's usage keeps the latest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub at: i64,
    pub error: ErrorCode,
    pub status: u16,
}

impl Refusal {
    pub fn wire(&self) -> KeyRefusal {
        KeyRefusal { at: to_time(self.at), error: self.error, status: self.status }
    }
}

/// A refusal as stored in a key's row (three columns, all set or all null).
pub fn refusal_of(at: Option<i64>, error: Option<&str>, status: Option<i64>) -> Option<Refusal> {
    let error = serde_json::from_value(serde_json::Value::String(error?.to_owned())).ok()?;
    Some(Refusal { at: at?, error, status: u16::try_from(status?).ok()? })
}

/// A request's method in one byte: the standard methods (the only ones a key-authenticated
/// route answers), and `Other` for any extension method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Connect,
    Trace,
    Other,
}

impl RequestMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestMethod::Get => "GET",
            RequestMethod::Head => "HEAD",
            RequestMethod::Post => "POST",
            RequestMethod::Put => "PUT",
            RequestMethod::Patch => "PATCH",
            RequestMethod::Delete => "DELETE",
            RequestMethod::Options => "OPTIONS",
            RequestMethod::Connect => "CONNECT",
            RequestMethod::Trace => "TRACE",
            RequestMethod::Other => "OTHER",
        }
    }
}

impl From<&Method> for RequestMethod {
    fn from(method: &Method) -> RequestMethod {
        match *method {
            Method::GET => RequestMethod::Get,
            Method::HEAD => RequestMethod::Head,
            Method::POST => RequestMethod::Post,
            Method::PUT => RequestMethod::Put,
            Method::PATCH => RequestMethod::Patch,
            Method::DELETE => RequestMethod::Delete,
            Method::OPTIONS => RequestMethod::Options,
            Method::CONNECT => RequestMethod::Connect,
            Method::TRACE => RequestMethod::Trace,
            _ => RequestMethod::Other,
        }
    }
}

impl RequestRecord {
    /// The record as the API shows it.
    pub fn log(&self) -> KeyRequestLog {
        KeyRequestLog {
            at: to_time(self.at),
            method: self.method.as_str().to_owned(),
            path: self.path.to_string(),
            status: self.status,
            ip: self.ip_text(),
        }
    }

    /// The address as stored: `unknown` when the peer was not known.
    pub fn ip_text(&self) -> String {
        self.ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// The most characters of a path a record keeps.
    pub const PATH_CHARS: usize = 200;

    /// `path` cut to [`RequestRecord::PATH_CHARS`] characters.
    pub fn cut(path: &str) -> &str {
        if path.len() <= Self::PATH_CHARS {
            // No more bytes than the characters kept, so no more characters either.
            return path;
        }
        match path.char_indices().nth(Self::PATH_CHARS) {
            Some((end, _)) => &path[..end],
            None => path,
        }
    }
}

/// Usage of one key not yet written.
#[derive(Debug, Clone, Default)]
pub struct PendingUsage {
    pub count: u64,
    pub last_used_at: i64,
    /// The last request answered with a 2xx.
    pub last_success_at: Option<i64>,
    /// The latest request answered with anything else.
    pub last_refusal: Option<Refusal>,
    /// Requests per day (days since the epoch).
    pub days: BTreeMap<i64, u64>,
    /// Oldest first; at most [`RECENT_REQUESTS_KEPT`].
    pub recent: VecDeque<RequestRecord>,
}

impl PendingUsage {
    /// Notes when a request was made and how it was answered (not its count or its day).
    pub fn note_outcome(&mut self, request: &RequestRecord) {
        self.last_used_at = self.last_used_at.max(request.at);
        if (200..300).contains(&request.status) {
            self.last_success_at = self.last_success_at.max(Some(request.at));
        } else if self.last_refusal.is_none_or(|r| r.at <= request.at) {
            let error = request.error.unwrap_or(ErrorCode::InternalError);
            self.last_refusal = Some(Refusal { at: request.at, error, status: request.status });
        }
    }

    /// Adds usage that was taken for a write that failed back under newer usage.
    pub fn merge(&mut self, newer: PendingUsage) {
        self.count += newer.count;
        self.last_used_at = self.last_used_at.max(newer.last_used_at);
        self.last_success_at = self.last_success_at.max(newer.last_success_at);
        if let Some(r) = newer.last_refusal
            && self.last_refusal.is_none_or(|mine| mine.at <= r.at)
        {
            self.last_refusal = Some(r);
        }
        for (day, n) in newer.days {
            *self.days.entry(day).or_default() += n;
        }
    }
}

/// Keys per statement of a flush, well inside both engines' limits of bound variables
/// (SQLite 32,766; PostgreSQL 65,535).
const FLUSH_CHUNK: usize = 1_000;

impl Store {
    /// Writes a batch of pending usage in one transaction, with at most four statements per
    /// chunk of keys whatever their number: counts, daily totals, recent requests, and the trim
    /// of recent requests to the newest [`RECENT_REQUESTS_KEPT`] (the last two only when the
    /// batch carries requests). Returns the statements executed.
    pub async fn flush_usage(&self, batch: &[(String, PendingUsage)]) -> StoreResult<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut statements = 0;
        let mut tx = self.begin_write("usage", "").await?;
        for chunk in batch.chunks(FLUSH_CHUNK) {
            let mut counts = Statement::new(
                self.engine,
                "WITH v (id, n, last, success, refused_at, refused_error, refused_status) AS (VALUES ",
            );
            counts.values(chunk, |row, (id, usage)| {
                let refusal = usage.last_refusal;
                row.bind(id.clone())
                    .bind(i64::try_from(usage.count).unwrap_or(i64::MAX))
                    .bind(usage.last_used_at)
                    .bind(usage.last_success_at)
                    .bind(refusal.map(|r| r.at))
                    .bind(refusal.map(|r| r.error.as_str()))
                    .bind(refusal.map(|r| i64::from(r.status)));
            });
            // Each time moves only forward; a refusal's three columns move together.
            counts.push(
                ") UPDATE api_keys SET request_count = request_count + v.n, \
                 last_used_at = CASE WHEN v.last > COALESCE(api_keys.last_used_at, 0) THEN v.last ELSE api_keys.last_used_at END, \
                 last_success_at = CASE WHEN v.success > COALESCE(api_keys.last_success_at, 0) THEN v.success ELSE api_keys.last_success_at END, \
                 last_refusal_error = CASE WHEN v.refused_at >= COALESCE(api_keys.last_refusal_at, 0) THEN v.refused_error ELSE api_keys.last_refusal_error END, \
                 last_refusal_status = CASE WHEN v.refused_at >= COALESCE(api_keys.last_refusal_at, 0) THEN v.refused_status ELSE api_keys.last_refusal_status END, \
                 last_refusal_at = CASE WHEN v.refused_at >= COALESCE(api_keys.last_refusal_at, 0) THEN v.refused_at ELSE api_keys.last_refusal_at END \
                 FROM v WHERE api_keys.id = v.id",
            );
            counts.execute(&mut *tx).await?;
            statements += 1;

            let days: Vec<(&String, i64, u64)> =
                chunk.iter().flat_map(|(id, u)| u.days.iter().map(move |(day, n)| (id, *day, *n))).collect();
            for days in days.chunks(FLUSH_CHUNK * 3) {
                let mut upsert =
                    Statement::new(self.engine, "INSERT INTO key_usage_daily (key_id, day, count) VALUES ");
                upsert.values(days, |row, (id, day, n)| {
                    row.bind((*id).clone()).bind(*day).bind(i64::try_from(*n).unwrap_or(i64::MAX));
                });
                upsert.push(" ON CONFLICT (key_id, day) DO UPDATE SET count = key_usage_daily.count + excluded.count");
                upsert.execute(&mut *tx).await?;
                statements += 1;
            }

            let recent: Vec<(&String, &RequestRecord)> =
                chunk.iter().flat_map(|(id, u)| u.recent.iter().map(move |r| (id, r))).collect();
            for rows in recent.chunks(5_000) {
                let mut insert = Statement::new(
                    self.engine,
                    "INSERT INTO key_requests (key_id, at, method, path, status, ip) VALUES ",
                );
                insert.values(rows, |row, (id, r)| {
                    row.bind((*id).clone())
                        .bind(r.at)
                        .bind(r.method.as_str().to_owned())
                        .bind(r.path.to_string())
                        .bind(i64::from(r.status))
                        .bind(r.ip_text());
                });
                insert.execute(&mut *tx).await?;
                statements += 1;
            }

            if recent.is_empty() {
                continue;
            }
            let mut trim = Statement::new(
                self.engine,
                "DELETE FROM key_requests WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
                 (PARTITION BY key_id ORDER BY at DESC, id DESC) AS newest FROM key_requests WHERE key_id IN (",
            );
            for (i, (id, _)) in chunk.iter().enumerate() {
                if i > 0 {
                    trim.push(", ");
                }
                trim.bind(id.clone());
            }
            trim.push(")) AS ranked WHERE newest > ").bind(RECENT_REQUESTS_KEPT).push(")");
            trim.execute(&mut *tx).await?;
            statements += 1;
        }
        tx.commit().await?;
        self.count_writes(statements);
        Ok(statements)
    }

    /// The newest `limit` requests of a key, newest first.
    pub async fn key_requests(&self, key_id: &str, limit: u32) -> StoreResult<Vec<KeyRequestLog>> {
        let rows = sqlx::query(
            "SELECT at, method, path, status, ip FROM key_requests WHERE key_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(key_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| KeyRequestLog {
                at: to_time(r.get("at")),
                method: r.get("method"),
                path: r.get("path"),
                status: u16::try_from(r.get::<i64, _>("status")).unwrap_or(0),
                ip: r.get("ip"),
            })
            .collect())
    }

    /// Daily request counts of a key for the `days` days ending on `today`, zeros included.
    pub async fn key_usage(&self, key_id: &str, today: i64, days: u32) -> StoreResult<Vec<UsageDay>> {
        let first = today - i64::from(days) + 1;
        let rows = sqlx::query("SELECT day, count FROM key_usage_daily WHERE key_id = $1 AND day BETWEEN $2 AND $3")
            .bind(key_id)
            .bind(first)
            .bind(today)
            .fetch_all(&self.reader)
            .await?;
        let counts: BTreeMap<i64, i64> = rows.iter().map(|r| (r.get("day"), r.get("count"))).collect();
        Ok((first..=today)
            .map(|day| UsageDay {
                date: day_to_date(day),
                count: counts.get(&day).copied().and_then(|c| u64::try_from(c).ok()).unwrap_or(0),
            })
            .collect())
    }
}

/// Days since the epoch of a Unix-millisecond time.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

pub fn day_to_date(day: i64) -> NaiveDate {
    to_time(day * 86_400_000).date_naive()
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use keydeck_core::ErrorCode;

    use super::{PendingUsage, Refusal, RequestMethod, RequestRecord, refusal_of};

    #[test]
    fn a_recorded_path_is_cut_to_200_characters_not_bytes() {
        assert_eq!(RequestRecord::cut("/api/v1/me"), "/api/v1/me");
        let long = "é".repeat(250);
        let cut = RequestRecord::cut(&long);
        assert_eq!(cut.chars().count(), RequestRecord::PATH_CHARS);
        assert_eq!(cut.len(), 2 * RequestRecord::PATH_CHARS);
        let exactly = "a".repeat(RequestRecord::PATH_CHARS);
        assert_eq!(RequestRecord::cut(&exactly), exactly);
        assert_eq!(RequestRecord::cut(&format!("{exactly}b")), exactly);
    }

    #[test]
    fn a_record_keeps_the_method_as_sent_in_one_byte() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
            Method::CONNECT,
            Method::TRACE,
        ] {
            assert_eq!(RequestMethod::from(&method).as_str(), method.as_str());
        }
        assert_eq!(RequestMethod::from(&Method::from_bytes(b"PURGE").unwrap()), RequestMethod::Other);
        assert_eq!(std::mem::size_of::<RequestMethod>(), 1);
        // 200 per key in memory: 48 bytes each rather than the 72 a full `Method` made.
        assert!(std::mem::size_of::<RequestRecord>() <= 48, "{}", std::mem::size_of::<RequestRecord>());
    }

    fn answered(at: i64, status: u16, error: Option<ErrorCode>) -> RequestRecord {
        RequestRecord { at, method: RequestMethod::Get, path: "/api/v1/me".into(), status, error, ip: None }
    }

    #[test]
    fn only_a_2xx_answer_counts_as_success_and_the_latest_refusal_is_kept() {
        let mut usage = PendingUsage::default();
        usage.note_outcome(&answered(10, 403, Some(ErrorCode::WorkspaceMismatch)));
        assert_eq!((usage.last_used_at, usage.last_success_at), (10, None), "a refusal is use, not success");
        usage.note_outcome(&answered(20, 200, None));
        usage.note_outcome(&answered(15, 429, Some(ErrorCode::RateLimitExceeded)));
        assert_eq!((usage.last_used_at, usage.last_success_at), (20, Some(20)));
        assert_eq!(
            usage.last_refusal,
            Some(Refusal { at: 15, error: ErrorCode::RateLimitExceeded, status: 429 }),
            "the latest by time, whatever order they were noted in"
        );
        usage.note_outcome(&answered(12, 401, Some(ErrorCode::KeyDisabled)));
        assert_eq!(usage.last_refusal.unwrap().error, ErrorCode::RateLimitExceeded);
        // A failed write's usage merged back keeps the newest of each.
        let mut older = PendingUsage::default();
        older.note_outcome(&answered(30, 401, Some(ErrorCode::KeyDisabled)));
        older.count = 1;
        older.merge(usage);
        assert_eq!((older.last_used_at, older.last_success_at), (30, Some(20)));
        assert_eq!(older.last_refusal.unwrap().error, ErrorCode::KeyDisabled);
        assert_eq!(refusal_of(Some(5), Some("key_disabled"), Some(401)).unwrap().error, ErrorCode::KeyDisabled);
        assert_eq!(refusal_of(Some(5), None, Some(401)), None);
    }
}
