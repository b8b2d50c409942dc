//! Extractors whose rejections speak the API's error shape: JSON bodies, query strings and
//! the `Authorization` header.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use bytes::Bytes;
use keydeck_core::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body. Syntax errors and oversized bodies answer `bad_request`; a body of the wrong
/// shape (missing, unknown or mistyped fields) answers `validation_failed` naming the field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type =
            req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.is_empty() && !content_type.starts_with("application/json") {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("The body must be JSON, sent with Content-Type: application/json (it was \"{content_type}\")."),
            ));
        }
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A body as bytes, whatever its type, for a handler that checks a signature over the exact
/// bytes before it reads them. An oversized or broken body answers `bad_request`.
#[derive(Debug)]
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map_err(|e| match e {
                BytesRejection::FailedToBufferBody(_) => ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "The request body is larger than {} KiB. Send less data in one request.",
                        MAX_BODY_BYTES / 1024
                    ),
                ),
                other => ApiError::new(ErrorCode::BadRequest, format!("The request body could not be read: {other}.")),
            })
            .map(ApiBytes)
    }
}

/// Parses a JSON body with the API's errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::BadRequest, "The request needs a JSON body, and it was empty."));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: serde_json::Value = serde::Deserialize::deserialize(&mut de).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("The body is not valid JSON ({e}). Check for a missing quote, comma or brace."),
        )
    })?;
    de.end()
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("The body has extra text after the JSON ({e}).")))?;
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let field = message.split('`').nth(1).filter(|_| message.contains("field")).unwrap_or("body").to_owned();
        ApiError::field(&field, &format!("{}.", capitalise(&message)))
    })
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A query string. Unparsable values answer `bad_request` naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query).map(ApiQuery).map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("The query string could not be read: {e}. Check the parameter's value."),
            )
        })
    }
}

/// The token of an `Authorization: Bearer` header, if the header is present.
/// A header that is not valid text or not `Bearer` is an error of `code`.
pub fn bearer(headers: &HeaderMap, code: ErrorCode) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let text = value.to_str().map_err(|_| {
        ApiError::new(
            code,
            "The Authorization header contains characters that cannot appear in a key or token. Copy it again.",
        )
    })?;
    let token = text.strip_prefix("Bearer ").or_else(|| text.strip_prefix("bearer ")).ok_or_else(|| {
        ApiError::new(code, "Send the Authorization header as \"Bearer \" followed by the key or token.")
    })?;
    Ok(Some(token))
}

/// Path parameters. A segment that is not valid text answers `bad_request`, never a plain-text
/// rejection.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("The address could not be read: {e}.")))
    }
}

/// Reads an optional whole-number query parameter within `range`.
pub fn number_param(
    value: Option<&str>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = value else { return Ok(default) };
    raw.trim().parse::<u32>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        let shown: String = raw.chars().take(20).collect();
        ApiError::field(
            name,
            &format!("Use a whole number from {} to {} (it was \"{shown}\").", range.start(), range.end()),
        )
    })
}

/// Refuses query parameters other than `known`, naming the first one and the supported ones.
pub fn unknown_params(query: &std::collections::HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            Err(ApiError::field(k, &format!("This parameter is not supported here. Supported: {}.", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// The address a request came from, when the server knows it (the audit log and a key's
/// recent requests record it). Never refuses a request.
///
/// It is the peer address of the connection, unless the operator named a forwarded header to
/// trust (`--client-ip-header`, for a server behind a reverse proxy): then
/// [`resolve_client_ip`] puts the header's last address here first.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl ClientIp {
    /// The address a request's extensions carry (`None` when served without one).
    pub fn of(extensions: &axum::http::Extensions) -> ClientIp {
        if let Some(resolved) = extensions.get::<ClientIp>() {
            return *resolved;
        }
        let peer = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        ClientIp(peer.map(|c| c.0.ip().to_canonical()))
    }

    /// The address a trusted proxy put last in `value` (`X-Forwarded-For: client, proxy1`
    /// lists the hops in order, and each proxy appends the one it saw), as a bare address or
    /// an address with a port. `None` when the last entry is not an address.
    pub fn forwarded(value: &str) -> Option<std::net::IpAddr> {
        let last = value.rsplit(',').next()?.trim();
        let address = last
            .parse::<std::net::IpAddr>()
            .ok()
            .or_else(|| last.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))?;
        Some(address.to_canonical())
    }
}

/// The middleware added when the operator trusts a forwarded header (`header`): the address
/// the proxy saw becomes the request's [`ClientIp`]. A request without the header (or with
/// one that is not an address) keeps its peer address: it did not come through the proxy.
pub async fn resolve_client_ip(
    axum::extract::State(header): axum::extract::State<axum::http::HeaderName>,
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // A proxy may add its own header line rather than extend the last one: the last line counts.
    let last = request.headers().get_all(&header).iter().next_back();
    let forwarded = last.and_then(|v| v.to_str().ok()).and_then(ClientIp::forwarded);
    if let Some(address) = forwarded {
        request.extensions_mut().insert(ClientIp(Some(address)));
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::of(&parts.extensions))
    }
}
