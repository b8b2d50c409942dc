//! The HTTP surface: every route, the OpenAPI document generated from their annotations, and
//! the fallbacks that keep even unknown paths in the API's error shape.

mod docs;
mod keys;
mod leaks;
mod resources;
pub mod sessions;
mod workspaces;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keydeck_core::ErrorCode;
use keydeck_core::wire::Health;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::state::AppState;

pub use workspaces::api_base_url;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keydeck workspace API",
        description = "The API of a Keydeck workspace server: sign in, manage a workspace's API keys, and use a key to read and write time-tracking data.\n\nKey management uses a session token from `POST /sessions`. The time-tracking API uses an API key (`kdk_` followed by 38 letters and digits) in `Authorization: Bearer`, and the workspace ID in `X-Workspace-Id`.",
        version = "1"
    ),
    modifiers(&Security),
    tags(
        (name = "Sessions", description = "Signing in and out"),
        (name = "Workspaces", description = "The signed-in user's workspaces"),
        (name = "Keys", description = "Managing API keys (owners and admins, on Team and Business plans)"),
        (name = "API", description = "What an API key gives access to"),
        (name = "Leak reports", description = "Where secret scanners report keys found in public"),
    ),
    components(schemas(keydeck_core::ErrorCode, keydeck_core::wire::FieldError))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from POST /sessions"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key, kdk_ followed by 38 letters and digits"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "workspaceId",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Workspace-Id",
                "The workspace the key belongs to",
            ))),
        );
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = routes_for_docs().split_for_parts().1;
    document_the_key_check(&mut openapi);
    openapi
}

/// What the key check answers before any handler of the time-tracking API (tag `API`) runs,
/// added to each of those operations: written once here rather than on every handler, so that
/// no operation can leave one out.
fn document_the_key_check(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let answers = [
        ("400", "`missing_workspace_id`, or `bad_request`: a header that is not text, or a body that is not JSON"),
        (
            "401",
            "`missing_api_key`, `invalid_api_key`, `key_revoked`, `key_expired`, `key_disabled`, `key_owner_removed`",
        ),
        ("403", "`workspace_mismatch`, `plan_required`"),
        ("429", "`rate_limit_exceeded`, with `retryAfter` and a `Retry-After` header"),
    ];
    for item in openapi.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete, &mut item.head];
        for operation in operations.into_iter().flatten() {
            if !operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|t| t == "API")) {
                continue;
            }
            for (status, description) in answers {
                let responses = &mut operation.responses.responses;
                match responses.get_mut(status) {
                    Some(RefOr::T(own)) if !own.description.contains(description) => {
                        own.description = format!("{}; {description}", own.description);
                    }
                    Some(_) => {}
                    None => {
                        let error = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                        let response =
                            ResponseBuilder::new().description(description).content("application/json", error).build();
                        responses.insert(status.to_owned(), RefOr::T(response));
                    }
                }
            }
        }
    }
}

fn routes_for_docs() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sessions::router())
        .merge(workspaces::router())
        .merge(keys::router())
        .merge(leaks::router())
        .merge(resources::router())
}

/// The whole application: the routes, with panics caught, requests traced and bodies limited
/// around the router as a whole. (A layer added with `Router::layer` wraps every route on its
/// own, and axum clones the chain of wrappers for every request.)
pub fn app(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + Sync + 'static
{
    let keyed = resources::router()
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::keycheck::require_key));
    // Full paths rather than a nested router: nesting costs every request a prefix strip.
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sessions::router())
        .merge(workspaces::router())
        .merge(keys::router())
        .merge(leaks::router())
        .merge(keyed)
        .split_for_parts();
    document_the_key_check(&mut openapi);
    let document = Arc::new(serde_json::to_string_pretty(&openapi).unwrap_or_default());
    let page = Arc::new(docs::render(&openapi));
    let router = api
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([("content-type", "application/json")], (*document).clone()) }),
        )
        .route("/docs", get(move || async move { axum::response::Html((*page).clone()) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    let client_ip = state
        .config
        .client_ip_header
        .clone()
        .map(|header| axum::middleware::from_fn_with_state(header, crate::extract::resolve_client_ip));
    ServiceBuilder::new()
        .map_response(|response: Response<_>| response.map(Body::new))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .option_layer(client_ip)
        .service(router)
}

/// Whether the server is up. Needs no authentication.
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

/// Whether this node can serve: its database answers a query within 2 seconds. A load
/// balancer sends requests only to nodes that are ready; `/healthz` says only that the
/// process is up.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let answered = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    let problem = match answered {
        Ok(Ok(())) => return Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database refused the check");
            "The database refused the readiness check; the server's log says why."
        }
        Err(_) => "The database did not answer the readiness check within 2 seconds.",
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "message": problem})))
        .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "There is nothing at {}. The API lives under /api/v1; /docs lists every endpoint.",
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is not supported at {}. /docs lists what each endpoint accepts.",
                request.method(),
                request.uri().path()
            ),
        ),
    )
}
