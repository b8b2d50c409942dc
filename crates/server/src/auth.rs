//! Who is calling: API keys (with `X-Workspace-Id`) for the time-tracking API, session tokens
//! for sign-in and key management.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use axum::routing::future::RouteFuture;
use keydeck_core::wire::{UserInfo, WorkspaceSummary};
use keydeck_core::{ErrorCode, KeyFormatError, Scope};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use crate::error::{ApiError, ApiResult};
use crate::extract::bearer;
use crate::keys_runtime::{Admission, CacheTag, CachedKey, Call, RateDecision};
use crate::state::AppState;
use crate::store::Membership;

/// The connection test's path.
pub const ME_PATH: &str = "/api/v1/me";

/// The header that names the workspace a key-authenticated request is for.
pub const WORKSPACE_HEADER: HeaderName = HeaderName::from_static("x-workspace-id");

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

/// The layer of every key-authenticated route: authenticate, count against the rate limit,
/// run the handler, add the rate-limit headers and note the request in the key's usage.
///
/// A hand-written service rather than `middleware::from_fn`: a key already in the cache is
/// checked without awaiting or allocating, and the handler's future is polled in place. Only
/// the first request of a key (one database read) goes through a boxed future.
#[derive(Clone)]
pub struct RequireKey {
    state: AppState,
}

impl RequireKey {
    pub fn new(state: AppState) -> RequireKey {
        RequireKey { state }
    }
}

impl Layer<Route> for RequireKey {
    type Service = KeyGate;
    fn layer(&self, inner: Route) -> KeyGate {
        KeyGate(Arc::new(GateParts { state: self.state.clone(), inner }))
    }
}

/// The service [`RequireKey`] puts in front of a route.
///
/// axum clones it for every request, so it is one `Arc`: the route behind it is shared rather
/// than cloned with it, since most answers of the gate (refusals, the connection test) never
/// reach the route.
#[derive(Clone)]
pub struct KeyGate(Arc<GateParts>);

struct GateParts {
    state: AppState,
    inner: Route,
}

impl Service<Request> for KeyGate {
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture<RouteFuture<Infallible>>;

    /// Always ready, as a `Route` is.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let GateParts { state, inner } = &*self.0;
        let now = state.clock.now_ms();
        match identify(state, request.headers(), now) {
            Ok(Identified::Cached(key)) => admit(inner, request, now, key),
            Ok(Identified::Uncached(hash, tag)) => {
                let parts = self.0.clone();
                GateFuture::Lookup(Box::pin(async move {
                    let GateParts { state, inner } = &*parts;
                    let found = state.keys.load(&state.store, &hash, tag).await;
                    let key = found.map_err(|e| (e.into(), None)).and_then(|key| {
                        let workspace = workspace_header(request.headers()).map_err(|e| (e, None))?;
                        known(key, workspace, now)
                    });
                    match admit(inner, request, now, key).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }))
            }
            Err(error) => GateFuture::Ready(Some(error.into_response())),
        }
    }
}

/// What [`KeyGate`] answers with.
pub enum GateFuture<F> {
    /// Answered without the handler.
    Ready(Option<Response>),
    /// The handler is running; `after` finishes its response. Boxed: a future is moved
    /// through every layer above it, and most answers of the gate are `Ready`.
    Handler(Box<(F, Option<After>)>),
    /// The key was not cached: its lookup, then the handler.
    Lookup(Pin<Box<dyn Future<Output = Response> + Send>>),
}

