//! What the desktop app's shell and its web view exchange (typed IPC). Pure data, exported to
//! TypeScript with the API's wire types, so both sides of the app share one definition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ErrorCode;
use crate::purpose::Purpose;
use crate::reminders::ReminderKind;
use crate::rotation::{RotationView, Verification};
use crate::rules::{ExpiresInDays, RateLimit};
use crate::scope::Scope;
use crate::wire::{AuditAction, FieldError, KeyCard, KeyRequestLog, KeyStatus, Plan, Role, UsageDay, WorkspaceSummary};

macro_rules! ipc {
    ($($item:item)*) => {$(
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
        #[serde(rename_all = "camelCase")]
        $item
    )*};
}

/// The event by which the shell asks the web view to open a key; its payload is an [`OpenKey`].
pub const OPEN_KEY_EVENT: &str = "open-key";

/// The few error kinds the web view branches on; everything else is `other` with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AppErrorCode {
    /// The session expired or was signed out: sign in again, then come back to this screen.
    SignedOut,
    /// The workspace server did not answer.
    Unreachable,
    /// Signing in would send the password over plain `http://` to another computer: ask, then
    /// sign in again with `allowUnencrypted`.
    Unencrypted,
    /// No OS keychain: offer the clipboard-only way.
    NoKeychain,
    /// No clipboard: show the key to copy by hand.
    NoClipboard,
    /// Input the server refused, field by field (`fields`).
    Validation,
    /// The workspace's plan has no API access.
    PlanRequired,
    /// The caller's role may not do this.
    Forbidden,
    /// The workspace has 10 keys.
    KeyLimitReached,
    /// The workspace is read-only because of billing.
    ReadOnly,
    NotFound,
    Other,
}

