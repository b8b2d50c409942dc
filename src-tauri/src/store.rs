//! What the app remembers on disk, in its data directory: accounts (server, email, name, last
//! workspace) and settings. Never a secret: session tokens live in the keychain. Files are
//! written atomically (a temporary file renamed into place).

use std::path::{Path, PathBuf};

use keydeck_core::Settings;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAccount {
    pub server_url: String,
    pub email: String,
    pub name: String,
    pub is_demo: bool,
    pub last_workspace_id: Option<String>,
}

impl StoredAccount {
    pub fn id(&self) -> String {
        if self.is_demo { "demo".to_owned() } else { format!("{} at {}", self.email, self.server_url) }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remembered {
    pub accounts: Vec<StoredAccount>,
    /// The account shown last, restored at start.
    pub current: Option<String>,
}

pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(path: PathBuf) -> DataDir {
        DataDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    fn read<T: DeserializeOwned + Default>(&self, name: &str) -> T {
        std::fs::read(self.0.join(name)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn write<T: Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.0)?;
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, self.0.join(name))
    }

    pub fn remembered(&self) -> Remembered {
        self.read("accounts.json")
    }

    pub fn save_remembered(&self, r: &Remembered) -> std::io::Result<()> {
        self.write("accounts.json", r)
    }

    pub fn settings(&self) -> Settings {
        let s: Option<Settings> = self.read("settings.json");
        s.filter(|s| s.validate().is_ok()).unwrap_or_default()
    }

    pub fn save_settings(&self, s: &Settings) -> std::io::Result<()> {
        self.write("settings.json", s)
    }
}