/// What is left to do once the handler has answered.
pub struct After {
    key: Arc<CachedKey>,
    decision: Option<RateDecision>,
    call: Call,
    path: Arc<str>,
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            GateFuture::Ready(response) => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| ApiError::internal("a key check was polled after it answered").into_response()))),
            GateFuture::Lookup(future) => future.as_mut().poll(cx).map(Ok),
            GateFuture::Handler(running) => {
                let (future, after) = &mut **running;
                let Poll::Ready(Ok(mut response)) = Pin::new(future).poll(cx) else { return Poll::Pending };
                if let Some(After { key, decision, call, path }) = after.take() {
                    if let Some(d) = decision {
                        key.set_rate_headers(d, response.headers_mut());
                    }
                    let error = response.extensions().get::<ErrorCode>().copied();
                    key.record(call.record(path, response.status().as_u16(), error));
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// What a key's usage keeps of a request, taken before the handler consumes it.
fn call_of(request: &Request, at: i64) -> Call {
    Call {
        at,
        method: request.method().into(),
        ip: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
    }
}

/// The status of the connection test's answer.
const ME_STATUS: u16 = 200;

/// Counts the request against the key's rate limit and either starts the handler or answers
/// itself: the refusal, or the connection test (which needs nothing but the key). Usage notes
/// every request of a known key, refused ones included.
fn admit(
    inner: &Route,
    mut request: Request,
    now: i64,
    key: Result<Arc<CachedKey>, Refusal>,
) -> GateFuture<RouteFuture<Infallible>> {
    let call = call_of(&request, now);
    let key = match key {
        Ok(key) => key,
        Err((error, known)) => {
            let code = error.code();
            let response = error.into_response();
            if let Some(key) = known {
                let path = key.shared_path(request.uri().path());
                key.record(call.record(path, response.status().as_u16(), Some(code)));
            }
            return GateFuture::Ready(Some(response));
        }
    };
    let me = request.method() == Method::GET && request.uri().path() == ME_PATH;
    match key.admit(&call, request.uri().path(), ErrorCode::RateLimitExceeded, me.then_some(ME_STATUS)) {
        Admission::Refused(d) => {
            let mut response = rate_limited(&key, &d);
            key.set_rate_headers(d, response.headers_mut());
            GateFuture::Ready(Some(response))
        }
        Admission::Answered(decision) => GateFuture::Ready(Some(key.me_response(decision))),
        Admission::Pass(decision, path) => {
            request.extensions_mut().insert(KeyContext { key: key.clone() });
            // A `Route` is always ready, so its clone is called straight away.
            let running = inner.clone().call(request);
            GateFuture::Handler(Box::new((running, Some(After { key, decision, call, path }))))
        }
    }
}

fn rate_limited(key: &CachedKey, d: &RateDecision) -> Response {
    ApiError::retry_after(
        ErrorCode::RateLimitExceeded,
        format!(
            "This key made more than {} requests in {} seconds. Wait {} seconds, or raise the key's rate limit in Keydeck.",
            key.rate_limit.max_requests, key.rate_limit.window_seconds, d.retry_after
        ),
        d.retry_after,
    )
    .into_response()
}

type Refusal = (ApiError, Option<Arc<CachedKey>>);

/// Who a request says it is, as far as the headers and the key cache tell.
enum Identified {
    /// The cache knew the key (or knew there is no such key): fully checked.
    Cached(Result<Arc<CachedKey>, Refusal>),
    /// A well-formed key the cache has not seen, with its SHA-256 and cache tag: the database
    /// decides.
    Uncached([u8; 32], CacheTag),
}

/// Checks the key and workspace headers as far as it can without the database.
fn identify(state: &AppState, headers: &HeaderMap, now: i64) -> Result<Identified, ApiError> {
    let token = bearer(headers, ErrorCode::InvalidApiKey)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingApiKey,
            "No API key was sent. Send it in the Authorization header as \"Bearer kdk_...\".",
        )
    })?;
    // Only a well-formed key is ever cached, so a cached one needs no format check.
    let tag = state.keys.tag(token);
    let cached = state.keys.cached(tag, now);
    if cached.is_none() {
        keydeck_core::key::check(token).map_err(|e| invalid_key(&e))?;
    }
    let workspace = workspace_header(headers)?;
    Ok(match cached {
        Some(key) => Identified::Cached(known(key, workspace, now)),
        None => Identified::Uncached(keydeck_core::key::sha256_of(token), tag),
    })
}

fn workspace_header(headers: &HeaderMap) -> Result<&[u8], ApiError> {
    headers.get(WORKSPACE_HEADER).map(HeaderValue::as_bytes).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingWorkspaceId,
            "No workspace was named. Send the workspace ID in the X-Workspace-Id header; Keydeck shows it under \"How it works\".",
        )
    })
}

/// Whether a looked-up key may make this request. On failure, also returns the key when it
/// is known, so the refused request still shows in its usage.
fn known(key: Option<Arc<CachedKey>>, workspace: &[u8], now: i64) -> Result<Arc<CachedKey>, Refusal> {
    let key = key.ok_or_else(|| {
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
