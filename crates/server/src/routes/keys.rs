//! Key management, for owners and admins with a session: list, create (idempotently), read,
//! change, revoke, and each key's requests and daily usage.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keydeck_core::key::random_base62;
use keydeck_core::rules::{KeyChangeError, MAX_KEYS_PER_WORKSPACE, same_name, validate_key_changes, validate_new_key};
use keydeck_core::wire::{
    CreateKeyRequest, CreatedKey, ErrorBody, KeyCard, KeyList, KeyRequestList, KeyUsage, UpdateKeyRequest,
};
use keydeck_core::{ErrorCode, KeySecret};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Session, key_manager};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ClientIp, number_param};
use crate::idempotency::{self, REPLAY_WINDOW_MS};
use crate::state::AppState;
use crate::store::{Affects, Audit, day_of};
use crate::store::{IdempotencyRecord, KeyChangeRefusal, KeyInsertError, NewKeyRow, RenameRefusal};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(get_key, update_key, revoke_key))
        .routes(routes!(key_requests))
        .routes(routes!(key_usage))
}

/// The workspace's live keys, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/keys", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID")),
    responses(
        (status = 200, body = KeyList),
        (status = 400, description = "`bad_request`: an unreadable path", body = ErrorBody),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn list_keys(
    State(state): State<AppState>,
    session: Session,
    ApiPath(ws): ApiPath<String>,
) -> ApiResult<Json<KeyList>> {
    key_manager(&state, &session, &ws).await?;
    let now = state.clock.now_ms();
    let keys = state.store.list_keys(&ws).await?.iter().map(|k| k.card(now)).collect();
    Ok(Json(KeyList { keys, limit: MAX_KEYS_PER_WORKSPACE }))
}

/// Create a key. The secret is in this response only.
///
/// Send an `Idempotency-Key` header (16 to 255 visible characters, e.g. a UUID) to make the
/// request safe to repeat: within 10 minutes the same key and body return the same response,
/// secret included, and make no second key; another body answers `idempotency_conflict`.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/keys", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to repeat")),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "`bad_request`: a body that is not JSON, or a bad `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`, `workspace_read_only`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such workspace for the caller", body = ErrorBody),
        (status = 409, description = "`key_limit_reached`, `idempotency_conflict`, `name_taken` (another live key has the name, or the key to replace has a live replacement already)", body = ErrorBody),
        (status = 422, description = "`validation_failed`, naming every bad field", body = ErrorBody),
    ))]
