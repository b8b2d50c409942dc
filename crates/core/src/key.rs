//! The API key format: `kdk_` + 32 random base62 characters + 6 base62 characters of CRC32.
//!
//! The checksum lets any client reject a mistyped or truncated key without a network call; the
//! parse errors say in plain words what is wrong and what to do. Keys are matched by secret
//! scanners with `kdk_[0-9A-Za-z]{38}`. The server stores only [`KeySecret::sha256`].

use std::fmt;

use rand_core::RngCore;
use sha2::{Digest, Sha256};

/// What every key starts with.
pub const KEY_PREFIX: &str = "kdk_";
/// Length of the random part.
pub const RANDOM_LEN: usize = 32;
/// Length of the checksum part.
pub const CHECKSUM_LEN: usize = 6;
/// Length of a whole key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// The pattern secret scanners use to find Keydeck keys.
pub const KEY_PATTERN: &str = "kdk_[0-9A-Za-z]{38}";
/// How many characters of the key the `prefix` field of a card shows.
pub const DISPLAY_PREFIX_LEN: usize = 8;
/// How many trailing characters the `hint` field of a card shows.
pub const HINT_LEN: usize = 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A full API key. Its `Debug` and `Display` never show the secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl KeySecret {
    /// Makes a new random key.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut random = String::with_capacity(RANDOM_LEN);
        while random.len() < RANDOM_LEN {
            // Rejection sampling keeps every character equally likely: 248 = 4 * 62.
            let mut byte = [0u8; 1];
            rng.fill_bytes(&mut byte);
            if byte[0] < 248 {
                random.push(BASE62[usize::from(byte[0] % 62)] as char);
            }
        }
        let sum = checksum(&random);
        Self(format!("{KEY_PREFIX}{random}{}", String::from_utf8_lossy(&sum)))
    }

    /// The whole key, for the one place that must see it (the response that creates it, the
    /// keychain, the clipboard, an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the whole key: what the server stores and looks keys up by.
    pub fn sha256(&self) -> [u8; 32] {
        sha256_of(&self.0)
    }

    /// The first [`DISPLAY_PREFIX_LEN`] characters (`kdk_` and four random ones).
    pub fn display_prefix(&self) -> &str {
        &self.0[..DISPLAY_PREFIX_LEN]
    }

    /// The last [`HINT_LEN`] characters, shown on cards to match a key to where it is stored.
    pub fn hint(&self) -> &str {
        &self.0[self.0.len() - HINT_LEN..]
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret(kdk_…{})", self.hint())
    }
}

/// A string that passed every offline check: it has the shape and checksum of a key.
/// Whether the server knows it is another question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey(KeySecret);

impl ParsedKey {
    /// Checks `input` offline. Nothing is trimmed: surrounding spaces are reported, because an
    /// integration that stored them will send them too.
    pub fn parse(input: &str) -> Result<Self, KeyFormatError> {
        check(input)?;
        Ok(Self(KeySecret(input.to_owned())))
    }

    pub fn secret(&self) -> &KeySecret {
        &self.0
    }

    pub fn into_secret(self) -> KeySecret {
        self.0
    }
}

/// SHA-256 of a key given as text: what the server looks keys up by (the same as
/// [`KeySecret::sha256`], without copying the key).
pub fn sha256_of(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The offline checks of [`ParsedKey::parse`], without keeping a copy of the key.
pub fn check(input: &str) -> Result<(), KeyFormatError> {
    if input.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    let leading = input.starts_with(char::is_whitespace);
    let trailing = input.ends_with(char::is_whitespace);
    if leading || trailing {
        return Err(KeyFormatError::SurroundingWhitespace { leading, trailing });
    }
    if !input.starts_with(KEY_PREFIX) {
        let shown: String = input.chars().take(KEY_PREFIX.len()).collect();
        return Err(KeyFormatError::WrongPrefix {
            found: shown,
            case_only: input.get(..KEY_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(KEY_PREFIX)),
        });
    }
    let body = &input[KEY_PREFIX.len()..];
    if let Some((index, ch)) = body.chars().enumerate().find(|(_, c)| !c.is_ascii_alphanumeric()) {
        return Err(KeyFormatError::BadCharacter { position: KEY_PREFIX.len() + index + 1, character: ch });
    }
    let len = input.len();
    if len < KEY_LEN {
        return Err(KeyFormatError::TooShort { missing: KEY_LEN - len });
    }
    if len > KEY_LEN {
        return Err(KeyFormatError::TooLong { extra: len - KEY_LEN });
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    if checksum(random) != sum.as_bytes() {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(())
}

/// Why a string is not a well-formed key. Each message names the problem and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("No key was given. Paste the whole key, which starts with \"kdk_\".")]
    Empty,
    #[error("{}", whitespace_message(*.leading, *.trailing))]
    SurroundingWhitespace { leading: bool, trailing: bool },
    #[error("{}", prefix_message(.found, *.case_only))]
    WrongPrefix { found: String, case_only: bool },
    #[error(
        "Character {position} of the key is {}, which never appears in a Keydeck key. Copy the key again without editing it.",
        describe_char(*.character)
    )]
    BadCharacter { position: usize, character: char },
    #[error(
        "The key is too short: {missing} {} missing (a key has {KEY_LEN}). It was probably cut off when it was copied; copy the whole key again.",
        if *.missing == 1 { "character is" } else { "characters are" }
    )]
    TooShort { missing: usize },
    #[error(
        "The key is too long: it has {extra} extra {} (a key has {KEY_LEN}). Something was pasted along with it; copy just the key.",
        if *.extra == 1 { "character" } else { "characters" }
    )]
    TooLong { extra: usize },
    #[error(
        "The key has the right length but one or more characters are wrong (its checksum does not match). It was probably mistyped; copy it again from where it was saved."
    )]
    BadChecksum,
}

