//! Where secrets live on this computer: the operating system's keychain and the clipboard.
//!
//! Thin adapters over `keyring` (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows; never an in-memory stand-in) and `arboard`. Both sit behind small
//! traits so the app's commands can be tested with stand-ins, while the real types are what
//! the app uses and what the end-to-end tests check from outside (`secret-tool`, `xclip`).
//!
//! Keychain addresses are documented for developers (see the README): a key lives at service
//! `keydeck`, account `<workspace id>/<key name>`; during a rotation the old secret stays at
//! account `<workspace id>/<key name> (previous)`.

use std::sync::Mutex;

/// The keychain service under which Keydeck stores API keys.
pub const KEY_SERVICE: &str = keydeck_core::rules::KEYCHAIN_SERVICE;
/// The keychain service under which Keydeck stores session tokens.
pub const SESSION_SERVICE: &str = keydeck_core::rules::SESSION_KEYCHAIN_SERVICE;

/// Where one secret lives in the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeychainAddress {
    pub service: String,
    pub account: String,
}

impl KeychainAddress {
    /// The stable address of a workspace's key with this name. It survives rotation: the
    /// replacement's secret is written to the same address.
    pub fn for_key(workspace_id: &str, key_name: &str) -> Self {
        KeychainAddress {
            service: KEY_SERVICE.to_owned(),
            account: keydeck_core::rules::keychain_account(workspace_id, key_name),
        }
    }

    /// Where the old secret waits during a rotation, until the old key is revoked.
    pub fn previous_for_key(workspace_id: &str, key_name: &str) -> Self {
        KeychainAddress {
            service: KEY_SERVICE.to_owned(),
            account: keydeck_core::rules::previous_keychain_account(workspace_id, key_name),
        }
    }

    /// Where the session token of an account (server and email) lives.
    pub fn for_session(server_url: &str, email: &str) -> Self {
        KeychainAddress { service: SESSION_SERVICE.to_owned(), account: format!("{email} at {server_url}") }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// No keychain service answers (on Linux: no Secret Service on the session bus).
    #[error(
        "No keychain is available on this computer ({0}). Keys can still be copied to the clipboard, but Keydeck cannot keep them for you."
    )]
    NoKeychain(String),
    /// The keychain answered with an error (locked, refused, ...).
    #[error("The keychain refused the request ({0}). Unlock the keychain and try again.")]
    Keychain(String),
    /// What was read back differs from what was written.
    #[error(
        "The keychain did not keep the key correctly: reading it back gave something else. Nothing was copied; try again."
    )]
    ReadBackMismatch,
    #[error("The clipboard is not available ({0}). Select the key on screen and copy it yourself.")]
    NoClipboard(String),
}

/// A place to keep secrets by address.
pub trait SecretStore: Send + Sync {
    fn store(&self, address: &KeychainAddress, secret: &str) -> Result<(), VaultError>;
    /// `None` when nothing is stored there.
    fn load(&self, address: &KeychainAddress) -> Result<Option<String>, VaultError>;
    /// Returns whether something was removed.
    fn remove(&self, address: &KeychainAddress) -> Result<bool, VaultError>;
}

/// Stores a secret and reads it back, so a caller only goes on once the keychain really
/// holds it.
pub fn store_verified(store: &dyn SecretStore, address: &KeychainAddress, secret: &str) -> Result<(), VaultError> {
    store.store(address, secret)?;
    match store.load(address)? {
        Some(read) if read == secret => Ok(()),
        _ => Err(VaultError::ReadBackMismatch),
    }
}

/// The operating system's keychain. Calls block: run them off the async runtime.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeychain;

fn keychain_error(e: keyring::Error) -> VaultError {
    match e {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            VaultError::NoKeychain(e.to_string())
        }
        other => VaultError::Keychain(other.to_string()),
    }
}

impl OsKeychain {
    fn entry(address: &KeychainAddress) -> Result<keyring::Entry, VaultError> {
        keyring::Entry::new(&address.service, &address.account).map_err(keychain_error)
    }

    /// Whether a keychain answers at all, by reading an address nobody writes.
    pub fn probe(&self) -> Result<(), VaultError> {
        self.load(&KeychainAddress { service: KEY_SERVICE.to_owned(), account: "keydeck-probe".to_owned() }).map(drop)
    }
}

impl SecretStore for OsKeychain {
    fn store(&self, address: &KeychainAddress, secret: &str) -> Result<(), VaultError> {
        Self::entry(address)?.set_password(secret).map_err(keychain_error)
    }

    fn load(&self, address: &KeychainAddress) -> Result<Option<String>, VaultError> {
        match Self::entry(address)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn remove(&self, address: &KeychainAddress) -> Result<bool, VaultError> {
        match Self::entry(address)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e)),
        }
    }
}

/// A clipboard that can hold a secret.
pub trait SecretClipboard: Send + Sync {
    /// Copies text, marked to stay out of clipboard history and cloud sync where the
    /// platform supports it.
    fn copy_secret(&self, text: &str) -> Result<(), VaultError>;
    fn read_text(&self) -> Result<Option<String>, VaultError>;
    fn clear(&self) -> Result<(), VaultError>;
}

