//! The key check as an axum middleware: reads the key and workspace headers, asks the cache
//! and the rate limiter, runs the route, and notes the answer in the key's usage.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keydeck_core::rules::RateLimit;
use keydeck_core::{ErrorCode, Scope};

use super::cache::{CachedKey, Unusable, check};
use super::rate::Decision;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientIp, bearer};
use crate::state::AppState;
use crate::store::{KeyAuthRow, RequestMethod, RequestRecord};

/// The header that names the workspace a key-authenticated request is for.
pub const WORKSPACE_HEADER: HeaderName = HeaderName::from_static("x-workspace-id");

/// The rate-limit headers of every answer to a key with a limit.
pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// A request that passed the key check, available to handlers as an extractor.
#[derive(Debug, Clone)]
pub struct KeyContext {
    pub key: Arc<CachedKey>,
}

impl KeyContext {
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.key.row.scopes.contains(scope) { Ok(()) } else { Err(ApiError::insufficient_scope(scope)) }
    }

    pub fn workspace_id(&self) -> &str {
        &self.key.row.workspace_id
    }
}

impl<S: Send + Sync> FromRequestParts<S> for KeyContext {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        parts
            .extensions
            .get::<KeyContext>()
            .cloned()
            .ok_or_else(|| ApiError::internal("KeyContext missing: route lacks key auth"))
    }
}

/// The middleware of every key-authenticated route (`axum::middleware::from_fn_with_state`).
/// Every request of a known key shows in its usage, refused ones included.
pub async fn require_key(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let now = state.clock.now_ms();
    let call = Call::of(&request, now);
    let changes = state.cache.generation();
    let mut key = match identify(&state, request.headers(), call.ip, now).await {
        Ok(key) => key,
        Err((error, known)) => return finish(known.as_deref(), call, None, error.into_response()),
    };
    let limit = key.row.rate_limit;
    let decision = match limit.enabled {
        true => Some(state.limiter.check(&key.row.id, &key.window, limit, now).await),
        false => None,
    };
    if state.cache.generation() != changes {
        // A change landed while this request waited (for its key, or for a claim of rate-limit
        // budget): the key may have been revoked meanwhile, and "revoked" answered.
        key = match identify(&state, request.headers(), call.ip, now).await {
            Ok(key) => key,
            Err((error, known)) => return finish(known.as_deref(), call, None, error.into_response()),
        };
    }
    let response = match decision {
        Some(d) if !d.allowed => rate_limited(limit, &d).into_response(),
        _ => {
            request.extensions_mut().insert(KeyContext { key: key.clone() });
            next.run(request).await
        }
    };
    finish(Some(&key), call, decision, response)
}

/// What usage keeps of a request, taken before the route consumes it.
struct Call {
    at: i64,
    method: RequestMethod,
    path: Arc<str>,
    ip: Option<std::net::IpAddr>,
}

impl Call {
    fn of(request: &Request, at: i64) -> Call {
        Call {
            at,
            method: request.method().into(),
            path: RequestRecord::cut(request.uri().path()).into(),
            ip: ClientIp::of(request.extensions()).0,
        }
    }
}

/// Adds the rate-limit headers and notes the answer in the key's usage, when the key is known.
fn finish(key: Option<&CachedKey>, call: Call, decision: Option<Decision>, mut response: Response) -> Response {
    if let Some(d) = decision {
        let headers = response.headers_mut();
        headers.insert(LIMIT_HEADER, HeaderValue::from(d.limit));
        headers.insert(REMAINING_HEADER, HeaderValue::from(d.remaining));
        headers.insert(RESET_HEADER, HeaderValue::from(d.reset));
    }
    if let Some(key) = key {
        let Call { at, method, path, ip } = call;
        let error = response.extensions().get::<ErrorCode>().copied();
        key.usage.record(RequestRecord { at, method, path, status: response.status().as_u16(), error, ip });
    }
    response
}

fn rate_limited(limit: RateLimit, d: &Decision) -> ApiError {
    ApiError::retry_after(
        ErrorCode::RateLimitExceeded,
        format!(
            "This key made more than {} requests in {} seconds. Wait {} seconds, or raise the key's rate limit in Keydeck.",
            limit.max_requests, limit.window_seconds, d.retry_after
        ),
        d.retry_after,
    )
}

/// A refusal, with the key when it is known so that the refused request shows in its usage.
type Refused = (ApiError, Option<Arc<CachedKey>>);

