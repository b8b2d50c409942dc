//! What the app remembers on disk, in its data directory: accounts (server, email, name, last
//! workspace), settings, which server each keychain entry belongs to, and the journals of
//! unfinished rotations (`rotations/<id>.json`). Never a secret: session tokens and keys live
//! in the keychain.
//!
//! Several processes may share the directory (a second window that has not yet handed over, the
//! command line): every read-modify-write of a shared file runs under an exclusive lock on
//! `.lock`, rotation commands hold `rotations/.lock` for as long as they act, and files are
//! written atomically and durably (a temporary file of a unique name, flushed, renamed into
//! place). The directory is private to its user (0700) and so is each file (0600).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use keydeck_core::Settings;
use keydeck_core::reminders::{Reminder, Sent};
use keydeck_core::rotation::Rotation;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The account id of the in-app demo workspace.
pub const DEMO_ACCOUNT_ID: &str = "demo";

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
        if self.is_demo { DEMO_ACCOUNT_ID.to_owned() } else { format!("{} at {}", self.email, self.server_url) }
    }

    /// Which server issued this account's keys, as keychain records name it: the server's
    /// address, or `demo` for the in-app demo (whose port changes at every start).
    pub fn server(&self) -> String {
        if self.is_demo { DEMO_ACCOUNT_ID.to_owned() } else { self.server_url.clone() }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Remembered {
    pub accounts: Vec<StoredAccount>,
    /// The account shown last, restored at start.
    pub current: Option<String>,
}

/// Whose a keychain entry is: the server that issued the key, and the key's id there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeychainRecord {
    pub server: String,
    pub key_id: String,
}

/// The records of the keychain entries Keydeck wrote, by keychain account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeychainRecords {
    pub entries: BTreeMap<String, KeychainRecord>,
}

#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

