//! The workspace API client. One method per endpoint; errors keep the API's code, message and
//! extra fields, so callers (the app) branch on [`ErrorCode`] rather than on text.

use std::time::Duration;

use keydeck_core::ErrorCode;
use keydeck_core::app::ActivityQuery;
use keydeck_core::wire::{
    AuditPage, CreateKeyRequest, CreatedKey, ErrorBody, KeyCard, KeyList, KeyRequestList, KeyUsage, Me, SessionCreated,
    SignInRequest, UpdateKeyRequest, WorkspaceList,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with the API's error shape.
    #[error("{}", .body.message)]
    Api { status: u16, body: Box<ErrorBody> },
    /// No answer: the server is down, the address is wrong, or the network is out.
    #[error(
        "The workspace server at {url} could not be reached ({reason}). Check the address and that the server is running."
    )]
    Unreachable { url: String, reason: String },
    /// An answer that is not the API's: probably not a Keydeck server at that address.
    #[error(
        "The server at {url} answered in a way Keydeck does not understand (HTTP {status}). Check that the address is a Keydeck workspace server."
    )]
    Unexpected { url: String, status: u16 },
    #[error("The server address \"{0}\" is not valid. Use one like http://127.0.0.1:8080 or https://keys.example.com.")]
    BadAddress(String),
}

impl ClientError {
    /// The API's error code, when the server gave one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.error),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// The rate-limit budget a response reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds.
    pub reset: i64,
}

/// The answer of `GET /me` with the budget its headers carried (none for keys without a limit).
#[derive(Debug)]
pub struct MeAnswer {
    pub me: Result<Me, ClientError>,
    pub budget: Option<RateBudget>,
}

