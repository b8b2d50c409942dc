//! Leak reports from secret scanners, in the format of GitHub's secret-scanning partner
//! program: a JSON list of `{token, type, url, source}`, signed over its exact bytes with
//! ECDSA P-256 and SHA-256. The signature (DER, base64) comes in `Github-Public-Key-Signature`
//! and the signing key's identifier in `Github-Public-Key-Identifier`.
//!
//! The operator configures the public keys to trust with the document GitHub publishes at
//! `https://api.github.com/meta/public_keys/secret_scanning` (`{"public_keys": [{"key_identifier",
//! "key", "is_current"}]}`), saved to a file. A report is believed only when its signature
//! checks against the key it names; the server never fetches keys by itself.

use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};

/// The header naming the key a report is signed with.
pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
/// The header carrying the report's signature.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// The public keys whose signatures make a report believed. Empty: every report is refused.
#[derive(Debug, Clone, Default)]
pub struct ReportKeys(Vec<(String, VerifyingKey)>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportKeysError {
    #[error(
        "is not the JSON GitHub publishes at https://api.github.com/meta/public_keys/secret_scanning ({0}); save that document to the file as it is"
    )]
    NotTheDocument(String),
    #[error("lists no public key; save the document GitHub publishes, which lists at least one")]
    Empty,
    #[error("has a key \"{id}\" that is not a PEM-encoded P-256 public key ({reason})")]
    BadKey { id: String, reason: String },
}

/// Why a report was refused before its contents were read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureRefusal {
    #[error(
        "This server accepts no leak reports: its operator has configured no public keys to check them with (keydeck-server serve --leak-report-keys)."
    )]
    NoKeysConfigured,
    #[error("The report is not signed: send the {KEY_ID_HEADER} and {SIGNATURE_HEADER} headers.")]
    Unsigned,
    #[error("The report is signed with key \"{0}\", which this server does not trust.")]
    UnknownKey(String),
    #[error("The {SIGNATURE_HEADER} header is not a base64 DER ECDSA signature.")]
    Malformed,
    #[error("The signature does not match the report's body for key \"{0}\".")]
    Mismatch(String),
}

#[derive(Deserialize)]
struct Document {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

impl ReportKeys {
    /// Reads GitHub's published document of secret-scanning keys.
    pub fn from_published(document: &str) -> Result<ReportKeys, ReportKeysError> {
        let document: Document =
            serde_json::from_str(document).map_err(|e| ReportKeysError::NotTheDocument(e.to_string()))?;
        if document.public_keys.is_empty() {
            return Err(ReportKeysError::Empty);
        }
        let keys = document
            .public_keys
            .into_iter()
            .map(|k| match VerifyingKey::from_public_key_pem(&k.key) {
                Ok(key) => Ok((k.key_identifier, key)),
                Err(e) => Err(ReportKeysError::BadKey { id: k.key_identifier, reason: e.to_string() }),
            })
            .collect::<Result<_, _>>()?;
        Ok(ReportKeys(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks that `body` is signed by the trusted key named `key_id`. Returns that key's id.
    pub fn verify<'a>(
        &self,
        key_id: Option<&'a str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<&'a str, SignatureRefusal> {
        if self.0.is_empty() {
            return Err(SignatureRefusal::NoKeysConfigured);
        }
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            return Err(SignatureRefusal::Unsigned);
        };
        let Some((_, key)) = self.0.iter().find(|(id, _)| id == key_id) else {
            return Err(SignatureRefusal::UnknownKey(shown(key_id)));
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureRefusal::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureRefusal::Malformed)?;
        key.verify(body, &signature).map_err(|_| SignatureRefusal::Mismatch(shown(key_id)))?;
        Ok(key_id)
    }
}

/// A key identifier as an error message may repeat it: at most 80 visible characters.
fn shown(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_graphic()).take(80).collect()
}

/// One match a scanner found.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LeakReport {
    /// The secret as found.
    pub token: String,
    /// The scanner's name for the kind of secret.
    #[serde(rename = "type")]
    pub token_type: String,
    /// Where it was found.
    #[serde(default)]
    pub url: Option<String>,
    /// What kind of place it was found in (GitHub: `content`, `commit`, `pull_request_title`, ...).
    #[serde(default)]
    pub source: Option<String>,
}

/// What the server concluded about one match, in GitHub's feedback format.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeakVerdict {
    /// SHA-256 of the token, in lowercase hex: never the token itself.
    pub token_hash: String,
    pub token_type: String,
    /// `true_positive` for a key this server issued (now disabled, if it was live), else
    /// `false_positive`.
    pub label: String,
}

/// The longest `url` or `source` kept; the rest of a longer one is cut off.
pub const MAX_TEXT: usize = 2048;

/// `text` cut to at most [`MAX_TEXT`] bytes, on a character boundary.
pub fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    use super::*;

    fn keys_of(id: &str, signing: &SigningKey) -> ReportKeys {
        let pem = signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        let document = serde_json::json!({"public_keys": [{"key_identifier": id, "key": pem, "is_current": true}]});
        ReportKeys::from_published(&document.to_string()).unwrap()
    }

    fn sign(signing: &SigningKey, body: &[u8]) -> String {
        let signature: Signature = signing.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    #[test]
    fn a_report_signed_by_a_trusted_key_is_believed_and_any_other_is_not() {
        let trusted = SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
        let stranger = SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
        let keys = keys_of("gh1", &trusted);
        let body = br#"[{"token":"kdk_x","type":"keydeck_api_key"}]"#;
        assert_eq!(keys.verify(Some("gh1"), Some(&sign(&trusted, body)), body), Ok("gh1"));
        assert_eq!(
            keys.verify(Some("gh1"), Some(&sign(&stranger, body)), body),
            Err(SignatureRefusal::Mismatch("gh1".into()))
        );
        let mut changed = body.to_vec();
        changed[3] = b'x';
        assert_eq!(
            keys.verify(Some("gh1"), Some(&sign(&trusted, body)), &changed),
            Err(SignatureRefusal::Mismatch("gh1".into()))
        );
        assert_eq!(
            keys.verify(Some("gh2"), Some(&sign(&trusted, body)), body),
            Err(SignatureRefusal::UnknownKey("gh2".into()))
        );
        assert_eq!(keys.verify(Some("gh1"), None, body), Err(SignatureRefusal::Unsigned));
        assert_eq!(keys.verify(Some("gh1"), Some("not base64!"), body), Err(SignatureRefusal::Malformed));
        assert_eq!(
            ReportKeys::default().verify(Some("gh1"), Some(&sign(&trusted, body)), body),
            Err(SignatureRefusal::NoKeysConfigured)
        );
    }

    #[test]
    fn the_key_document_is_checked_when_read() {
        assert!(matches!(ReportKeys::from_published("[]"), Err(ReportKeysError::NotTheDocument(_))));
        assert_eq!(ReportKeys::from_published(r#"{"public_keys": []}"#).unwrap_err(), ReportKeysError::Empty);
        let bad = r#"{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}]}"#;
        assert!(matches!(ReportKeys::from_published(bad), Err(ReportKeysError::BadKey { id, .. }) if id == "k"));
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        assert!(bounded(&long).len() <= MAX_TEXT);
        assert!(long.starts_with(bounded(&long)));
        assert_eq!(bounded("https://example.com"), "https://example.com");
    }
}
