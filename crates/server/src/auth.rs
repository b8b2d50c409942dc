//! Who is calling with a session token: sign-in and key management. (API keys are checked by
//! `keycheck`.)

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use keydeck_core::ErrorCode;
use keydeck_core::wire::{UserInfo, WorkspaceSummary};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::extract::bearer;
use crate::state::AppState;
use crate::store::Membership;

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
