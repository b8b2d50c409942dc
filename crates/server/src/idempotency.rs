//! Idempotent key creation: the response of `POST /keys` sent with an `Idempotency-Key` is
//! stored for 10 minutes, sealed (ChaCha20-Poly1305) with a key derived from the
//! Idempotency-Key, which the server never stores. The record is found by a different hash of
//! the same value. So the database alone never yields a secret, and a client that lost the
//! response gets the same secret back by repeating its request.

use std::collections::HashSet;
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a stored response can be replayed.
pub const REPLAY_WINDOW_MS: i64 = 10 * 60 * 1000;
pub const MIN_LEN: usize = 16;
pub const MAX_LEN: usize = 255;

/// Checks an `Idempotency-Key` value; the error is a sentence for the caller.
pub fn check_key(value: &str) -> Result<(), String> {
    if !(MIN_LEN..=MAX_LEN).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "The Idempotency-Key header must be {MIN_LEN} to {MAX_LEN} visible ASCII characters; use a random value such as a UUID, new for each key you create."
        ));
    }
    Ok(())
}

/// Where the record of (user, Idempotency-Key) is stored.
pub fn lookup(user_id: &str, idem_key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"keydeck idempotency lookup v1\0");
    h.update(user_id.as_bytes());
    h.update(b"\0");
    h.update(idem_key.as_bytes());
    h.finalize().into()
}

/// The hash of a request body, independent of key order and white space.
pub fn request_hash(body: &serde_json::Value) -> [u8; 32] {
    Sha256::digest(canonical(body).as_bytes()).into()
}

fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn cipher(user_id: &str, idem_key: &str) -> ChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(user_id.as_bytes()), idem_key.as_bytes());
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
    hk.expand(b"keydeck idempotent response v1", &mut okm).unwrap_or_default();
    ChaCha20Poly1305::new(Key::from_slice(&okm))
}

/// Seals a response body. Returns (nonce, ciphertext).
pub fn seal(user_id: &str, idem_key: &str, plaintext: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher(user_id, idem_key).encrypt(Nonce::from_slice(&nonce), plaintext).ok()?;
    Some((nonce.to_vec(), sealed))
}

pub fn open(user_id: &str, idem_key: &str, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if nonce.len() != 12 {
        return None;
    }
    cipher(user_id, idem_key).decrypt(Nonce::from_slice(nonce), sealed).ok()
}

/// Idempotency-Keys whose request is being handled right now: a second request with the
/// same key is told to retry rather than racing the first.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<[u8; 32]>>);

impl InFlight {
    pub fn begin(&self, lookup: [u8; 32]) -> Option<InFlightGuard<'_>> {
        let inserted = self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(lookup);
        // Made only when inserted: a guard made and dropped here would take the first
        // request's mark away, and let the next repeat race it.
        inserted.then(|| InFlightGuard { set: self, lookup })
    }
}

pub struct InFlightGuard<'a> {
    set: &'a InFlight,
    lookup: [u8; 32],
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.set.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.lookup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_responses_open_only_with_the_same_user_and_key() {
        let (nonce, sealed) = seal("usr_1", "0123456789abcdef", b"secret").unwrap();
        assert_eq!(open("usr_1", "0123456789abcdef", &nonce, &sealed).unwrap(), b"secret");
        assert!(open("usr_2", "0123456789abcdef", &nonce, &sealed).is_none());
        assert!(open("usr_1", "0123456789abcdeX", &nonce, &sealed).is_none());
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn request_hash_ignores_key_order_and_spacing() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a": 1, "b": [1, {"y":2,"x":1}]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,{"x":1,"y":2}],"a":1}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        let c: serde_json::Value = serde_json::from_str(r#"{"a": 2, "b": [1, {"y":2,"x":1}]}"#).unwrap();
        assert_ne!(request_hash(&a), request_hash(&c));
    }

    #[test]
    fn a_repeat_turned_away_leaves_the_first_request_marked() {
        let in_flight = InFlight::default();
        let first = in_flight.begin([7; 32]).expect("the first request");
        assert!(in_flight.begin([7; 32]).is_none(), "a repeat is turned away");
        assert!(in_flight.begin([7; 32]).is_none(), "and so is the next one, while the first runs");
        drop(first);
        assert!(in_flight.begin([7; 32]).is_some());
    }

    #[test]
    fn short_or_odd_keys_are_refused() {
        assert!(check_key("short").is_err());
        assert!(check_key("has spaces in it ok?").is_err());
        assert!(check_key("3f2b9c1e-7a4d-4e8b-9c2f-1a2b3c4d5e6f").is_ok());
    }
}
