//! Keychain bookkeeping: a key's secret lives at `keydeck` / `<workspace id>/<key name>`, and the
//! data directory records which server issued the key each entry holds (`keychain.json`).
//!
//! Two servers can report the same workspace id (a staging server restored from production's
//! backup, say). An entry recorded for one server is never read, overwritten or removed for
//! another, so a server never receives a secret that another issued; the second server's key
//! is then delivered by clipboard only, with a message naming the entry's server. The address
//! itself stays short, readable and as documented, and stable across restarts of the demo
//! (recorded as `demo`, since its port changes). An entry with no record (written before
//! Keydeck kept records, or by hand) belongs to the first server that uses it, and is recorded
//! then, unless another remembered account's server has a workspace of the same id: then the
//! entry's owner cannot be told, and it is left alone.

use keydeck_core::app::AppErrorCode;
use keydeck_vault::{KeychainAddress, VaultError, store_verified};

use super::{Desk, is_key, spawn_blocking};
use crate::error::{AppResult, app_error, from_vault};
use crate::store::KeychainRecord;

/// What a key's keychain address holds, as far as one server may know.
pub(super) enum Held {
    Nothing,
    /// A secret this server stored (or one no server has claimed yet).
    Mine {
        secret: String,
        recorded: bool,
    },
    /// An entry another server's key is recorded at.
    Others {
        server: String,
    },
}

/// That `address` holds another server's key.
pub(super) fn entry_of_another_server(address: &KeychainAddress, server: &str) -> String {
    format!(
        "This computer's keychain already holds a key at \"{}\" / \"{}\" for another workspace server ({server}), whose workspace has the same ID.",
        address.service, address.account
    )
}

/// Why a key from the keychain is not used here: its address holds another server's key.
pub(super) fn never_sent(address: &KeychainAddress, server: &str) -> String {
    format!(
        "{} Keydeck never sends a key to a server other than the one that issued it: paste the key instead.",
        entry_of_another_server(address, server)
    )
}

/// Why a key is not kept in the keychain: its address holds another server's key.
pub(super) fn others_entry(address: &KeychainAddress, server: &str) -> String {
    format!(
        "{} Keydeck leaves that entry as it is, so this key is not in the keychain: copy it from here.",
        entry_of_another_server(address, server)
    )
}

impl Desk {
    fn record_of(&self, address: &KeychainAddress) -> AppResult<Option<KeychainRecord>> {
        let records = self.data.keychain_records().map_err(|e| app_error(AppErrorCode::Other, e.to_string()))?;
        Ok(records.entries.get(&address.account).cloned())
    }

    /// Whether an entry no server has claimed could be another server's: some other
    /// remembered account's server has a workspace of this id.
    async fn unclaimed_is_ambiguous(&self, server: &str, workspace_id: &str) -> bool {
        self.remembered
            .lock()
            .await
            .accounts
            .iter()
            .any(|a| a.server() != server && a.last_workspace_id.as_deref() == Some(workspace_id))
    }

    fn set_record(&self, address: &KeychainAddress, record: Option<KeychainRecord>) -> AppResult<()> {
        self.data
            .update_keychain_records(|records| match record {
                Some(r) => {
                    records.entries.insert(address.account.clone(), r);
                }
                None => {
                    records.entries.remove(&address.account);
                }
            })
            .map_err(|e| {
                app_error(
                    AppErrorCode::Other,
                    format!("Could not note which server a keychain entry belongs to ({e})."),
                )
            })
    }

    /// What `address` holds for `server`.
    pub(super) async fn held(&self, server: &str, address: &KeychainAddress) -> AppResult<Held> {
        let record = self.record_of(address)?;
        if let Some(r) = &record
            && r.server != server
        {
            return Ok(Held::Others { server: r.server.clone() });
        }
        let (keychain, a) = (self.keychain.clone(), address.clone());
        Ok(match spawn_blocking(move || keychain.load(&a)).await?.map_err(from_vault)? {
            Some(secret) => Held::Mine { secret, recorded: record.is_some() },
            None => Held::Nothing,
        })
    }