/// Clears the clipboard only if it still holds `secret`: something the user copied since is
/// left alone. Returns whether it cleared.
pub fn clear_if_holds(clipboard: &dyn SecretClipboard, secret: &str) -> Result<bool, VaultError> {
    if clipboard.read_text()?.as_deref() == Some(secret) {
        clipboard.clear()?;
        return Ok(true);
    }
    Ok(false)
}

/// The system clipboard. On X11 a clipboard's content lives as long as its owner, so one of
/// these is kept for the life of the app.
pub struct SystemClipboard {
    inner: Mutex<arboard::Clipboard>,
}

impl SystemClipboard {
    pub fn open() -> Result<SystemClipboard, VaultError> {
        arboard::Clipboard::new()
            .map(|c| SystemClipboard { inner: Mutex::new(c) })
            .map_err(|e| VaultError::NoClipboard(e.to_string()))
    }

    fn with<T>(&self, f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>) -> Result<T, VaultError> {
        let mut clipboard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut clipboard).map_err(|e| VaultError::NoClipboard(e.to_string()))
    }
}

impl SecretClipboard for SystemClipboard {
    fn copy_secret(&self, text: &str) -> Result<(), VaultError> {
        self.with(|c| {
            let set = c.set();
            #[cfg(all(unix, not(any(target_os = "macos", target_os = "android", target_os = "emscripten"))))]
            let set = {
                use arboard::SetExtLinux;
                set.exclude_from_history()
            };
            #[cfg(windows)]
            let set = {
                use arboard::SetExtWindows;
                set.exclude_from_history().exclude_from_cloud().exclude_from_monitoring()
            };
            set.text(text.to_owned())
        })
    }

    fn read_text(&self) -> Result<Option<String>, VaultError> {
        match self.with(|c| c.get_text()) {
            Ok(text) => Ok(Some(text)),
            Err(VaultError::NoClipboard(m))
                if m.contains("empty") || m.contains("not available in the requested format") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn clear(&self) -> Result<(), VaultError> {
        self.with(|c| c.clear())
    }
}

/// Stand-ins for unit tests of code that uses a keychain or clipboard (never used by the
/// app itself: it has no feature that selects them).
#[cfg(any(test, feature = "test-support"))]
pub mod testing {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::{KeychainAddress, SecretClipboard, SecretStore, VaultError};

    /// A keychain in memory.
    #[derive(Default)]
    pub struct MemoryKeychain(Mutex<HashMap<KeychainAddress, String>>);

    impl SecretStore for MemoryKeychain {
        fn store(&self, a: &KeychainAddress, s: &str) -> Result<(), VaultError> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(a.clone(), s.to_owned());
            Ok(())
        }
        fn load(&self, a: &KeychainAddress) -> Result<Option<String>, VaultError> {
            Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).get(a).cloned())
        }
        fn remove(&self, a: &KeychainAddress) -> Result<bool, VaultError> {
            Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(a).is_some())
        }
    }

    /// A clipboard in memory.
    #[derive(Default)]
    pub struct MemoryClipboard(Mutex<Option<String>>);

    impl SecretClipboard for MemoryClipboard {
        fn copy_secret(&self, t: &str) -> Result<(), VaultError> {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(t.to_owned());
            Ok(())
        }
        fn read_text(&self) -> Result<Option<String>, VaultError> {
            Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
        }
        fn clear(&self) -> Result<(), VaultError> {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keychain that keeps a corrupted copy, to prove the read-back catches it.
    struct Corrupting(testing::MemoryKeychain);

    impl SecretStore for Corrupting {
        fn store(&self, a: &KeychainAddress, s: &str) -> Result<(), VaultError> {
            self.0.store(a, &format!("{s}x"))
        }
        fn load(&self, a: &KeychainAddress) -> Result<Option<String>, VaultError> {
            self.0.load(a)
        }
        fn remove(&self, a: &KeychainAddress) -> Result<bool, VaultError> {
            self.0.remove(a)
        }
    }

    #[test]
    fn addresses_are_stable_and_documented() {
        let a = KeychainAddress::for_key("ws_1", "Zapier");
        assert_eq!((a.service.as_str(), a.account.as_str()), ("keydeck", "ws_1/Zapier"));
        assert_eq!(KeychainAddress::previous_for_key("ws_1", "Zapier").account, "ws_1/Zapier (previous)");
        assert_eq!(KeychainAddress::for_session("http://h:1", "a@b.c").service, "keydeck-session");
    }

    #[test]
    fn a_store_that_does_not_keep_the_secret_is_caught() {
        let good = testing::MemoryKeychain::default();
        let a = KeychainAddress::for_key("ws", "k");
        store_verified(&good, &a, "s3cret").unwrap();
        let bad = Corrupting(testing::MemoryKeychain::default());
        assert_eq!(store_verified(&bad, &a, "s3cret"), Err(VaultError::ReadBackMismatch));
    }

    #[test]
    fn the_clipboard_is_cleared_only_while_it_holds_the_secret() {
        let clip = testing::MemoryClipboard::default();
        clip.copy_secret("kdk_secret").unwrap();
        assert!(clear_if_holds(&clip, "kdk_secret").unwrap());
        assert_eq!(clip.read_text().unwrap(), None);
        clip.copy_secret("something the user copied").unwrap();
        assert!(!clear_if_holds(&clip, "kdk_secret").unwrap());
        assert_eq!(clip.read_text().unwrap().as_deref(), Some("something the user copied"));
    }
}
