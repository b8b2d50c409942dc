//! Who is calling: API keys (with `X-Workspace-Id`) for the time-tracking API, session tokens
//! for sign-in and key management.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keydeck_core::wire::{UserInfo, WorkspaceSummary};
use keydeck_core::{ErrorCode, KeyFormatError, Scope};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::extract::bearer;
use crate::keys_runtime::CachedKey;
use crate::state::AppState;
use crate::store::{Membership, RequestRecord};

/// The header that names the workspace a key-authenticated request is for.
pub const WORKSPACE_HEADER: &str = "x-workspace-id";

/// A request authenticated with an API key, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct KeyContext {
    pub key: Arc<CachedKey>,
}

impl KeyContext {
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.key.scopes.contains(scope) { Ok(()) } else { Err(ApiError::insufficient_scope(scope)) }
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

/// Middleware of every key-authenticated route: authenticate, count against the rate limit,
/// run the handler, add the rate-limit headers and note the request in the key's usage.
pub async fn require_key(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let now = state.clock.now_ms();
    let outcome = authenticate(&state, request.headers(), now).await;
    let record = |status: u16, request: &Request| RequestRecord {
        at: now,
        method: request.method().clone(),
        path: RequestRecord::path_of(request.uri().path()),
        status,
        ip: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
    };
    let key = match outcome {
        Ok(key) => key,
        Err((error, known)) => {
            if let Some(key) = known {
                state.keys.record(&key, record(error.code().status(), &request));
            }
            return error.into_response();
        }
    };
    let decision = key.rate_limit.enabled.then(|| state.keys.check_rate(&key, key.rate_limit, now));
    // The record is made before the request moves on; its status is set from the response.
    let mut noted = record(0, &request);
    let mut response = match decision {
        Some(d) if !d.allowed => ApiError::retry_after(
            ErrorCode::RateLimitExceeded,
            format!(
                "This key made more than {} requests in {} seconds. Wait {} seconds, or raise the key's rate limit in Keydeck.",
                key.rate_limit.max_requests, key.rate_limit.window_seconds, d.retry_after
            ),
            d.retry_after,
        )
        .into_response(),
        _ => {
            request.extensions_mut().insert(KeyContext { key: key.clone() });
            next.run(request).await
        }
    };
    if let Some(d) = decision {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(d.reset));
    }
    noted.status = response.status().as_u16();
    state.keys.record(&key, noted);
    response
}

type Refusal = (ApiError, Option<Arc<CachedKey>>);

/// Checks the key and workspace headers. On failure, also returns the key when it is known,
/// so the refused request still shows in its usage.
async fn authenticate(state: &AppState, headers: &HeaderMap, now: i64) -> Result<Arc<CachedKey>, Refusal> {
    let token = bearer(headers, ErrorCode::InvalidApiKey).map_err(|e| (e, None))?.ok_or_else(|| {
        (
            ApiError::new(
                ErrorCode::MissingApiKey,
                "No API key was sent. Send it in the Authorization header as \"Bearer kdk_...\".",
            ),
            None,
        )
    })?;
    keydeck_core::key::check(token).map_err(|e| (invalid_key(&e), None))?;
    let workspace = match headers.get(WORKSPACE_HEADER) {
        None => {
            return Err((
                ApiError::new(
                    ErrorCode::MissingWorkspaceId,
                    "No workspace was named. Send the workspace ID in the X-Workspace-Id header; Keydeck shows it under \"How it works\".",
                ),
                None,
            ));
        }
        Some(v) => v.as_bytes(),
    };
    let key = state.keys.lookup(&state.store, &keydeck_core::key::sha256_of(token)).await.map_err(|e| (e.into(), None))?.ok_or_else(|| {
        (
            ApiError::new(
                ErrorCode::InvalidApiKey,
                "This key is not known to the workspace server. It may belong to another server, or have been mistyped; copy it again from where it was saved.",
            ),
            None,
        )
    })?;
    let refuse = |code: ErrorCode, message: String| Err((ApiError::new(code, message), Some(key.clone())));
    if key.revoked {
        return refuse(
            ErrorCode::KeyRevoked,
            format!(
                "The key \"{}\" (…{}) was revoked and can never be used again. Create a new key in Keydeck and put it in the integration.",
                key.name, key.hint
            ),
        );
    }
    if key.expires_at.is_some_and(|e| e <= now) {
        return refuse(
            ErrorCode::KeyExpired,
            format!(
                "The key \"{}\" (…{}) has expired. Create a new key in Keydeck (expiry cannot be extended) and put it in the integration.",
                key.name, key.hint
            ),
        );
    }
    if !key.enabled {
        return refuse(
            ErrorCode::KeyDisabled,
            format!(
                "The key \"{}\" (…{}) is disabled. An owner or admin can enable it again in Keydeck.",
                key.name, key.hint
            ),
        );
    }
    if !key.creator_role.is_some_and(|r| r.can_manage_keys()) {
        return refuse(
            ErrorCode::KeyOwnerRemoved,
            format!(
                "The key \"{}\" (…{}) stopped working because the person who created it is no longer an owner or admin of the workspace. Create a new key.",
                key.name, key.hint
            ),
        );
    }
    if key.workspace_id.as_bytes() != workspace {
        if std::str::from_utf8(workspace).is_err() {
            return Err((
                ApiError::new(
                    ErrorCode::BadRequest,
                    "The X-Workspace-Id header contains characters that no workspace ID has. Copy the ID again.",
                ),
                None,
            ));
        }
        return refuse(
            ErrorCode::WorkspaceMismatch,
            format!(
                "This key belongs to another workspace than the one in X-Workspace-Id. Send the workspace ID shown next to the key in Keydeck ({}).",
                key.workspace_id
            ),
        );
    }
    if !key.plan.has_api_access() {
        return refuse(
            ErrorCode::PlanRequired,
            "This workspace's plan does not include API access. Move to the Team or Business plan to use API keys."
                .to_owned(),
        );
    }
    Ok(key)
}

