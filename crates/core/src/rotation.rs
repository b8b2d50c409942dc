//! The rotation state machine: replacing a key in four steps without cutting off the
//! integration that uses it.
//!
//! 1. **Create** the replacement, with the old key's name, scopes, rate limit and expiry preset.
//! 2. **Update** the integration. From the moment this step begins, the old key should fall
//!    silent and the new one take over.
//! 3. **Confirm** it works: by itself once the new key has been used since step 2 began and the
//!    old key has been silent for the quiet period; or by a successful test of the new key; or
//!    by the user overriding, with the risk stated.
//! 4. **Revoke** the old key, with a warning if it was used after step 2 began.
//!
//! A [`Rotation`] is also the journal the app keeps on disk: ids, hints, the stage and times,
//! never a secret. The app writes it *before* each step acts, and journals the replacement's id
//! the moment the server answers (before the keychain write), so after a crash
//! [`Rotation::recovery`] says what to do: adopt the journaled replacement, repeat the creation
//! with the same `Idempotency-Key` (the server answers with the key it made instead of making a
//! second one), revoke the journaled replacement whose secret was lost and make another, repeat
//! a revocation, or show the step. A rotation only ever adopts or revokes a key whose id it
//! journaled or that the server gave back for its own `Idempotency-Key`: never one found by name.
//!
//! What crosses to the web view is a [`RotationView`]: the journal without the
//! `Idempotency-Key`, plus the facts the wizard shows (the step, whether it can be cancelled).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::RefusalAdvice;
use crate::diagnosis;
use crate::rules::{ExpiresInDays, RateLimit};
use crate::scope::Scope;
use crate::wire::{CreateKeyRequest, KeyCard};

/// How long after the first send a repeated creation is still answered from the server's
/// replay record (PRODUCT.md: 10 minutes), less a margin for clocks and the request's travel.
pub const REPLAY_WINDOW_SECONDS: i64 = 9 * 60;

/// Why a key is being replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum RotationReason {
    /// A planned rotation: the old key keeps working until step 4.
    Scheduled,
    /// The old key leaked and was disabled: step 3 only waits for the new key's first use.
    Incident,
}

/// Where a rotation stands. Each stage is journaled before the work it names starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Step 1 started. Without `newKey`, the replacement may or may not exist on the server yet;
    /// with it, the server made it and its secret may not be in the keychain yet.
    Creating,
    /// Step 1 done: the replacement exists, is in the keychain and was revealed.
    Created,
    /// Step 2 began (at `updateStartedAt`): the integration is being updated.
    Updating,
    /// Step 3: waiting for the new key's use and the old key's silence.
    Confirming,
    /// Step 3 passed: step 4 waits for the old key's name to be typed.
    Confirmed,
    /// Step 4 started: the old key may or may not be revoked yet.
    Revoking,
    /// The old key is revoked and its "previous" keychain entry deleted.
    Done,
}

/// A key as the journal remembers it: enough to find it again and to show it, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub hint: String,
}

impl KeyRef {
    pub fn of(card: &KeyCard) -> KeyRef {
        KeyRef { id: card.id.clone(), name: card.name.clone(), prefix: card.prefix.clone(), hint: card.hint.clone() }
    }
}

/// How step 3 was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmedBy {
    /// The new key was used and the old one fell silent.
    Watching,
    /// A test of the new key connected.
    Test,
    /// The user went on without proof, having read the risk.
    Override,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation {
    pub by: ConfirmedBy,
    pub at: DateTime<Utc>,
}

