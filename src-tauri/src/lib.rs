//! The Keydeck desktop app: a Tauri 2 shell. `run` builds the real app; `app` is generic over
//! the runtime so tests drive the same commands through `tauri::test`.

pub mod commands;
mod tray;

use keydeck_core::app::AppErrorCode;
use keydeck_desk::Desk;
use keydeck_desk::error::{AppResult, app_error};
use tauri::{Manager, Runtime};

/// Registers the app's state and commands on a builder.
pub fn app<R: Runtime>(builder: tauri::Builder<R>, desk: Desk) -> tauri::Builder<R> {
    builder.manage(desk).invoke_handler(handler())
}

/// Every command of the app (each granted in `capabilities/default.json`).
fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::startup,
        commands::open_demo,
        commands::sign_in,
        commands::sign_out,
        commands::switch_workspace,
        commands::list_keys,
        commands::generate_key,
        commands::key_detail,
        commands::activity,
        commands::update_key,
        commands::revoke_key,
        commands::test_key,
        commands::save_settings,
        commands::copy_text,
        commands::open_docs,
        commands::key_card,
        commands::delete_unused_key,
        commands::start_rotation,
        commands::resume_rotation,
        commands::advance_rotation,
        commands::check_rotation,
        commands::test_rotation,
        commands::finish_rotation,
        commands::finish_rotation_when_silent,
        commands::cancel_rotation,
        commands::copy_rotation_key,
        commands::bench_painted,
    ]
}

pub fn run() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
    // First, so that a second launch hands over before it starts anything of its own (a second
    // demo server on the same database, with its own caches, over the same journals).
    let builder = tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
        tracing::info!("Keydeck was started again: showing the window that is already open");
        tray::show_window(app);
    }));
    let builder = builder.plugin(tauri_plugin_notification::init());
    let builder = builder.setup(|app| {
        let data_dir = app.path().app_data_dir()?;
        let demo_on_start = std::env::args().any(|a| a == "--demo");
        let desk = Desk::open(data_dir).with_demo_on_start(demo_on_start);
        desk.set_tray_available(tray::create(app));
        app.manage(desk);
        tray::follow(app);
        // Before any reminder is shown, so that every one of them reports its click.
        open_keys_of_clicked_reminders(app.handle());
        // The bench's blank page is the same binary doing nothing but show the page.
        if std::env::var("KEYDECK_BENCH").as_deref() != Ok("blank") {
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<Desk>().prewarm().await;
                remind(handle).await;
            });
        }
        main_window(app)?;
        Ok(())
    });
    let app = builder
        .on_window_event(keep_in_tray_on_close)
        .invoke_handler(handler())
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| panic!("Keydeck could not start: {e}"));
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let desk = handle.state::<Desk>();
            tauri::async_runtime::block_on(desk.shutdown());
        }
    });
}