fn invalid_key(e: &KeyFormatError) -> ApiError {
    ApiError::new(ErrorCode::InvalidApiKey, format!("The API key is not valid. {e}"))
}

/// A signed-in user, from a session token in `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserInfo,
    pub token_hash: [u8; 32],
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(&parts.headers, ErrorCode::InvalidSession)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidSession,
                "Sign in first: send the token from POST /api/v1/sessions as \"Authorization: Bearer <token>\".",
            )
        })?;
        if token.starts_with(keydeck_core::key::KEY_PREFIX) {
            return Err(ApiError::new(
                ErrorCode::InvalidSession,
                "This is an API key. Managing keys needs a session token: sign in with POST /api/v1/sessions.",
            ));
        }
        let token_hash = hash_token(token);
        let user = state.store.session_user(&token_hash, state.clock.now_ms()).await?.ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidSession, "Your session has expired or was signed out. Sign in again.")
        })?;
        Ok(Session { user, token_hash })
    }
}

/// The caller's membership of a workspace, if they may manage its keys.
pub async fn key_manager(state: &AppState, session: &Session, workspace_id: &str) -> ApiResult<Membership> {
    let membership = member(state, session, workspace_id).await?;
    if !membership.workspace.plan.has_api_access() {
        return Err(ApiError::new(
            ErrorCode::PlanRequired,
            format!(
                "{} is on the {} plan, which does not include API access. Move it to the Team or Business plan to manage API keys.",
                membership.workspace.name,
                plan_label(membership.workspace.plan)
            ),
        ));
    }
    if !membership.role.can_manage_keys() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "Only owners and admins of {} manage API keys. Ask one of them to make a key for you, or to make you an admin.",
                membership.workspace.name
            ),
        ));
    }
    Ok(membership)
}

/// The caller's membership of a workspace; `not_found` for workspaces they are not in.
pub async fn member(state: &AppState, session: &Session, workspace_id: &str) -> ApiResult<Membership> {
    state.store.membership(workspace_id, &session.user.id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "You are not a member of a workspace with that id. Check the id, or ask its owner to add you.",
        )
    })
}

pub fn plan_label(plan: keydeck_core::wire::Plan) -> &'static str {
    use keydeck_core::wire::Plan;
    match plan {
        Plan::Free => "Free",
        Plan::SoloPro => "Solo Pro",
        Plan::Team => "Team",
        Plan::Business => "Business",
    }
}

pub fn summary(m: &Membership, api_base_url: &str) -> WorkspaceSummary {
    WorkspaceSummary {
        id: m.workspace.id.clone(),
        name: m.workspace.name.clone(),
        plan: m.workspace.plan,
        billing_status: m.workspace.billing_status,
        role: m.role,
        api_base_url: api_base_url.to_owned(),
    }
}