/// One rotation, as journaled on disk. The web view sees it as a [`RotationView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// Local id; also names the journal file.
    pub id: String,
    pub reason: RotationReason,
    pub account_id: String,
    pub workspace_id: String,
    pub old_key: KeyRef,
    /// What the replacement is made with: the old key's permissions and limits.
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<ExpiresInDays>,
    pub rate_limit: RateLimit,
    /// Sent with the creation and kept until step 1 is done, so a repeated creation gets the
    /// same key back instead of a second one. Dropped once the replacement is stored: with the
    /// server's database it would unseal the replayed answer. Never sent to the web view.
    pub idempotency_key: Option<String>,
    /// How many times the creation was sent with this `Idempotency-Key` (journaled before each).
    /// A journal from before this was kept may have sent it: it counts as once.
    #[serde(default = "sent_before_records")]
    pub creation_attempts: u32,
    /// When the creation was first sent with this `Idempotency-Key`.
    #[serde(default)]
    pub first_sent_at: Option<DateTime<Utc>>,
    /// The replacement, journaled as soon as the server answers with it.
    pub new_key: Option<KeyRef>,
    pub stage: Stage,
    pub started_at: DateTime<Utc>,
    pub created_at: Option<DateTime<Utc>>,
    pub update_started_at: Option<DateTime<Utc>>,
    /// When step 3 began (a journal from before this was kept has none).
    #[serde(default)]
    pub confirm_started_at: Option<DateTime<Utc>>,
    /// Step 4 was ended by leaving the old key to the server, to revoke once it has had no
    /// request for this many seconds (journaled before the server is asked, so that resuming
    /// repeats that plan, never a revocation nobody chose).
    #[serde(default)]
    pub revoke_when_silent: Option<u32>,
    pub confirmation: Option<Confirmation>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The old secret was moved to the key's "previous" keychain address at step 1.
    pub previous_in_keychain: bool,
}

fn sent_before_records() -> u32 {
    1
}

/// A transition that does not apply to the rotation's stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("This rotation is at step {step} ({stage:?}); it cannot {wanted} now.")]
pub struct WrongStage {
    pub stage: Stage,
    pub step: u8,
    pub wanted: &'static str,
}

/// What to do with a journaled rotation when the app starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The journaled replacement's secret is at the key's keychain address: step 1 is done.
    AdoptStored,
    /// Send the creation (again) with the journaled `Idempotency-Key`: within the replay window
    /// the server answers with the key it made, if it made one; otherwise it makes one now.
    Replay,
    /// The journaled replacement's secret never reached the keychain and the server no longer
    /// replays it: revoke that key (this rotation made it), then create another with a fresh
    /// `Idempotency-Key`.
    RevokeAndRecreate,
    /// The revocation may have reached the server: revoke again (an already revoked key is
    /// gone from the list) and finish.
    RepeatRevoke,
    /// Nothing was in flight: show this step.
    Show(u8),
    /// Finished: nothing to resume; the journal can go.
    Finished,
}

/// What the replacement's creation is made of.
pub struct Template {
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<ExpiresInDays>,
    pub rate_limit: RateLimit,
}

impl Template {
    /// The old key's permissions and limits. Its expiry becomes the nearest preset at least as
    /// long as the time the old key was given (a 90-day key gets a new 90 days).
    pub fn of(card: &KeyCard) -> Template {
        let expires_in_days = card.expires_at.and_then(|e| {
            let days = ((e - card.created_at).num_hours() + 23) / 24;
            crate::rules::EXPIRATION_PRESETS
                .iter()
                .copied()
                .find(|p| i64::from(*p) >= days)
                .or(crate::rules::EXPIRATION_PRESETS.last().copied())
                .and_then(ExpiresInDays::new)
        });
        Template { scopes: card.scopes.clone(), expires_in_days, rate_limit: card.rate_limit }
    }
}

impl Rotation {
    /// Step 1 begins: journal this before sending the creation.
    pub fn begin(
        id: String,
        reason: RotationReason,
        account_id: String,
        workspace_id: String,
        old: &KeyCard,
        idempotency_key: String,
        now: DateTime<Utc>,
    ) -> Rotation {
        let template = Template::of(old);
        Rotation {
            id,
            reason,
            account_id,
            workspace_id,
            old_key: KeyRef::of(old),
            scopes: template.scopes,
            expires_in_days: template.expires_in_days,
            rate_limit: template.rate_limit,
            idempotency_key: Some(idempotency_key),
            creation_attempts: 0,
            first_sent_at: None,
            new_key: None,
            stage: Stage::Creating,
            started_at: now,
            created_at: None,
            update_started_at: None,
            confirm_started_at: None,
            revoke_when_silent: None,
            confirmation: None,
            finished_at: None,
            previous_in_keychain: false,
        }
    }

    /// The replacement's creation: a replacement of the old key (so the server links the two
    /// and allows it the old key's name), with its name, permissions, limits and expiry preset.
    pub fn replacement_request(&self) -> CreateKeyRequest {
        CreateKeyRequest {
            name: Some(self.old_key.name.clone()),
            scopes: self.scopes.clone(),
            expires_in_days: self.expires_in_days,
            rate_limit: Some(self.rate_limit),
            replaces: Some(self.old_key.id.clone()),
            // Left out, the server gives the replacement the old key's allowlist.
            allowed_ips: None,
        }
    }