ipc! {
    /// Every failed command: a code to branch on and a sentence to show.
    pub struct AppError {
        pub code: AppErrorCode,
        pub message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub fields: Option<Vec<FieldError>>,
    }

    /// A remembered account: a server and who signed in there. Never carries the token.
    pub struct AccountSummary {
        /// Stable id: the email and server address.
        pub id: String,
        pub server_url: String,
        pub email: String,
        pub name: String,
        /// The in-app demo workspace.
        pub is_demo: bool,
    }

    /// The account and workspace the app is showing.
    pub struct SessionView {
        pub account: AccountSummary,
        pub workspaces: Vec<WorkspaceSummary>,
        pub workspace_id: String,
        /// The server's API reference page.
        pub docs_url: String,
    }

    /// Why an integration's latest request with a key was refused, in plain words, for
    /// "Zapier tried the key at 9:39 but {cause}. {fix}".
    #[derive(Eq)]
    pub struct RefusalAdvice {
        pub at: DateTime<Utc>,
        pub error: ErrorCode,
        pub status: u16,
        /// What went wrong, as the end of a sentence: "sent another workspace's ID with it".
        pub cause: String,
        /// What to do, as a sentence.
        pub fix: String,
    }

    /// A key card as the app shows it.
    pub struct KeyCardView {
        pub card: KeyCard,
        /// The key's latest request was refused (nothing succeeded since), and what to fix.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub refusal: Option<RefusalAdvice>,
        /// This computer's keychain holds a secret at the key's address.
        pub in_keychain: bool,
        /// Older than the rotation policy.
        pub rotation_due: bool,
        /// Expires within 7 days.
        pub expires_soon: bool,
        /// Due for a rotation: past the policy or expiring soon, and not expired.
        pub due: bool,
        /// The expiry a rotation's replacement gets (the nearest preset at least as long as
        /// this key was given); none for a key that never expires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub replacement_expires_in_days: Option<ExpiresInDays>,
        pub keychain_account: String,
        /// Where a rotation of this key keeps the old secret until step 4.
        pub previous_keychain_account: String,
    }

    pub struct KeysView {
        pub keys: Vec<KeyCardView>,
        pub limit: u32,
        pub fetched_at: DateTime<Utc>,
        /// The server could not be reached: these are the last cards seen.
        pub stale: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub stale_reason: Option<String>,
        /// Rotations of this workspace's keys begun on this computer and not finished (to offer
        /// resuming them).
        pub rotations: Vec<RotationView>,
    }

    /// A purpose preset for the generate form.
    pub struct PresetView {
        pub purpose: Purpose,
        pub label: String,
        pub description: String,
        pub scopes: Vec<Scope>,
        pub expires_in_days: Option<ExpiresInDays>,
        pub rate_limit: RateLimit,
    }

    /// The words and rules the screens show, from the code that owns them, so that no screen
    /// keeps a copy that could drift. It depends on nothing at run time: `make bindings` writes
    /// it to `ui/src/lib/backend/vocabulary.json` beside the types, and a test fails when that
    /// file is stale.
    pub struct Vocabulary {
        /// The purpose presets of the generate form, Zapier's among them.
        pub presets: Vec<PresetView>,
        /// Every scope, in the API's order.
        pub scopes: Vec<ScopeView>,
        pub statuses: Vec<StatusView>,
        pub plans: Vec<PlanView>,
        pub roles: Vec<RoleView>,
        /// The expiries a key may be given, in days (or never).
        pub expiry_presets: Vec<ExpiresInDays>,
        pub default_rate_limit: RateLimit,
        pub default_settings: Settings,
        /// The reminders Keydeck can send, each of which can be turned off.
        pub reminder_kinds: Vec<ReminderKindView>,
        pub limits: Limits,
        /// The keychain service of API keys.
        pub keychain_service: String,
        /// What every key starts with.
        pub key_prefix: String,
        /// The event by which the shell asks the web view to open a key ([`OpenKey`]).
        pub open_key_event: String,
    }

    pub struct ScopeView {
        pub scope: Scope,
        pub label: String,
        pub description: String,
    }

    pub struct StatusView {
        pub status: KeyStatus,
        pub label: String,
    }

    pub struct PlanView {
        pub plan: Plan,
        pub label: String,
        pub has_api_access: bool,
    }

    pub struct RoleView {
        pub role: Role,
        pub label: String,
        pub can_manage_keys: bool,
    }

    /// The bounds that forms check before the server or the settings do.
    pub struct Limits {
        pub name_chars: Bounds,
        pub keys_per_workspace: u32,
        pub rate_limit_max_requests: Bounds,
        pub rate_limit_window_seconds: Bounds,
        pub clipboard_clear_seconds: Bounds,
        pub rotation_days: Bounds,
        pub quiet_seconds: Bounds,
    }

    pub struct Bounds {
        pub min: u32,
        pub max: u32,
    }

    pub struct GenerateRequest {
        pub name: String,
        pub purpose: Purpose,
        pub scopes: Vec<Scope>,
        pub expires_in_days: Option<ExpiresInDays>,
        pub rate_limit: RateLimit,
        /// False for the clipboard-only way when there is no keychain.
        pub store_in_keychain: bool,
    }

    /// A new key, revealed once.
    pub struct GenerateResult {
        pub key: KeyCardView,
        /// The secret: the one time it reaches the web view.
        pub secret: String,
        /// Where the keychain holds it (service, account), when it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub keychain: Option<KeychainLocation>,
        /// Why it is not in the keychain, when it is not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub keychain_problem: Option<String>,
        /// Whether the clipboard holds it, and for how long.
        pub copied: bool,
        pub clear_after_seconds: u32,
        /// Why it was not copied, when it was not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub clipboard_problem: Option<String>,
    }

    pub struct KeychainLocation {
        pub service: String,
        pub account: String,
    }

    /// What needs attention in the current workspace: all of it now (the tray's count), and
    /// what was not told before (to notify, once per event).
    pub struct ReminderCheck {
        pub workspace_id: String,
        pub current: Vec<crate::reminders::Reminder>,
        pub new: Vec<crate::reminders::Reminder>,
        /// The keys listed, whose events are kept in the record.
        pub live_keys: Vec<String>,
    }

    /// Which entries of the workspace's audit log to show (Activity, a key's history); all of
    /// them when every field is empty.
    #[derive(Default)]
    pub struct ActivityQuery {
        /// Older than this entry (the `nextBefore` of the page before).
        #[serde(default)]
        pub before: Option<String>,
        /// Entries about any of these keys.
        #[serde(default)]
        pub key_ids: Vec<String>,
        /// A user id, or `admin_cli` or `server`.
        #[serde(default)]
        pub actor: Option<String>,
        #[serde(default)]
        pub actions: Vec<AuditAction>,
    }

    pub struct KeyDetail {
        pub key: KeyCardView,
        pub usage: Vec<UsageDay>,
        pub requests: Vec<KeyRequestLog>,
    }

    /// What to test.
    #[serde(tag = "source")]
    pub enum TestKeyInput {
        /// A key the user pasted.
        #[serde(rename = "pasted")]
        Pasted { key: String },
        /// The key stored in the keychain for this key name, in the current workspace.
        #[serde(rename = "keychain")]
        Keychain {
            #[serde(rename = "keyName")]
            key_name: String,
        },
    }

    /// The answer of a key test, in plain words.
    pub struct TestReport {
        pub verdict: Verdict,
        pub title: String,
        pub detail: String,
        /// What to do about it; empty when all is well.
        pub action: String,
        /// Where the test stopped, when it did not connect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub failure: Option<TestFailure>,
        /// The API's error code, when the server refused the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub code: Option<crate::ErrorCode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub budget: Option<Budget>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub key_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub workspace_name: Option<String>,
    }

    /// The rate-limit budget the server reported.
    pub struct Budget {
        pub limit: u32,
        pub remaining: u32,
        #[ts(type = "number")]
        pub reset_in_seconds: u64,
    }

    pub struct Settings {
        /// Seconds before a copied key is cleared from the clipboard (if still there).
        pub clipboard_clear_seconds: u32,
        /// Keys older than this many days are flagged "rotation due".
        pub rotation_days: u32,
        /// Rotation step 3: how long the old key must stay silent (seconds).
        #[serde(default = "default_quiet_seconds")]
        pub quiet_seconds: u32,
        pub theme: Theme,
        /// The kinds of reminder turned off; every kind is on until turned off here.
        #[serde(default)]
        pub reminders_off: Vec<ReminderKind>,
        /// Whether closing the window keeps Keydeck running in the tray (reminders go on);
        /// off, closing the window quits.
        #[serde(default)]
        pub keep_in_tray: bool,
    }

    /// The shell asks the web view to open a key: a reminder or the tray's menu was clicked.
    pub struct OpenKey {
        pub workspace_id: String,
        pub key_id: String,
    }

    /// A kind of reminder, as the settings name it.
    pub struct ReminderKindView {
        pub kind: ReminderKind,
        pub label: String,
    }

    /// Step 1 of a rotation done (or resumed): the rotation, and the replacement's one reveal
    /// when this call created it.
    pub struct RotationStep {
        pub rotation: RotationView,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub generated: Option<GenerateResult>,
    }

    /// Step 3's live view: both keys as the server sees them now, and the rule's verdict.
    pub struct RotationCheck {
        pub rotation: RotationView,
        pub verification: Verification,
        /// `null` once the old key is revoked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub old_key: Option<KeyCardView>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub new_key: Option<KeyCardView>,
    }

    /// A test of a rotation's new key; a connected test passes step 3.
    pub struct RotationTested {
        pub rotation: RotationView,
        pub report: TestReport,
    }

    /// What the web view needs to draw its first screen.
    pub struct Startup {
        pub accounts: Vec<AccountSummary>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub session: Option<SessionView>,
        pub settings: Settings,
        pub presets: Vec<PresetView>,
        pub keychain_available: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub keychain_problem: Option<String>,
        pub clipboard_available: bool,
        /// Whether this app shows a tray icon (the window's shell has a tray library); without
        /// one, closing the window always quits.
        #[serde(default)]
        pub tray_available: bool,
        /// The session's keys, on the first start-up only, fetched while the window loaded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        pub keys: Option<KeysView>,
    }
}

