//! The time-tracking API that keys open: `/me`, time entries, employees, projects, reports.
//! Every route here sits behind the key check (`keycheck::require_key`); handlers check
//! their scope and, for writes, the workspace's billing status.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use keydeck_core::key::random_base62;
use keydeck_core::wire::{
    EmployeeList, ErrorBody, Me, NewProject, NewTimeEntry, Project, ProjectList, ReportSummary, TimeEntry,
    TimeEntryList,
};
use keydeck_core::{ErrorCode, Scope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, number_param, unknown_params};
use crate::keycheck::KeyContext;
use crate::state::AppState;
use crate::store::{Affects, TimeEntryFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_time_entries, create_time_entry))
        .routes(routes!(get_time_entry))
        .routes(routes!(list_employees))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(report_summary))
}

fn read_only() -> ApiError {
    ApiError::new(
        ErrorCode::WorkspaceReadOnly,
        "This workspace is read-only until its billing is resolved: reading works, writing does not. The workspace owner can resolve billing.",
    )
}

/// Who this key belongs to: the connection test for integrations. Needs no scope.
#[utoipa::path(get, path = "/api/v1/me", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    responses(
        (status = 200, body = Me, headers(
            ("X-RateLimit-Limit" = u32, description = "Requests allowed per window"),
            ("X-RateLimit-Remaining" = u32, description = "Requests left in this window"),
            ("X-RateLimit-Reset" = i64, description = "Unix seconds when the window resets"))),
    ))]
async fn me(ctx: KeyContext) -> Response {
    ([(CONTENT_TYPE, "application/json")], ctx.key.me_body.clone()).into_response()
}

/// Reads a time or a date (midnight UTC) query parameter.
fn time_param(query: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    let Some(raw) = query.get(name) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.timestamp_millis()));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Some(d.and_utc().timestamp_millis()))
        .ok_or_else(|| ApiError::field(name, "Use a date like 2026-11-24 or a time like 2026-11-24T09:00:00Z."))
}

/// Time entries, newest first.
#[utoipa::path(get, path = "/api/v1/time-entries", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    params(("from" = Option<String>, Query, description = "Entries starting at or after this date or time"),
           ("to" = Option<String>, Query, description = "Entries starting before this date or time"),
           ("employeeId" = Option<String>, Query, description = "Only this employee's entries"),
           ("limit" = Option<u32>, Query, description = "1 to 500, default 100")),
    responses(
        (status = 200, body = TimeEntryList),
        (status = 403, description = "`insufficient_scope` (needs `time_entries:read`)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a parameter out of range, or one the API does not know", body = ErrorBody),
    ))]