    /// The creation is about to be sent (again): journal this first.
    pub fn sending(&mut self, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Creating], "send the replacement's creation")?;
        self.creation_attempts += 1;
        self.first_sent_at.get_or_insert(now);
        Ok(())
    }

    /// Whether the creation has been sent once only: a refusal of that one send proves that
    /// the server made nothing for this rotation.
    pub fn sent_once(&self) -> bool {
        self.creation_attempts <= 1
    }

    /// The server answered the creation with `new_key`: journal this before the keychain write.
    pub fn made(&mut self, new_key: KeyRef) -> Result<(), WrongStage> {
        self.expect(&[Stage::Creating], "record the replacement")?;
        self.new_key = Some(new_key);
        Ok(())
    }

    /// The journaled replacement was revoked because its secret was lost: step 1 starts over
    /// with a fresh `Idempotency-Key`.
    pub fn replacement_abandoned(&mut self, idempotency_key: String) -> Result<(), WrongStage> {
        self.expect(&[Stage::Creating], "make another replacement")?;
        self.new_key = None;
        self.idempotency_key = Some(idempotency_key);
        self.creation_attempts = 0;
        self.first_sent_at = None;
        Ok(())
    }

    /// Whether the server still replays the first send of this `Idempotency-Key`.
    pub fn within_replay_window(&self, now: DateTime<Utc>) -> bool {
        self.first_sent_at.is_none_or(|sent| (now - sent).num_seconds() < REPLAY_WINDOW_SECONDS)
    }

    /// The step (1 to 4) the wizard shows.
    pub fn step(&self) -> u8 {
        match self.stage {
            Stage::Creating | Stage::Created => 1,
            Stage::Updating => 2,
            Stage::Confirming => 3,
            Stage::Confirmed | Stage::Revoking | Stage::Done => 4,
        }
    }

    fn expect(&self, stages: &[Stage], wanted: &'static str) -> Result<(), WrongStage> {
        if stages.contains(&self.stage) {
            Ok(())
        } else {
            Err(WrongStage { stage: self.stage, step: self.step(), wanted })
        }
    }

    /// Notes that the old secret was copied to the "previous" keychain address (before the
    /// new secret takes the key's address).
    pub fn kept_previous(&mut self) -> Result<(), WrongStage> {
        self.expect(&[Stage::Creating], "keep the old secret")?;
        self.previous_in_keychain = true;
        Ok(())
    }

    /// Step 1 is done: the replacement exists and is stored.
    pub fn created(&mut self, new_key: KeyRef, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Creating], "record the replacement")?;
        self.new_key = Some(new_key);
        self.idempotency_key = None;
        self.created_at = Some(now);
        self.stage = Stage::Created;
        Ok(())
    }

    /// Step 2 begins; from now on the old key should fall silent. Repeating it keeps the
    /// first time.
    pub fn begin_update(&mut self, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Created, Stage::Updating], "begin updating the integration")?;
        self.update_started_at.get_or_insert(now);
        self.stage = Stage::Updating;
        Ok(())
    }

    /// The user says the integration is updated: step 3 watches.
    pub fn begin_confirm(&mut self, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Updating, Stage::Confirming], "start confirming")?;
        self.stage = Stage::Confirming;
        self.confirm_started_at.get_or_insert(now);
        Ok(())
    }

    /// Step 3 passed.
    pub fn confirm(&mut self, by: ConfirmedBy, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Confirming], "be confirmed")?;
        self.confirmation = Some(Confirmation { by, at: now });
        self.stage = Stage::Confirmed;
        Ok(())
    }

    /// Step 4 begins: journal this before revoking the old key.
    pub fn begin_revoke(&mut self) -> Result<(), WrongStage> {
        self.expect(&[Stage::Confirmed, Stage::Revoking], "revoke the old key")?;
        self.stage = Stage::Revoking;
        Ok(())
    }

    /// Step 4 the other way: the old key is left to the server, to revoke once silent for
    /// `seconds`. Only from step 4 itself; from then on the rotation can only be finished.
    pub fn begin_revoke_when_silent(&mut self, seconds: u32) -> Result<(), WrongStage> {
        self.expect(&[Stage::Confirmed], "leave the old key to the server")?;
        self.revoke_when_silent = Some(seconds);
        self.stage = Stage::Revoking;
        Ok(())
    }

    /// The old key is revoked and the "previous" keychain entry is gone.
    pub fn finish(&mut self, now: DateTime<Utc>) -> Result<(), WrongStage> {
        self.expect(&[Stage::Revoking], "finish")?;
        self.previous_in_keychain = false;
        self.finished_at = Some(now);
        self.stage = Stage::Done;
        Ok(())
    }

    /// Whether the rotation may still be called off (the old key is untouched until step 4).
    pub fn can_cancel(&self) -> bool {
        !matches!(self.stage, Stage::Revoking | Stage::Done)
    }

    /// What to do with this journal after a restart. `stored_is_new_key` says whether the
    /// key's keychain address holds the journaled replacement's secret.
    pub fn recovery(&self, stored_is_new_key: bool, now: DateTime<Utc>) -> Recovery {
        match self.stage {
            Stage::Creating => match &self.new_key {
                Some(_) if stored_is_new_key => Recovery::AdoptStored,
                Some(_) if !self.within_replay_window(now) => Recovery::RevokeAndRecreate,
                _ => Recovery::Replay,
            },
            Stage::Revoking => Recovery::RepeatRevoke,
            Stage::Done => Recovery::Finished,
            _ => Recovery::Show(self.step()),
        }
    }

    /// Step 3's rule, from the two keys' cards as the server shows them now: the new key's
    /// latest answer since step 2 began was a success (a refused request is no proof that the
    /// integration works), and the old key, for a planned rotation, has had no request at all
    /// for the quiet period (a refused one counts: the integration still sends it).
    pub fn verify(
        &self,
        old: Option<&KeyCard>,
        new: Option<&KeyCard>,
        now: DateTime<Utc>,
        quiet_seconds: u32,
    ) -> Verification {
        let since = self.update_started_at;
        let after_update = |at: DateTime<Utc>| since.is_some_and(|since| at >= since);
        let new_last_success_at = new.and_then(|c| c.last_success_at);
        let new_succeeded = new_last_success_at.is_some_and(after_update);
        // A refusal since step 2 began that came after the new key's last success: whatever
        // sends the new key is being turned away right now.
        let new_refusal = new
            .and_then(|c| c.last_refusal.as_ref())
            .filter(|r| after_update(r.at) && new_last_success_at.is_none_or(|ok| r.at > ok))
            .map(|r| diagnosis::attempt_refused(r, &self.workspace_id));
        let old_last_used_at = old.and_then(|c| c.last_used_at);
        let old_used_since_update = match (since, old_last_used_at) {
            (Some(since), Some(used)) => used > since,
            _ => false,
        };
        // Silence counts from the old key's last request, and a key never used is silent.
        let old_silent_seconds = match old_last_used_at {
            Some(used) => u32::try_from((now - used).num_seconds().max(0)).unwrap_or(u32::MAX),
            None => u32::MAX,
        };
        let old_quiet = match self.reason {
            RotationReason::Scheduled => old_silent_seconds >= quiet_seconds,
            // The old key is disabled: its attempts are refused, so only the new key matters.
            RotationReason::Incident => true,
        };
        Verification {
            new_last_success_at,
            new_succeeded_since_update: new_succeeded,
            new_refusal: new_refusal.clone(),
            old_last_used_at,
            old_used_since_update,
            old_silent_seconds: old_silent_seconds.min(quiet_seconds.saturating_mul(100)),
            quiet_seconds,
            passed: self.stage == Stage::Confirming && new_succeeded && new_refusal.is_none() && old_quiet,
        }
    }
}