/// How often the reminders are looked at while Keydeck runs.
const REMIND_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends an OS notification for each reminder not told before (`Desk::reminders` tells each
/// event once, across restarts), now and then every minute, while a workspace is open.
async fn remind(handle: tauri::AppHandle) {
    use tauri_plugin_notification::NotificationExt;
    loop {
        let desk = handle.state::<Desk>();
        match desk.reminders().await {
            Ok(check) => {
                let mut shown = Vec::new();
                for reminder in &check.new {
                    let notification = handle
                        .notification()
                        .builder()
                        .title(&reminder.title)
                        .body(&reminder.body)
                        .extra(WORKSPACE_ID, &check.workspace_id)
                        .extra(KEY_ID, &reminder.key_id);
                    match notification.show() {
                        Ok(()) => {
                            tracing::info!(kind = ?reminder.kind, key = %reminder.key_id, "reminder shown");
                            shown.push(reminder.clone());
                        }
                        // Not recorded: it is tried again at the next look.
                        Err(e) => tracing::warn!(error = %e, "a reminder could not be shown"),
                    }
                }
                if let Err(e) = desk.reminders_told(&check, &shown) {
                    tracing::warn!(error = %e.message, "the reminders shown could not be recorded");
                }
            }
            // Signed out, or the server is away: nothing to tell until the next look.
            Err(e) => tracing::debug!(error = %e.message, "no reminders this time"),
        }
        tokio::time::sleep(REMIND_EVERY).await;
    }
}

/// What a reminder's notification carries, to open its key when clicked.
const WORKSPACE_ID: &str = "workspaceId";
const KEY_ID: &str = "keyId";

/// A click on a reminder (reported by the notification server as its default action, `tap`)
/// opens the reminder's key.
fn open_keys_of_clicked_reminders(app: &tauri::AppHandle) {
    use tauri_plugin_notification::NotificationExt;
    let handle = app.clone();
    let registered = app.notification().on_action(move |performed| {
        let extra = performed.notification().map(|n| n.extra());
        let text = |name: &str| extra.and_then(|e| e.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
        if performed.action_id() == "tap"
            && let (Some(workspace_id), Some(key_id)) = (text(WORKSPACE_ID), text(KEY_ID))
        {
            tray::open_key(&handle, keydeck_core::app::OpenKey { workspace_id, key_id });
        }
    });
    if let Err(e) = registered {
        tracing::warn!(error = %e, "clicks on reminders will not open their keys");
    }
}

/// With "keep running in the tray" on (and a tray icon to come back from), closing the main
/// window hides it: reminders go on, and the tray (or starting Keydeck again) brings it back.
/// Otherwise closing it quits.
fn keep_in_tray_on_close(window: &tauri::Window, event: &tauri::WindowEvent) {
    if let tauri::WindowEvent::CloseRequested { api, .. } = event
        && window.label() == "main"
        && window.state::<Desk>().keeps_in_tray()
    {
        api.prevent_close();
        if let Err(e) = window.hide() {
            tracing::warn!(error = %e, "the window could not be hidden");
        }
    }
}

/// The main window, from its configuration; under `make bench` (KEYDECK_BENCH set) its page
/// learns the bench mode before any of its own code runs.
fn main_window(app: &mut tauri::App) -> tauri::Result<()> {
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main").cloned() else {
        return Ok(());
    };
    let mut builder = tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?;
    if let Ok(mode) = std::env::var("KEYDECK_BENCH") {
        let mode = serde_json::to_string(&mode).unwrap_or_default();
        builder = builder.initialization_script(format!("window.__KEYDECK_BENCH__ = {mode};"));
    }
    let window = builder.build()?;
    paint_on_the_cpu_without_a_gpu(&window)?;
    Ok(())
}

/// Without a GPU (no `/dev/dri`: virtual machines, remote desktops, CI), WebKitGTK would
/// composite through a software OpenGL and take about twice as long per frame as painting
/// on the CPU directly; there, it paints on the CPU. Machines with a GPU keep WebKit's default.
#[cfg(target_os = "linux")]
fn paint_on_the_cpu_without_a_gpu(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    if std::path::Path::new("/dev/dri").exists() {
        return Ok(());
    }
    window.with_webview(|webview| {
        use webkit2gtk::{SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(webkit2gtk::HardwareAccelerationPolicy::Never);
        }
    })
}

#[cfg(not(target_os = "linux"))]
fn paint_on_the_cpu_without_a_gpu(_: &tauri::WebviewWindow) -> tauri::Result<()> {
    Ok(())
}

/// Opens an http(s) address in the default browser.
pub fn open_in_browser(url: &str) -> AppResult<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(app_error(AppErrorCode::Other, "Only web addresses can be opened."));
    }
    #[cfg(target_os = "macos")]
    let mut command = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut command = {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut command = std::process::Command::new("xdg-open");
    command
        .arg(url)
        .spawn()
        .map(drop)
        .map_err(|e| app_error(AppErrorCode::Other, format!("Could not open a browser: {e}. The address is {url}.")))
}