    /// The secret at `address` when it is `server`'s; an entry of another server is an error
    /// naming that server (its secret is never read).
    pub(super) async fn load_mine(&self, server: &str, address: &KeychainAddress) -> AppResult<Option<String>> {
        match self.held(server, address).await? {
            Held::Nothing => Ok(None),
            Held::Mine { secret, .. } => Ok(Some(secret)),
            Held::Others { server } => Err(app_error(AppErrorCode::NotFound, never_sent(address, &server))),
        }
    }

    /// Whether `address` (of workspace `workspace_id`) holds the key with this prefix and hint,
    /// for `server`; an unclaimed entry that does is recorded as `server`'s key `key_id` (the
    /// upgrade from entries made before records were kept), unless its owner cannot be told.
    pub(super) async fn holds_key(
        &self,
        server: &str,
        workspace_id: &str,
        address: &KeychainAddress,
        key: (&str, &str, &str),
    ) -> bool {
        let (key_id, prefix, hint) = key;
        match self.held(server, address).await {
            Ok(Held::Mine { secret, recorded }) if is_key(&secret, prefix, hint) => {
                if recorded {
                    return true;
                }
                if self.unclaimed_is_ambiguous(server, workspace_id).await {
                    return false;
                }
                let claim = KeychainRecord { server: server.to_owned(), key_id: key_id.to_owned() };
                self.set_record(address, Some(claim)).is_ok()
            }
            _ => false,
        }
    }

    /// Stores `secret` (the key `key_id` of `server`) at `address` and reads it back, unless
    /// the address holds another server's key. The inner error is why the keychain does not
    /// hold it, a sentence for the user; the outer one, a failure of the app's own.
    pub(super) async fn keep(
        &self,
        server: &str,
        key_id: &str,
        address: &KeychainAddress,
        secret: &str,
    ) -> AppResult<Result<(), String>> {
        if let Some(r) = self.record_of(address)?
            && r.server != server
        {
            return Ok(Err(others_entry(address, &r.server)));
        }
        let (keychain, a, s) = (self.keychain.clone(), address.clone(), secret.to_owned());
        if let Err(e) = spawn_blocking(move || store_verified(keychain.as_ref(), &a, &s)).await? {
            return Ok(Err(e.to_string()));
        }
        let record = KeychainRecord { server: server.to_owned(), key_id: key_id.to_owned() };
        Ok(self.set_record(address, Some(record)).map_err(|e| e.message))
    }

    /// Removes the entry at `address` when it holds, for `server`, the key with this prefix and
    /// hint (not a newer key of the same name, nor another server's). Returns whether it did.
    pub(super) async fn forget(
        &self,
        server: &str,
        address: &KeychainAddress,
        prefix: &str,
        hint: &str,
    ) -> Result<bool, VaultError> {
        let Ok(Held::Mine { secret, .. }) = self.held(server, address).await else { return Ok(false) };
        if !is_key(&secret, prefix, hint) {
            return Ok(false);
        }
        let (keychain, a) = (self.keychain.clone(), address.clone());
        let removed =
            spawn_blocking(move || keychain.remove(&a)).await.map_err(|e| VaultError::Keychain(e.message))??;
        let _ = self.set_record(address, None);
        Ok(removed)
    }

    /// A key was renamed: its entry moves from `from` to `to` (read back before the old one
    /// goes), when the keychain holds this key for `server`.
    pub(super) async fn move_entry(
        &self,
        server: &str,
        key: (&str, &str, &str),
        from: &KeychainAddress,
        to: &KeychainAddress,
    ) -> Result<bool, String> {
        let (key_id, prefix, hint) = key;
        let Ok(Held::Mine { secret, .. }) = self.held(server, from).await else { return Ok(false) };
        if !is_key(&secret, prefix, hint) {
            return Ok(false);
        }
        self.keep(server, key_id, to, &secret).await.map_err(|e| e.message)??;
        self.forget(server, from, prefix, hint).await.map_err(|e| e.to_string())
    }
}
