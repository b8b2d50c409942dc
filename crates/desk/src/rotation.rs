//! Guided rotation over `keydeck_core::rotation`: each step is journaled in the data directory
//! before it acts, so a crash at any point resumes without losing a key or making a second one.
//!
//! Step 1 sends the creation as a replacement of the old key (`replaces`), with an
//! `Idempotency-Key` journaled first, and journals the replacement's id the moment the server
//! answers, before the keychain write. Recovery finds the replacement by that id, or by
//! replaying the `Idempotency-Key`; never by name. A key this rotation cannot prove it made is
//! never adopted, revoked or deleted from the keychain: the user is told what exists instead.
//!
//! Keychain moves: at step 1 the old secret is copied to the key's "previous" address, then the
//! new secret takes the key's own address (so programs reading it switch over); at step 4 the
//! "previous" entry is deleted. Cancelling puts the old secret back.

use chrono::Utc;
use keydeck_client::ClientError;
use keydeck_core::ErrorCode;
use keydeck_core::app::{AppErrorCode, RotationAction, RotationCheck, RotationStep, RotationTested, Verdict};
use keydeck_core::key::random_base62;
use keydeck_core::rotation::{
    ConfirmedBy, KeyRef, Recovery, Rotation, RotationReason, RotationView, Stage, WrongStage,
};
use keydeck_core::rules::same_name;
use keydeck_core::wire::{KeyCard, UpdateKeyRequest};
use keydeck_vault::KeychainAddress;

use super::{Desk, Here, is_key, spawn_blocking, test_secret};
use crate::error::{AppResult, app_error, field_error, from_client};
use crate::store::DirLock;

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

/// Whether a refused creation proves the server made nothing for it: a 4xx answer, except a
/// conflict over the `Idempotency-Key` (the same key still being handled, or used before).
fn made_nothing(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, body } if (400..500).contains(status) && body.error != ErrorCode::IdempotencyConflict)
}

/// Whether a refused creation was refused after the server looked its Idempotency-Key up (so
/// within the replay window an earlier send's key would have been answered instead).
fn looked_up(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { body, .. } if matches!(body.error,
        ErrorCode::ValidationFailed | ErrorCode::NameTaken | ErrorCode::KeyLimitReached | ErrorCode::WorkspaceReadOnly))
}

fn new_idempotency_key() -> String {
    format!("kd-rot-{}", random_base62(&mut rand::rng(), 32))
}

/// What a rotation command holds while it acts: this process's turn and the data directory's
/// rotation lock (other processes' turn).
struct Turn<'a> {
    _here: tokio::sync::MutexGuard<'a, ()>,
    _there: DirLock,
}

impl Desk {
    /// The rotations of a workspace begun on this computer and not finished.
    pub(super) fn rotations_of(&self, workspace_id: &str) -> Vec<Rotation> {
        self.data.rotations().into_iter().filter(|r| r.workspace_id == workspace_id).collect()
    }

    /// The same, as the web view sees them.
    pub(super) fn rotation_views(&self, workspace_id: &str) -> Vec<RotationView> {
        self.rotations_of(workspace_id).iter().map(RotationView::from).collect()
    }