fn whitespace_message(leading: bool, trailing: bool) -> String {
    let place = match (leading, trailing) {
        (true, true) => "at the start and at the end",
        (true, false) => "at the start",
        _ => "at the end",
    };
    format!(
        "The key has a space or line break {place}. Remove it: the key itself is just the {KEY_LEN} characters starting with \"kdk_\"."
    )
}

fn prefix_message(found: &str, case_only: bool) -> String {
    if case_only {
        format!(
            "The key starts with \"{found}\" but Keydeck keys start with lower-case \"kdk_\", and upper and lower case matter. Copy the key again without retyping it."
        )
    } else {
        format!(
            "This is not a Keydeck key: it starts with \"{found}\" instead of \"kdk_\". Check that you copied the key from Keydeck and not another service's."
        )
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        '\n' | '\r' => "a line break".to_owned(),
        c if c.is_control() => format!("an invisible control character (U+{:04X})", u32::from(c)),
        c => format!("\"{c}\""),
    }
}

/// CRC32 of the random part, as 6 base62 characters (most significant first, zero-padded).
fn checksum(random: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = u64::from(crc32fast::hash(random.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// A random base62 string of `len` characters, for ids and tokens.
pub fn random_base62(rng: &mut impl RngCore, len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        if byte[0] < 248 {
            out.push(BASE62[usize::from(byte[0] % 62)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn key() -> KeySecret {
        KeySecret::generate(&mut rand::rngs::StdRng::seed_from_u64(7))
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_parse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..1000 {
            let k = KeySecret::generate(&mut rng);
            let s = k.expose();
            assert_eq!(s.len(), 42);
            assert!(s.starts_with("kdk_"));
            assert!(s[4..].chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(ParsedKey::parse(s).unwrap().secret(), &k);
        }
    }

    #[test]
    fn two_keys_differ() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        assert_ne!(KeySecret::generate(&mut rng), KeySecret::generate(&mut rng));
    }

    #[test]
    fn surrounding_whitespace_is_named() {
        let k = key();
        let e = ParsedKey::parse(&format!(" {}", k.expose())).unwrap_err();
        assert_eq!(e, KeyFormatError::SurroundingWhitespace { leading: true, trailing: false });
        assert!(e.to_string().contains("at the start"));
        let e = ParsedKey::parse(&format!("{}\n", k.expose())).unwrap_err();
        assert!(e.to_string().contains("at the end"), "{e}");
    }

    #[test]
    fn wrong_prefix_is_named_and_case_is_explained() {
        let e = ParsedKey::parse("sk_live_abcdef").unwrap_err();
        assert!(matches!(e, KeyFormatError::WrongPrefix { case_only: false, .. }));
        assert!(e.to_string().contains("\"sk_l\""), "{e}");
        let upper = key().expose().replacen("kdk_", "KDK_", 1);
        let e = ParsedKey::parse(&upper).unwrap_err();
        assert!(e.to_string().contains("upper and lower case"), "{e}");
    }

    #[test]
    fn too_short_says_how_many_characters_are_missing() {
        let k = key();
        let e = ParsedKey::parse(&k.expose()[..39]).unwrap_err();
        assert_eq!(e, KeyFormatError::TooShort { missing: 3 });
        assert!(e.to_string().contains("3 characters are missing"), "{e}");
        let e = ParsedKey::parse(&k.expose()[..41]).unwrap_err();
        assert!(e.to_string().contains("1 character is missing"), "{e}");
    }

    #[test]
    fn too_long_says_how_many_extra() {
        let e = ParsedKey::parse(&format!("{}ab", key().expose())).unwrap_err();
        assert_eq!(e, KeyFormatError::TooLong { extra: 2 });
        assert!(e.to_string().contains("2 extra characters"), "{e}");
    }

    #[test]
    fn bad_characters_name_the_position() {
        let mut s = key().expose().to_owned();
        s.replace_range(10..11, "-");
        let e = ParsedKey::parse(&s).unwrap_err();
        assert_eq!(e, KeyFormatError::BadCharacter { position: 11, character: '-' });
        assert!(e.to_string().contains("Character 11"), "{e}");
        s.replace_range(10..11, " ");
        assert!(ParsedKey::parse(&s).unwrap_err().to_string().contains("a space"));
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let k = key();
        let mut s = k.expose().to_owned();
        let c = s.as_bytes()[20];
        let replacement = if c == b'a' { "b" } else { "a" };
        s.replace_range(20..21, replacement);
        assert_eq!(ParsedKey::parse(&s).unwrap_err(), KeyFormatError::BadChecksum);
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert_eq!(ParsedKey::parse("").unwrap_err(), KeyFormatError::Empty);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = key();
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.expose()[4..20]));
        assert!(shown.ends_with(&format!("{})", k.hint())));
    }

    #[test]
    fn prefix_and_hint_are_the_first_8_and_last_4() {
        let k = key();
        assert_eq!(k.display_prefix(), &k.expose()[..8]);
        assert_eq!(k.hint(), &k.expose()[38..]);
    }
}