async fn create_key(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    ApiPath(ws): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    let membership = key_manager(&state, &session, &ws).await?;
    let now = state.clock.now_ms();
    let idem_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    "The Idempotency-Key header must be plain ASCII text, such as a UUID.",
                )
            })?;
            idempotency::check_key(text).map_err(|m| ApiError::new(ErrorCode::BadRequest, m))?;
            Some(text.to_owned())
        }
    };
    // Scope the lookup to the workspace too, so one key reused across workspaces cannot replay.
    let lookup = idem_key.as_ref().map(|k| idempotency::lookup(&format!("{}/{ws}", session.user.id), k));
    let request_hash = idempotency::request_hash(&body);
    let _guard = match lookup {
        None => None,
        Some(lookup) => {
            let guard = state.in_flight.begin(lookup).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::IdempotencyConflict,
                    "A request with this Idempotency-Key is still being handled. Wait a moment and send it again.",
                )
            })?;
            if let Some(record) = state.store.idempotency_record(&lookup, now - REPLAY_WINDOW_MS).await? {
                return replay(&session, &ws, idem_key.as_deref().unwrap_or_default(), &record, &request_hash);
            }
            Some(guard)
        }
    };
    let settings = validate_new_key(&body).map_err(ApiError::validation)?;
    if membership.workspace.billing_status != keydeck_core::wire::BillingStatus::Active {
        return Err(read_only());
    }
    let secret = KeySecret::generate(&mut rand::rng());
    // The store checks again, in its transaction, that the key to replace is live, unreplaced
    // and still has that name.
    // A replacement takes the replaced key's name exactly, and its allowlist unless the request
    // gives one. That allowlist is read before the transaction; the insert checks that the key
    // still has it, and when an edit came in between, the key is prepared again from the edit.
    let mut attempts = 0;
    let (inserted, response, row) = loop {
        attempts += 1;
        let (name, allowed_ips) = match &settings.replaces {
            Some(old) => {
                let old = state.store.key(&ws, old).await?.ok_or_else(|| {
                    ApiError::field(
                        "replaces",
                        "There is no live key with this id in this workspace to replace: it may have been revoked. Leave out \"replaces\" to make a new key.",
                    )
                })?;
                if settings.name.as_deref().is_some_and(|given| !same_name(given, &old.name)) {
                    return Err(not_the_replaced_name(&old.name));
                }
                (old.name, settings.allowed_ips.clone().unwrap_or(old.allowed_ips))
            }
            None => (settings.name.clone().unwrap_or_default(), settings.allowed_ips.clone().unwrap_or_default()),
        };
        let row = NewKeyRow {
            id: format!("key_{}", random_base62(&mut rand::rng(), 16)),
            workspace_id: ws.clone(),
            name,
            secret_hash: secret.sha256(),
            prefix: secret.display_prefix().to_owned(),
            hint: secret.hint().to_owned(),
            scopes: settings.scopes,
            created_at: now,
            created_by: session.user.id.clone(),
            expires_at: settings.expires_in_days.map(|d| now + i64::from(d.days()) * 86_400_000),
            rate_limit: settings.rate_limit,
            replaces: settings.replaces.clone(),
            inherits_allowed_ips: settings.replaces.is_some() && settings.allowed_ips.is_none(),
            allowed_ips,
        };
        let card = created_card(&row, &session, membership.role);
        let response = CreatedKey { key: card, secret: secret.expose().to_owned() };
        let record = match (&idem_key, lookup) {
            (Some(k), Some(lookup)) => {
                let plain = serde_json::to_vec(&response).map_err(ApiError::internal)?;
                let (nonce, sealed) = idempotency::seal(&format!("{}/{ws}", session.user.id), k, &plain)
                    .ok_or_else(|| ApiError::internal("sealing the idempotent response failed"))?;
                Some(IdempotencyRecord { lookup, request_hash, nonce, sealed, created_at: now })
            }
            _ => None,
        };
        let audit = Audit::user(&session.user, now, ip);
        let inserted =
            state.store.insert_key(&row, MAX_KEYS_PER_WORKSPACE, record.as_ref(), now - REPLAY_WINDOW_MS, &audit).await;
        if matches!(inserted, Err(KeyInsertError::ReplacedKeyChanged)) && attempts < 3 {
            continue;
        }
        break (inserted, response, row);
    };
    if let Err(KeyInsertError::Replay(made)) = &inserted {
        return replay(&session, &ws, idem_key.as_deref().unwrap_or_default(), made, &request_hash);
    }
    inserted.map_err(|e| match e {
        KeyInsertError::LimitReached => ApiError::new(
            ErrorCode::KeyLimitReached,
            format!("This workspace already has {MAX_KEYS_PER_WORKSPACE} keys, the most it can have. Revoke a key you no longer need, then create this one."),
        ),
        KeyInsertError::ReadOnly => read_only(),
        KeyInsertError::NameTaken(other) => ApiError::new(
            ErrorCode::NameTaken,
            format!(
                "Another live key is already called \"{}\" (…{}, made {}). Each key needs a name of its own, so that its keychain entry is its own too: choose another name, or rotate that key to replace it.",
                other.name, other.hint, day_text(other.created_at)
            ),
        ),
        KeyInsertError::AlreadyReplaced(other) => ApiError::new(
            ErrorCode::NameTaken,
            format!(
                "This key already has a replacement (…{}, made {}), and a key has at most one. Finish or cancel that rotation, or revoke the replacement ({}), then try again.",
                other.hint, day_text(other.created_at), other.id
            ),
        ),
        KeyInsertError::NoSuchKeyToReplace => ApiError::field(
            "replaces",
            "There is no live key with this id in this workspace to replace: it may have been revoked. Leave out \"replaces\" to make a new key.",
        ),
        KeyInsertError::NotTheReplacedName(name) => not_the_replaced_name(&name),
        KeyInsertError::ReplacementInRotation => ApiError::new(
            ErrorCode::NameTaken,
            "This key is itself the replacement in a rotation under way, which shares its name with the key it replaces. Finish that rotation (revoke the old key) first, then rotate this one.",
        ),
        KeyInsertError::ReplacedKeyChanged => ApiError::new(
            ErrorCode::InternalError,
            "The key to replace kept being edited while its replacement was made, so none was made. Send the request again.",
        ),
        KeyInsertError::Replay(_) => ApiError::internal("a replay was not answered as one"),
        KeyInsertError::Store(e) => e.into(),
    })?;
    tracing::info!(workspace = %ws, key = %row.id, replaces = ?row.replaces, "key created");
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// A date as an answer's message shows it: "2026-12-01 09:41 UTC".
fn day_text(ms: i64) -> String {
    crate::store::to_time(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

fn not_the_replaced_name(name: &str) -> ApiError {
    ApiError::field(
        "name",
        &format!(
            "A replacement takes the name of the key it replaces, \"{name}\": send that name, or leave the name out."
        ),
    )
}

fn read_only() -> ApiError {
    ApiError::new(
        ErrorCode::WorkspaceReadOnly,
        "This workspace is read-only until its billing is resolved, so no new keys can be made. Existing keys can still be disabled or revoked.",
    )
}

fn replay(
    session: &Session,
    ws: &str,
    idem_key: &str,
    record: &IdempotencyRecord,
    request_hash: &[u8; 32],
) -> ApiResult<Response> {
    if &record.request_hash != request_hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "This Idempotency-Key was already used with a different request. Use a new Idempotency-Key for a new key.",
        ));
    }
    let plain = idempotency::open(&format!("{}/{ws}", session.user.id), idem_key, &record.nonce, &record.sealed)
        .ok_or_else(|| ApiError::internal("an idempotency record did not open"))?;
    let body: CreatedKey = serde_json::from_slice(&plain).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, [("idempotent-replayed", "true")], Json(body)).into_response())
}

