//! The one error type of the IPC boundary: `AppError {code, message, fields?}` from core,
//! built here from the client's and the vault's errors.

use keydeck_client::ClientError;
use keydeck_core::ErrorCode;
use keydeck_core::app::{AppError, AppErrorCode};
use keydeck_core::wire::FieldError;
use keydeck_vault::VaultError;

pub type AppResult<T> = Result<T, AppError>;

pub fn app_error(code: AppErrorCode, message: impl Into<String>) -> AppError {
    AppError { code, message: message.into(), fields: None }
}

pub fn field_error(field: &str, message: &str) -> AppError {
    AppError {
        code: AppErrorCode::Validation,
        message: "Some fields need attention.".to_owned(),
        fields: Some(vec![FieldError::new(field, message)]),
    }
}

pub fn from_client(e: ClientError) -> AppError {
    match e {
        // Another live key has the name: an error of the form's name field.
        ClientError::Api { body, .. } if body.error == ErrorCode::NameTaken => field_error("name", &body.message),
        ClientError::Api { body, .. } => {
            let code = match body.error {
                ErrorCode::InvalidSession => AppErrorCode::SignedOut,
                ErrorCode::ValidationFailed => AppErrorCode::Validation,
                ErrorCode::PlanRequired => AppErrorCode::PlanRequired,
                ErrorCode::Forbidden => AppErrorCode::Forbidden,
                ErrorCode::KeyLimitReached => AppErrorCode::KeyLimitReached,
                ErrorCode::WorkspaceReadOnly => AppErrorCode::ReadOnly,
                ErrorCode::NotFound => AppErrorCode::NotFound,
                _ => AppErrorCode::Other,
            };
            let message = if code == AppErrorCode::SignedOut {
                "Your session has ended. Sign in again to carry on where you were.".to_owned()
            } else {
                body.message
            };
            AppError { code, message, fields: body.fields }
        }
        ClientError::Unreachable { .. } => app_error(AppErrorCode::Unreachable, e.to_string()),
        other => app_error(AppErrorCode::Other, other.to_string()),
    }
}

pub fn from_vault(e: VaultError) -> AppError {
    let code = match e {
        VaultError::NoKeychain(_) => AppErrorCode::NoKeychain,
        VaultError::NoClipboard(_) => AppErrorCode::NoClipboard,
        _ => AppErrorCode::Other,
    };
    app_error(code, e.to_string())
}
