//! The sign-in lockout's rule: five failed sign-ins for one email within 15 minutes lock that
//! email's sign-in until the oldest of those failures is 15 minutes old.
//!
//! Attempts are stored (`Store::reserve_sign_in`), so the lockout outlives a restart and holds
//! for every process on the database. An attempt counts as a failure from the moment it is
//! written, before its password is checked, and stops counting only once it succeeds: 200
//! wrong passwords sent at once get at most five `invalid_credentials` answers, not 200.

/// Failed attempts per email within [`WINDOW_MS`] that lock sign-in.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// The longest email address (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The form an email is counted under: trimmed. The store folds its case with the database's
/// `lower()`, the folding the user lookup uses, so every spelling that signs in as one user
/// counts as that one email.
pub fn counted_as(email: &str) -> String {
    email.trim().to_owned()
}

/// Given the times of the attempts within the window, newest first, the seconds until one may
/// try again, or `None` when sign-in is open.
pub fn locked_for(attempts_newest_first: &[i64], now: i64) -> Option<u64> {
    let oldest_counted = attempts_newest_first.get(MAX_FAILURES - 1)?;
    let ms = (oldest_counted + WINDOW_MS - now).max(1000);
    Some(u64::try_from((ms + 999) / 1000).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_attempts_lock_until_the_oldest_is_fifteen_minutes_old() {
        let attempts: Vec<i64> = (0..5).rev().map(|i| i * 1000).collect();
        assert_eq!(locked_for(&attempts[1..], 5000), None, "four are not enough");
        assert_eq!(locked_for(&attempts, 5000), Some(895));
        assert_eq!(locked_for(&attempts, WINDOW_MS - 500), Some(1), "never less than a second");
        assert_eq!(counted_as(" Ana@Example.COM "), "Ana@Example.COM");
    }
}
