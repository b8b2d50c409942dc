//! What the app remembers on disk, in its data directory: accounts (server, email, name, last
//! workspace), settings, and the journals of unfinished rotations (`rotations/<id>.json`).
//! Never a secret: session tokens and keys live in the keychain. Files are written atomically
//! and durably (a temporary file, flushed to disk, renamed into place).

use std::path::{Path, PathBuf};

use keydeck_core::Settings;
use keydeck_core::rotation::Rotation;
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
        write_atomically(&self.0, name, &serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?)
    }

    fn rotations_dir(&self) -> PathBuf {
        self.0.join("rotations")
    }

    /// The journals of unfinished rotations, oldest first. A journal that cannot be read is
    /// left where it is and skipped (with a warning), never deleted.
    pub fn rotations(&self) -> Vec<Rotation> {
        let Ok(entries) = std::fs::read_dir(self.rotations_dir()) else {
            return Vec::new();
        };
        let mut all: Vec<Rotation> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| match std::fs::read(&p).map(|b| serde_json::from_slice::<Rotation>(&b)) {
                Ok(Ok(r)) => Some(r),
                Ok(Err(e)) => {
                    tracing::warn!(path = %p.display(), error = %e, "skipping a rotation journal that does not parse");
                    None
                }
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "skipping a rotation journal that cannot be read");
                    None
                }
            })
            .collect();
        all.sort_by_key(|r| r.started_at);
        all
    }

    pub fn rotation(&self, id: &str) -> Option<Rotation> {
        self.rotations().into_iter().find(|r| r.id == id)
    }

    /// Journals a rotation before its next step acts.
    pub fn save_rotation(&self, r: &Rotation) -> std::io::Result<()> {
        write_atomically(
            &self.rotations_dir(),
            &format!("{}.json", r.id),
            &serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?,
        )
    }

    pub fn remove_rotation(&self, id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.rotations_dir().join(format!("{id}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
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

/// Writes `bytes` to `dir/name` so that a crash leaves the old file or the new one, never a
/// part: a temporary file, flushed to disk, renamed into place, and the directory flushed.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
