//! Lists the app's commands so Tauri generates one permission per command; the capability in
//! `capabilities/default.json` grants exactly these.

const COMMANDS: &[&str] = &[
    "startup",
    "open_demo",
    "sign_in",
    "sign_out",
    "switch_workspace",
    "list_keys",
    "generate_key",
    "key_detail",
    "activity",
    "update_key",
    "revoke_key",
    "test_key",
    "save_settings",
    "copy_text",
    "open_docs",
    "key_card",
    "delete_unused_key",
    "start_rotation",
    "resume_rotation",
    "advance_rotation",
    "check_rotation",
    "test_rotation",
    "finish_rotation",
    "finish_rotation_when_silent",
    "cancel_rotation",
    "copy_rotation_key",
    "bench_painted",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
