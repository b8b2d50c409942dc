//! Guided rotation over `keydeck_core::rotation`: each step is journaled in the data directory
//! before it acts, so a crash at any point resumes without losing a key or making a second one.
//!
//! Keychain moves: at step 1 the old secret is copied to the key's "previous" address, then the
//! new secret takes the key's own address (so programs reading it switch over); at step 4 the
//! "previous" entry is deleted. Cancelling puts the old secret back.

use chrono::Utc;
use keydeck_client::{Client, ClientError};
use keydeck_core::ErrorCode;
use keydeck_core::app::{AppErrorCode, RotationAction, RotationCheck, RotationStep, RotationTested, Verdict};
use keydeck_core::key::random_base62;
use keydeck_core::rotation::{ConfirmedBy, KeyRef, Resume, Rotation, RotationReason, Stage, WrongStage};
use keydeck_core::wire::{KeyCard, WorkspaceSummary};
use keydeck_vault::{KeychainAddress, store_verified};

use super::{Desk, is_key, matches_card, spawn_blocking, test_secret};
use crate::error::{AppResult, app_error, field_error, from_client, from_vault};

/// How long the server replays an idempotent creation (PRODUCT.md: 10 minutes), less a margin.
const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(9);

fn matches_ref(secret: &str, key: &KeyRef) -> bool {
    is_key(secret, &key.prefix, &key.hint)
}

fn wrong_stage(e: WrongStage) -> keydeck_core::app::AppError {
    app_error(AppErrorCode::Other, e.to_string())
}

/// Whether the server said the key does not exist (or no longer: revoked keys are gone).
fn is_gone(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { body, .. } if body.error == ErrorCode::NotFound)
}

impl Desk {
    /// The rotations of a workspace begun on this computer and not finished.
    pub(super) fn rotations_of(&self, workspace_id: &str) -> Vec<Rotation> {
        self.data.rotations().into_iter().filter(|r| r.workspace_id == workspace_id).collect()
    }

    fn journal(&self, r: &Rotation) -> AppResult<()> {
        self.data.save_rotation(r).map_err(|e| {
            app_error(
                AppErrorCode::Other,
                format!("Could not save the rotation's progress ({e}). Nothing was changed; free some disk space and try again."),
            )
        })
    }

    /// A journaled rotation of the current account and workspace, with the client to carry it on.
    async fn rotation_here(&self, rotation_id: &str) -> AppResult<(Client, String, WorkspaceSummary, Rotation)> {
        let (client, token, workspace) = self.here().await?;
        let account = self.current.lock().await.as_ref().map(|c| c.account_id.clone()).unwrap_or_default();
        let r = self.data.rotation(rotation_id).ok_or_else(|| {
            app_error(
                AppErrorCode::NotFound,
                "This rotation is already finished or was cancelled. Open the key list to see where things stand.",
            )
        })?;
        if r.workspace_id != workspace.id || r.account_id != account {
            return Err(app_error(
                AppErrorCode::Other,
                format!(
                    "This rotation of \"{}\" belongs to another workspace or account. Switch to it to carry on.",
                    r.old_key.name
                ),
            ));
        }
        Ok((client, token, workspace, r))
    }

    fn addresses(workspace_id: &str, r: &Rotation) -> (KeychainAddress, KeychainAddress) {
        (
            KeychainAddress::for_key(workspace_id, &r.old_key.name),
            KeychainAddress::previous_for_key(workspace_id, &r.old_key.name),
        )
    }

    async fn load_secret(&self, address: &KeychainAddress) -> AppResult<Option<String>> {
        let (keychain, a) = (self.keychain.clone(), address.clone());
        spawn_blocking(move || keychain.load(&a)).await?.map_err(from_vault)
    }

