//! The rules a key's settings must follow: name length, expiration presets, rate-limit bounds,
//! key limit. Validation names every bad field at once, so a form can mark them all.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::allowlist::AllowedIps;
use crate::scope::{Scope, ScopeSet};
use crate::wire::FieldError;

/// At most this many live (not revoked) keys per workspace.
pub const MAX_KEYS_PER_WORKSPACE: u32 = 10;
pub const NAME_MIN_CHARS: usize = 3;
pub const NAME_MAX_CHARS: usize = 100;
/// The expiration presets, in days. `None` (JSON `null`) means the key never expires.
pub const EXPIRATION_PRESETS: [u16; 5] = [7, 30, 90, 180, 365];
pub const RATE_LIMIT_MAX_REQUESTS: std::ops::RangeInclusive<u32> = 1..=10_000;
pub const RATE_LIMIT_WINDOW_SECONDS: std::ops::RangeInclusive<u32> = 1..=3_600;
/// How long a key must have been silent before the server revokes it on a plan to "revoke it
/// once it has been silent": one hour to seven days.
pub const REVOKE_WHEN_SILENT_SECONDS: std::ops::RangeInclusive<u32> = 3_600..=604_800;

/// One of [`EXPIRATION_PRESETS`]. Fixed when the key is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "u16", into = "u16")]
#[ts(type = "7 | 30 | 90 | 180 | 365")]
pub struct ExpiresInDays(u16);

impl ExpiresInDays {
    pub fn new(days: u16) -> Option<Self> {
        EXPIRATION_PRESETS.contains(&days).then_some(Self(days))
    }

    pub fn days(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for ExpiresInDays {
    type Error = String;
    fn try_from(days: u16) -> Result<Self, Self::Error> {
        Self::new(days).ok_or_else(expiry_message)
    }
}

impl From<ExpiresInDays> for u16 {
    fn from(value: ExpiresInDays) -> u16 {
        value.0
    }
}

fn expiry_message() -> String {
    "Choose 7, 30, 90, 180 or 365 days, or null for a key that never expires.".to_owned()
}

/// A key's request budget: at most `max_requests` in each window of `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub enabled: bool,
    pub max_requests: u32,
    pub window_seconds: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { enabled: true, max_requests: 100, window_seconds: 60 }
    }
}

/// What a key's keychain entry is called while a rotation keeps the old secret beside the new
/// one (`<name> (previous)`): no key may have a name of that form.
pub const PREVIOUS_SUFFIX: &str = " (previous)";

/// The keychain service under which Keydeck keeps API keys (documented for developers).
pub const KEYCHAIN_SERVICE: &str = "keydeck";
/// The keychain service under which Keydeck keeps session tokens.
pub const SESSION_KEYCHAIN_SERVICE: &str = "keydeck-session";

/// The keychain account of a workspace's key: `<workspace id>/<key name>`, stable across
/// rotations.
pub fn keychain_account(workspace_id: &str, key_name: &str) -> String {
    format!("{workspace_id}/{key_name}")
}

/// Where a rotation keeps the old key's secret until the old key is revoked.
pub fn previous_keychain_account(workspace_id: &str, key_name: &str) -> String {
    format!("{}{PREVIOUS_SUFFIX}", keychain_account(workspace_id, key_name))
}

/// Two names are the same name when they match trimmed and ignoring case: a workspace has at
/// most one live key of each.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Trims a key name and checks it. The error is a sentence for the name field.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.to_lowercase().ends_with(PREVIOUS_SUFFIX.trim_start()) {
        return Err(format!(
            "Names ending in \"{}\" are kept for the old key during a rotation. Choose another name.",
            PREVIOUS_SUFFIX.trim_start()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(
            "Use letters, digits, spaces and punctuation only; the name contains a line break or control character."
                .to_owned(),
        );
    }
    let count = name.chars().count();
    if count < NAME_MIN_CHARS {
        return Err(format!("Use at least {NAME_MIN_CHARS} characters, for example \"Zapier\" or \"Finance sync\"."));
    }
    if count > NAME_MAX_CHARS {
        return Err(format!("Use at most {NAME_MAX_CHARS} characters (this one has {count})."));
    }
    Ok(name.to_owned())
}

