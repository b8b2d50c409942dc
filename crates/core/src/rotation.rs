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
//! never a secret. The app writes it *before* each step acts, so after a crash [`Rotation::resume`]
//! says what to do: repeat a creation (with the same `Idempotency-Key`, so the server answers
//! with the same key instead of making a second one), repeat a revocation, or show the step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::{ExpiresInDays, RateLimit};
use crate::scope::Scope;
use crate::wire::{CreateKeyRequest, KeyCard};

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
    /// Step 1 started: the replacement may or may not exist on the server yet.
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

/// One rotation, as journaled on disk and shown by the wizard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
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
    /// server's database it would unseal the replayed answer.
    #[ts(skip)]
    pub idempotency_key: Option<String>,
    pub new_key: Option<KeyRef>,
    pub stage: Stage,
    pub started_at: DateTime<Utc>,
    pub created_at: Option<DateTime<Utc>>,
    pub update_started_at: Option<DateTime<Utc>>,
    pub confirmation: Option<Confirmation>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The old secret was moved to the key's "previous" keychain address at step 1.
    pub previous_in_keychain: bool,
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
pub enum Resume {
    /// The creation may have reached the server: send it again with the journaled
    /// `Idempotency-Key` (the server answers with the same key), then finish step 1.
    RepeatCreate,
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
            new_key: None,
            stage: Stage::Creating,
            started_at: now,
            created_at: None,
            update_started_at: None,
            confirmation: None,
            finished_at: None,
            previous_in_keychain: false,
        }
    }

    /// The replacement's creation: the old key's name, permissions, limits and expiry preset.
    pub fn replacement_request(&self) -> CreateKeyRequest {
        CreateKeyRequest {
            name: self.old_key.name.clone(),
            scopes: self.scopes.clone(),
            expires_in_days: self.expires_in_days,
            rate_limit: Some(self.rate_limit),
        }
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
    pub fn begin_confirm(&mut self) -> Result<(), WrongStage> {
        self.expect(&[Stage::Updating, Stage::Confirming], "start confirming")?;
        self.stage = Stage::Confirming;
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

    pub fn resume(&self) -> Resume {
        match self.stage {
            Stage::Creating => Resume::RepeatCreate,
            Stage::Revoking => Resume::RepeatRevoke,
            Stage::Done => Resume::Finished,
            _ => Resume::Show(self.step()),
        }
    }

    /// Step 3's rule, from the two keys' cards as the server shows them now.
    pub fn verify(
        &self,
        old: Option<&KeyCard>,
        new: Option<&KeyCard>,
        now: DateTime<Utc>,
        quiet_seconds: u32,
    ) -> Verification {
        let since = self.update_started_at;
        let new_last_used_at = new.and_then(|c| c.last_used_at);
        let new_used = match (since, new_last_used_at) {
            (Some(since), Some(used)) => used >= since,
            _ => false,
        };
        let old_last_used_at = old.and_then(|c| c.last_used_at);
        let old_used_since_update = match (since, old_last_used_at) {
            (Some(since), Some(used)) => used > since,
            _ => false,
        };
        // Silence counts from the old key's last use, and at most from when step 2 began for a
        // key never used since: a key idle for a month has been silent long enough.
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
            new_last_used_at,
            new_used_since_update: new_used,
            old_last_used_at,
            old_used_since_update,
            old_silent_seconds: old_silent_seconds.min(quiet_seconds.saturating_mul(100)),
            quiet_seconds,
            passed: self.stage == Stage::Confirming && new_used && old_quiet,
        }
    }
}

/// Step 3's live view, and step 4's warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub new_last_used_at: Option<DateTime<Utc>>,
    /// The new key was used after step 2 began.
    pub new_used_since_update: bool,
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
    use crate::wire::{KeyCreator, KeyStatus};

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
            request_count: 3,
            expires_at: Some(t(-100 * 86_400) + Duration::days(90)),
            enabled: true,
            status: KeyStatus::Active,
            rate_limit: RateLimit::default(),
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
                Stage::Confirming => r.begin_confirm().unwrap(),
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
        assert_eq!(request.name, "Payroll sync");
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
        let steps: [(&str, Step, &[Stage]); 7] = [
            ("kept_previous", |r| r.kept_previous(), &[Stage::Creating]),
            ("created", |r| r.created(new_ref(), t(1)), &[Stage::Creating]),
            ("begin_update", |r| r.begin_update(t(2)), &[Stage::Created, Stage::Updating]),
            ("begin_confirm", |r| r.begin_confirm(), &[Stage::Updating, Stage::Confirming]),
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
    fn resume_from_each_journaled_stage() {
        let expected = [
            (Stage::Creating, Resume::RepeatCreate),
            (Stage::Created, Resume::Show(1)),
            (Stage::Updating, Resume::Show(2)),
            (Stage::Confirming, Resume::Show(3)),
            (Stage::Confirmed, Resume::Show(4)),
            (Stage::Revoking, Resume::RepeatRevoke),
            (Stage::Done, Resume::Finished),
        ];
        for (stage, resume) in expected {
            // Through the journal's own encoding, as after a restart.
            let json = serde_json::to_vec(&at(stage)).unwrap();
            let back: Rotation = serde_json::from_slice(&json).unwrap();
            assert_eq!(back.resume(), resume, "{stage:?}");
            assert_eq!(back.can_cancel(), !matches!(stage, Stage::Revoking | Stage::Done), "{stage:?}");
        }
    }

    #[test]
    fn step_three_passes_once_the_new_key_is_used_and_the_old_is_quiet() {
        let r = at(Stage::Confirming); // step 2 began at t(2)
        // The new key not used yet.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", None)), t(100), 60);
        assert!(!v.passed && !v.new_used_since_update);
        // Used, but before step 2 began (at step 1): not yet proof.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(1))), t(100), 60);
        assert!(!v.passed);
        // Used after step 2 began, the old key silent for 105 s of 60.
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(10))), t(100), 60);
        assert!(v.passed && v.new_used_since_update && !v.old_used_since_update);
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
    fn step_three_does_not_pass_outside_confirming() {
        let r = at(Stage::Updating);
        let v = r.verify(Some(&card("old", Some(-5))), Some(&card("new", Some(10))), t(100), 60);
        assert!(!v.passed && v.new_used_since_update);
    }

    #[test]
    fn an_incident_only_waits_for_the_new_key() {
        let mut r = begun(RotationReason::Incident);
        r.created(new_ref(), t(1)).unwrap();
        r.begin_update(t(2)).unwrap();
        r.begin_confirm().unwrap();
        // The leaked key keeps being tried: refused, but step 4 will say so.
        let v = r.verify(Some(&card("old", Some(99))), Some(&card("new", Some(10))), t(100), 60);
        assert!(v.passed && v.old_used_since_update);
    }
}
