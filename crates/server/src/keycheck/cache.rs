//! The key cache: what the database said about each key seen, by the SHA-256 the database
//! searches keys by, so that a request with a known key reads no row. It answers only while
//! its node keeps up with changes (see `leased`).
//!
//! It knows nothing of HTTP: the cache takes the database read as a function, and [`check`]
//! says whether a key may be used as plain data; the middleware turns both into answers.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use keydeck_core::wire::{Me, MeKey, MeWorkspace};

use super::rate::KeyWindow;
use super::usage::KeyUsage;
use crate::leased::LeasedCache;
use crate::store::{KeyAuthRow, to_time};

/// A key as the key check needs it, with handles on its rate-limit window and its usage so
/// that a request takes no lock shared with other keys once it has found its key.
#[derive(Debug)]
pub struct CachedKey {
    pub row: KeyAuthRow,
    /// The body of `GET /me` for this key, serialized once.
    pub me_body: Bytes,
    pub window: Arc<KeyWindow>,
    pub usage: Arc<KeyUsage>,
}

impl CachedKey {
    pub fn new(row: KeyAuthRow, window: Arc<KeyWindow>, usage: Arc<KeyUsage>) -> CachedKey {
        let me = Me {
            workspace: MeWorkspace { id: row.workspace_id.clone(), name: row.workspace_name.clone() },
            key: MeKey {
                id: row.id.clone(),
                name: row.name.clone(),
                hint: row.hint.clone(),
                scopes: row.scopes.to_vec(),
                expires_at: row.expires_at.map(to_time),
            },
        };
        let me_body = Bytes::from(serde_json::to_vec(&me).unwrap_or_default());
        CachedKey { row, me_body, window, usage }
    }
}

/// Why a known key may not make a request, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired,
    Disabled,
    /// Its creator is no longer an owner or admin of the workspace.
    OwnerRemoved,
    /// The request names another workspace.
    OtherWorkspace,
    /// The workspace's plan has no API access.
    NoApiAccess,
    /// The key has an IP allowlist without the request's address.
    IpNotAllowed,
}

/// Whether `key` may make a request for `workspace` from `ip` at `now_ms`.
pub fn check(key: &KeyAuthRow, workspace: &str, ip: Option<IpAddr>, now_ms: i64) -> Result<(), Unusable> {
    if key.revoked {
        Err(Unusable::Revoked)
    } else if key.expires_at.is_some_and(|e| e <= now_ms) {
        Err(Unusable::Expired)
    } else if !key.enabled {
        Err(Unusable::Disabled)
    } else if !key.creator_role.is_some_and(|r| r.can_manage_keys()) {
        Err(Unusable::OwnerRemoved)
    } else if key.workspace_id != workspace {
        Err(Unusable::OtherWorkspace)
    } else if !key.plan.has_api_access() {
        Err(Unusable::NoApiAccess)
    } else if !key.allowed_ips.allows(ip) {
        Err(Unusable::IpNotAllowed)
    } else {
        Ok(())
    }
}

/// What the database said about each key seen, by SHA-256: `None` for a key it does not have.
pub type KeyCache = LeasedCache<[u8; 32], Option<Arc<CachedKey>>>;

#[cfg(test)]
mod tests {
    use keydeck_core::ScopeSet;
    use keydeck_core::rules::RateLimit;
    use keydeck_core::wire::{Plan, Role};

    use super::*;

    fn row() -> KeyAuthRow {
        KeyAuthRow {
            id: "key_1".into(),
            workspace_id: "ws_1".into(),
            workspace_name: "W".into(),
            plan: Plan::Team,
            name: "K".into(),
            hint: "abcd".into(),
            scopes: ScopeSet::default(),
            expires_at: None,
            enabled: true,
            revoked: false,
            rate_limit: RateLimit::default(),
            creator_role: Some(Role::Admin),
            allowed_ips: Default::default(),
        }
    }

    #[test]
    fn a_key_is_refused_for_the_first_reason_that_applies() {
        let now = 1_000;
        assert_eq!(check(&row(), "ws_1", None, now), Ok(()));
        assert_eq!(check(&row(), "ws_2", None, now), Err(Unusable::OtherWorkspace));
        let revoked_and_disabled = KeyAuthRow { revoked: true, enabled: false, ..row() };
        assert_eq!(check(&revoked_and_disabled, "ws_1", None, now), Err(Unusable::Revoked));
        assert_eq!(check(&KeyAuthRow { expires_at: Some(now), ..row() }, "ws_1", None, now), Err(Unusable::Expired));
        assert_eq!(check(&KeyAuthRow { expires_at: Some(now + 1), ..row() }, "ws_1", None, now), Ok(()));
        assert_eq!(check(&KeyAuthRow { enabled: false, ..row() }, "ws_1", None, now), Err(Unusable::Disabled));
        for role in [None, Some(Role::Member)] {
            assert_eq!(
                check(&KeyAuthRow { creator_role: role, ..row() }, "ws_1", None, now),
                Err(Unusable::OwnerRemoved)
            );
        }
        assert_eq!(check(&KeyAuthRow { plan: Plan::Free, ..row() }, "ws_1", None, now), Err(Unusable::NoApiAccess));
        let office = KeyAuthRow { allowed_ips: keydeck_core::AllowedIps::parse(&["203.0.113.0/24"]).unwrap(), ..row() };
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(check(&office, "ws_1", ip("203.0.113.9"), now), Ok(()));
        assert_eq!(check(&office, "ws_1", ip("198.51.100.1"), now), Err(Unusable::IpNotAllowed));
        assert_eq!(
            check(&office, "ws_2", ip("198.51.100.1"), now),
            Err(Unusable::OtherWorkspace),
            "the key's own state first"
        );
    }

    #[test]
    fn the_me_answer_is_serialized_once_with_the_key() {
        let key = CachedKey::new(row(), Arc::default(), Arc::default());
        let me: serde_json::Value = serde_json::from_slice(&key.me_body).unwrap();
        assert_eq!(me["key"]["hint"], "abcd");
        assert_eq!(me["workspace"]["id"], "ws_1");
    }
}