    /// Step 1: journals the rotation, then creates the replacement. A key with an unfinished
    /// rotation resumes that one instead.
    pub async fn start_rotation(&self, key_id: &str, reason: RotationReason) -> AppResult<RotationStep> {
        let _one = self.rotation_lock.lock().await;
        let (client, token, workspace) = self.here().await?;
        if let Some(existing) = self.rotations_of(&workspace.id).into_iter().find(|r| r.old_key.id == key_id) {
            return self.resume_locked(&client, &token, &workspace, existing).await;
        }
        let list = client.list_keys(&token, &workspace.id).await.map_err(from_client)?;
        let old =
            list.keys.iter().find(|k| k.id == key_id).ok_or_else(|| {
                app_error(AppErrorCode::NotFound, "This key no longer exists; it may have been revoked.")
            })?;
        if list.keys.len() >= list.limit as usize {
            return Err(app_error(
                AppErrorCode::KeyLimitReached,
                format!(
                    "This workspace has {} of {} keys, and the replacement needs a place of its own until the old key is revoked. Delete a key that was never used, then start the rotation again.",
                    list.keys.len(),
                    list.limit
                ),
            ));
        }
        let account = self.current.lock().await.as_ref().map(|c| c.account_id.clone()).unwrap_or_default();
        let mut r = Rotation::begin(
            random_base62(&mut rand::rng(), 16),
            reason,
            account,
            workspace.id.clone(),
            old,
            format!("kd-rot-{}", random_base62(&mut rand::rng(), 32)),
            Utc::now(),
        );
        self.journal(&r)?;
        self.create_replacement(&client, &token, &workspace, &mut r).await
    }

    /// Resumes a journaled rotation: repeats a creation or revocation that may have been cut
    /// short, else answers where it stands.
    pub async fn resume_rotation(&self, rotation_id: &str) -> AppResult<RotationStep> {
        let _one = self.rotation_lock.lock().await;
        let (client, token, workspace, r) = self.rotation_here(rotation_id).await?;
        self.resume_locked(&client, &token, &workspace, r).await
    }

    async fn resume_locked(
        &self,
        client: &Client,
        token: &str,
        workspace: &WorkspaceSummary,
        mut r: Rotation,
    ) -> AppResult<RotationStep> {
        match r.resume() {
            Resume::RepeatCreate => self.create_replacement(client, token, workspace, &mut r).await,
            Resume::RepeatRevoke => {
                self.revoke_old(client, token, workspace, &mut r).await?;
                Ok(RotationStep { rotation: r, generated: None })
            }
            Resume::Show(_) | Resume::Finished => Ok(RotationStep { rotation: r, generated: None }),
        }
    }

    /// Step 1's work, safe to repeat: keep the old secret at the "previous" address, create the
    /// replacement with the journaled Idempotency-Key, store it at the key's address, reveal.
    async fn create_replacement(
        &self,
        client: &Client,
        token: &str,
        workspace: &WorkspaceSummary,
        r: &mut Rotation,
    ) -> AppResult<RotationStep> {
        let (main, previous) = Self::addresses(&workspace.id, r);
        let keep = self.keychain_ok();
        if keep
            && !r.previous_in_keychain
            && let Some(old_secret) = self.load_secret(&main).await?.filter(|s| matches_ref(s, &r.old_key))
        {
            let (keychain, p) = (self.keychain.clone(), previous.clone());
            spawn_blocking(move || store_verified(keychain.as_ref(), &p, &old_secret)).await?.map_err(from_vault)?;
            r.kept_previous().map_err(wrong_stage)?;
            self.journal(r)?;
        }
        // A crash after the keychain took the new secret but before the journal said so: the
        // key's address already holds the replacement.
        if keep && let Some(adopted) = self.adopt_stored_replacement(client, token, workspace, r, &main).await? {
            r.created(KeyRef::of(&adopted), Utc::now()).map_err(wrong_stage)?;
            self.journal(r)?;
            return Ok(RotationStep { rotation: r.clone(), generated: None });
        }
        let body = r.replacement_request();
        let created = match client.create_key(token, &workspace.id, &body, r.idempotency_key.as_deref()).await {
            Ok(created) => created,
            // The server refused: nothing was made. Undo the journal and the "previous" copy.
            Err(e @ ClientError::Api { .. }) => {
                self.undo_previous(&main, &previous, r).await;
                let _ = self.data.remove_rotation(&r.id);
                return Err(from_client(e));
            }
            // No answer: the replacement may exist. The journal stays, and trying again repeats
            // the creation with the same Idempotency-Key.
            Err(e) => {
                return Err(app_error(
                    AppErrorCode::Unreachable,
                    format!(
                        "{e} The replacement may or may not have been made; try again and Keydeck will finish step 1 without making a second key."
                    ),
                ));
            }
        };
        if Utc::now() - r.started_at > REPLAY_WINDOW {
            self.revoke_orphans(client, token, workspace, r, &created.key.id).await;
        }
        let new_key = KeyRef::of(&created.key);
        let generated = self.deliver(&workspace.id, &main, keep, created).await?;
        r.created(new_key, Utc::now()).map_err(wrong_stage)?;
        self.journal(r)?;
        Ok(RotationStep { rotation: r.clone(), generated: Some(generated) })
    }

