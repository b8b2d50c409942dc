//! Keydeck's domain, shared by the workspace server, the API client and the desktop app.
//!
//! Nothing here does I/O: randomness comes in as an `RngCore`, time as a value. That keeps every
//! rule (key format, scopes, presets, limits, names) testable in isolation and identical on
//! both sides of the wire.

pub mod allowlist;
pub mod app;
pub mod diagnosis;
pub mod error_code;
pub mod key;
pub mod purpose;
pub mod reminders;
pub mod rotation;
pub mod rules;
pub mod scope;
pub mod wire;

pub use allowlist::AllowedIps;
pub use app::Settings;
pub use error_code::ErrorCode;
pub use key::{KeyFormatError, KeySecret, ParsedKey};
pub use purpose::Purpose;
pub use rules::{ExpiresInDays, RateLimit};
pub use scope::{Scope, ScopeSet};
