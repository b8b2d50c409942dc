//! The TypeScript the web view codes against is generated from these Rust types; this test
//! fails when the committed file is stale. `make bindings` (UPDATE_SNAPSHOTS=1) rewrites it.

use keydeck_core::app::*;
use keydeck_core::reminders::{Reminder, ReminderKind};
use keydeck_core::rotation::*;
use keydeck_core::wire::*;
use keydeck_core::{ErrorCode, ExpiresInDays, Purpose, RateLimit, Scope};
use ts_rs::TS;

const TARGET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/backend/types.ts");

macro_rules! decls {
    ($($t:ty),* $(,)?) => { vec![$(format!("export {}", <$t as TS>::decl())),*] };
}

fn generate() -> String {
    let decls = decls![
        // the workspace API
        ErrorCode,
        Scope,
        Purpose,
        ExpiresInDays,
        RateLimit,
        Plan,
        BillingStatus,
        Role,
        KeyStatus,
        ErrorBody,
        FieldError,
        UserInfo,
        WorkspaceSummary,
        KeyCard,
        RevokePlan,
        LeakMark,
        KeyCreator,
        KeyRefusal,
        UsageDay,
        KeyRequestLog,
        Me,
        MeWorkspace,
        MeKey,
        AuditPage,
        AuditEntry,
        AuditActor,
        AuditChange,
        ActorKind,
        AuditAction,
        // the app's IPC
        AppErrorCode,
        AppError,
        AccountSummary,
        SessionView,
        RefusalAdvice,
        KeyCardView,
        KeysView,
        PresetView,
        GenerateRequest,
        GenerateResult,
        KeychainLocation,
        ActivityQuery,
        ReminderCheck,
        Reminder,
        ReminderKind,
        ReminderKindView,
        OpenKey,
        KeyDetail,
        TestKeyInput,
        TestReport,
        TestFailure,
        Verdict,
        Budget,
        Settings,
        Theme,
        Startup,
        Vocabulary,
        ScopeView,
        StatusView,
        PlanView,
        RoleView,
        Limits,
        Bounds,
        UpdateKeyRequest,
        // rotation
        RotationReason,
        Stage,
        KeyRef,
        ConfirmedBy,
        Confirmation,
        RotationView,
        Verification,
        RotationStep,
        RotationCheck,
        RotationTested,
        RotationAction,
    ];
    format!(
        "// Generated from crates/core by `make bindings`: do not edit by hand.\n/* eslint-disable */\n\n{}\n",
        decls.join("\n\n")
    )
}

/// Compares a generated file with the committed one (rewriting it under `make bindings`).
fn matches_committed(path: &str, current: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, current).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let name = path.rsplit("/../../").next().unwrap_or(path);
    assert!(committed == current, "{name} is stale: run `make bindings` and commit it.");
}

#[test]
fn the_typescript_types_match_the_rust_ones() {
    matches_committed(TARGET, &generate());
}

const VOCABULARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/backend/vocabulary.json");

#[test]
fn the_web_views_vocabulary_is_cores() {
    matches_committed(VOCABULARY, &(serde_json::to_string_pretty(&Vocabulary::new()).unwrap() + "\n"));
}
