//! Sign-in lockout: five failed sign-ins for one email within 15 minutes lock that email's
//! sign-in until the oldest of those failures is 15 minutes old. Kept in memory: a restart
//! forgets it, which costs an attacker a restart they cannot cause.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Default)]
pub struct SignInLockout {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl SignInLockout {
    /// `Err(seconds)` while the email is locked.
    pub fn check(&self, email: &str, now: i64) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(&email.to_lowercase()) else { return Ok(()) };
        while times.front().is_some_and(|t| now - t >= WINDOW_MS) {
            times.pop_front();
        }
        if times.len() >= MAX_FAILURES {
            let oldest = times[times.len() - MAX_FAILURES];
            let ms = (oldest + WINDOW_MS - now).max(1000);
            return Err(u64::try_from((ms + 999) / 1000).unwrap_or(1));
        }
        Ok(())
    }

    pub fn record_failure(&self, email: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = map.entry(email.to_lowercase()).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    pub fn clear(&self, email: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&email.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_until_the_first_is_fifteen_minutes_old() {
        let l = SignInLockout::default();
        for i in 0..5 {
            assert!(l.check("A@x.io", i * 1000).is_ok());
            l.record_failure("a@x.io", i * 1000);
        }
        assert_eq!(l.check("a@X.io", 5000), Err(895));
        assert!(l.check("a@x.io", WINDOW_MS).is_ok());
        assert!(l.check("b@x.io", 5000).is_ok());
    }
}