/// A client of one workspace server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// `base` is the server's address, e.g. `http://127.0.0.1:8080` (a trailing `/api/v1` is
    /// accepted too).
    pub fn new(base: &str) -> ClientResult<Client> {
        let trimmed = base.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
        let ok = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
            && reqwest::Url::parse(trimmed).is_ok_and(|u| u.host().is_some());
        if !ok {
            return Err(ClientError::BadAddress(base.trim().to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| ClientError::Unreachable { url: trimmed.to_owned(), reason: e.to_string() })?;
        Ok(Client { http, base: trimmed.to_owned() })
    }

    /// The server's address, without `/api/v1`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether requests to this server cross a network unencrypted: `http://` to a host other
    /// than this computer.
    pub fn is_unencrypted_remote(&self) -> bool {
        let Ok(url) = reqwest::Url::parse(&self.base) else { return true };
        let host =
            url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let local = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host == "localhost" || host.ends_with(".localhost"),
        };
        url.scheme() == "http" && !local
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/api/v1{path}", self.base))
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> ClientResult<T> {
        let response = self.execute(request).await?;
        self.decode(response).await
    }

    async fn execute(&self, request: RequestBuilder) -> ClientResult<reqwest::Response> {
        request.send().await.map_err(|e| ClientError::Unreachable { url: self.base.clone(), reason: short_reason(&e) })
    }

    async fn decode<T: DeserializeOwned>(&self, response: reqwest::Response) -> ClientResult<T> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable { url: self.base.clone(), reason: short_reason(&e) })?;
        if status.is_success() {
            let body = if bytes.is_empty() { b"null".as_slice() } else { &bytes };
            return serde_json::from_slice(body)
                .map_err(|_| ClientError::Unexpected { url: self.base.clone(), status: status.as_u16() });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api { status: status.as_u16(), body: Box::new(body) }),
            Err(_) => Err(ClientError::Unexpected { url: self.base.clone(), status: status.as_u16() }),
        }
    }

    pub async fn healthz(&self) -> ClientResult<()> {
        let response = self.execute(self.http.get(format!("{}/healthz", self.base))).await?;
        if response.status() == StatusCode::OK {
            Ok(())
        } else {
            Err(ClientError::Unexpected { url: self.base.clone(), status: response.status().as_u16() })
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> ClientResult<SessionCreated> {
        let body = SignInRequest { email: email.to_owned(), password: password.to_owned() };
        self.send(self.request(Method::POST, "/sessions").json(&body)).await
    }

    pub async fn sign_out(&self, token: &str) -> ClientResult<()> {
        self.send::<serde_json::Value>(self.request(Method::DELETE, "/sessions/current").bearer_auth(token))
            .await
            .map(drop)
    }

    pub async fn workspaces(&self, token: &str) -> ClientResult<WorkspaceList> {
        self.send(self.request(Method::GET, "/workspaces").bearer_auth(token)).await
    }

    pub async fn list_keys(&self, token: &str, ws: &str) -> ClientResult<KeyList> {
        self.send(self.request(Method::GET, &format!("/workspaces/{ws}/keys")).bearer_auth(token)).await
    }

    /// Creates a key. With `idempotency_key`, repeating the call after a lost answer returns
    /// the same key and secret instead of making a second key.
    pub async fn create_key(
        &self,
        token: &str,
        ws: &str,
        body: &CreateKeyRequest,
        idempotency_key: Option<&str>,
    ) -> ClientResult<CreatedKey> {
        let mut request = self.request(Method::POST, &format!("/workspaces/{ws}/keys")).bearer_auth(token).json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    pub async fn key(&self, token: &str, ws: &str, id: &str) -> ClientResult<KeyCard> {
        self.send(self.request(Method::GET, &format!("/workspaces/{ws}/keys/{id}")).bearer_auth(token)).await
    }

    pub async fn update_key(
        &self,
        token: &str,
        ws: &str,
        id: &str,
        changes: &UpdateKeyRequest,
    ) -> ClientResult<KeyCard> {
        self.send(self.request(Method::PATCH, &format!("/workspaces/{ws}/keys/{id}")).bearer_auth(token).json(changes))
            .await
    }

    pub async fn revoke_key(&self, token: &str, ws: &str, id: &str) -> ClientResult<()> {
        self.send::<serde_json::Value>(
            self.request(Method::DELETE, &format!("/workspaces/{ws}/keys/{id}")).bearer_auth(token),
        )
        .await
        .map(drop)
    }

    pub async fn key_requests(&self, token: &str, ws: &str, id: &str, limit: u32) -> ClientResult<KeyRequestList> {
        self.send(
            self.request(Method::GET, &format!("/workspaces/{ws}/keys/{id}/requests?limit={limit}")).bearer_auth(token),
        )
        .await
    }

    /// One page of the workspace's audit log, newest first, narrowed by `query`.
    pub async fn audit(&self, token: &str, ws: &str, query: &ActivityQuery, limit: u32) -> ClientResult<AuditPage> {
        let mut params = vec![("limit", limit.to_string())];
        let joined = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        let actions = query.actions.iter().filter_map(|a| serde_json::to_value(a).ok());
        let actions = actions.filter_map(|a| a.as_str().map(str::to_owned)).collect();
        for (name, value) in [
            ("before", query.before.clone()),
            ("key", joined(query.key_ids.clone())),
            ("actor", query.actor.clone()),
            ("action", joined(actions)),
        ] {
            params.extend(value.map(|v| (name, v)));
        }
        let address = format!("{}/api/v1/workspaces/{ws}/audit", self.base);
        let mut url = reqwest::Url::parse(&address).map_err(|_| ClientError::BadAddress(self.base.clone()))?;
        url.query_pairs_mut().extend_pairs(&params);
        self.send(self.http.get(url).bearer_auth(token)).await
    }

    pub async fn key_usage(&self, token: &str, ws: &str, id: &str, days: u32) -> ClientResult<KeyUsage> {
        self.send(
            self.request(Method::GET, &format!("/workspaces/{ws}/keys/{id}/usage?days={days}")).bearer_auth(token),
        )
        .await
    }

    /// `GET /me` with an API key: the connection test. Keeps the rate-limit budget even when
    /// the answer is an error.
    pub async fn me(&self, key: &str, ws: &str) -> ClientResult<MeAnswer> {
        let response =
            self.execute(self.request(Method::GET, "/me").bearer_auth(key).header("X-Workspace-Id", ws)).await?;
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
        let budget = match (header("x-ratelimit-limit"), header("x-ratelimit-remaining"), header("x-ratelimit-reset")) {
            (Some(limit), Some(remaining), Some(reset)) => Some(RateBudget {
                limit: u32::try_from(limit).unwrap_or(0),
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset,
            }),
            _ => None,
        };
        Ok(MeAnswer { me: self.decode(response).await, budget })
    }
}

fn short_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "it did not answer in time".to_owned()
    } else if e.is_connect() {
        "the connection was refused".to_owned()
    } else {
        "the connection failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_normalised() {
        assert_eq!(Client::new("http://127.0.0.1:8080/").unwrap().base_url(), "http://127.0.0.1:8080");
        assert_eq!(Client::new(" https://keys.example.com/api/v1 ").unwrap().base_url(), "https://keys.example.com");
        for bad in ["", "127.0.0.1:8080", "ftp://x", "http://"] {
            assert!(matches!(Client::new(bad), Err(ClientError::BadAddress(_))), "{bad}");
        }
    }

    #[test]
    fn plain_http_to_another_computer_is_told_apart_from_this_computer_and_https() {
        for remote in ["http://keys.example.com", "http://192.168.1.20:8080", "http://[2001:db8::1]:80"] {
            assert!(Client::new(remote).unwrap().is_unencrypted_remote(), "{remote}");
        }
        for safe in ["https://keys.example.com", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:9"] {
            assert!(!Client::new(safe).unwrap().is_unencrypted_remote(), "{safe}");
        }
    }
}
