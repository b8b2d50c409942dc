//! Rate-limit windows shared by the nodes on one database (see `keycheck::rate`).

use sqlx::Row;

use super::{Store, StoreResult};
use crate::keycheck::rate::Claim;

impl Store {
    /// Adds a claim to its window's total and returns the new total, in one statement: the
    /// row is locked for the update, so concurrent claims from any node add up exactly.
    pub async fn claim_rate_budget(&self, claim: Claim<'_>) -> StoreResult<u64> {
        let row = sqlx::query(
            "INSERT INTO rate_windows (key_id, window_start, window_seconds, claimed) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_id, window_start, window_seconds) DO UPDATE SET claimed = rate_windows.claimed + excluded.claimed \
             RETURNING claimed",
        )
        .bind(claim.key_id.to_owned())
        .bind(claim.window_start)
        .bind(i64::from(claim.window_seconds))
        .bind(i64::from(claim.want))
        .fetch_one(&self.writer)
        .await?;
        self.count_writes(1);
        Ok(u64::try_from(row.get::<i64, _>("claimed")).unwrap_or(0))
    }

    /// Drops the windows that ended a minute or more before `now_s` (Unix seconds): a node whose
    /// clock is behind may still be counting one that ended by this node's clock.
    pub async fn purge_rate_windows(&self, now_s: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM rate_windows WHERE window_start + window_seconds < $1")
            .bind(now_s - 60)
            .execute(&self.writer)
            .await?;
        self.count_writes(1);
        Ok(())
    }
}