/// A validated request to make a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeySettings {
    /// `None` only for a replacement, which takes the old key's name.
    pub name: Option<String>,
    pub scopes: ScopeSet,
    pub expires_in_days: Option<ExpiresInDays>,
    pub rate_limit: RateLimit,
    /// The key this one replaces.
    pub replaces: Option<String>,
    /// `None` when the request left it out: a replacement then takes the old key's list, any
    /// other key allows any address.
    pub allowed_ips: Option<AllowedIps>,
}

/// A validated change to a key. `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub scopes: Option<ScopeSet>,
    pub rate_limit: Option<RateLimit>,
    pub enabled: Option<bool>,
    pub allowed_ips: Option<AllowedIps>,
    /// `Some(Some(seconds))` plans the key's revocation once it has been silent that long;
    /// `Some(None)` cancels the plan.
    pub revoke_when_silent: Option<Option<u32>>,
}

/// What a change request can fail on: ordinary field errors, or an attempt to change the
/// expiration, which is fixed when the key is made.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyChangeError {
    Fields(Vec<FieldError>),
    ExpirationImmutable,
}

/// Checks the body of `POST /keys`, naming every bad field at once.
pub fn validate_new_key(body: &Value) -> Result<NewKeySettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(map) = object(body, &mut errors) else { return Err(errors) };
    unknown_fields(map, &["name", "scopes", "expiresInDays", "rateLimit", "replaces", "allowedIps"], &mut errors);

    let replaces = match map.get("replaces") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(id)) if !id.trim().is_empty() => Some(Some(id.trim().to_owned())),
        Some(_) => field_err(&mut errors, "replaces", "Use the id of the key this one replaces, such as \"key_...\"."),
    };
    let is_replacement = matches!(replaces, Some(Some(_)));
    let name = match map.get("name") {
        None | Some(Value::Null) if is_replacement => Some(None),
        None | Some(Value::Null) => field_err(&mut errors, "name", "Give the key a name, for example \"Zapier\"."),
        Some(v) => name_field(v, &mut errors).map(Some),
    };
    let scopes = match map.get("scopes") {
        None | Some(Value::Null) => field_err(&mut errors, "scopes", "Choose at least one permission."),
        Some(v) => scopes_field(v, &mut errors),
    };
    let expires_in_days = match map.get("expiresInDays") {
        None => field_err(
            &mut errors,
            "expiresInDays",
            "Say when the key expires: 7, 30, 90, 180 or 365 days, or null for never.",
        ),
        Some(Value::Null) => Some(None),
        Some(v) => expiry_field(v, &mut errors),
    };
    let rate_limit = match map.get("rateLimit") {
        None | Some(Value::Null) => Some(RateLimit::default()),
        Some(v) => rate_limit_field(v, &mut errors),
    };
    let allowed_ips = match map.get("allowedIps") {
        None | Some(Value::Null) => Some(None),
        Some(v) => allowed_ips_field(v, &mut errors).map(Some),
    };
    match (name, scopes, expires_in_days, rate_limit, replaces, allowed_ips) {
        (Some(name), Some(scopes), Some(expires_in_days), Some(rate_limit), Some(replaces), Some(allowed_ips))
            if errors.is_empty() =>
        {
            Ok(NewKeySettings { name, scopes, expires_in_days, rate_limit, replaces, allowed_ips })
        }
        _ => Err(errors),
    }
}

