//! The API's error codes and the HTTP status each one travels with (PRODUCT.md's table).

use serde::{Deserialize, Serialize};

/// Every `error` value the workspace API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingWorkspaceId,
    BadRequest,
    MissingApiKey,
    InvalidApiKey,
    KeyRevoked,
    KeyExpired,
    KeyDisabled,
    KeyOwnerRemoved,
    InvalidCredentials,
    InvalidSession,
    /// A leak report without a valid signature from a key the operator configured.
    InvalidSignature,
    WorkspaceMismatch,
    InsufficientScope,
    PlanRequired,
    WorkspaceReadOnly,
    Forbidden,
    /// The key has an IP allowlist and the request came from another address.
    IpNotAllowed,
    NotFound,
    MethodNotAllowed,
    KeyLimitReached,
    IdempotencyConflict,
    NameTaken,
    ValidationFailed,
    ExpirationImmutable,
    RateLimitExceeded,
    TooManyAttempts,
    /// A fault of the server's own; the message never carries its details.
    InternalError,
}

impl ErrorCode {
    pub const fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MissingWorkspaceId | BadRequest => 400,
            MissingApiKey | InvalidApiKey | KeyRevoked | KeyExpired | KeyDisabled | KeyOwnerRemoved
            | InvalidCredentials | InvalidSession | InvalidSignature => 401,
            WorkspaceMismatch | InsufficientScope | PlanRequired | WorkspaceReadOnly | Forbidden | IpNotAllowed => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            KeyLimitReached | IdempotencyConflict | NameTaken => 409,
            ValidationFailed | ExpirationImmutable => 422,
            RateLimitExceeded | TooManyAttempts => 429,
            InternalError => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingWorkspaceId => "missing_workspace_id",
            BadRequest => "bad_request",
            MissingApiKey => "missing_api_key",
            InvalidApiKey => "invalid_api_key",
            KeyRevoked => "key_revoked",
            KeyExpired => "key_expired",
            KeyDisabled => "key_disabled",
            KeyOwnerRemoved => "key_owner_removed",
            InvalidCredentials => "invalid_credentials",
            InvalidSession => "invalid_session",
            InvalidSignature => "invalid_signature",
            WorkspaceMismatch => "workspace_mismatch",
            InsufficientScope => "insufficient_scope",
            PlanRequired => "plan_required",
            WorkspaceReadOnly => "workspace_read_only",
            Forbidden => "forbidden",
            IpNotAllowed => "ip_not_allowed",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            KeyLimitReached => "key_limit_reached",
            IdempotencyConflict => "idempotency_conflict",
            NameTaken => "name_taken",
            ValidationFailed => "validation_failed",
            ExpirationImmutable => "expiration_immutable",
            RateLimitExceeded => "rate_limit_exceeded",
            TooManyAttempts => "too_many_attempts",
            InternalError => "internal_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for code in [ErrorCode::KeyRevoked, ErrorCode::MissingWorkspaceId, ErrorCode::TooManyAttempts] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
    }
}
