//! `ApiError`: the one error type of the HTTP boundary.
//!
//! Handlers return `Result<_, ApiError>`. Every error leaves as the API's shape,
//! `{"error": code, "message": sentence, ...}`, with the code's status. Storage and other
//! internal failures are logged here with their details and answered with a plain
//! `internal_error` that reveals nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keydeck_core::wire::{ErrorBody, FieldError};
use keydeck_core::{ErrorCode, Scope};

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError(Box<ErrorBody>);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorBody::new(code, message)))
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        let mut e = ApiError::new(
            ErrorCode::ValidationFailed,
            format!("Some fields need attention: {}. Each field's message says what to change.", names.join(", ")),
        );
        e.0.fields = Some(fields);
        e
    }

    pub fn field(field: &str, message: &str) -> Self {
        ApiError::validation(vec![FieldError::new(field, message)])
    }

    pub fn insufficient_scope(scope: Scope) -> Self {
        let mut e = ApiError::new(
            ErrorCode::InsufficientScope,
            format!(
                "This key may not {}: that needs the \"{}\" permission. Add it to the key in Keydeck, or use a key that has it.",
                scope.describe(),
                scope.as_str()
            ),
        );
        e.0.required_scope = Some(scope);
        e
    }

    pub fn retry_after(code: ErrorCode, message: impl Into<String>, seconds: u64) -> Self {
        let mut e = ApiError::new(code, message);
        e.0.retry_after = Some(seconds.max(1));
        e
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("There is no {what} with that id in this workspace."))
    }

    /// A fault of the server's own: logged with `detail`, answered without it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            ErrorCode::InternalError,
            "Something went wrong on the server. Try again in a moment; if it keeps happening, the server's log has the details.",
        )
    }

    pub fn code(&self) -> ErrorCode {
        self.0.error
    }

    pub fn body(&self) -> &ErrorBody {
        &self.0
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::new(ErrorCode::NotFound, m),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.0.retry_after;
        let code = self.0.error;
        let mut response = (status, axum::Json(*self.0)).into_response();
        // For whoever records the answer (a key's usage keeps its latest refusal's code).
        response.extensions_mut().insert(code);
        if let Some(seconds) = retry {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