    async fn turn(&self) -> AppResult<Turn<'_>> {
        let here = self.rotation_lock.lock().await;
        let dir = self.data.clone();
        let there = spawn_blocking(move || dir.lock_rotations()).await?.map_err(|e| {
            app_error(AppErrorCode::Other, format!("Could not lock the rotation journals ({e}). Try again."))
        })?;
        Ok(Turn { _here: here, _there: there })
    }

    fn journal(&self, r: &Rotation) -> AppResult<()> {
        self.data.save_rotation(r).map_err(|e| {
            app_error(
                AppErrorCode::Other,
                format!("Could not save the rotation's progress ({e}). Nothing was changed; free some disk space and try again."),
            )
        })
    }

    /// A journaled rotation of the current account and workspace, with what carries it on.
    async fn rotation_here(&self, rotation_id: &str) -> AppResult<(Here, Rotation)> {
        let here = self.here().await?;
        let account = self.current.lock().await.as_ref().map(|c| c.account_id.clone()).unwrap_or_default();
        let r = self.data.rotation(rotation_id).ok_or_else(|| {
            app_error(
                AppErrorCode::NotFound,
                "This rotation is already finished or was cancelled. Open the key list to see where things stand.",
            )
        })?;
        if r.workspace_id != here.workspace.id || r.account_id != account {
            return Err(app_error(
                AppErrorCode::Other,
                format!(
                    "This rotation of \"{}\" belongs to another workspace or account. Switch to it to carry on.",
                    r.old_key.name
                ),
            ));
        }
        Ok((here, r))
    }

    fn addresses(r: &Rotation) -> (KeychainAddress, KeychainAddress) {
        (
            KeychainAddress::for_key(&r.workspace_id, &r.old_key.name),
            KeychainAddress::previous_for_key(&r.workspace_id, &r.old_key.name),
        )
    }

    /// Step 1: journals the rotation, then creates the replacement. A key with an unfinished
    /// rotation resumes that one instead.
    pub async fn start_rotation(&self, key_id: &str, reason: RotationReason) -> AppResult<RotationStep> {
        let _turn = self.turn().await?;
        let here = self.here().await?;
        if let Some(existing) = self.rotations_of(&here.workspace.id).into_iter().find(|r| r.old_key.id == key_id) {
            return self.resume_locked(&here, existing).await;
        }
        let list = here.client.list_keys(&here.token, &here.workspace.id).await.map_err(from_client)?;
        let old =
            list.keys.iter().find(|k| k.id == key_id).ok_or_else(|| {
                app_error(AppErrorCode::NotFound, "This key no longer exists; it may have been revoked.")
            })?;
        if let Some(twin) = list.keys.iter().find(|k| k.id != old.id && same_name(&k.name, &old.name)) {
            return Err(app_error(
                AppErrorCode::Other,
                format!(
                    "Two live keys are called \"{}\" (…{} and …{}), made before Keydeck kept names apart, and they share one keychain entry. Rename one of them first, so that each has its own; then rotate.",
                    old.name, old.hint, twin.hint
                ),
            ));
        }
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
            here.workspace.id.clone(),
            old,
            new_idempotency_key(),
            Utc::now(),
        );
        self.journal(&r)?;
        self.create_replacement(&here, &mut r).await
    }

    /// Resumes a journaled rotation: finishes a creation or revocation that may have been cut
    /// short, else answers where it stands.
    pub async fn resume_rotation(&self, rotation_id: &str) -> AppResult<RotationStep> {
        let _turn = self.turn().await?;
        let (here, r) = self.rotation_here(rotation_id).await?;
        self.resume_locked(&here, r).await
    }

    async fn resume_locked(&self, here: &Here, mut r: Rotation) -> AppResult<RotationStep> {
        match r.stage {
            Stage::Creating => self.create_replacement(here, &mut r).await,
            Stage::Revoking => {
                self.revoke_old(here, &mut r).await?;
                Ok(RotationStep { rotation: RotationView::from(&r), generated: None })
            }
            _ => Ok(RotationStep { rotation: RotationView::from(&r), generated: None }),
        }
    }

    /// Step 1's work, safe to repeat from any journaled point: keep the old secret at the
    /// "previous" address; then, as the journal says, adopt the journaled replacement whose
    /// secret the keychain holds, or revoke the journaled replacement whose secret is lost for
    /// good, and (re)send the creation with the journaled Idempotency-Key; journal the answer;
    /// store it at the key's address; reveal.
    async fn create_replacement(&self, here: &Here, r: &mut Rotation) -> AppResult<RotationStep> {
        let (main, previous) = Self::addresses(r);
        let keep = self.keychain_ok();
        if keep
            && !r.previous_in_keychain
            && r.new_key.is_none()
            && let Some(old_secret) = self.load_mine(&here.server, &main).await?.filter(|s| matches_ref(s, &r.old_key))
        {
            self.keep(&here.server, &r.old_key.id, &previous, &old_secret)
                .await?
                .map_err(|problem| app_error(AppErrorCode::Other, problem))?;
            r.kept_previous().map_err(wrong_stage)?;
            self.journal(r)?;
        }
        let stored_is_new = match &r.new_key {
            Some(new) if keep => {
                self.holds_key(&here.server, &r.workspace_id, &main, (&new.id, &new.prefix, &new.hint)).await
            }
            _ => false,
        };
        match r.recovery(stored_is_new, Utc::now()) {
            Recovery::AdoptStored => {
                let new_key = r.new_key.clone().ok_or_else(|| app_error(AppErrorCode::Other, "No replacement."))?;
                r.created(new_key, Utc::now()).map_err(wrong_stage)?;
                self.journal(r)?;
                return Ok(RotationStep { rotation: RotationView::from(&*r), generated: None });
            }
            Recovery::RevokeAndRecreate => {
                // This rotation made that key (its id is journaled), and its secret was never
                // stored: nobody can use it. It goes before another is made.
                let lost = r.new_key.clone().ok_or_else(|| app_error(AppErrorCode::Other, "No replacement."))?;
                self.revoke_if_live(here, &lost.id).await?;
                tracing::info!(key = %lost.id, "revoked a replacement whose secret was lost in a crash");
                r.replacement_abandoned(new_idempotency_key()).map_err(wrong_stage)?;
                self.journal(r)?;
            }
            Recovery::Replay => {}
            Recovery::RepeatRevoke | Recovery::Show(_) | Recovery::Finished => {
                return Ok(RotationStep { rotation: RotationView::from(&*r), generated: None });
            }
        }
        let created = self.send_creation(here, r).await?;
        let new_key = KeyRef::of(&created.key);
        // Journaled before the keychain write: after a crash here, recovery knows the key by id.
        r.made(new_key.clone()).map_err(wrong_stage)?;
        self.journal(r)?;
        let foreign = if keep { self.foreign_key_at(here, &main, r).await } else { None };
        let mut generated = self.deliver(here, &main, keep && foreign.is_none(), created).await?;
        if let Some(other) = foreign {
            generated.keychain_problem = Some(format!(
                "The keychain entry \"{}\" holds another live key, \"{}\" (…{}), so Keydeck left it as it is and this key is not in the keychain. Rename one of the two keys so that each has its own entry.",
                main.account, other.name, other.hint
            ));
        }
        r.created(new_key, Utc::now()).map_err(wrong_stage)?;
        self.journal(r)?;
        Ok(RotationStep { rotation: RotationView::from(&*r), generated: Some(generated) })
    }

    /// Sends step 1's creation with the journaled Idempotency-Key (journaling each send first),
    /// and answers the key the server made for it. A repeated send may be answered with a key
    /// made earlier and revoked since (a rotation cancelled elsewhere): that one is given up
    /// and the creation sent once more with a fresh Idempotency-Key. On a refusal the journal
    /// is deleted only when the only send ever made was refused.
    async fn send_creation(&self, here: &Here, r: &mut Rotation) -> AppResult<keydeck_core::wire::CreatedKey> {
        for _ in 0..2 {
            r.sending(Utc::now()).map_err(wrong_stage)?;
            self.journal(r)?;
            let body = r.replacement_request();
            let sent =
                here.client.create_key(&here.token, &here.workspace.id, &body, r.idempotency_key.as_deref()).await;
            let created = match sent {
                Ok(created) => created,
                // The server refused the only creation ever sent: nothing was made. Undo the
                // journal and the "previous" copy.
                Err(e) if r.sent_once() && made_nothing(&e) => {
                    self.undo_previous(here, r).await;
                    let _ = self.data.remove_rotation(&r.id);
                    return Err(from_client(e));
                }
                // Refused, but an earlier send may have made a key: the journal stays.
                Err(ClientError::Api { body, .. }) => return Err(self.creation_refused(here, r, &body).await),
                // No answer: the replacement may exist. The journal stays, and trying again
                // repeats the creation with the same Idempotency-Key.
                Err(e) => {
                    return Err(app_error(
                        AppErrorCode::Unreachable,
                        format!(
                            "{e} The replacement may or may not have been made; try again and Keydeck will finish step 1 without making a second key."
                        ),
                    ));
                }
            };
            if let Some(journaled) = &r.new_key
                && journaled.id != created.key.id
            {
                return Err(app_error(
                    AppErrorCode::Other,
                    format!(
                        "The server answered with another key (…{}) than the replacement this rotation made (…{}). Nothing was changed; cancel this rotation and start again.",
                        created.key.hint, journaled.hint
                    ),
                ));
            }
            if r.sent_once() || self.is_live(here, &created.key.id).await? {
                return Ok(created);
            }
            tracing::info!(key = %created.key.id, "the replacement this rotation made was revoked meanwhile");
            r.replacement_abandoned(new_idempotency_key()).map_err(wrong_stage)?;
            self.journal(r)?;
        }
        Err(app_error(
            AppErrorCode::Other,
            "The replacement was revoked as soon as it was made. Nothing else was changed; resume the rotation to try again.",
        ))
    }

    /// Whether a key is live in the workspace: its card answers, or the workspace's list (which
    /// proves the workspace is still reachable) lacks it.
    async fn is_live(&self, here: &Here, key_id: &str) -> AppResult<bool> {
        match here.client.key(&here.token, &here.workspace.id, key_id).await {
            Ok(_) => Ok(true),
            Err(e) if is_gone(&e) => {
                let list = here.client.list_keys(&here.token, &here.workspace.id).await.map_err(from_client)?;
                Ok(list.keys.iter().any(|k| k.id == key_id))
            }
            Err(e) => Err(from_client(e)),
        }
    }

    /// Revokes a key; one already gone is fine, once the workspace's list confirms it (a
    /// `not_found` for the workspace itself, say after losing access, is not a revoked key).
    async fn revoke_if_live(&self, here: &Here, key_id: &str) -> AppResult<()> {
        match here.client.revoke_key(&here.token, &here.workspace.id, key_id).await {
            Ok(()) => Ok(()),
            Err(e) if is_gone(&e) => {
                if self.is_live(here, key_id).await? {
                    Err(from_client(e))
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(from_client(e)),
        }
    }

    /// A live key other than this rotation's two whose secret the key's address holds (two
    /// keys of one name, made before names were kept apart): its entry is not overwritten.
    async fn foreign_key_at(&self, here: &Here, main: &KeychainAddress, r: &Rotation) -> Option<KeyCard> {
        let secret = self.load_mine(&here.server, main).await.ok().flatten()?;
        let ours = |id: &str| id == r.old_key.id || r.new_key.as_ref().is_some_and(|n| n.id == id);
        let live = here.client.list_keys(&here.token, &here.workspace.id).await.ok()?;
        live.keys.into_iter().find(|k| !ours(&k.id) && is_key(&secret, &k.prefix, &k.hint))
    }

    /// A repeated creation was refused: what to tell the user, the journal kept.
    async fn creation_refused(
        &self,
        here: &Here,
        r: &Rotation,
        body: &keydeck_core::wire::ErrorBody,
    ) -> keydeck_core::app::AppError {
        if body.error == ErrorCode::IdempotencyConflict {
            return app_error(
                AppErrorCode::Other,
                format!("{} The rotation waits at step 1; resume it in a moment.", body.message),
            );
        }
        let replacement = match here.client.key(&here.token, &here.workspace.id, &r.old_key.id).await {
            Ok(KeyCard { replaced_by: Some(id), .. }) => {
                here.client.key(&here.token, &here.workspace.id, &id).await.ok()
            }
            _ => None,
        };
        match replacement {
            Some(other) => app_error(
                AppErrorCode::Other,
                format!(
                    "\"{}\" already has a replacement (…{}, made {}). It may be the one this rotation asked for before Keydeck stopped, but Keydeck cannot prove it, and its secret was never saved, so Keydeck leaves it alone. If nothing uses it, revoke it from its page, then resume this rotation; or cancel this rotation.",
                    r.old_key.name,
                    other.hint,
                    other.created_at.format("%Y-%m-%d %H:%M UTC")
                ),
            ),
            None => app_error(AppErrorCode::Other, format!("{} The rotation waits at step 1.", body.message)),
        }
    }

    /// Puts the old secret back at the key's address and deletes the "previous" entry.
    async fn undo_previous(&self, here: &Here, r: &Rotation) {
        if !r.previous_in_keychain || !self.keychain_ok() {
            return;
        }
        let (main, previous) = Self::addresses(r);
        let Ok(Some(secret)) = self.load_mine(&here.server, &previous).await else { return };
        if matches_ref(&secret, &r.old_key)
            && self.keep(&here.server, &r.old_key.id, &main, &secret).await.is_ok_and(|kept| kept.is_ok())
        {
            let _ = self.forget(&here.server, &previous, &r.old_key.prefix, &r.old_key.hint).await;
        }
    }

    /// Step 2 begins, step 3 begins, or step 3 is passed by the user's override.
    pub async fn advance_rotation(&self, rotation_id: &str, action: RotationAction) -> AppResult<RotationView> {
        let _turn = self.turn().await?;
        let (_, mut r) = self.rotation_here(rotation_id).await?;
        match action {
            RotationAction::BeginUpdate => r.begin_update(Utc::now()),
            RotationAction::BeginConfirm => r.begin_confirm(Utc::now()),
            RotationAction::Override => {
                r.begin_confirm(Utc::now()).and_then(|()| r.confirm(ConfirmedBy::Override, Utc::now()))
            }
        }
        .map_err(wrong_stage)?;
        self.journal(&r)?;
        Ok(RotationView::from(&r))
    }

    /// Step 3's live view. When the rule passes, the rotation moves on to step 4.
    pub async fn check_rotation(&self, rotation_id: &str) -> AppResult<RotationCheck> {
        let _turn = self.turn().await?;
        let (here, mut r) = self.rotation_here(rotation_id).await?;
        let new_id = r.new_key.as_ref().map(|k| k.id.clone()).unwrap_or_default();
        let (client, token, ws) = (&here.client, &here.token, &here.workspace.id);
        let (old, new) = tokio::join!(client.key(token, ws, &r.old_key.id), client.key(token, ws, &new_id));
        let card = |answer: Result<KeyCard, ClientError>| match answer {
            Ok(card) => Ok(Some(card)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(from_client(e)),
        };
        let (old, new) = (card(old)?, card(new)?);
        let quiet_seconds = self.settings.lock().await.quiet_seconds;
        let verification = r.verify(old.as_ref(), new.as_ref(), Utc::now(), quiet_seconds);
        if verification.passed {
            r.confirm(ConfirmedBy::Watching, Utc::now()).map_err(wrong_stage)?;
            self.journal(&r)?;
        }
        let old_key = match old {
            Some(c) => Some(self.view_here(&here, c).await),
            None => None,
        };
        let new_key = match new {
            Some(c) => Some(self.view_here(&here, c).await),
            None => None,
        };
        Ok(RotationCheck { rotation: RotationView::from(&r), verification, old_key, new_key })
    }

    /// Tests the new key (from the keychain, or as pasted); a connected test passes step 3.
    pub async fn test_rotation(&self, rotation_id: &str, pasted: Option<String>) -> AppResult<RotationTested> {
        let _turn = self.turn().await?;
        let (here, mut r) = self.rotation_here(rotation_id).await?;
        let new_key = r
            .new_key
            .clone()
            .ok_or_else(|| app_error(AppErrorCode::Other, "The replacement is not made yet: finish step 1 first."))?;
        let secret = match pasted {
            Some(p) => p,
            None => {
                let (main, _) = Self::addresses(&r);
                self.load_mine(&here.server, &main).await?.ok_or_else(|| {
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
        let report = test_secret(&here.client, &here.workspace.id, &secret).await;
        if report.verdict == Verdict::Connected && matches!(r.stage, Stage::Updating | Stage::Confirming) {
            r.begin_confirm(Utc::now()).and_then(|()| r.confirm(ConfirmedBy::Test, Utc::now())).map_err(wrong_stage)?;
            self.journal(&r)?;
        }
        Ok(RotationTested { rotation: RotationView::from(&r), report })
    }

    /// Step 4: once the old key's name is typed, journals, revokes it and deletes the
    /// "previous" keychain entry.
    pub async fn finish_rotation(&self, rotation_id: &str, confirm_name: &str) -> AppResult<RotationView> {
        let _turn = self.turn().await?;
        let (here, mut r) = self.rotation_here(rotation_id).await?;
        if confirm_name != r.old_key.name {
            return Err(field_error(
                "confirmName",
                &format!("Type the old key's name exactly, \"{}\", to revoke it.", r.old_key.name),
            ));
        }
        r.begin_revoke().map_err(wrong_stage)?;
        self.journal(&r)?;
        self.revoke_old(&here, &mut r).await?;
        Ok(RotationView::from(&r))
    }

    /// Step 4 the other way: the server revokes the old key by itself once it has had no
    /// request for `silent_seconds` (1 hour to 7 days), whether or not Keydeck is running, and
    /// the rotation ends here. Not for a leaked key, which is deleted at once: one that is still
    /// being tried never falls silent. The choice is journaled first (the rotation can then
    /// only be finished, never cancelled, since cancelling would leave the plan in place with
    /// the replacement revoked); a crash before the end resumes by setting the same plan. Then
    /// the "previous" keychain entry goes (nothing needs the old secret past step 4) and the
    /// journal with it. The old key's card shows the plan, which can be called off there.
    pub async fn finish_rotation_when_silent(&self, rotation_id: &str, silent_seconds: u32) -> AppResult<RotationView> {
        let _turn = self.turn().await?;
        let (here, mut r) = self.rotation_here(rotation_id).await?;
        if r.reason == RotationReason::Incident {
            return Err(app_error(
                AppErrorCode::Other,
                "A leaked key is deleted at once: one that is still being tried would never fall silent.",
            ));
        }
        let range = keydeck_core::rules::REVOKE_WHEN_SILENT_SECONDS;
        if !range.contains(&silent_seconds) {
            return Err(field_error(
                "revokeWhenSilentSeconds",
                &format!(
                    "Choose from {} (one hour) to {} (seven days) seconds of silence.",
                    range.start(),
                    range.end()
                ),
            ));
        }
        r.begin_revoke_when_silent(silent_seconds).map_err(|_| {
            app_error(
                AppErrorCode::Other,
                "Only a rotation at step 4, with the new key confirmed, can leave the old key to the server.",
            )
        })?;
        self.journal(&r)?;
        self.revoke_old(&here, &mut r).await?;
        Ok(RotationView::from(&r))
    }

    /// Step 4's work, safe to repeat: revoke the old key now, or, when the journal says it was
    /// left to the server, set that plan on it (a key already revoked needs neither); then end.
    async fn revoke_old(&self, here: &Here, r: &mut Rotation) -> AppResult<()> {
        match r.revoke_when_silent {
            Some(seconds) => {
                let plan = UpdateKeyRequest { revoke_when_silent_seconds: Some(Some(seconds)), ..Default::default() };
                match here.client.update_key(&here.token, &here.workspace.id, &r.old_key.id, &plan).await {
                    Ok(_) => {}
                    Err(e) if is_gone(&e) && !self.is_live(here, &r.old_key.id).await? => {}
                    Err(e) => return Err(from_client(e)),
                }
                self.end(here, r, "The server will revoke the old key once it is silent").await
            }
            None => {
                self.revoke_if_live(here, &r.old_key.id).await?;
                self.end(here, r, "The old key is revoked").await
            }
        }
    }

    /// The old key is dealt with (`done` says how, for an error after it): the "previous"
    /// keychain entry goes, then the journal.
    async fn end(&self, here: &Here, r: &mut Rotation, done: &str) -> AppResult<()> {
        if self.keychain_ok() {
            let (_, previous) = Self::addresses(r);
            self.forget(&here.server, &previous, &r.old_key.prefix, &r.old_key.hint)
                .await
                .map_err(crate::error::from_vault)?;
        }
        r.finish(Utc::now()).map_err(wrong_stage)?;
        self.data.remove_rotation(&r.id).map_err(|e| {
            app_error(
                AppErrorCode::Other,
                format!("{done}, but the finished rotation's journal could not be removed: {e}"),
            )
        })
    }

    /// Calls a rotation off before step 4: revokes the replacement this rotation made (learning
    /// it first, for an unanswered creation, by replaying its Idempotency-Key), puts the old
    /// secret back, deletes the journal. Only a key the journal names or the server gives back
    /// for the journaled Idempotency-Key is ever revoked.
    pub async fn cancel_rotation(&self, rotation_id: &str) -> AppResult<()> {
        let _turn = self.turn().await?;
        let (here, mut r) = self.rotation_here(rotation_id).await?;
        if !r.can_cancel() {
            return Err(app_error(
                AppErrorCode::Other,
                "The old key is already being revoked, so this rotation can only be finished.",
            ));
        }
        // An unanswered creation, while the server still replays it: learn what it made.
        // (Past the replay window it cannot be learned: nothing this rotation can prove it made
        // is left to revoke, and a key made then shows as the old key's replacement.)
        if r.stage == Stage::Creating
            && r.new_key.is_none()
            && r.creation_attempts > 0
            && r.within_replay_window(Utc::now())
        {
            let body = r.replacement_request();
            match here.client.create_key(&here.token, &here.workspace.id, &body, r.idempotency_key.as_deref()).await {
                Ok(created) => {
                    r.made(KeyRef::of(&created.key)).map_err(wrong_stage)?;
                    self.journal(&r)?;
                }
                // Refused after the server looked the Idempotency-Key up: it made nothing for it.
                Err(e @ ClientError::Api { .. }) if made_nothing(&e) && (r.sent_once() || looked_up(&e)) => {}
                // Any other answer leaves it unknown: the journal stays.
                Err(ClientError::Api { body, .. }) => {
                    return Err(app_error(
                        AppErrorCode::Other,
                        format!("{} The rotation was not cancelled; try again in a moment.", body.message),
                    ));
                }
                Err(e) => return Err(from_client(e)),
            }
        }
        if let Some(new_key) = &r.new_key {
            self.revoke_if_live(&here, &new_key.id).await?;
            if self.keychain_ok() && !r.previous_in_keychain {
                // No old secret to put back: just take the revoked replacement away.
                let (main, _) = Self::addresses(&r);
                let _ = self.forget(&here.server, &main, &new_key.prefix, &new_key.hint).await;
            }
        }
        self.undo_previous(&here, &r).await;
        self.data
            .remove_rotation(&r.id)
            .map_err(|e| app_error(AppErrorCode::Other, format!("Could not remove the rotation's journal: {e}")))
    }

    /// Copies the rotation's new key to the clipboard again, from the keychain.
    pub async fn copy_rotation_key(&self, rotation_id: &str) -> AppResult<()> {
        let (here, r) = self.rotation_here(rotation_id).await?;
        let new_key =
            r.new_key.clone().ok_or_else(|| app_error(AppErrorCode::Other, "The replacement is not made yet."))?;
        let (main, _) = Self::addresses(&r);
        let secret = self.load_mine(&here.server, &main).await?.filter(|s| matches_ref(s, &new_key)).ok_or_else(|| {
            app_error(
                AppErrorCode::NotFound,
                "The keychain does not hold the new key, so it cannot be copied again. If you did not save it, cancel this rotation and start again.",
            )
        })?;
        let seconds = self.settings.lock().await.clipboard_clear_seconds;
        self.copy_secret(&secret, seconds).map_err(crate::error::from_vault)
    }

    /// Revokes a key that was never used, to make room; a key that was used must be revoked
    /// from its own page, after typing its name.
    pub async fn delete_unused_key(&self, key_id: &str) -> AppResult<()> {
        let here = self.here().await?;
        let card = here.client.key(&here.token, &here.workspace.id, key_id).await.map_err(from_client)?;
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
        let here = self.here().await?;
        let card = here.client.key(&here.token, &here.workspace.id, key_id).await.map_err(from_client)?;
        Ok(self.view_here(&here, card).await)
    }
}
