//! Sign-in and sign-out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keydeck_core::ErrorCode;
use keydeck_core::key::random_base62;
use keydeck_core::wire::{ErrorBody, SessionCreated, SignInRequest, UserInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Session, hash_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::lockout::{self, MAX_EMAIL_CHARS};
use crate::state::AppState;
use crate::store::to_time;

/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in)).routes(routes!(sign_out))
}

/// Sign in with email and password.
///
/// Five failed attempts for one email within 15 minutes pause sign-in for that email
/// (`too_many_attempts`, with `retryAfter` seconds), across restarts and server processes.
/// Attempts count from the moment they arrive, so a burst of guesses gets at most five answers.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "Sessions", request_body = SignInRequest,
    responses(
        (status = 201, description = "Signed in", body = SessionCreated),
        (status = 400, description = "`bad_request`: a body that is not JSON", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a missing field, or an email longer than 254 characters", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: five failed attempts for this email in 15 minutes, or too many sign-ins waiting for a password check (`retryAfter` says when to try again)", body = ErrorBody),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SignInRequest>,
) -> ApiResult<(StatusCode, Json<SessionCreated>)> {
    let now = state.clock.now_ms();
    let email = request.email.trim().to_owned();
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::field(
            "email",
            &format!(
                "An email address has at most {MAX_EMAIL_CHARS} characters; this one has more. Check what was pasted."
            ),
        ));
    }
    let counted = lockout::counted_as(&email);
    let attempt = match state.store.reserve_sign_in(&counted, now).await? {
        Ok(attempt) => attempt,
        Err(seconds) => {
            return Err(ApiError::retry_after(
                ErrorCode::TooManyAttempts,
                format!(
                    "Too many failed sign-ins for {email}. Wait {} minutes and try again, or reset the password.",
                    seconds.div_ceil(60)
                ),
                seconds,
            ));
        }
    };
    let found = state.store.user_for_sign_in(&email).await?;
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let verified = match state.passwords.verify(request.password, stored).await {
        Ok(verified) => verified,
        Err(crate::password::CheckError::Busy) => {
            // Not checked, so not a failure.
            state.store.forget_sign_in_attempt(attempt).await?;
            return Err(ApiError::retry_after(
                ErrorCode::TooManyAttempts,
                "The server is busy checking other sign-ins. Try again in a moment.",
                1,
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    // A failed attempt stays counted, as it was from the start.
    let Some((user, _)) = found.filter(|_| verified) else {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "The email or password is not right. Check both and try again; after 5 failed attempts sign-in pauses for 15 minutes.",
        ));
    };
    state.store.clear_sign_in(&counted).await?;
    let created = issue(&state, user).await?;
    tracing::info!(user = %created.user.id, "signed in");
    Ok((StatusCode::CREATED, Json(created)))
}

/// A new session for a user whose identity is already established.
pub async fn issue(state: &AppState, user: UserInfo) -> crate::store::StoreResult<SessionCreated> {
    let now = state.clock.now_ms();
    let token = format!("kds_{}", random_base62(&mut rand::rng(), 43));
    let expires_at = now + SESSION_DAYS * 86_400_000;
    state.store.insert_session(&hash_token(&token), &user.id, now, expires_at).await?;
    Ok(SessionCreated { token, expires_at: to_time(expires_at), user })
}

/// Sign out: the session token stops working at once.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "Sessions", security(("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`invalid_session`", body = ErrorBody),
    ))]
async fn sign_out(State(state): State<AppState>, session: Session) -> ApiResult<StatusCode> {
    state.store.revoke_session(&session.token_hash, state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