    /// The live key of this rotation's name, other than the old one, whose secret the key's
    /// keychain address already holds.
    async fn adopt_stored_replacement(
        &self,
        client: &Client,
        token: &str,
        workspace: &WorkspaceSummary,
        r: &Rotation,
        main: &KeychainAddress,
    ) -> AppResult<Option<KeyCard>> {
        let Some(stored) = self.load_secret(main).await? else {
            return Ok(None);
        };
        if matches_ref(&stored, &r.old_key) {
            return Ok(None);
        }
        let list = client.list_keys(token, &workspace.id).await.map_err(from_client)?;
        Ok(list.keys.into_iter().find(|k| k.id != r.old_key.id && k.name == r.old_key.name && matches_card(&stored, k)))
    }

    /// Past the server's replay window a repeated creation makes a new key; any key this
    /// rotation made before, whose secret never reached the keychain, is unusable: revoke it.
    async fn revoke_orphans(
        &self,
        client: &Client,
        token: &str,
        workspace: &WorkspaceSummary,
        r: &Rotation,
        kept: &str,
    ) {
        let Ok(list) = client.list_keys(token, &workspace.id).await else { return };
        for orphan in list.keys.iter().filter(|k| {
            k.id != kept
                && k.id != r.old_key.id
                && k.name == r.old_key.name
                && k.created_at >= r.started_at
                && k.request_count == 0
        }) {
            tracing::info!(key = %orphan.id, "revoking a replacement whose secret was lost in a crash");
            let _ = client.revoke_key(token, &workspace.id, &orphan.id).await;
        }
    }

    /// Puts the old secret back at the key's address and deletes the "previous" entry.
    async fn undo_previous(&self, main: &KeychainAddress, previous: &KeychainAddress, r: &Rotation) {
        if !r.previous_in_keychain || !self.keychain_ok() {
            return;
        }
        let (keychain, m, p, old) = (self.keychain.clone(), main.clone(), previous.clone(), r.old_key.clone());
        let _ = spawn_blocking(move || {
            if let Ok(Some(secret)) = keychain.load(&p)
                && matches_ref(&secret, &old)
                && store_verified(keychain.as_ref(), &m, &secret).is_ok()
            {
                let _ = keychain.remove(&p);
            }
        })
        .await;
    }

    /// Step 2 begins, step 3 begins, or step 3 is passed by the user's override.
    pub async fn advance_rotation(&self, rotation_id: &str, action: RotationAction) -> AppResult<Rotation> {
        let _one = self.rotation_lock.lock().await;
        let (_, _, _, mut r) = self.rotation_here(rotation_id).await?;
        match action {
            RotationAction::BeginUpdate => r.begin_update(Utc::now()),
            RotationAction::BeginConfirm => r.begin_confirm(),
            RotationAction::Override => r.begin_confirm().and_then(|()| r.confirm(ConfirmedBy::Override, Utc::now())),
        }
        .map_err(wrong_stage)?;
        self.journal(&r)?;
        Ok(r)
    }