fn created_card(row: &NewKeyRow, session: &Session, role: keydeck_core::wire::Role) -> KeyCard {
    crate::store::KeyRow {
        id: row.id.clone(),
        workspace_id: row.workspace_id.clone(),
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        hint: row.hint.clone(),
        scopes: row.scopes.to_storage(),
        created_at: row.created_at,
        created_by: session.user.id.clone(),
        creator_name: session.user.name.clone(),
        creator_role: Some(role.as_str().to_owned()),
        last_used_at: None,
        last_success_at: None,
        last_refusal_at: None,
        last_refusal_error: None,
        last_refusal_status: None,
        request_count: 0,
        expires_at: row.expires_at,
        enabled: true,
        rate_limit_enabled: row.rate_limit.enabled,
        rate_limit_max: i64::from(row.rate_limit.max_requests),
        rate_limit_window: i64::from(row.rate_limit.window_seconds),
        replaces: row.replaces.clone(),
        replaced_by: None,
        allowed_ips: row.allowed_ips.clone(),
        revoke_when_silent_secs: None,
        revoke_scheduled_at: None,
        leaked_at: None,
        leak_url: None,
        leak_source: None,
    }
    .card(row.created_at)
}

/// One key.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/keys/{id}", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("id" = String, Path, description = "Key ID")),
    responses(
        (status = 200, body = KeyCard),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for revoked keys)", body = ErrorBody),
    ))]
async fn get_key(
    State(state): State<AppState>,
    session: Session,
    ApiPath((ws, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<KeyCard>> {
    key_manager(&state, &session, &ws).await?;
    let key = state.store.key(&ws, &id).await?.ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(key.card(state.clock.now_ms())))
}

/// Change a key's name, scopes, rate limit or allowed addresses, disable and enable it, or plan
/// its revocation once it has been silent. Takes effect on the key's next request, on every
/// server process of the database, by the time this answers. The expiration is fixed: trying to
/// change it answers `expiration_immutable`. A key and its live replacement keep their name
/// until the rotation ends.
///
/// With `revokeWhenSilentSeconds` the server revokes the key by itself, with no app running,
/// once no request (accepted or refused) has been made with it for that long, counted from the
/// later of its last request and the plan's making; `revokePlan` on the card says when that is
/// at the earliest. `null` cancels the plan while it has not run.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/keys/{id}", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("id" = String, Path, description = "Key ID")),
    request_body = UpdateKeyRequest,
    responses(
        (status = 200, body = KeyCard),
        (status = 400, description = "`bad_request`: a body that is not JSON", body = ErrorBody),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`name_taken`", body = ErrorBody),
        (status = 422, description = "`validation_failed`, `expiration_immutable`", body = ErrorBody),
    ))]
