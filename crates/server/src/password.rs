//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), and the checks of
//! sign-in under a bound.
//!
//! [`PasswordChecks`] runs at most one check per processor at a time, each in a work area of
//! its own that is kept and reused: the memory sign-in can take is those few areas (19 MiB
//! each), however many sign-ins arrive. A semaphore alone would bound the checks running but
//! not the memory: each check allocating its own 19 MiB leaves most of it with the allocator of
//! whichever thread ran it (about 880 MiB after 200 sign-ins on a 2-core machine). The turn and
//! the work area go with the check into its thread, so a client that hangs up mid-check frees
//! neither early; and at most [`WAITING_PER_TURN`] sign-ins per turn wait, the rest are told to
//! try again in a moment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Sign-ins that may wait for a check, per turn, before more are turned away.
pub const WAITING_PER_TURN: usize = 32;

/// Makes the stand-in hash of [`dummy`] now, so that the first unknown email takes no longer
/// than the others. Blocking (one argon2id hash): the server runs it off its start path.
pub fn prepare() {
    dummy();
}

/// A stand-in hash for unknown emails, so an unknown email takes as long as a wrong password
/// and sign-in does not reveal who has an account. Made once.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("keydeck-dummy-password").unwrap_or_default())
}

/// Checks a password against a stored PHC string in `area`, which grows to the hash's memory
/// once and is kept for the next check. With no stored hash it checks against [`dummy`].
pub fn verify_in(password: &str, stored: Option<&str>, area: &mut Vec<Block>) -> bool {
    let found = stored.is_some();
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or_else(|| dummy())) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.version.map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    area.resize(params.block_count(), Block::default());
    let argon = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut area[..]).map_err(Into::into)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|c| c == expected) && found
}

/// Checks a password the way sign-in does, with a fresh work area.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    verify_in(password, stored, &mut Vec::new())
}

/// Sign-in's password checks: at most `turns` at once, each in a kept work area.
pub struct PasswordChecks {
    turns: Arc<Semaphore>,
    areas: Arc<Mutex<Vec<Vec<Block>>>>,
    waiting: AtomicUsize,
    most_waiting: usize,
}

/// Why a password was not checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("too many sign-ins are waiting for a password check")]
    Busy,
    #[error("the password check stopped: {0}")]
    Failed(#[from] tokio::task::JoinError),
}

impl PasswordChecks {
    pub fn new(turns: usize) -> PasswordChecks {
        let turns = turns.max(1);
        PasswordChecks {
            turns: Arc::new(Semaphore::new(turns)),
            areas: Arc::default(),
            waiting: AtomicUsize::new(0),
            most_waiting: turns * WAITING_PER_TURN,
        }
    }

    /// Waits for a turn, then checks `password` against `stored` off the async runtime.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, CheckError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.most_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(CheckError::Busy);
        }
        // The semaphore is never closed, so acquiring only waits.
        let turn = self.turns.clone().acquire_owned().await.ok();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let areas = self.areas.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let mut area = areas.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
            let ok = verify_in(&password, stored.as_deref(), &mut area);
            areas.lock().unwrap_or_else(|p| p.into_inner()).push(area);
            drop(turn);
            ok
        })
        .await?)
    }

    /// How many work areas exist: never more than the turns.
    pub fn areas(&self) -> usize {
        self.areas.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("wrong horse", Some(&h)));
        assert!(!verify("keydeck-dummy-password", None));
        assert!(!verify("anything", Some("not a hash")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_checks_at_once_share_as_many_work_areas_as_there_are_turns() {
        let h = hash("correct horse").unwrap();
        let checks = std::sync::Arc::new(PasswordChecks::new(2));
        let all = futures::future::join_all((0..12).map(|i| {
            let (checks, h) = (checks.clone(), h.clone());
            async move { checks.verify(if i % 3 == 0 { "correct horse" } else { "nope" }.into(), Some(h)).await }
        }))
        .await;
        let ok = all.into_iter().map(Result::unwrap).filter(|ok| *ok).count();
        assert_eq!(ok, 4);
        assert!(checks.areas() <= 2, "{} work areas", checks.areas());
    }
}