    /// Step 3's live view. When the rule passes, the rotation moves on to step 4.
    pub async fn check_rotation(&self, rotation_id: &str) -> AppResult<RotationCheck> {
        let _one = self.rotation_lock.lock().await;
        let (client, token, workspace, mut r) = self.rotation_here(rotation_id).await?;
        let new_id = r.new_key.as_ref().map(|k| k.id.clone()).unwrap_or_default();
        let (old, new) =
            tokio::join!(client.key(&token, &workspace.id, &r.old_key.id), client.key(&token, &workspace.id, &new_id),);
        let card = |answer: Result<KeyCard, ClientError>| match answer {
            Ok(card) => Ok(Some(card)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(from_client(e)),
        };
        let (old, new) = (card(old)?, card(new)?);
        let settings = self.settings.lock().await.clone();
        let verification = r.verify(old.as_ref(), new.as_ref(), Utc::now(), settings.quiet_seconds);
        if verification.passed {
            r.confirm(ConfirmedBy::Watching, Utc::now()).map_err(wrong_stage)?;
            self.journal(&r)?;
        }
        let old_key = match old {
            Some(c) => Some(self.view(&workspace.id, c, settings.rotation_days).await),
            None => None,
        };
        let new_key = match new {
            Some(c) => Some(self.view(&workspace.id, c, settings.rotation_days).await),
            None => None,
        };
        Ok(RotationCheck { rotation: r, verification, old_key, new_key })
    }

    /// Tests the new key (from the keychain, or as pasted); a connected test passes step 3.
    pub async fn test_rotation(&self, rotation_id: &str, pasted: Option<String>) -> AppResult<RotationTested> {
        let _one = self.rotation_lock.lock().await;
        let (client, _, workspace, mut r) = self.rotation_here(rotation_id).await?;
        let new_key = r
            .new_key
            .clone()
            .ok_or_else(|| app_error(AppErrorCode::Other, "The replacement is not made yet: finish step 1 first."))?;
        let secret = match pasted {
            Some(p) => p,
            None => {
                let (main, _) = Self::addresses(&workspace.id, &r);
                self.load_secret(&main).await?.ok_or_else(|| {
                    field_error("pasted", "The keychain does not hold the new key. Paste the new key to test it.")
                })?
            }
        };
        let candidate = secret.trim();
        if keydeck_core::ParsedKey::parse(&secret).is_ok() && !matches_ref(candidate, &new_key) {
            return Err(field_error(
                "pasted",
                &format!(
                    "This is not the new key: the new key starts with {} and ends with {}.",
                    new_key.prefix, new_key.hint
                ),
            ));
        }
        let report = test_secret(&client, &workspace.id, &secret).await;
        if report.verdict == Verdict::Connected && matches!(r.stage, Stage::Updating | Stage::Confirming) {
            r.begin_confirm().and_then(|()| r.confirm(ConfirmedBy::Test, Utc::now())).map_err(wrong_stage)?;
            self.journal(&r)?;
        }
        Ok(RotationTested { rotation: r, report })
    }

    /// Step 4: once the old key's name is typed, journals, revokes it and deletes the
    /// "previous" keychain entry.
    pub async fn finish_rotation(&self, rotation_id: &str, confirm_name: &str) -> AppResult<Rotation> {
        let _one = self.rotation_lock.lock().await;
        let (client, token, workspace, mut r) = self.rotation_here(rotation_id).await?;
        if confirm_name != r.old_key.name {
            return Err(field_error(
                "confirmName",
                &format!("Type the old key's name exactly, \"{}\", to revoke it.", r.old_key.name),
            ));
        }
        r.begin_revoke().map_err(wrong_stage)?;
        self.journal(&r)?;
        self.revoke_old(&client, &token, &workspace, &mut r).await?;
        Ok(r)
    }

    async fn revoke_old(
        &self,
        client: &Client,
        token: &str,
        workspace: &WorkspaceSummary,
        r: &mut Rotation,
    ) -> AppResult<()> {
        match client.revoke_key(token, &workspace.id, &r.old_key.id).await {
            Ok(()) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => return Err(from_client(e)),
        }
        if self.keychain_ok() {
            let (_, previous) = Self::addresses(&workspace.id, r);
            if self.load_secret(&previous).await?.is_some_and(|s| matches_ref(&s, &r.old_key)) {
                let keychain = self.keychain.clone();
                spawn_blocking(move || keychain.remove(&previous)).await?.map_err(from_vault)?;
            }
        }
        r.finish(Utc::now()).map_err(wrong_stage)?;
        self.data.remove_rotation(&r.id).map_err(|e| {
            app_error(
                AppErrorCode::Other,
                format!("The old key is revoked, but the finished rotation's journal could not be removed: {e}"),
            )
        })
    }

    /// Calls a rotation off before step 4: revokes the replacement (repeating an unanswered
    /// creation first, to learn it), puts the old secret back, deletes the journal.
    pub async fn cancel_rotation(&self, rotation_id: &str) -> AppResult<()> {
        let _one = self.rotation_lock.lock().await;
        let (client, token, workspace, mut r) = self.rotation_here(rotation_id).await?;
        if !r.can_cancel() {
            return Err(app_error(
                AppErrorCode::Other,
                "The old key is already being revoked, so this rotation can only be finished.",
            ));
        }
        let (main, previous) = Self::addresses(&workspace.id, &r);
        if r.stage == Stage::Creating {
            let body = r.replacement_request();
            match client.create_key(&token, &workspace.id, &body, r.idempotency_key.as_deref()).await {
                Ok(created) => r.new_key = Some(KeyRef::of(&created.key)),
                Err(ClientError::Api { .. }) => {}
                Err(e) => return Err(from_client(e)),
            }
        }
        if let Some(new_key) = &r.new_key {
            match client.revoke_key(&token, &workspace.id, &new_key.id).await {
                Ok(()) => {}
                Err(e) if is_gone(&e) => {}
                Err(e) => return Err(from_client(e)),
            }
            if self.keychain_ok() && !r.previous_in_keychain {
                // No old secret to put back: just take the revoked replacement away.
                let (keychain, m, n) = (self.keychain.clone(), main.clone(), new_key.clone());
                let _ = spawn_blocking(move || {
                    if keychain.load(&m).ok().flatten().is_some_and(|s| matches_ref(&s, &n)) {
                        let _ = keychain.remove(&m);
                    }
                })
                .await;
            }
        }
        self.undo_previous(&main, &previous, &r).await;
        self.data
            .remove_rotation(&r.id)
            .map_err(|e| app_error(AppErrorCode::Other, format!("Could not remove the rotation's journal: {e}")))
    }

    /// Copies the rotation's new key to the clipboard again, from the keychain.
    pub async fn copy_rotation_key(&self, rotation_id: &str) -> AppResult<()> {
        let (_, _, workspace, r) = self.rotation_here(rotation_id).await?;
        let new_key =
            r.new_key.clone().ok_or_else(|| app_error(AppErrorCode::Other, "The replacement is not made yet."))?;
        let (main, _) = Self::addresses(&workspace.id, &r);
        let secret = self.load_secret(&main).await?.filter(|s| matches_ref(s, &new_key)).ok_or_else(|| {
            app_error(
                AppErrorCode::NotFound,
                "The keychain does not hold the new key, so it cannot be copied again. If you did not save it, cancel this rotation and start again.",
            )
        })?;
        let seconds = self.settings.lock().await.clipboard_clear_seconds;
        self.copy_secret(&secret, seconds).map_err(from_vault)
    }

    /// Revokes a key that was never used, to make room; a key that was used must be revoked
    /// from its own page, after typing its name.
    pub async fn delete_unused_key(&self, key_id: &str) -> AppResult<()> {
        let (client, token, workspace) = self.here().await?;
        let card = client.key(&token, &workspace.id, key_id).await.map_err(from_client)?;
        if card.last_used_at.is_some() || card.request_count > 0 {
            return Err(app_error(
                AppErrorCode::Other,
                format!(
                    "\"{}\" has been used, so something may depend on it. Open it and revoke it there, after typing its name.",
                    card.name
                ),
            ));
        }
        self.revoke_key(key_id, &card.name).await
    }

    /// One key's card, fresh from the server.
    pub async fn key_card(&self, key_id: &str) -> AppResult<keydeck_core::app::KeyCardView> {
        let (client, token, workspace) = self.here().await?;
        let card = client.key(&token, &workspace.id, key_id).await.map_err(from_client)?;
        let rotation_days = self.settings.lock().await.rotation_days;
        Ok(self.view(&workspace.id, card, rotation_days).await)
    }
}
