//! The server's clock: real time plus an offset that tests move forward (to expire a key or
//! age out sign-in failures) instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        // The system clock as a count, without a calendar conversion: read on every request.
        let since_epoch = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        since_epoch + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn now(&self) -> DateTime<Utc> {
        super::store::to_time(self.now_ms())
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