/// Where a key test that did not connect stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TestFailure {
    /// The offline checks found the key's text wrong: nothing was sent.
    Malformed,
    /// The workspace server did not answer: the key itself was not checked.
    Unreachable,
    /// The server answered and refused the key (`code` says why).
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Connected,
    Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    System,
    Light,
    Dark,
}

/// What the user does to move a rotation on (step 1's creation and step 4's revocation have
/// commands of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum RotationAction {
    /// Step 2 begins: the integration is being updated.
    BeginUpdate,
    /// The integration is updated: step 3 watches.
    BeginConfirm,
    /// Go on to step 4 without proof, the risk having been shown.
    Override,
}

fn default_quiet_seconds() -> u32 {
    60
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clipboard_clear_seconds: 30,
            rotation_days: 90,
            quiet_seconds: 60,
            theme: Theme::System,
            reminders_off: Vec::new(),
            keep_in_tray: false,
        }
    }
}

impl Settings {
    pub const CLIPBOARD_SECONDS: std::ops::RangeInclusive<u32> = 5..=600;
    pub const ROTATION_DAYS: std::ops::RangeInclusive<u32> = 7..=730;
    pub const QUIET_SECONDS: std::ops::RangeInclusive<u32> = 5..=3600;

    /// Checks settings from the web view, naming every bad field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut fields = Vec::new();
        if !Self::CLIPBOARD_SECONDS.contains(&self.clipboard_clear_seconds) {
            fields.push(FieldError::new("clipboardClearSeconds", "Use 5 to 600 seconds."));
        }
        if !Self::ROTATION_DAYS.contains(&self.rotation_days) {
            fields.push(FieldError::new("rotationDays", "Use 7 to 730 days."));
        }
        if !Self::QUIET_SECONDS.contains(&self.quiet_seconds) {
            fields.push(FieldError::new("quietSeconds", "Use 5 to 3600 seconds."));
        }
        if fields.is_empty() { Ok(()) } else { Err(fields) }
    }

    /// Whether reminders of this kind are sent.
    pub fn reminds_of(&self, kind: ReminderKind) -> bool {
        !self.reminders_off.contains(&kind)
    }
}