async fn update_key(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    ApiPath((ws, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<KeyCard>> {
    key_manager(&state, &session, &ws).await?;
    let changes = validate_key_changes(&body).map_err(|e| match e {
        KeyChangeError::Fields(fields) => ApiError::validation(fields),
        KeyChangeError::ExpirationImmutable => ApiError::new(
            ErrorCode::ExpirationImmutable,
            "A key's expiration is fixed when it is made. To change it, create a new key with the expiry you want and revoke this one.",
        ),
    })?;
    let audit = Audit::user(&session.user, state.clock.now_ms(), ip);
    let generation = state.store.update_key(&ws, &id, &changes, &audit).await.map_err(|e| match e {
        KeyChangeRefusal::NotFound => ApiError::not_found("key"),
        KeyChangeRefusal::Rename(RenameRefusal::NameTaken(other)) => ApiError::new(
            ErrorCode::NameTaken,
            format!(
                "Another live key is already called \"{}\" (…{}). Choose another name: each key needs its own, and so does its keychain entry.",
                other.name, other.hint
            ),
        ),
        KeyChangeRefusal::Rename(RenameRefusal::InRotation) => ApiError::field(
            "name",
            "This key is being rotated: it and its replacement share a name until the old key is revoked. Finish or cancel the rotation, then rename the key that remains.",
        ),
        KeyChangeRefusal::Store(e) => e.into(),
    })?;
    state.propagate(generation, Affects::Keys).await;
    let key = state.store.key(&ws, &id).await?.ok_or_else(|| ApiError::not_found("key"))?;
    tracing::info!(workspace = %ws, key = %id, "key changed");
    Ok(Json(key.card(state.clock.now_ms())))
}

/// Revoke a key for good. Its next request answers `key_revoked`, on every server process of
/// the database, by the time this answers. Works in read-only workspaces too.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/keys/{id}", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("id" = String, Path, description = "Key ID")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn revoke_key(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    ApiPath((ws, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    key_manager(&state, &session, &ws).await?;
    let audit = Audit::user(&session.user, state.clock.now_ms(), ip);
    let generation = state.store.revoke_key(&ws, &id, &audit).await?.ok_or_else(|| ApiError::not_found("key"))?;
    state.propagate(generation, Affects::Keys).await;
    tracing::info!(workspace = %ws, key = %id, "key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The key's most recent requests, newest first, with the address each came from. Refused
/// requests (disabled, rate-limited, ...) are included with their status.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/keys/{id}/requests", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("id" = String, Path, description = "Key ID"),
           ("limit" = Option<u32>, Query, description = "1 to 200, default 50")),
    responses(
        (status = 200, body = KeyRequestList),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn key_requests(
    State(state): State<AppState>,
    session: Session,
    ApiPath((ws, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<KeyRequestList>> {
    key_manager(&state, &session, &ws).await?;
    let limit = number_param(query.get("limit").map(String::as_str), "limit", 1..=200, 50)?;
    state.store.key(&ws, &id).await?.ok_or_else(|| ApiError::not_found("key"))?;
    // Requests not written yet are newer than every written one.
    let mut requests: Vec<_> =
        state.usage.unwritten_requests(&id).iter().take(limit as usize).map(|r| r.log()).collect();
    let written = u32::try_from(requests.len()).map_or(0, |n| limit.saturating_sub(n));
    if written > 0 {
        requests.extend(state.store.key_requests(&id, written).await?);
    }
    Ok(Json(KeyRequestList { requests }))
}

/// Requests per day (UTC) for the last `days` days, today included.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/keys/{id}/usage", tag = "Keys", security(("session" = [])),
    params(("ws" = String, Path, description = "Workspace ID"), ("id" = String, Path, description = "Key ID"),
           ("days" = Option<u32>, Query, description = "1 to 90, default 14")),
    responses(
        (status = 200, body = KeyUsage),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
        (status = 403, description = "`plan_required`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn key_usage(
    State(state): State<AppState>,
    session: Session,
    ApiPath((ws, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<KeyUsage>> {
    key_manager(&state, &session, &ws).await?;
    let days = number_param(query.get("days").map(String::as_str), "days", 1..=90, 14)?;
    state.store.key(&ws, &id).await?.ok_or_else(|| ApiError::not_found("key"))?;
    let today = day_of(state.clock.now_ms());
    Ok(Json(KeyUsage { days: state.store.key_usage(&id, today, days).await? }))
}
