//! The JSON the workspace API speaks (camelCase), shared with the app as generated TypeScript.
//!
//! Doc comments here become the OpenAPI document's descriptions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error_code::ErrorCode;
use crate::rules::{ExpiresInDays, RateLimit};
use crate::scope::Scope;

macro_rules! wire {
    ($($item:item)*) => {$(
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "camelCase")]
        $item
    )*};
}

wire! {
    /// Every error: a code to branch on and a sentence a person can act on.
    pub struct ErrorBody {
        pub error: ErrorCode,
        pub message: String,
        /// With `validation_failed`: every bad field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub fields: Option<Vec<FieldError>>,
        /// With `insufficient_scope`: the scope the request needs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub required_scope: Option<Scope>,
        /// With `rate_limit_exceeded` and `too_many_attempts`: seconds to wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        pub retry_after: Option<u64>,
    }

    /// One bad field of a request.
    pub struct FieldError {
        /// The field's name as sent, e.g. `name` or `rateLimit.maxRequests`.
        pub field: String,
        pub message: String,
    }

    /// `POST /sessions`.
    #[serde(deny_unknown_fields)]
    pub struct SignInRequest {
        pub email: String,
        pub password: String,
    }

    /// A new session. The token goes in `Authorization: Bearer` for key management.
    pub struct SessionCreated {
        pub token: String,
        pub expires_at: DateTime<Utc>,
        pub user: UserInfo,
    }

    pub struct UserInfo {
        pub id: String,
        pub email: String,
        pub name: String,
    }

    /// One workspace the signed-in user belongs to.
    pub struct WorkspaceSummary {
        pub id: String,
        pub name: String,
        pub plan: Plan,
        pub billing_status: BillingStatus,
        /// The caller's role in this workspace.
        pub role: Role,
        /// Where integrations send their requests, e.g. `http://127.0.0.1:8080/api/v1`.
        pub api_base_url: String,
    }

    pub struct WorkspaceList {
        pub workspaces: Vec<WorkspaceSummary>,
    }

    /// An API key as key management sees it. Never carries the secret.
    pub struct KeyCard {
        pub id: String,
        pub name: String,
        /// The first 8 characters of the key (`kdk_` and 4 more).
        pub prefix: String,
        /// The last 4 characters of the key.
        pub hint: String,
        pub scopes: Vec<Scope>,
        pub created_at: DateTime<Utc>,
        pub created_by: KeyCreator,
        /// The last request made with the key, whatever its answer; `null` when never used.
        pub last_used_at: Option<DateTime<Utc>>,
        /// The last request answered with a 2xx: the proof that whatever sends the key works.
        /// `null` when no request has succeeded yet.
        pub last_success_at: Option<DateTime<Utc>>,
        /// The latest request that was refused (any answer other than a 2xx), so a client can
        /// say why an integration's calls fail; `null` when none was.
        pub last_refusal: Option<KeyRefusal>,
        #[ts(type = "number")]
        pub request_count: u64,
        /// `null` when the key never expires.
        pub expires_at: Option<DateTime<Utc>>,
        pub enabled: bool,
        pub status: KeyStatus,
        pub rate_limit: RateLimit,
        /// The key this one replaces, when it was made by a rotation (`replaces` at creation).
        pub replaces: Option<String>,
        /// The live key made to replace this one, while there is one.
        pub replaced_by: Option<String>,
        /// The addresses and CIDR ranges requests with the key may come from; empty allows
        /// any address. Others are refused with `ip_not_allowed`.
        pub allowed_ips: Vec<String>,
        /// The server's plan to revoke the key once it has been silent, while there is one.
        pub revoke_plan: Option<RevokePlan>,
        /// Set when a secret scanner reported the key found in public; the key was disabled
        /// at that moment.
        pub leak: Option<LeakMark>,
    }

    /// "Revoke the key once it has been silent for …": the server revokes the key by itself,
    /// without any app running, once no request has been made with it for `silentSeconds`.
    pub struct RevokePlan {
        pub silent_seconds: u32,
        pub scheduled_at: DateTime<Utc>,
        /// The earliest moment the plan can run, if no request comes before it: the later of
        /// the last request and the plan's making, plus `silentSeconds`.
        pub revokes_at: DateTime<Utc>,
    }

    /// A report that the key was found in public (for example GitHub secret scanning).
    pub struct LeakMark {
        pub reported_at: DateTime<Utc>,
        /// Where the key was found, as the report gave it.
        pub url: Option<String>,
        /// What kind of place it was found in, e.g. `content` or `commit`.
        pub source: Option<String>,
    }

    /// A refused request made with a key.
    pub struct KeyRefusal {
        pub at: DateTime<Utc>,
        /// The API's error code of the answer.
        pub error: ErrorCode,
        pub status: u16,
    }

    /// Who made a key. A key acts with its creator's current permissions.
    pub struct KeyCreator {
        pub id: String,
        pub name: String,
        /// False once the creator has left the workspace or is no longer an owner or admin:
        /// the key then stops working (`key_owner_removed`).
        pub can_manage_keys: bool,
    }

    pub struct KeyList {
        pub keys: Vec<KeyCard>,
        /// The most live keys a workspace may have.
        pub limit: u32,
    }

    /// `POST /workspaces/{ws}/keys`. Every bad field is reported at once.
    pub struct CreateKeyRequest {
        /// 3 to 100 characters, unique among the workspace's live keys (compared trimmed and
        /// ignoring case). A replacement (`replaces`) takes the old key's name: leave it out,
        /// or send that name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub name: Option<String>,
        /// At least one scope.
        pub scopes: Vec<Scope>,
        /// 7, 30, 90, 180 or 365; `null` for never. Cannot be changed later.
        pub expires_in_days: Option<ExpiresInDays>,
        /// Defaults to 100 requests per 60 seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub rate_limit: Option<RateLimit>,
        /// The id of a live key this one replaces (a rotation's step 1). A key has at most one
        /// live replacement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub replaces: Option<String>,
        /// Addresses or CIDR ranges (`203.0.113.0/24`, `2001:db8::/32`), at most 50; empty
        /// allows any address. Left out, a replacement takes the old key's list and any other
        /// key allows any address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub allowed_ips: Option<Vec<String>>,
    }

    /// The new key. `secret` appears in this response only.
    pub struct CreatedKey {
        pub key: KeyCard,
        pub secret: String,
    }

    /// `PATCH /workspaces/{ws}/keys/{id}`: every field optional. The expiration cannot change.
    #[derive(Default)]
    pub struct UpdateKeyRequest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub scopes: Option<Vec<Scope>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub rate_limit: Option<RateLimit>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub enabled: Option<bool>,
        /// Replaces the allowlist; `[]` allows any address again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub allowed_ips: Option<Vec<String>>,
        /// Plans the key's revocation once it has been silent this many seconds (3600 to
        /// 604800); `null` cancels the plan. Left out, the plan stays as it is.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
        #[ts(optional, type = "number | null")]
        pub revoke_when_silent_seconds: Option<Option<u32>>,
    }

    /// One request made with a key.
    pub struct KeyRequestLog {
        pub at: DateTime<Utc>,
        pub method: String,
        pub path: String,
        pub status: u16,
        /// The address the request came from.
        pub ip: String,
    }

    pub struct KeyRequestList {
        /// Newest first.
        pub requests: Vec<KeyRequestLog>,
    }

    /// Requests made with a key on one day (UTC).
    pub struct UsageDay {
        pub date: NaiveDate,
        #[ts(type = "number")]
        pub count: u64,
    }

    pub struct KeyUsage {
        /// Oldest first, one entry per day, days without requests included.
        pub days: Vec<UsageDay>,
    }

    /// `GET /me`: who the key belongs to. Integrations use it as their connection test.
    pub struct Me {
        pub workspace: MeWorkspace,
        pub key: MeKey,
    }

    pub struct MeWorkspace {
        pub id: String,
        pub name: String,
    }

    pub struct MeKey {
        pub id: String,
        pub name: String,
        pub hint: String,
        pub scopes: Vec<Scope>,
        pub expires_at: Option<DateTime<Utc>>,
    }

    pub struct Employee {
        pub id: String,
        pub name: String,
        pub email: String,
        pub clocked_in: bool,
        /// When the employee clocked in, while clocked in.
        pub clocked_in_since: Option<DateTime<Utc>>,
    }

    pub struct EmployeeList {
        pub employees: Vec<Employee>,
    }

    pub struct Project {
        pub id: String,
        pub name: String,
        pub client: Option<String>,
        pub budget_hours: Option<f64>,
        pub created_at: DateTime<Utc>,
    }

    pub struct ProjectList {
        pub projects: Vec<Project>,
    }

    #[serde(deny_unknown_fields)]
    pub struct NewProject {
        pub name: String,
        #[serde(default)]
        pub client: Option<String>,
        #[serde(default)]
        pub budget_hours: Option<f64>,
    }

    pub struct TimeEntry {
        pub id: String,
        pub employee_id: String,
        pub project_id: Option<String>,
        pub start: DateTime<Utc>,
        /// `null` while the entry is running.
        pub end: Option<DateTime<Utc>>,
        pub note: Option<String>,
    }

    pub struct TimeEntryList {
        pub time_entries: Vec<TimeEntry>,
    }

    #[serde(deny_unknown_fields)]
    pub struct NewTimeEntry {
        pub employee_id: String,
        #[serde(default)]
        pub project_id: Option<String>,
        pub start: DateTime<Utc>,
        #[serde(default)]
        pub end: Option<DateTime<Utc>>,
        #[serde(default)]
        pub note: Option<String>,
    }

    /// Tracked time between two dates, in minutes.
    pub struct ReportSummary {
        pub from: NaiveDate,
        pub to: NaiveDate,
        pub total_minutes: u64,
        pub by_project: Vec<ReportLine>,
        pub by_employee: Vec<ReportLine>,
    }

    pub struct ReportLine {
        /// A project or employee id; `null` for time not booked to a project.
        pub id: Option<String>,
        pub name: String,
        pub minutes: u64,
    }

    /// `GET /healthz`.
    pub struct Health {
        pub status: String,
    }

    /// Who made a change in the audit log.
    pub struct AuditActor {
        pub kind: ActorKind,
        /// The user, for `user`.
        pub id: Option<String>,
        pub name: Option<String>,
    }

    /// A field's value before and after a change.
    pub struct AuditChange {
        #[ts(type = "unknown")]
        pub from: serde_json::Value,
        #[ts(type = "unknown")]
        pub to: serde_json::Value,
    }

    /// One entry of a workspace's audit log. Never carries a secret or a hash.
    pub struct AuditEntry {
        pub id: String,
        pub at: DateTime<Utc>,
        pub actor: AuditActor,
        /// The address the change came from; `null` for the admin command line and the server.
        pub ip: Option<String>,
        pub action: AuditAction,
        /// The key changed, for key actions.
        pub key_id: Option<String>,
        /// The member changed, for member actions.
        pub user_id: Option<String>,
        /// The fields that changed.
        pub changes: std::collections::BTreeMap<String, AuditChange>,
        /// The key's name when the entry was written (after the change, for `renamed`).
        pub key_name: Option<String>,
        /// The member's name when the entry was written, for member actions.
        pub user_name: Option<String>,
    }

    /// `GET /workspaces/{ws}/audit`: newest first.
    pub struct AuditPage {
        pub entries: Vec<AuditEntry>,
        /// Pass as `before` for the next (older) page; `null` on the last page.
        pub next_before: Option<String>,
    }
}