async fn list_time_entries(
    State(state): State<AppState>,
    ctx: KeyContext,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<TimeEntryList>> {
    ctx.require(Scope::TimeEntriesRead)?;
    unknown_params(&query, &["from", "to", "employeeId", "limit"])?;
    let filter = TimeEntryFilter {
        from: time_param(&query, "from")?,
        to: time_param(&query, "to")?,
        employee_id: query.get("employeeId").cloned(),
        limit: number_param(query.get("limit").map(String::as_str), "limit", 1..=500, 100)?,
    };
    Ok(Json(TimeEntryList { time_entries: state.store.time_entries(ctx.workspace_id(), &filter).await? }))
}

/// One time entry.
#[utoipa::path(get, path = "/api/v1/time-entries/{id}", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    params(("id" = String, Path, description = "Time entry ID")),
    responses((status = 200, body = TimeEntry), (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn get_time_entry(
    State(state): State<AppState>,
    ctx: KeyContext,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TimeEntry>> {
    ctx.require(Scope::TimeEntriesRead)?;
    let entry =
        state.store.time_entry(ctx.workspace_id(), &id).await?.ok_or_else(|| ApiError::not_found("time entry"))?;
    Ok(Json(entry))
}

/// Record a time entry. Leave `end` out for an entry that is still running.
#[utoipa::path(post, path = "/api/v1/time-entries", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    request_body = NewTimeEntry,
    responses(
        (status = 201, body = TimeEntry),
        (status = 403, description = "`insufficient_scope` (needs `time_entries:write`), `workspace_read_only`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn create_time_entry(
    State(state): State<AppState>,
    ctx: KeyContext,
    ApiJson(new): ApiJson<NewTimeEntry>,
) -> ApiResult<(StatusCode, Json<TimeEntry>)> {
    ctx.require(Scope::TimeEntriesWrite)?;
    let ws = ctx.workspace_id();
    let mut fields = Vec::new();
    if new.end.is_some_and(|end| end <= new.start) {
        fields.push(keydeck_core::wire::FieldError::new("end", "The end must be after the start."));
    }
    if new.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        fields.push(keydeck_core::wire::FieldError::new("note", "Use at most 1000 characters."));
    }
    let (employee_ok, project_ok) =
        state.store.entry_refs_exist(ws, &new.employee_id, new.project_id.as_deref()).await?;
    if !employee_ok {
        fields.push(keydeck_core::wire::FieldError::new(
            "employeeId",
            "No employee of this workspace has this id. GET /employees lists them.",
        ));
    }
    if !project_ok {
        fields.push(keydeck_core::wire::FieldError::new(
            "projectId",
            "No project of this workspace has this id. GET /projects lists them.",
        ));
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let entry = TimeEntry {
        id: format!("te_{}", random_base62(&mut rand::rng(), 16)),
        employee_id: new.employee_id,
        project_id: new.project_id,
        start: new.start,
        end: new.end,
        note: new.note,
    };
    if !state.store.insert_time_entry(ws, &entry, state.clock.now_ms()).await? {
        return Err(read_only());
    }
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Employees, with whether each is clocked in right now.
#[utoipa::path(get, path = "/api/v1/employees", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    responses((status = 200, body = EmployeeList), (status = 403, description = "`insufficient_scope` (needs `employees:read`)", body = ErrorBody)))]
async fn list_employees(State(state): State<AppState>, ctx: KeyContext) -> ApiResult<Json<EmployeeList>> {
    ctx.require(Scope::EmployeesRead)?;
    Ok(Json(EmployeeList { employees: state.store.employees(ctx.workspace_id()).await? }))
}

/// Projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    responses((status = 200, body = ProjectList), (status = 403, description = "`insufficient_scope` (needs `projects:read`)", body = ErrorBody)))]
async fn list_projects(State(state): State<AppState>, ctx: KeyContext) -> ApiResult<Response> {
    ctx.require(Scope::ProjectsRead)?;
    let workspace = ctx.workspace_id();
    // Kept in memory until a change (see `leased`): integrations list projects far more often
    // than anyone adds one.
    let body = match state.projects.get(workspace, state.clock.now_ms()) {
        Some(body) => body,
        None => {
            let read = || async {
                let projects = state.store.projects(workspace).await?;
                Ok(Bytes::from(serde_json::to_vec(&ProjectList { projects }).unwrap_or_default()))
            };
            state.projects.load(workspace.to_owned(), read).await?
        }
    };
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// Create a project.
#[utoipa::path(post, path = "/api/v1/projects", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    request_body = NewProject,
    responses(
        (status = 201, body = Project),
        (status = 403, description = "`insufficient_scope` (needs `projects:write`), `workspace_read_only`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    ))]
async fn create_project(
    State(state): State<AppState>,
    ctx: KeyContext,
    ApiJson(new): ApiJson<NewProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    ctx.require(Scope::ProjectsWrite)?;
    let mut fields = Vec::new();
    let len = new.name.trim().chars().count();
    if !(1..=200).contains(&len) {
        fields.push(keydeck_core::wire::FieldError::new("name", "Use 1 to 200 characters."));
    }
    if new.budget_hours.is_some_and(|h| !(0.0..=1_000_000.0).contains(&h)) {
        fields.push(keydeck_core::wire::FieldError::new("budgetHours", "Use a number of hours from 0 to 1,000,000."));
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let id = format!("prj_{}", random_base62(&mut rand::rng(), 16));
    let (project, generation) =
        state.store.insert_project(&id, ctx.workspace_id(), &new, state.clock.now_ms()).await?.ok_or_else(read_only)?;
    state.propagate(generation, Affects::Projects).await;
    Ok((StatusCode::CREATED, Json(project)))
}

/// Finished time between two dates (both included), by project and by employee.
#[utoipa::path(get, path = "/api/v1/reports/summary", tag = "API", security(("apiKey" = [], "workspaceId" = [])),
    params(("from" = String, Query, description = "First day, e.g. 2026-11-01"), ("to" = String, Query, description = "Last day, at most 366 days after `from`")),
    responses((status = 200, body = ReportSummary), (status = 403, description = "`insufficient_scope` (needs `reports:read`)", body = ErrorBody),
              (status = 422, description = "`validation_failed`", body = ErrorBody)))]
async fn report_summary(
    State(state): State<AppState>,
    ctx: KeyContext,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<ReportSummary>> {
    ctx.require(Scope::ReportsRead)?;
    unknown_params(&query, &["from", "to"])?;
    let date = |name: &str| -> Result<NaiveDate, keydeck_core::wire::FieldError> {
        query
            .get(name)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| keydeck_core::wire::FieldError::new(name, "Use a date like 2026-11-24."))
    };
    let (from, to) = match (date("from"), date("to")) {
        (Ok(from), Ok(to)) => (from, to),
        (a, b) => return Err(ApiError::validation([a.err(), b.err()].into_iter().flatten().collect())),
    };
    let days = (to - from).num_days();
    if !(0..=366).contains(&days) {
        return Err(ApiError::field("to", "Use a date on or after `from`, at most 366 days later."));
    }
    let start = from.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp_millis()).unwrap_or_default();
    let end = start + (days + 1) * 86_400_000;
    let (by_project, by_employee) = state.store.report(ctx.workspace_id(), start, end).await?;
    let total_minutes = by_project.iter().map(|l| l.minutes).sum();
    Ok(Json(ReportSummary { from, to, total_minutes, by_project, by_employee }))
}
