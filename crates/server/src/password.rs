//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Checks a password. With no stored hash it checks against a dummy one, so an unknown email
/// takes as long as a wrong password and sign-in does not reveal who has an account.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let found = stored.is_some();
    // Made on the first unknown email, not on every first sign-in.
    let stored = stored.unwrap_or_else(|| DUMMY.get_or_init(|| hash("keydeck-dummy-password").unwrap_or_default()));
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && found
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", Some(&h)));
        assert!(!super::verify("wrong horse", Some(&h)));
        assert!(!super::verify("keydeck-dummy-password", None));
    }
}
