//! The tray: an icon labelled with the number of things that need attention in the open
//! workspace, and a menu that lists them (each opens its key), brings the window back, or quits.
//! It follows `Desk::attention`, which every fresh key list updates. On Linux the icon is a
//! StatusNotifierItem (libayatana-appindicator); there the count is the icon's label, since
//! the platform shows no tooltip.

use keydeck_core::app::{OPEN_KEY_EVENT, OpenKey};
use keydeck_desk::{Attention, Desk};
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime};

const TRAY_ID: &str = "keydeck";
/// Menu ids: a reminder's item is `OPEN_KEY` followed by its workspace's id, `/`, and its
/// key's id (the menu may be older than a switch of workspace).
const OPEN_KEY: &str = "open-key:";
const SHOW: &str = "show";
const QUIT: &str = "quit";
/// How long the tray waits for a burst of changes to settle.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);
/// The menu lists this many reminders at most; the count is still all of them.
const LISTED: usize = 8;

/// Puts the icon in the tray; answers whether there is one. Without a tray library (Linux
/// without libayatana-appindicator), Keydeck runs without a tray and says so in its log.
pub fn create(app: &tauri::App) -> bool {
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(app)));
    match built {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no tray icon");
            false
        }
        Err(_) => {
            tracing::warn!("no tray icon: this system has no tray library (libayatana-appindicator3)");
            false
        }
    }
}

fn build(app: &tauri::App) -> tauri::Result<()> {
    let handle = app.handle();
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu(handle, &Attention::default())?)
        .tooltip("Keydeck")
        .on_menu_event(on_menu);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Keeps the tray's count and menu to what needs attention, as `Desk::attention` changes.
pub fn follow(app: &tauri::App) {
    let handle = app.handle().clone();
    let mut attention = app.state::<Desk>().attention();
    tauri::async_runtime::spawn(async move {
        // The tray starts with nothing to count (`build`), and then follows each change.
        while attention.changed().await.is_ok() {
            // Changes come in bursts (a switch of workspace, then its key list), right when the
            // window paints them: the tray shows where they settle, half a second later.
            tokio::time::sleep(SETTLE).await;
            let now = attention.borrow_and_update().clone();
            let on_main = handle.clone();
            // The tray lives on the main thread; its calls are made there, not from here.
            let sent = handle.run_on_main_thread(move || {
                if let Err(e) = show(&on_main, &now) {
                    tracing::warn!(error = %e, "the tray could not be updated");
                }
            });
            if let Err(e) = sent {
                tracing::warn!(error = %e, "the tray could not be updated");
            }
        }
    });
}

/// "3 things need attention", or that nothing does.
fn summary(count: usize) -> String {
    match count {
        0 => "Nothing needs attention".to_owned(),
        1 => "1 thing needs attention".to_owned(),
        n => format!("{n} things need attention"),
    }
}

fn show<R: Runtime>(app: &AppHandle<R>, attention: &Attention) -> tauri::Result<()> {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return Ok(()) };
    let count = attention.reminders.len();
    tray.set_menu(Some(menu(app, attention)?))?;
    tray.set_title((count > 0).then(|| count.to_string()))?;
    tray.set_tooltip(Some(format!("Keydeck: {}", summary(count).to_lowercase())))?;
    Ok(())
}

fn menu<R: Runtime>(app: &AppHandle<R>, attention: &Attention) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    let count = attention.reminders.len();
    menu.append(&MenuItem::with_id(app, "summary", summary(count), false, None::<&str>)?)?;
    for reminder in attention.reminders.iter().take(LISTED) {
        let workspace_id = attention.workspace_id.as_deref().unwrap_or_default();
        let id = format!("{OPEN_KEY}{workspace_id}/{}", reminder.key_id);
        menu.append(&MenuItem::with_id(app, id, &reminder.title, true, None::<&str>)?)?;
    }
    if count > LISTED {
        let more = format!("and {} more: open Keydeck to see them", count - LISTED);
        menu.append(&MenuItem::with_id(app, "more", more, false, None::<&str>)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, SHOW, "Open Keydeck", true, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit Keydeck", true, None::<&str>)?)?;
    Ok(menu)
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    if id == SHOW {
        show_window(app);
    } else if id == QUIT {
        app.exit(0);
    } else if let Some((workspace_id, key_id)) = id.strip_prefix(OPEN_KEY).and_then(|ids| ids.split_once('/')) {
        open_key(app, OpenKey { workspace_id: workspace_id.to_owned(), key_id: key_id.to_owned() });
    }
}

/// Brings the main window back, from the tray or from behind other windows.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Shows the window on a key's page.
pub fn open_key<R: Runtime>(app: &AppHandle<R>, key: OpenKey) {
    tracing::info!(key = %key.key_id, "opening a key from a reminder");
    show_window(app);
    if let Err(e) = app.emit_to("main", OPEN_KEY_EVENT, key) {
        tracing::warn!(error = %e, "the window could not be asked to open the key");
    }
}