/// A field where "left out" and `null` mean different things (`Option<Option<T>>`): serde
/// reads a present `null` as `Some(None)` only through this.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        value.as_ref().and_then(Option::as_ref).serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

macro_rules! wire_enum {
    ($($item:item)*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        $item
    )*};
}

wire_enum! {
    /// A workspace's plan. Only `team` and `business` include API access.
    pub enum Plan { Free, SoloPro, Team, Business }

    /// `read_only` blocks key-authenticated writes and new keys until billing is resolved.
    pub enum BillingStatus { Active, ReadOnly }

    /// Owners and admins manage keys; members do not.
    pub enum Role { Owner, Admin, Member }

    /// What a key card shows as its state.
    pub enum KeyStatus { Active, Disabled, Expired }

    /// Who made a change: a user through a session, the server's admin command line, or the
    /// server itself (expiry, a rotation's scheduled revocation, a leak report).
    pub enum ActorKind { User, AdminCli, Server }

    /// What an audit entry records.
    pub enum AuditAction {
        Created,
        Renamed,
        ScopesChanged,
        RateLimitChanged,
        AllowedIpsChanged,
        Disabled,
        Enabled,
        Revoked,
        RevokeScheduled,
        /// A plan to revoke a key once it is silent was cancelled before it ran.
        RevokeCancelled,
        RevokedWhenSilent,
        Expired,
        /// A key stopped working because its creator left the workspace or became a member.
        CreatorRemoved,
        /// A key works again because its creator is an owner or admin again.
        CreatorRestored,
        MemberAdded,
        RoleChanged,
        MemberRemoved,
        LeakReported,
    }
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::SoloPro, Plan::Team, Plan::Business];

    /// The plan's name as people see it.
    pub fn label(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::SoloPro => "Solo Pro",
            Plan::Team => "Team",
            Plan::Business => "Business",
        }
    }

    pub fn has_api_access(self) -> bool {
        matches!(self, Plan::Team | Plan::Business)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::SoloPro => "solo_pro",
            Plan::Team => "team",
            Plan::Business => "business",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl BillingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingStatus::Active => "active",
            BillingStatus::ReadOnly => "read_only",
        }
    }

    pub fn parse(s: &str) -> Option<BillingStatus> {
        [BillingStatus::Active, BillingStatus::ReadOnly].into_iter().find(|b| b.as_str() == s)
    }
}

impl Role {
    /// The role's name as people see it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Owner, Role::Admin, Role::Member].into_iter().find(|r| r.as_str() == s)
    }

    pub fn can_manage_keys(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> Self {
        Self { field: field.to_owned(), message: message.to_owned() }
    }
}

impl ErrorBody {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self { error, message: message.into(), fields: None, required_scope: None, retry_after: None }
    }
}

impl KeyStatus {
    /// The status as a card shows it.
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::Expired => "Expired",
        }
    }

    /// A key's status at `now`: disabled wins over expired, because re-enabling is the action
    /// an admin can take.
    pub fn at(enabled: bool, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> KeyStatus {
        if !enabled {
            KeyStatus::Disabled
        } else if expires_at.is_some_and(|e| e <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}