/// Checks the body of `PATCH /keys/{id}`.
pub fn validate_key_changes(body: &Value) -> Result<KeyChanges, KeyChangeError> {
    let mut errors = Vec::new();
    let Some(map) = object(body, &mut errors) else { return Err(KeyChangeError::Fields(errors)) };
    if map.contains_key("expiresInDays") || map.contains_key("expiresAt") {
        return Err(KeyChangeError::ExpirationImmutable);
    }
    unknown_fields(
        map,
        &["name", "scopes", "rateLimit", "enabled", "allowedIps", "revokeWhenSilentSeconds"],
        &mut errors,
    );
    let mut changes = KeyChanges::default();
    if let Some(v) = map.get("name") {
        changes.name = name_field(v, &mut errors);
    }
    if let Some(v) = map.get("scopes") {
        changes.scopes = scopes_field(v, &mut errors);
    }
    if let Some(v) = map.get("rateLimit") {
        changes.rate_limit = rate_limit_field(v, &mut errors);
    }
    if let Some(v) = map.get("enabled") {
        match v {
            Value::Bool(b) => changes.enabled = Some(*b),
            _ => errors.push(FieldError::new("enabled", "Use true or false.")),
        }
    }
    if let Some(v) = map.get("allowedIps") {
        changes.allowed_ips = allowed_ips_field(v, &mut errors);
    }
    match map.get("revokeWhenSilentSeconds") {
        None => {}
        Some(Value::Null) => changes.revoke_when_silent = Some(None),
        Some(v) => {
            let range = REVOKE_WHEN_SILENT_SECONDS;
            changes.revoke_when_silent = match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if range.contains(&n) => Some(Some(n)),
                _ => field_err(
                    &mut errors,
                    "revokeWhenSilentSeconds",
                    &format!(
                        "Use a whole number of seconds from {} (one hour) to {} (seven days), or null to cancel the plan.",
                        range.start(),
                        range.end()
                    ),
                ),
            };
        }
    }
    if errors.is_empty() { Ok(changes) } else { Err(KeyChangeError::Fields(errors)) }
}

fn object<'a>(body: &'a Value, errors: &mut Vec<FieldError>) -> Option<&'a Map<String, Value>> {
    let map = body.as_object();
    if map.is_none() {
        errors.push(FieldError::new("body", "Send a JSON object, for example {\"name\": \"Zapier\", ...}."));
    }
    map
}

fn unknown_fields(map: &Map<String, Value>, known: &[&str], errors: &mut Vec<FieldError>) {
    for field in map.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(FieldError::new(
            field,
            &format!("This field is not part of the API. Known fields: {}.", known.join(", ")),
        ));
    }
}

fn field_err<T>(errors: &mut Vec<FieldError>, field: &str, message: &str) -> Option<T> {
    errors.push(FieldError::new(field, message));
    None
}

fn name_field(v: &Value, errors: &mut Vec<FieldError>) -> Option<String> {
    match v.as_str() {
        None => field_err(errors, "name", "Use text for the name."),
        Some(s) => check_name(s).map_err(|m| errors.push(FieldError::new("name", &m))).ok(),
    }
}

fn scopes_field(v: &Value, errors: &mut Vec<FieldError>) -> Option<ScopeSet> {
    let Some(items) = v.as_array() else {
        return field_err(errors, "scopes", "Use a list of permissions, for example [\"time_entries:read\"].");
    };
    let mut set = ScopeSet::default();
    let mut bad = Vec::new();
    for item in items {
        match item.as_str().and_then(Scope::parse) {
            Some(scope) => set.insert(scope),
            None => bad.push(item.to_string()),
        }
    }
    if !bad.is_empty() {
        let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        return field_err(
            errors,
            "scopes",
            &format!("Unknown permission {}. Choose from {}.", bad.join(", "), known.join(", ")),
        );
    }
    if set == ScopeSet::default() {
        return field_err(errors, "scopes", "Choose at least one permission.");
    }
    Some(set)
}

