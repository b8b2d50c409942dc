//! Sign-in attempts, for the lockout (`crate::lockout` has the rule).

use super::{Store, StoreResult};
use crate::lockout::{MAX_FAILURES, WINDOW_MS, locked_for};

impl Store {
    /// Counts a sign-in attempt for `email` (already in its counted form) before its password is
    /// checked, in one transaction so concurrent attempts each see the others. Returns the
    /// attempt's id, or `Err(seconds)` to wait when sign-in is locked (nothing is written then).
    pub async fn reserve_sign_in(&self, email: &str, now: i64) -> StoreResult<Result<i64, u64>> {
        // One lock for every sign-in: the database folds case, so two spellings of one email
        // must not pass the check side by side.
        let mut tx = self.begin_write("sign_in", "").await?;
        sqlx::query("DELETE FROM sign_in_attempts WHERE email = lower($1) AND at <= $2")
            .bind(email)
            .bind(now - WINDOW_MS)
            .execute(&mut *tx)
            .await?;
        let recent: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM sign_in_attempts WHERE email = lower($1) ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(email)
        .bind(i64::try_from(MAX_FAILURES).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        if let Some(seconds) = locked_for(&recent, now) {
            tx.commit().await?;
            self.count_writes(1);
            return Ok(Err(seconds));
        }
        let id = sqlx::query_scalar("INSERT INTO sign_in_attempts (email, at) VALUES (lower($1), $2) RETURNING id")
            .bind(email)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        self.count_writes(2);
        Ok(Ok(id))
    }

    /// An attempt whose password was never checked stops counting.
    pub async fn forget_sign_in_attempt(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE id = $1").bind(id).execute(&self.writer).await?;
        self.count_writes(1);
        Ok(())
    }

    /// A sign-in succeeded: the email's attempts stop counting.
    pub async fn clear_sign_in(&self, email: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE email = lower($1)").bind(email).execute(&self.writer).await?;
        self.count_writes(1);
        Ok(())
    }

    /// Forgets attempts older than the lockout's window, whatever their email.
    pub async fn purge_sign_in(&self, now: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE at <= $1").bind(now - WINDOW_MS).execute(&self.writer).await?;
        self.count_writes(1);
        Ok(())
    }
}
