//! The desktop's side of notifications and the tray, on the test's D-Bus session, as GNOME or
//! KDE would offer them: a notification server (`org.freedesktop.Notifications`, which keeps
//! what it was asked to show and can report a click on it) and a tray host
//! (`org.kde.StatusNotifierWatcher`, with which the app registers its tray icon; the icon's
//! label and menu are then read, and its items clicked, over the app's own D-Bus objects:
//! `org.kde.StatusNotifierItem` and `com.canonical.dbusmenu`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Type, Value};

const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";

/// A notification the app asked the server to show.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: u32,
    pub summary: String,
    pub body: String,
    /// Pairs of action id and title; `default` is a click on the notification itself.
    pub actions: Vec<String>,
}

#[derive(Default)]
struct Notifications {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = shown.len() as u32 + 1;
        shown.push(Shown { id, summary, body, actions });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".to_owned(), "body".to_owned()]
    }

    fn close_notification(&self, _id: u32) {}

    fn get_server_information(&self) -> (String, String, String, String) {
        ("keydeck-e2e".to_owned(), "Keydeck".to_owned(), "1".to_owned(), "1.2".to_owned())
    }
}

/// A tray item that registered with the host: its bus name and object path.
#[derive(Debug, Clone)]
struct Item {
    sender: String,
    path: String,
}

#[derive(Default)]
struct Watcher {
    items: Arc<Mutex<Vec<Item>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// libayatana-appindicator passes its object path; other libraries their bus name.
    fn register_status_notifier_item(&self, service: String, #[zbus(header)] header: zbus::message::Header<'_>) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let (sender, path) =
            if service.starts_with('/') { (sender, service) } else { (service, "/StatusNotifierItem".to_owned()) };
        self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Item { sender, path });
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        let items = self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        items.iter().map(|i| format!("{}{}", i.sender, i.path)).collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A menu entry as dbusmenu lays it out: id, properties, children.
#[derive(Debug, serde::Deserialize, Type)]
struct Layout {
    id: i32,
    properties: HashMap<String, OwnedValue>,
    children: Vec<OwnedValue>,
}

/// One entry of the tray icon's menu.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
}

/// The notification server and tray host, serving until dropped.
pub struct Desktop {
    connection: zbus::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
    items: Arc<Mutex<Vec<Item>>>,
}

impl Desktop {
    /// Takes the notification server's and the tray host's names on the session bus.
    pub async fn start() -> Result<Desktop> {
        let notifications = Notifications::default();
        let watcher = Watcher::default();
        let (shown, items) = (notifications.shown.clone(), watcher.items.clone());
        let connection = zbus::connection::Builder::session()?
            .name(NOTIFICATIONS)?
            .name("org.kde.StatusNotifierWatcher")?
            .serve_at(NOTIFICATIONS_PATH, notifications)?
            .serve_at("/StatusNotifierWatcher", watcher)?
            .build()
            .await
            .context("the test's notification server and tray host on the session bus")?;
        Ok(Desktop { connection, shown, items })
    }

    /// The notifications asked for so far.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Reports a click on a notification, as a notification server does: its default action.
    pub async fn click_notification(&self, id: u32) -> Result<()> {
        self.connection
            .emit_signal(None::<&str>, NOTIFICATIONS_PATH, NOTIFICATIONS, "ActionInvoked", &(id, "default"))
            .await?;
        Ok(())
    }

    /// The tray item that registered last.
    fn item(&self) -> Result<Item> {
        let items = self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        items.last().cloned().context("no tray icon registered with the tray host")
    }

    /// Whether a tray icon registered.
    pub fn has_tray_icon(&self) -> bool {
        self.item().is_ok()
    }

    async fn item_property(&self, name: &str) -> Result<OwnedValue> {
        let item = self.item()?;
        let reply = self
            .connection
            .call_method(
                Some(item.sender.as_str()),
                item.path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", name),
            )
            .await
            .with_context(|| format!("the tray icon's {name}"))?;
        Ok(reply.body().deserialize::<OwnedValue>()?)
    }

    /// The label beside the tray icon (libayatana-appindicator's `XAyatanaLabel`).
    pub async fn tray_label(&self) -> Result<String> {
        Ok(String::try_from(self.item_property("XAyatanaLabel").await?)?)
    }

    async fn menu_path(&self) -> Result<(String, String)> {
        let item = self.item()?;
        let path = OwnedObjectPath::try_from(self.item_property("Menu").await?)?;
        Ok((item.sender, path.to_string()))
    }

    /// The entries of the tray icon's menu, top to bottom (separators left out).
    pub async fn tray_menu(&self) -> Result<Vec<MenuEntry>> {
        let (sender, path) = self.menu_path().await?;
        let reply = self
            .connection
            .call_method(
                Some(sender.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .context("the tray menu's layout")?;
        let (_revision, root): (u32, Layout) = reply.body().deserialize()?;
        let mut entries = Vec::new();
        for child in root.children {
            let (id, properties, _children): (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>) =
                Value::from(child).try_into().context("a menu entry")?;
            let layout = Layout { id, properties, children: Vec::new() };
            let text =
                |name: &str| layout.properties.get(name).and_then(|v| String::try_from(v.try_clone().ok()?).ok());
            if text("type").as_deref() == Some("separator") {
                continue;
            }
            let enabled = layout.properties.get("enabled").and_then(|v| bool::try_from(v).ok()).unwrap_or(true);
            entries.push(MenuEntry { id: layout.id, label: text("label").unwrap_or_default(), enabled });
        }
        Ok(entries)
    }

    /// Clicks the tray menu's entry labelled `label`.
    pub async fn click_tray_entry(&self, label: &str) -> Result<()> {
        let entries = self.tray_menu().await?;
        let Some(entry) = entries.iter().find(|e| e.label == label) else {
            bail!("no entry {label:?} in the tray menu: {entries:?}");
        };
        let (sender, path) = self.menu_path().await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as u32;
        self.connection
            .call_method(
                Some(sender.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(entry.id, "clicked", Value::from(0i32), now),
            )
            .await
            .with_context(|| format!("clicking {label:?} in the tray menu"))?;
        Ok(())
    }
}