fn allowed_ips_field(v: &Value, errors: &mut Vec<FieldError>) -> Option<AllowedIps> {
    let entries: Option<Vec<&str>> = v.as_array().and_then(|items| items.iter().map(Value::as_str).collect());
    let Some(entries) = entries else {
        return field_err(
            errors,
            "allowedIps",
            "Use a list of addresses or ranges, for example [\"203.0.113.0/24\"], or [] to allow any address.",
        );
    };
    AllowedIps::parse(&entries).map_err(|m| errors.push(FieldError::new("allowedIps", &m))).ok()
}

fn expiry_field(v: &Value, errors: &mut Vec<FieldError>) -> Option<Option<ExpiresInDays>> {
    match v.as_u64().and_then(|d| u16::try_from(d).ok()).and_then(ExpiresInDays::new) {
        Some(days) => Some(Some(days)),
        None => field_err(errors, "expiresInDays", &expiry_message()),
    }
}

fn rate_limit_field(v: &Value, errors: &mut Vec<FieldError>) -> Option<RateLimit> {
    let Some(map) = v.as_object() else {
        return field_err(
            errors,
            "rateLimit",
            "Use an object: {\"enabled\": true, \"maxRequests\": 100, \"windowSeconds\": 60}.",
        );
    };
    let before = errors.len();
    unknown_fields_prefixed(map, errors);
    let enabled = match map.get("enabled") {
        Some(Value::Bool(b)) => Some(*b),
        None => Some(true),
        Some(_) => field_err(errors, "rateLimit.enabled", "Use true or false."),
    };
    let max =
        bounded(map.get("maxRequests"), RATE_LIMIT_MAX_REQUESTS, 100, "rateLimit.maxRequests", "requests", errors);
    let window = bounded(
        map.get("windowSeconds"),
        RATE_LIMIT_WINDOW_SECONDS,
        60,
        "rateLimit.windowSeconds",
        "seconds (one hour)",
        errors,
    );
    match (enabled, max, window) {
        (Some(enabled), Some(max_requests), Some(window_seconds)) if errors.len() == before => {
            Some(RateLimit { enabled, max_requests, window_seconds })
        }
        _ => None,
    }
}

fn unknown_fields_prefixed(map: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for field in map.keys().filter(|k| !["enabled", "maxRequests", "windowSeconds"].contains(&k.as_str())) {
        errors.push(FieldError::new(
            &format!("rateLimit.{field}"),
            "This field is not part of the API. Known fields: enabled, maxRequests, windowSeconds.",
        ));
    }
}