/// The key the request was made with, if it may make it.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<Arc<CachedKey>, Refused> {
    let token = bearer(headers, ErrorCode::InvalidApiKey).map_err(|e| (e, None))?.ok_or_else(|| {
        let message = "No API key was sent. Send it in the Authorization header as \"Bearer kdk_...\".";
        (ApiError::new(ErrorCode::MissingApiKey, message), None)
    })?;
    let hash = keydeck_core::key::sha256_of(token);
    let cached = state.cache.get(&hash, now);
    if cached.is_none() {
        // Only a well-formed key is ever read, so one the cache knows needs no format check.
        keydeck_core::key::check(token)
            .map_err(|e| (ApiError::new(ErrorCode::InvalidApiKey, format!("The API key is not valid. {e}")), None))?;
    }
    let workspace = headers.get(WORKSPACE_HEADER).map(HeaderValue::as_bytes).ok_or_else(|| {
        let message = "No workspace was named. Send the workspace ID in the X-Workspace-Id header; Keydeck shows it under \"How it works\".";
        (ApiError::new(ErrorCode::MissingWorkspaceId, message), None)
    })?;
    let found = match cached {
        Some(found) => found,
        None => state.cache.load(hash, || read_key(state, &hash)).await.map_err(|e| (e.into(), None))?,
    };
    let key = found.ok_or_else(|| {
        let message = "This key is not known to the workspace server. It may belong to another server, or have been mistyped; copy it again from where it was saved.";
        (ApiError::new(ErrorCode::InvalidApiKey, message), None)
    })?;
    let refuse = |error: ApiError| (error, Some(key.clone()));
    let workspace = std::str::from_utf8(workspace).map_err(|_| {
        refuse(ApiError::new(
            ErrorCode::BadRequest,
            "The X-Workspace-Id header contains characters that no workspace ID has. Copy the ID again.",
        ))
    })?;
    check(&key.row, workspace, ip, now).map_err(|why| refuse(unusable(&key.row, why, ip)))?;
    Ok(key)
}

async fn read_key(state: &AppState, hash: &[u8; 32]) -> crate::store::StoreResult<Option<Arc<CachedKey>>> {
    let row = state.store.key_for_auth(hash).await?;
    Ok(row.map(|row| {
        let (window, usage) = (state.limiter.window(&row.id), state.usage.of(&row.id));
        Arc::new(CachedKey::new(row, window, usage))
    }))
}

/// The answer to a key that may not be used, saying what to do about it.
fn unusable(key: &KeyAuthRow, why: Unusable, ip: Option<IpAddr>) -> ApiError {
    let KeyAuthRow { name, hint, .. } = key;
    let (code, message) = match why {
        Unusable::Revoked => (
            ErrorCode::KeyRevoked,
            format!(
                "The key \"{name}\" (…{hint}) was revoked and can never be used again. Create a new key in Keydeck and put it in the integration."
            ),
        ),
        Unusable::Expired => (
            ErrorCode::KeyExpired,
            format!(
                "The key \"{name}\" (…{hint}) has expired. Create a new key in Keydeck (expiry cannot be extended) and put it in the integration."
            ),
        ),
        Unusable::Disabled => (
            ErrorCode::KeyDisabled,
            format!("The key \"{name}\" (…{hint}) is disabled. An owner or admin can enable it again in Keydeck."),
        ),
        Unusable::OwnerRemoved => (
            ErrorCode::KeyOwnerRemoved,
            format!(
                "The key \"{name}\" (…{hint}) stopped working because the person who created it is no longer an owner or admin of the workspace. Create a new key."
            ),
        ),
        Unusable::OtherWorkspace => (
            ErrorCode::WorkspaceMismatch,
            format!(
                "This key belongs to another workspace than the one in X-Workspace-Id. Send the workspace ID shown next to the key in Keydeck ({}).",
                key.workspace_id
            ),
        ),
        Unusable::NoApiAccess => (
            ErrorCode::PlanRequired,
            "This workspace's plan does not include API access. Move to the Team or Business plan to use API keys."
                .to_owned(),
        ),
        // The message names the address seen, never the allowed ranges: whoever holds a leaked
        // key would learn where to call from. Admins see the ranges on the key's page.
        Unusable::IpNotAllowed => (
            ErrorCode::IpNotAllowed,
            match ip {
                Some(ip) => format!(
                    "The key \"{name}\" (…{hint}) does not accept requests from {ip}, the address this one came from. Call from one of the key's allowed addresses, or ask an admin of the workspace to add {ip} to them in Keydeck.",
                    ip = ip.to_canonical(),
                ),
                None => format!(
                    "The key \"{name}\" (…{hint}) only accepts requests from its allowed addresses, and the server could not tell where this one came from. Ask whoever runs the server to check its proxy setting (--client-ip-header)."
                ),
            },
        ),
    };
    ApiError::new(code, message)
}