/// An exclusive lock on a file of the data directory, released when dropped.
pub struct DirLock(#[allow(dead_code)] std::fs::File);

impl DataDir {
    /// The data directory at `path`, created private to this user if missing (and made so if
    /// an earlier version left it readable by others).
    pub fn new(path: PathBuf) -> DataDir {
        if let Err(e) = make_private_dir(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not make the data directory private");
        }
        DataDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    fn read<T: DeserializeOwned + Default>(&self, name: &str) -> T {
        self.read_strict(name).unwrap_or_default()
    }

    /// `name` as stored, the default when there is none, and an error when it cannot be read
    /// (so that a damaged file is reported, and never overwritten with a blank one).
    fn read_strict<T: DeserializeOwned + Default>(&self, name: &str) -> std::io::Result<T> {
        match std::fs::read(self.0.join(name)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} could not be read ({e}); Keydeck leaves it as it is", self.0.join(name).display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(e),
        }
    }

    fn write<T: Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        write_atomically(&self.0, name, &serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?)
    }

    /// Locks `name` in `dir` (creating it), waiting for another holder to let go.
    fn lock_file(dir: &Path, name: &str) -> std::io::Result<DirLock> {
        make_private_dir(dir)?;
        let file = private_file(&dir.join(name), false)?;
        file.lock()?;
        Ok(DirLock(file))
    }

    /// Reads `name`, lets `change` alter it and writes it back, under the directory's lock, so
    /// that two processes changing it at once both keep their change.
    fn update<T: Serialize + DeserializeOwned + Default>(
        &self,
        name: &str,
        change: impl FnOnce(&mut T),
    ) -> std::io::Result<T> {
        let _lock = Self::lock_file(&self.0, ".lock")?;
        let mut value: T = self.read_strict(name)?;
        change(&mut value);
        self.write(name, &value)?;
        Ok(value)
    }

    fn rotations_dir(&self) -> PathBuf {
        self.0.join("rotations")
    }

    /// Held by a rotation command while it reads, acts on and rewrites a journal: one such
    /// command at a time, in any process.
    pub fn lock_rotations(&self) -> std::io::Result<DirLock> {
        Self::lock_file(&self.rotations_dir(), ".lock")
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

    /// Removes a finished or cancelled rotation's journal, durably (a crash cannot bring it
    /// back).
    pub fn remove_rotation(&self, id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.rotations_dir().join(format!("{id}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        #[cfg(unix)]
        std::fs::File::open(self.rotations_dir())?.sync_all()?;
        Ok(())
    }

    pub fn remembered(&self) -> Remembered {
        self.read("accounts.json")
    }

    /// Changes the remembered accounts as they are on disk now (another process may have
    /// changed them since this one read them); answers them as changed.
    pub fn update_remembered(&self, change: impl FnOnce(&mut Remembered)) -> std::io::Result<Remembered> {
        self.update("accounts.json", change)
    }

    pub fn settings(&self) -> Settings {
        let s: Option<Settings> = self.read("settings.json");
        s.filter(|s| s.validate().is_ok()).unwrap_or_default()
    }

    pub fn save_settings(&self, s: &Settings) -> std::io::Result<()> {
        self.update("settings.json", |stored: &mut Option<Settings>| *stored = Some(s.clone())).map(drop)
    }

    /// What was told for this workspace (`reminders.json`; each workspace keeps its own
    /// record, so looking at another does not forget it).
    pub fn reminders_sent(&self, workspace_id: &str) -> Sent {
        let all: BTreeMap<String, Sent> = self.read("reminders.json");
        all.get(workspace_id).cloned().unwrap_or_default()
    }

    /// Records `told` as told for this workspace, under the directory's lock.
    pub fn record_reminders(
        &self,
        workspace_id: &str,
        live_keys: &BTreeSet<String>,
        told: &[Reminder],
    ) -> std::io::Result<()> {
        self.update("reminders.json", |sent: &mut BTreeMap<String, Sent>| {
            sent.entry(workspace_id.to_owned()).or_default().record(live_keys, told);
        })
        .map(drop)
    }

    /// Which server each keychain entry belongs to; an error when the file is damaged (every
    /// entry's owner is then unknown, so none is read or written until it is mended).
    pub fn keychain_records(&self) -> std::io::Result<KeychainRecords> {
        self.read_strict("keychain.json")
    }

    pub fn update_keychain_records(&self, change: impl FnOnce(&mut KeychainRecords)) -> std::io::Result<()> {
        self.update("keychain.json", change).map(drop)
    }
}

/// Creates `dir` if needed and makes it readable by its user only.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(dir)?.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Opens (creating) a file only its user may read or write.
pub fn private_file(path: &Path, truncate: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // A file an earlier version made with the default mode is made private too.
        if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// Writes `bytes` to `dir/name` so that a crash leaves the old file or the new one, never a
/// part: a temporary file of a name no other writer uses, flushed to disk, renamed into place,
/// and the directory flushed.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    make_private_dir(dir)?;
    let unique =
        format!(".{name}.{}.{}.tmp", std::process::id(), keydeck_core::key::random_base62(&mut rand::rng(), 8));
    let tmp = dir.join(unique);
    let written = (|| {
        let mut file = private_file(&tmp, true)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(name))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_writers_of_the_accounts_file_both_keep_their_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let account = |n: usize| StoredAccount {
            server_url: format!("http://server-{n}"),
            email: format!("u{n}@example.com"),
            name: format!("User {n}"),
            is_demo: false,
            last_workspace_id: None,
        };
        // Eight "processes" (each its own DataDir, as a second app or the command line would
        // have), each adding accounts while the others do.
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = path.clone();
                s.spawn(move || {
                    let data = DataDir::new(path);
                    for i in 0..10 {
                        data.update_remembered(|r| r.accounts.push(account(t * 10 + i))).unwrap();
                    }
                });
            }
        });
        let data = DataDir::new(path.clone());
        assert_eq!(data.remembered().accounts.len(), 80, "no change was lost");
        let leftovers: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_and_its_files_are_private_even_after_an_older_version() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(path.join("accounts.json"), "{}").unwrap();
        std::fs::set_permissions(path.join("accounts.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let data = DataDir::new(path.clone());
        data.update_remembered(|r| r.current = Some("x".into())).unwrap();
        data.save_settings(&Settings::default()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o700);
        for file in ["accounts.json", "settings.json", ".lock"] {
            assert_eq!(mode(&path.join(file)), 0o600, "{file}");
        }
    }

    #[test]
    fn settings_saved_before_reminders_existed_read_with_every_reminder_on_and_no_tray() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("settings.json"),
            r#"{"clipboardClearSeconds":45,"rotationDays":30,"quietSeconds":90,"theme":"dark"}"#,
        )
        .unwrap();
        let settings = DataDir::new(dir.path().to_owned()).settings();
        assert_eq!(settings.clipboard_clear_seconds, 45, "the file was read, not replaced by defaults");
        assert!(settings.reminders_off.is_empty());
        assert!(!settings.keep_in_tray);
    }
}