fn bounded(
    v: Option<&Value>,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
    field: &str,
    unit: &str,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    let Some(v) = v else { return Some(default) };
    match v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| range.contains(n)) {
        Some(n) => Some(n),
        None => {
            field_err(errors, field, &format!("Use a whole number from {} to {} {unit}.", range.start(), range.end()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_good_request_is_accepted_with_the_default_rate_limit() {
        let ok = validate_new_key(&json!({"name": "  Zapier ", "scopes": ["time_entries:read"], "expiresInDays": 90}))
            .unwrap();
        assert_eq!(ok.name.as_deref(), Some("Zapier"));
        assert_eq!(ok.expires_in_days, ExpiresInDays::new(90));
        assert_eq!(ok.rate_limit, RateLimit { enabled: true, max_requests: 100, window_seconds: 60 });
        let never =
            validate_new_key(&json!({"name": "abc", "scopes": ["reports:read"], "expiresInDays": null})).unwrap();
        assert_eq!(never.expires_in_days, None);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errors = validate_new_key(&json!({
            "name": "ab", "scopes": ["time_entries:read", "admin"], "expiresInDays": 14,
            "rateLimit": {"enabled": true, "maxRequests": 0, "windowSeconds": 7200}, "colour": "red"
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in ["name", "scopes", "expiresInDays", "rateLimit.maxRequests", "rateLimit.windowSeconds", "colour"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let scopes = errors.iter().find(|e| e.field == "scopes").unwrap();
        assert!(scopes.message.contains("\"admin\""), "{}", scopes.message);
    }

    #[test]
    fn a_replacement_may_leave_its_name_out_and_nothing_else_may() {
        let r =
            validate_new_key(&json!({"replaces": "key_1", "scopes": ["reports:read"], "expiresInDays": 30})).unwrap();
        assert_eq!((r.name, r.replaces.as_deref()), (None, Some("key_1")));
        let e = validate_new_key(&json!({"scopes": ["reports:read"], "expiresInDays": 30})).unwrap_err();
        assert_eq!(e[0].field, "name");
        let e =
            validate_new_key(&json!({"name": "abc", "replaces": 7, "scopes": ["reports:read"], "expiresInDays": 30}))
                .unwrap_err();
        assert_eq!(e[0].field, "replaces");
    }

    #[test]
    fn a_name_of_the_form_kept_for_rotations_is_refused() {
        for name in ["Zapier (previous)", "zapier (PREVIOUS) ", "Zapier(previous)"] {
            assert!(check_name(name).unwrap_err().contains("(previous)"), "{name}");
        }
        assert!(check_name("Previous CRM").is_ok());
        assert!(same_name(" Zapier", "zapier ") && !same_name("Zapier", "Zapier 2"));
        assert!(same_name("ÉTÉ", "été"));
    }

    #[test]
    fn names_are_checked_in_characters_not_bytes() {
        assert!(check_name("ééé").is_ok());
        assert!(check_name(&"é".repeat(100)).is_ok());
        assert!(check_name(&"é".repeat(101)).unwrap_err().contains("101"));
        assert!(check_name("line\nbreak").is_err());
    }

    #[test]
    fn changing_the_expiration_is_its_own_error() {
        assert_eq!(validate_key_changes(&json!({"expiresInDays": 30})), Err(KeyChangeError::ExpirationImmutable));
        let c = validate_key_changes(&json!({"enabled": false})).unwrap();
        assert_eq!(c.enabled, Some(false));
        assert!(matches!(validate_key_changes(&json!({"enabled": "no"})), Err(KeyChangeError::Fields(_))));
    }

    #[test]
    fn an_allowlist_is_checked_on_creation_and_change() {
        let body =
            json!({"name": "abc", "scopes": ["reports:read"], "expiresInDays": 30, "allowedIps": ["10.0.0.1/8"]});
        let e = validate_new_key(&body).unwrap_err();
        assert_eq!(e[0].field, "allowedIps");
        assert!(e[0].message.contains("10.0.0.0/8"), "{}", e[0].message);
        let ok = validate_new_key(&json!({"name": "abc", "scopes": ["reports:read"], "expiresInDays": 30})).unwrap();
        assert_eq!(ok.allowed_ips, None, "left out");
        let c = validate_key_changes(&json!({"allowedIps": ["2001:db8::/32"]})).unwrap();
        assert_eq!(c.allowed_ips.unwrap().to_vec(), ["2001:db8::/32"]);
        let Err(KeyChangeError::Fields(e)) = validate_key_changes(&json!({"allowedIps": "10.0.0.0/8"})) else {
            panic!("a bare string is not a list")
        };
        assert_eq!(e[0].field, "allowedIps");
    }

    #[test]
    fn revoking_when_silent_takes_one_hour_to_seven_days_and_null_cancels() {
        let c = validate_key_changes(&json!({"revokeWhenSilentSeconds": 86_400})).unwrap();
        assert_eq!(c.revoke_when_silent, Some(Some(86_400)));
        let c = validate_key_changes(&json!({"revokeWhenSilentSeconds": null})).unwrap();
        assert_eq!(c.revoke_when_silent, Some(None));
        for bad in [json!(3_599), json!(604_801), json!("1h")] {
            let Err(KeyChangeError::Fields(e)) = validate_key_changes(&json!({"revokeWhenSilentSeconds": bad})) else {
                panic!("{bad} accepted")
            };
            assert!(e[0].message.contains("3600 (one hour) to 604800 (seven days)"), "{}", e[0].message);
        }
    }
}
