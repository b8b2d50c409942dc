//! Key usage: request counts, last use, daily totals and recent requests, written in batches
//! by the usage flusher rather than once per request.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use keydeck_core::wire::{KeyRequestLog, UsageDay};
use sqlx::Row;

use super::{Store, StoreResult, to_time};

/// How many recent requests are kept per key.
pub const RECENT_REQUESTS_KEPT: i64 = 200;

/// One request made with a key.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ip: String,
}

/// Usage of one key not yet written.
#[derive(Debug, Clone, Default)]
pub struct PendingUsage {
    pub count: u64,
    pub last_used_at: i64,
    /// Requests per day (days since the epoch).
    pub days: BTreeMap<i64, u64>,
    /// Oldest first; at most [`RECENT_REQUESTS_KEPT`].
    pub recent: Vec<RequestRecord>,
}

impl Store {
    /// Writes a batch of pending usage in one transaction. Returns the statements executed.
    pub async fn flush_usage(&self, batch: &[(String, PendingUsage)]) -> StoreResult<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut statements = 0;
        let mut tx = self.writer.begin().await?;
        for (key_id, usage) in batch {
            sqlx::query(
                "UPDATE api_keys SET request_count = request_count + ?, last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
            )
            .bind(i64::try_from(usage.count).unwrap_or(i64::MAX))
            .bind(usage.last_used_at)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
            statements += 1;
            for (day, count) in &usage.days {
                sqlx::query(
                    "INSERT INTO key_usage_daily (key_id, day, count) VALUES (?, ?, ?)
                     ON CONFLICT (key_id, day) DO UPDATE SET count = count + excluded.count",
                )
                .bind(key_id)
                .bind(day)
                .bind(i64::try_from(*count).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                statements += 1;
            }
            if !usage.recent.is_empty() {
                let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO key_requests (key_id, at, method, path, status, ip) ",
                );
                builder.push_values(&usage.recent, |mut row, r| {
                    row.push_bind(key_id.clone())
                        .push_bind(r.at)
                        .push_bind(r.method.clone())
                        .push_bind(r.path.clone())
                        .push_bind(r.status)
                        .push_bind(r.ip.clone());
                });
                builder.build().execute(&mut *tx).await?;
                sqlx::query(
                    "DELETE FROM key_requests WHERE key_id = ? AND id <=
                       (SELECT id FROM key_requests WHERE key_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                )
                .bind(key_id)
                .bind(key_id)
                .bind(RECENT_REQUESTS_KEPT)
                .execute(&mut *tx)
                .await?;
                statements += 2;
            }
        }
        tx.commit().await?;
        self.count_writes(statements);
        Ok(statements)
    }

    /// The newest `limit` requests of a key, newest first.
    pub async fn key_requests(&self, key_id: &str, limit: u32) -> StoreResult<Vec<KeyRequestLog>> {
        let rows = sqlx::query(
            "SELECT at, method, path, status, ip FROM key_requests WHERE key_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(key_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| KeyRequestLog {
                at: to_time(r.get("at")),
                method: r.get("method"),
                path: r.get("path"),
                status: r.get::<u16, _>("status"),
                ip: r.get("ip"),
            })
            .collect())
    }

    /// Daily request counts of a key for the `days` days ending on `today`, zeros included.
    pub async fn key_usage(&self, key_id: &str, today: i64, days: u32) -> StoreResult<Vec<UsageDay>> {
        let first = today - i64::from(days) + 1;
        let rows = sqlx::query("SELECT day, count FROM key_usage_daily WHERE key_id = ? AND day BETWEEN ? AND ?")
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