impl PresetView {
    pub fn all() -> Vec<PresetView> {
        Purpose::ALL
            .into_iter()
            .map(|p| {
                let (label, description) = match p {
                    Purpose::Zapier => ("Zapier", "Reads and creates time entries; reads people and projects."),
                    Purpose::ReportingDashboard => {
                        ("Reporting dashboard", "Reads reports, projects and people. Cannot change anything.")
                    }
                    Purpose::FinanceSync => {
                        ("Finance sync", "Reads time entries, projects and reports for invoicing and payroll.")
                    }
                    Purpose::DataExport => ("Data export", "Reads everything once; expires after a week."),
                    Purpose::Custom => ("Custom", "Choose the permissions yourself."),
                };
                PresetView {
                    purpose: p,
                    label: label.to_owned(),
                    description: description.to_owned(),
                    scopes: p.scopes().to_vec(),
                    expires_in_days: p.expires_in_days(),
                    rate_limit: RateLimit::default(),
                }
            })
            .collect()
    }
}

fn bounds(range: std::ops::RangeInclusive<u32>) -> Bounds {
    Bounds { min: *range.start(), max: *range.end() }
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        use crate::rules;
        let name_chars =
            u32::try_from(rules::NAME_MIN_CHARS).unwrap_or(3)..=u32::try_from(rules::NAME_MAX_CHARS).unwrap_or(100);
        Vocabulary {
            presets: PresetView::all(),
            scopes: Scope::ALL
                .into_iter()
                .map(|scope| ScopeView {
                    scope,
                    label: scope.label().to_owned(),
                    description: scope.explanation().to_owned(),
                })
                .collect(),
            statuses: [KeyStatus::Active, KeyStatus::Disabled, KeyStatus::Expired]
                .into_iter()
                .map(|status| StatusView { status, label: status.label().to_owned() })
                .collect(),
            plans: Plan::ALL
                .into_iter()
                .map(|plan| PlanView { plan, label: plan.label().to_owned(), has_api_access: plan.has_api_access() })
                .collect(),
            roles: [Role::Owner, Role::Admin, Role::Member]
                .into_iter()
                .map(|role| RoleView { role, label: role.label().to_owned(), can_manage_keys: role.can_manage_keys() })
                .collect(),
            expiry_presets: rules::EXPIRATION_PRESETS.into_iter().filter_map(ExpiresInDays::new).collect(),
            default_rate_limit: RateLimit::default(),
            default_settings: Settings::default(),
            reminder_kinds: ReminderKind::ALL
                .into_iter()
                .map(|kind| ReminderKindView { kind, label: kind.label().to_owned() })
                .collect(),
            limits: Limits {
                name_chars: bounds(name_chars),
                keys_per_workspace: rules::MAX_KEYS_PER_WORKSPACE,
                rate_limit_max_requests: bounds(rules::RATE_LIMIT_MAX_REQUESTS),
                rate_limit_window_seconds: bounds(rules::RATE_LIMIT_WINDOW_SECONDS),
                clipboard_clear_seconds: bounds(Settings::CLIPBOARD_SECONDS),
                rotation_days: bounds(Settings::ROTATION_DAYS),
                quiet_seconds: bounds(Settings::QUIET_SECONDS),
            },
            keychain_service: rules::KEYCHAIN_SERVICE.to_owned(),
            key_prefix: crate::key::KEY_PREFIX.to_owned(),
            open_key_event: OPEN_KEY_EVENT.to_owned(),
        }
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary::new()
    }
}
