//! The app's commands: one-line adapters from IPC to `Desk`. Errors cross as `AppError`.

use keydeck_core::Settings;
use keydeck_core::app::{
    ActivityQuery, AppError, GenerateRequest, GenerateResult, KeyCardView, KeyDetail, KeysView, RotationAction,
    RotationCheck, RotationStep, RotationTested, SessionView, Startup, TestKeyInput, TestReport,
};
use keydeck_core::rotation::{RotationReason, RotationView};
use keydeck_core::wire::{AuditPage, UpdateKeyRequest};
use tauri::State;

use keydeck_desk::Desk;

type Result<T> = std::result::Result<T, AppError>;

#[tauri::command]
pub async fn startup(desk: State<'_, Desk>) -> Result<Startup> {
    Ok(desk.startup().await)
}

#[tauri::command]
pub async fn open_demo(desk: State<'_, Desk>) -> Result<SessionView> {
    desk.open_demo().await
}

#[tauri::command]
pub async fn sign_in(
    desk: State<'_, Desk>,
    server_url: String,
    email: String,
    password: String,
    allow_unencrypted: bool,
) -> Result<SessionView> {
    desk.sign_in(&server_url, &email, &password, allow_unencrypted).await
}

#[tauri::command]
pub async fn sign_out(desk: State<'_, Desk>, account_id: String) -> Result<Startup> {
    desk.sign_out(&account_id).await
}

#[tauri::command]
pub async fn switch_workspace(desk: State<'_, Desk>, account_id: String, workspace_id: String) -> Result<SessionView> {
    desk.switch_workspace(&account_id, &workspace_id).await
}

#[tauri::command]
pub async fn list_keys(desk: State<'_, Desk>) -> Result<KeysView> {
    desk.list_keys().await
}

#[tauri::command]
pub async fn generate_key(desk: State<'_, Desk>, request: GenerateRequest) -> Result<GenerateResult> {
    desk.generate_key(request).await
}

#[tauri::command]
pub async fn key_detail(desk: State<'_, Desk>, key_id: String) -> Result<KeyDetail> {
    desk.key_detail(&key_id).await
}

#[tauri::command]
pub async fn activity(desk: State<'_, Desk>, query: ActivityQuery) -> Result<AuditPage> {
    desk.activity(query).await
}

#[tauri::command]
pub async fn update_key(desk: State<'_, Desk>, key_id: String, changes: UpdateKeyRequest) -> Result<KeyCardView> {
    desk.update_key(&key_id, changes).await
}

#[tauri::command]
pub async fn revoke_key(desk: State<'_, Desk>, key_id: String, confirm_name: String) -> Result<()> {
    desk.revoke_key(&key_id, &confirm_name).await
}

#[tauri::command]
pub async fn test_key(desk: State<'_, Desk>, input: TestKeyInput) -> Result<TestReport> {
    desk.test_key(input).await
}

#[tauri::command]
pub async fn save_settings(desk: State<'_, Desk>, settings: Settings) -> Result<Settings> {
    desk.save_settings(settings).await
}

#[tauri::command]
pub async fn copy_text(desk: State<'_, Desk>, text: String) -> Result<()> {
    desk.copy_text(&text)
}

#[tauri::command]
pub async fn open_docs(desk: State<'_, Desk>) -> Result<()> {
    crate::open_in_browser(&desk.docs_url().await?)
}

#[tauri::command]
pub async fn key_card(desk: State<'_, Desk>, key_id: String) -> Result<KeyCardView> {
    desk.key_card(&key_id).await
}

#[tauri::command]
pub async fn delete_unused_key(desk: State<'_, Desk>, key_id: String) -> Result<()> {
    desk.delete_unused_key(&key_id).await
}

#[tauri::command]
pub async fn start_rotation(desk: State<'_, Desk>, key_id: String, reason: RotationReason) -> Result<RotationStep> {
    desk.start_rotation(&key_id, reason).await
}

#[tauri::command]
pub async fn resume_rotation(desk: State<'_, Desk>, rotation_id: String) -> Result<RotationStep> {
    desk.resume_rotation(&rotation_id).await
}

#[tauri::command]
pub async fn advance_rotation(
    desk: State<'_, Desk>,
    rotation_id: String,
    action: RotationAction,
) -> Result<RotationView> {
    desk.advance_rotation(&rotation_id, action).await
}

#[tauri::command]
pub async fn check_rotation(desk: State<'_, Desk>, rotation_id: String) -> Result<RotationCheck> {
    desk.check_rotation(&rotation_id).await
}

#[tauri::command]
pub async fn test_rotation(
    desk: State<'_, Desk>,
    rotation_id: String,
    pasted: Option<String>,
) -> Result<RotationTested> {
    desk.test_rotation(&rotation_id, pasted).await
}

#[tauri::command]
pub async fn finish_rotation(desk: State<'_, Desk>, rotation_id: String, confirm_name: String) -> Result<RotationView> {
    desk.finish_rotation(&rotation_id, &confirm_name).await
}

#[tauri::command]
pub async fn finish_rotation_when_silent(
    desk: State<'_, Desk>,
    rotation_id: String,
    silent_seconds: u32,
) -> Result<RotationView> {
    desk.finish_rotation_when_silent(&rotation_id, silent_seconds).await
}

#[tauri::command]
pub async fn cancel_rotation(desk: State<'_, Desk>, rotation_id: String) -> Result<()> {
    desk.cancel_rotation(&rotation_id).await
}

#[tauri::command]
pub async fn copy_rotation_key(desk: State<'_, Desk>, rotation_id: String) -> Result<()> {
    desk.copy_rotation_key(&rotation_id).await
}

/// Bench-only: the web view has painted. Prints a line for `make bench` (and, with
/// KEYDECK_BENCH_EXIT, ends the app); does nothing outside a benchmark run.
#[tauri::command]
pub fn bench_painted() {
    if let Ok(mode) = std::env::var("KEYDECK_BENCH") {
        tracing::debug!("the page has painted");
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "KEYDECK_BENCH_PAINTED {mode}");
        let _ = out.flush();
        if std::env::var_os("KEYDECK_BENCH_EXIT").is_some() {
            std::process::exit(0);
        }
    }
}
