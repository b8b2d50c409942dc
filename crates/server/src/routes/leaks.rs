//! `POST /api/v1/leaks`: where a secret scanner reports Keydeck keys it found in public (see
//! `leak_reports`). Each reported key is disabled at once, before the answer, on every node.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use keydeck_core::ErrorCode;
use keydeck_core::key::{check, sha256_of};
use keydeck_core::wire::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiBytes, ClientIp, parse_json};
use crate::leak_reports::{KEY_ID_HEADER, LeakReport, LeakVerdict, SIGNATURE_HEADER, bounded};
use crate::state::AppState;
use crate::store::{Affects, Audit, LeakOutcome};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report_leaks))
}

/// Report keys found in public, in the format of GitHub's secret-scanning partner program.
///
/// The body is a JSON list of matches, signed over its exact bytes with ECDSA P-256 (SHA-256)
/// by a key the server's operator trusts. Every reported key this server issued is disabled
/// before the answer and marked leaked, with where it was found; the audit log records
/// `leak_reported`. The answer says which matches were keys of this server.
#[utoipa::path(post, path = "/api/v1/leaks", tag = "Leak reports",
    params(
        ("Github-Public-Key-Identifier" = String, Header, description = "The identifier of the key the report is signed with"),
        ("Github-Public-Key-Signature" = String, Header, description = "The report's signature: ECDSA P-256 over the body, DER, base64"),
    ),
    request_body(content = Vec<LeakReport>, content_type = "application/json"),
    responses(
        (status = 200, description = "One verdict per match, in order", body = Vec<LeakVerdict>),
        (status = 400, description = "`bad_request`: a body that is not JSON, or too large", body = ErrorBody),
        (status = 401, description = "`invalid_signature`: unsigned, signed with an unknown key, signed badly, or no keys configured", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a body that is not a list of matches, or a match without `token` or `type`", body = ErrorBody),
    ))]
async fn report_leaks(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Vec<LeakVerdict>>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed_by = state
        .config
        .leak_report_keys
        .verify(header(KEY_ID_HEADER), header(SIGNATURE_HEADER), &body)
        .map_err(|refusal| ApiError::new(ErrorCode::InvalidSignature, refusal.to_string()))?;
    let reports: Vec<LeakReport> = parse_json(&body)?;
    let mut audit = Audit::server(state.clock.now_ms());
    audit.ip = ip.map(|ip| ip.to_string());
    let mut latest = None;
    let mut verdicts = Vec::with_capacity(reports.len());
    for report in &reports {
        let hash = sha256_of(&report.token);
        let outcome = if check(&report.token).is_ok() {
            let url = report.url.as_deref().map(bounded);
            let source = report.source.as_deref().map(bounded);
            state.store.report_leak(&hash, url, source, &audit).await?
        } else {
            LeakOutcome::NotOurs
        };
        if let LeakOutcome::Recorded(generation) = outcome {
            latest = latest.max(Some(generation));
        }
        verdicts.push(LeakVerdict {
            token_hash: hex(&hash),
            token_type: report.token_type.clone(),
            label: if outcome == LeakOutcome::NotOurs { "false_positive" } else { "true_positive" }.to_owned(),
        });
    }
    tracing::info!(signed_by, matches = reports.len(), "leak report received");
    if let Some(generation) = latest {
        state.propagate(generation, Affects::Keys).await;
    }
    Ok(Json(verdicts))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