/// A rotation as the web view sees it: the journal without its `Idempotency-Key`, and the
/// facts the wizard shows, decided here rather than again in TypeScript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "Rotation")]
pub struct RotationView {
    pub id: String,
    pub reason: RotationReason,
    pub account_id: String,
    pub workspace_id: String,
    pub old_key: KeyRef,
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<ExpiresInDays>,
    pub rate_limit: RateLimit,
    pub new_key: Option<KeyRef>,
    pub stage: Stage,
    /// The step (1 to 4) the wizard shows.
    pub step: u8,
    /// Whether the rotation may still be called off.
    pub can_cancel: bool,
    /// A creation or revocation was cut short: resuming finishes it first.
    pub interrupted: bool,
    /// The key's keychain account (the replacement's once step 1 is done).
    pub keychain_account: String,
    /// Where the old key's secret waits until step 4.
    pub previous_keychain_account: String,
    pub started_at: DateTime<Utc>,
    pub created_at: Option<DateTime<Utc>>,
    pub update_started_at: Option<DateTime<Utc>>,
    pub confirm_started_at: Option<DateTime<Utc>>,
    pub confirmation: Option<Confirmation>,
    pub finished_at: Option<DateTime<Utc>>,
    pub previous_in_keychain: bool,
}

impl From<&Rotation> for RotationView {
    fn from(r: &Rotation) -> RotationView {
        RotationView {
            id: r.id.clone(),
            reason: r.reason,
            account_id: r.account_id.clone(),
            workspace_id: r.workspace_id.clone(),
            old_key: r.old_key.clone(),
            scopes: r.scopes.clone(),
            expires_in_days: r.expires_in_days,
            rate_limit: r.rate_limit,
            new_key: r.new_key.clone(),
            stage: r.stage,
            step: r.step(),
            can_cancel: r.can_cancel(),
            interrupted: matches!(r.stage, Stage::Creating | Stage::Revoking),
            keychain_account: crate::rules::keychain_account(&r.workspace_id, &r.old_key.name),
            previous_keychain_account: crate::rules::previous_keychain_account(&r.workspace_id, &r.old_key.name),
            started_at: r.started_at,
            created_at: r.created_at,
            update_started_at: r.update_started_at,
            confirm_started_at: r.confirm_started_at,
            confirmation: r.confirmation.clone(),
            finished_at: r.finished_at,
            previous_in_keychain: r.previous_in_keychain,
        }
    }
}

