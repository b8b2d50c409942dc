//! The caller's workspaces, and removing members.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use keydeck_core::ErrorCode;
use keydeck_core::wire::{ActorKind, AuditAction, AuditPage, ErrorBody, Role, WorkspaceList};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Session, member, summary};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, ClientIp, number_param, unknown_params};
use crate::state::AppState;
use crate::store::{ActorFilter, Affects, Audit, AuditFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_workspaces)).routes(routes!(remove_member)).routes(routes!(audit_log))
}

/// The address integrations call: the configured public URL, or the one this request came to.
pub fn api_base_url(state: &AppState, headers: &HeaderMap) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| state.config.listen.to_string(), str::to_owned);
        format!("http://{host}")
    });
    format!("{}/api/v1", base.trim_end_matches('/'))
}

/// The workspaces the signed-in user belongs to, with their role and plan.
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "Workspaces", security(("session" = [])),
    responses(
        (status = 200, body = WorkspaceList),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
    ))]
async fn list_workspaces(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> ApiResult<Json<WorkspaceList>> {
    let base = api_base_url(&state, &headers);
    let memberships = state.store.memberships(&session.user.id).await?;
    Ok(Json(WorkspaceList { workspaces: memberships.iter().map(|m| summary(m, &base)).collect() }))
}

/// Remove a member (owners only). Keys the member created stop working at once.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/members/{userId}", tag = "Workspaces", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("userId" = String, Path, description = "The member's user ID")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`forbidden`: only owners remove members, and not themselves", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    ApiPath((ws, user_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let me = member(&state, &session, &ws).await?;
    if me.role != Role::Owner {
        return Err(ApiError::new(ErrorCode::Forbidden, "Only owners remove members. Ask an owner of this workspace."));
    }
    if user_id == session.user.id {
        return Err(ApiError::new(ErrorCode::Forbidden, "You cannot remove yourself. Another owner can remove you."));
    }
    let generation = state
        .store
        .delete_member(&ws, &user_id, &Audit::user(&session.user, state.clock.now_ms(), ip))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "That person is not a member of this workspace."))?;
    state.propagate(generation, Affects::Keys).await;
    tracing::info!(workspace = %ws, user = %user_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's audit log, newest first: every change to a key or a membership, who made it,
/// when and from where. Owners and admins only. Page with `before`: the `nextBefore` of the
/// page before; pages stay the same while new entries arrive. `key`, `actor` and `action` narrow
/// the log to some keys, one actor and some actions, with paging that works the same.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/audit", tag = "Workspaces", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"),
           ("before" = Option<String>, Query, description = "Only entries older than this entry id"),
           ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
           ("key" = Option<String>, Query, description = "Only entries about these keys: key ids, comma-separated, at most 20"),
           ("actor" = Option<String>, Query, description = "Only changes by this user id, or by `admin_cli` or `server`"),
           ("action" = Option<String>, Query, description = "Only these actions, comma-separated (`created`, `revoked`, ...)")),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`forbidden`: members do not see the log", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn audit_log(
    State(state): State<AppState>,
    session: Session,
    ApiPath(ws): ApiPath<String>,
    ApiQuery(query): ApiQuery<std::collections::HashMap<String, String>>,
) -> ApiResult<Json<AuditPage>> {
    let me = member(&state, &session, &ws).await?;
    if !me.role.can_manage_keys() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only owners and admins see the workspace's audit log. Ask one of them.",
        ));
    }
    unknown_params(&query, &["before", "limit", "key", "actor", "action"])?;
    let limit = number_param(query.get("limit").map(String::as_str), "limit", 1..=200, 50)?;
    let before = match query.get("before") {
        None => None,
        Some(raw) => Some(raw.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::field("before", "Use the nextBefore of the page before (an entry id, a whole number).")
        })?),
    };
    let filter = audit_filter(&query)?;
    let (entries, next_before) = state.store.audit_log(&ws, before, limit, &filter).await?;
    Ok(Json(AuditPage { entries, next_before }))
}

/// At most this many keys in one `key` filter (a key's page asks for the key and the keys it
/// replaced or was replaced by).
const MAX_FILTER_KEYS: usize = 20;

fn audit_filter(query: &std::collections::HashMap<String, String>) -> ApiResult<AuditFilter> {
    let list = |name: &str| -> Vec<&str> {
        query.get(name).map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    };
    let key_ids: Vec<String> = list("key").into_iter().map(str::to_owned).collect();
    if key_ids.len() > MAX_FILTER_KEYS {
        return Err(ApiError::field("key", &format!("Ask for at most {MAX_FILTER_KEYS} keys at once.")));
    }
    let actor = match query.get("actor").map(|raw| raw.trim()) {
        None | Some("") => None,
        Some("admin_cli") => Some(ActorFilter::Kind(ActorKind::AdminCli)),
        Some("server") => Some(ActorFilter::Kind(ActorKind::Server)),
        Some(user) => Some(ActorFilter::User(user.to_owned())),
    };
    let actions = list("action")
        .into_iter()
        .map(|name| {
            serde_json::from_value::<AuditAction>(serde_json::Value::String(name.to_owned())).map_err(|_| {
                ApiError::field(
                    "action",
                    &format!("`{name}` is not an action of the log. Use the names entries carry, such as created, revoked, leak_reported."),
                )
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(AuditFilter { key_ids, actor, actions })
}