/// Step 3's live view, and step 4's warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The new key's last request answered with a 2xx.
    pub new_last_success_at: Option<DateTime<Utc>>,
    /// A request with the new key succeeded after step 2 began.
    pub new_succeeded_since_update: bool,
    /// The new key's latest request since step 2 began was refused, and what to do about it:
    /// step 3 does not pass while this is set.
    pub new_refusal: Option<RefusalAdvice>,
    /// The old key's last request, of any outcome.
    pub old_last_used_at: Option<DateTime<Utc>>,
    /// The old key was used (or tried) after step 2 began: step 4 warns.
    pub old_used_since_update: bool,
    /// Seconds since the old key's last use (capped for display).
    pub old_silent_seconds: u32,
    pub quiet_seconds: u32,
    /// Step 3 passes by itself.
    pub passed: bool,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::ErrorCode;
    use crate::wire::{KeyCreator, KeyRefusal, KeyStatus};

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn card(id: &str, last_used: Option<i64>) -> KeyCard {
        KeyCard {
            id: id.to_owned(),
            name: "Payroll sync".to_owned(),
            prefix: "kdk_AbCd".to_owned(),
            hint: "wxYZ".to_owned(),
            scopes: vec![Scope::TimeEntriesRead],
            created_at: t(-100 * 86_400),
            created_by: KeyCreator { id: "u".to_owned(), name: "Ann".to_owned(), can_manage_keys: true },
            last_used_at: last_used.map(t),
            last_success_at: last_used.map(t),
            last_refusal: None,
            request_count: 3,
            expires_at: Some(t(-100 * 86_400) + Duration::days(90)),
            enabled: true,
            status: KeyStatus::Active,
            rate_limit: RateLimit::default(),
            replaces: None,
            replaced_by: None,
            allowed_ips: Vec::new(),
            revoke_plan: None,
            leak: None,
        }
    }

    /// A card whose latest request, at `at`, was refused with `error`; earlier ones succeeded
    /// up to `succeeded`.
    fn refused(id: &str, succeeded: Option<i64>, at: i64, error: ErrorCode) -> KeyCard {
        KeyCard {
            last_used_at: Some(t(at)),
            last_refusal: Some(KeyRefusal { at: t(at), error, status: error.status() }),
            ..card(id, succeeded)
        }
    }

    fn begun(reason: RotationReason) -> Rotation {
        Rotation::begin("r1".into(), reason, "demo".into(), "ws".into(), &card("old", Some(-5)), "kd-idem".into(), t(0))
    }

    fn new_ref() -> KeyRef {
        KeyRef { id: "new".into(), name: "Payroll sync".into(), prefix: "kdk_EfGh".into(), hint: "1234".into() }
    }

    /// A rotation walked to `stage` by the real transitions.
    fn at(stage: Stage) -> Rotation {
        let mut r = begun(RotationReason::Scheduled);
        let order = [
            Stage::Creating,
            Stage::Created,
            Stage::Updating,
            Stage::Confirming,
            Stage::Confirmed,
            Stage::Revoking,
            Stage::Done,
        ];
        for next in order.into_iter().skip(1) {
            if r.stage == stage {
                break;
            }
            match next {
                Stage::Created => r.created(new_ref(), t(1)).unwrap(),
                Stage::Updating => r.begin_update(t(2)).unwrap(),
                Stage::Confirming => r.begin_confirm(t(3)).unwrap(),
                Stage::Confirmed => r.confirm(ConfirmedBy::Watching, t(70)).unwrap(),
                Stage::Revoking => r.begin_revoke().unwrap(),
                Stage::Done => r.finish(t(80)).unwrap(),
                Stage::Creating => unreachable!(),
            }
        }
        assert_eq!(r.stage, stage);
        r
    }

    const ALL: [Stage; 7] = [
        Stage::Creating,
        Stage::Created,
        Stage::Updating,
        Stage::Confirming,
        Stage::Confirmed,
        Stage::Revoking,
        Stage::Done,
    ];

    #[test]
    fn begin_copies_the_old_keys_permissions_and_journals_no_secret() {
        let r = begun(RotationReason::Scheduled);
        assert_eq!(r.stage, Stage::Creating);
        assert_eq!(r.old_key.id, "old");
        assert_eq!(r.scopes, vec![Scope::TimeEntriesRead]);
        assert_eq!(r.expires_in_days, ExpiresInDays::new(90));
        assert_eq!(r.rate_limit, RateLimit::default());
        assert_eq!(r.idempotency_key.as_deref(), Some("kd-idem"));
        let request = r.replacement_request();
        assert_eq!(request.name.as_deref(), Some("Payroll sync"));
        assert_eq!((request.scopes, request.expires_in_days), (r.scopes.clone(), r.expires_in_days));
        assert_eq!(request.rate_limit, Some(RateLimit::default()));
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("secret"), "{json}");
    }

    #[test]
    fn the_expiry_preset_is_the_nearest_at_least_as_long() {
        let mut c = card("k", None);
        c.expires_at = Some(c.created_at + Duration::days(30) + Duration::seconds(2));
        assert_eq!(Template::of(&c).expires_in_days, ExpiresInDays::new(30));
        c.expires_at = Some(c.created_at + Duration::days(7));
        assert_eq!(Template::of(&c).expires_in_days, ExpiresInDays::new(7));
        c.expires_at = None;
        assert_eq!(Template::of(&c).expires_in_days, None);
    }

    #[test]
    fn each_transition_applies_only_to_its_stages() {
        type Step = fn(&mut Rotation) -> Result<(), WrongStage>;
        let steps: [(&str, Step, &[Stage]); 9] = [
            ("kept_previous", |r| r.kept_previous(), &[Stage::Creating]),
            ("sending", |r| r.sending(t(1)), &[Stage::Creating]),
            ("made", |r| r.made(new_ref()), &[Stage::Creating]),
            ("created", |r| r.created(new_ref(), t(1)), &[Stage::Creating]),
            ("begin_update", |r| r.begin_update(t(2)), &[Stage::Created, Stage::Updating]),
            ("begin_confirm", |r| r.begin_confirm(t(3)), &[Stage::Updating, Stage::Confirming]),
            ("confirm", |r| r.confirm(ConfirmedBy::Test, t(3)), &[Stage::Confirming]),
            ("begin_revoke", |r| r.begin_revoke(), &[Stage::Confirmed, Stage::Revoking]),
            ("finish", |r| r.finish(t(4)), &[Stage::Revoking]),
        ];
        for (name, step, allowed) in steps {
            for stage in ALL {
                let mut r = at(stage);
                let before = r.clone();
                let result = step(&mut r);
                if allowed.contains(&stage) {
                    assert!(result.is_ok(), "{name} from {stage:?}");
                } else {
                    let e = result.expect_err(name);
                    assert_eq!(e.stage, stage);
                    assert_eq!(r, before, "{name} from {stage:?} changed the journal");
                    assert!(e.to_string().contains(&format!("step {}", before.step())), "{e}");
                }
            }
        }
    }

    #[test]
    fn the_idempotency_key_is_dropped_once_the_replacement_is_stored() {
        assert_eq!(at(Stage::Created).idempotency_key, None);
    }

    #[test]
    fn beginning_the_update_twice_keeps_the_first_time() {
        let mut r = at(Stage::Updating);
        r.begin_update(t(500)).unwrap();
        assert_eq!(r.update_started_at, Some(t(2)));
    }

    #[test]
    fn recovery_from_each_journaled_stage() {
        let expected = [
            (Stage::Creating, Recovery::Replay),
            (Stage::Created, Recovery::Show(1)),
            (Stage::Updating, Recovery::Show(2)),
            (Stage::Confirming, Recovery::Show(3)),
            (Stage::Confirmed, Recovery::Show(4)),
            (Stage::Revoking, Recovery::RepeatRevoke),
            (Stage::Done, Recovery::Finished),
        ];
        for (stage, recovery) in expected {
            // Through the journal's own encoding, as after a restart.
            let json = serde_json::to_vec(&at(stage)).unwrap();
            let back: Rotation = serde_json::from_slice(&json).unwrap();
            for stored in [false, true] {
                let want = if stage == Stage::Creating { Recovery::Replay } else { recovery };
                assert_eq!(back.recovery(stored, t(30)), want, "{stage:?}, stored {stored}");
            }
            assert_eq!(back.can_cancel(), !matches!(stage, Stage::Revoking | Stage::Done), "{stage:?}");
        }
    }

    #[test]
    fn step_one_recovers_by_the_journaled_id_or_the_idempotency_key_never_by_name() {
        // Sent, no answer journaled: only the Idempotency-Key can say what the server made,
        // however long ago (past the replay window the server makes a key or refuses).
        let mut r = begun(RotationReason::Scheduled);
        r.sending(t(1)).unwrap();
        assert!(r.sent_once());
        assert_eq!(r.recovery(true, t(60)), Recovery::Replay, "a stored secret proves nothing without an id");
        assert_eq!(r.recovery(false, t(3_600)), Recovery::Replay);
        r.sending(t(61)).unwrap();
        assert!(!r.sent_once());
        assert_eq!(r.first_sent_at, Some(t(1)), "the replay window counts from the first send");
        // The server answered and the answer was journaled before the keychain write.
        r.made(new_ref()).unwrap();
        assert_eq!(r.stage, Stage::Creating);
        assert_eq!(r.recovery(true, t(60)), Recovery::AdoptStored);
        assert_eq!(r.recovery(false, t(60)), Recovery::Replay, "the server still replays the secret");
        assert_eq!(r.recovery(true, t(3_600)), Recovery::AdoptStored);
        assert_eq!(
            r.recovery(false, t(1 + REPLAY_WINDOW_SECONDS)),
            Recovery::RevokeAndRecreate,
            "the secret is lost for good: the key this rotation made goes"
        );
        // After revoking it, step 1 starts over with a fresh key, as if never sent.
        r.replacement_abandoned("kd-idem-2".into()).unwrap();
        assert_eq!((r.new_key.as_ref(), r.idempotency_key.as_deref()), (None, Some("kd-idem-2")));
        assert_eq!((r.creation_attempts, r.first_sent_at), (0, None));
        assert!(r.within_replay_window(t(10_000)));
        // None of this applies once step 1 is done.
        let mut done = at(Stage::Created);
        assert!(done.made(new_ref()).is_err() && done.sending(t(5)).is_err());
    }

    #[test]
    fn a_journal_from_before_attempts_were_counted_may_have_sent_the_creation() {
        let mut journal = serde_json::to_value(begun(RotationReason::Scheduled)).unwrap();
        let fields = journal.as_object_mut().unwrap();
        fields.remove("creationAttempts");
        fields.remove("firstSentAt");
        let old: Rotation = serde_json::from_value(journal).unwrap();
        assert_eq!(old.creation_attempts, 1);
        let mut again = old;
        again.sending(t(5)).unwrap();
        assert!(!again.sent_once(), "a refusal of the repeat proves nothing about the first send");
    }

    #[test]
    fn the_web_view_sees_no_idempotency_key_and_is_told_the_step() {
        let r = begun(RotationReason::Scheduled);
        let journal = serde_json::to_string(&r).unwrap();
        assert!(journal.contains("kd-idem"), "the journal keeps it: {journal}");
        let view = serde_json::to_value(RotationView::from(&r)).unwrap();
        assert!(!view.to_string().contains("kd-idem") && view.get("idempotencyKey").is_none(), "{view}");
        assert_eq!((view["step"].as_u64(), view["canCancel"].as_bool()), (Some(1), Some(true)));
        let revoking = RotationView::from(&at(Stage::Revoking));
        assert_eq!((revoking.step, revoking.can_cancel), (4, false));
    }

    #[test]
    fn the_replacement_request_names_the_key_it_replaces() {
        let request = begun(RotationReason::Scheduled).replacement_request();
        assert_eq!((request.replaces.as_deref(), request.name.as_deref()), (Some("old"), Some("Payroll sync")));
    }

    #[test]
    fn step_three_passes_once_the_new_key_is_used_and_the_old_is_quiet() {
        let r = at(Stage::Confirming); // step 2 began at t(2)
        // The new key not used yet.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", None)), t(100), 60);
        assert!(!v.passed && !v.new_succeeded_since_update);
        // Used, but before step 2 began (at step 1): not yet proof.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(1))), t(100), 60);
        assert!(!v.passed);
        // Used after step 2 began, the old key silent for 105 s of 60.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(10))), t(100), 60);
        assert!(v.passed && v.new_succeeded_since_update && !v.old_used_since_update);
        assert_eq!(v.old_silent_seconds, 105);
        // The old key still in use 30 s ago: not quiet yet, and step 4 would warn.
        let v = r.verify(Some(&card("old", Some(70))), Some(&card("new", Some(10))), t(100), 60);
        assert!(!v.passed && v.old_used_since_update);
        assert_eq!(v.old_silent_seconds, 30);
        // An old key never used is silent.
        let v = r.verify(Some(&card("old", None)), Some(&card("new", Some(10))), t(11), 60);
        assert!(v.passed);
    }

    #[test]
    fn a_refused_request_with_the_new_key_is_no_proof_and_says_what_to_fix() {
        let r = at(Stage::Confirming); // step 2 began at t(2)
        let quiet_old = card("old", Some(-500));
        // Only refused since step 2 began: the integration sends another workspace's ID.
        let new = refused("new", None, 10, ErrorCode::WorkspaceMismatch);
        let v = r.verify(Some(&quiet_old), Some(&new), t(100), 60);
        assert!(!v.passed && !v.new_succeeded_since_update);
        let advice = v.new_refusal.expect("the refusal is explained");
        assert_eq!(advice.at, t(10));
        assert!(advice.fix.contains("ws") && advice.fix.contains("Workspace ID"), "{}", advice.fix);
        // A success, then refused again (over the rate limit): the latest answer counts.
        let again = refused("new", Some(20), 30, ErrorCode::RateLimitExceeded);
        let v = r.verify(Some(&quiet_old), Some(&again), t(100), 60);
        assert!(!v.passed && v.new_succeeded_since_update && v.new_refusal.is_some());
        // Refused, then a success: it works now.
        let fixed = KeyCard { last_success_at: Some(t(40)), last_used_at: Some(t(40)), ..again };
        let v = r.verify(Some(&quiet_old), Some(&fixed), t(100), 60);
        assert!(v.passed && v.new_refusal.is_none());
        // A refusal from before step 2 began is old news.
        let before = refused("new", Some(20), 1, ErrorCode::KeyDisabled);
        assert!(r.verify(Some(&quiet_old), Some(&before), t(100), 60).passed);
    }

    #[test]
    fn any_request_with_the_old_key_breaks_its_silence_even_a_refused_one() {
        let r = at(Stage::Confirming);
        let tried = refused("old", Some(-500), 90, ErrorCode::InsufficientScope);
        let v = r.verify(Some(&tried), Some(&card("new", Some(10))), t(100), 60);
        assert!(!v.passed && v.old_used_since_update);
        assert_eq!(v.old_silent_seconds, 10);
    }

    #[test]
    fn step_three_does_not_pass_outside_confirming() {
        let r = at(Stage::Updating);
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(10))), t(100), 60);
        assert!(!v.passed && v.new_succeeded_since_update);
    }

    #[test]
    fn an_incident_only_waits_for_the_new_key() {
        let mut r = begun(RotationReason::Incident);
        r.created(new_ref(), t(1)).unwrap();
        r.begin_update(t(2)).unwrap();
        r.begin_confirm(t(3)).unwrap();
        // The leaked key keeps being tried: refused, but step 4 will say so.
        let v = r.verify(Some(&card("old", Some(99))), Some(&card("new", Some(10))), t(100), 60);
        assert!(v.passed && v.old_used_since_update);
    }
}
