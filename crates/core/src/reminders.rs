//! What needs attention, as reminders: a key in this computer's keychain expiring within 7 days,
//! a key due for rotation under the policy, a key whose requests were refused in the last hour
//! (nothing succeeded since), and a rotation waiting at step 3 for more than a day.
//!
//! Each reminder names the one event it is about, so that it is sent once per event however
//! often the keys are looked at: an expiry is one event per key and expiry date; a rotation due
//! is one per key (its replacement is another key); refusals are one event per run of refusals
//! since the key's last success (a new refusal of the same run is not news, a success ends the
//! run); a waiting rotation is one per rotation. [`Sent`] keeps the events already told, and
//! only those whose notification was shown.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::app::KeyCardView;
use crate::rotation::{RotationView, Stage};
use crate::wire::KeyStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    ExpiresSoon,
    RotationDue,
    Refused,
    RotationWaiting,
}

impl ReminderKind {
    pub const ALL: [ReminderKind; 4] =
        [ReminderKind::ExpiresSoon, ReminderKind::RotationDue, ReminderKind::Refused, ReminderKind::RotationWaiting];

    /// How the settings name it.
    pub fn label(self) -> &'static str {
        match self {
            ReminderKind::ExpiresSoon => "A key in this computer's keychain expires within 7 days",
            ReminderKind::RotationDue => "A key is due for rotation",
            ReminderKind::Refused => "Requests with a key were refused in the last hour",
            ReminderKind::RotationWaiting => "A rotation has waited at step 3 for more than a day",
        }
    }
}

/// One thing that needs attention, worded for a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Reminder {
    pub kind: ReminderKind,
    /// The event this reminder is about; the same event gives the same id.
    pub event: String,
    /// The key to open when the reminder is clicked.
    pub key_id: String,
    pub title: String,
    pub body: String,
}

/// Refusals older than this are not news any more.
const REFUSED_WITHIN: Duration = Duration::hours(1);
/// A rotation left at step 3 this long is worth a reminder.
const WAITING_FOR: Duration = Duration::days(1);

/// Everything that needs attention now, in the order of the keys, then the rotations.
pub fn reminders(keys: &[KeyCardView], rotations: &[RotationView], now: DateTime<Utc>) -> Vec<Reminder> {
    let mut out = Vec::new();
    for view in keys {
        let card = &view.card;
        let live = matches!(card.status, KeyStatus::Active | KeyStatus::Disabled);
        if !live {
            continue;
        }
        if let Some(expires) = card.expires_at.filter(|_| view.expires_soon && view.in_keychain) {
            out.push(Reminder {
                kind: ReminderKind::ExpiresSoon,
                event: format!("expires:{}:{}", card.id, expires.timestamp()),
                key_id: card.id.clone(),
                title: format!("“{}” expires {}", card.name, in_days(expires, now)),
                body: "This computer's keychain holds it. Rotate it before then, or whatever uses it stops working."
                    .to_owned(),
            });
        }
        if view.rotation_due && card.replaced_by.is_none() {
            out.push(Reminder {
                kind: ReminderKind::RotationDue,
                event: format!("rotation_due:{}", card.id),
                key_id: card.id.clone(),
                title: format!("“{}” is due for rotation", card.name),
                body: "It is older than your rotation policy. Rotating takes four guided steps.".to_owned(),
            });
        }
        if let Some(refusal) = view.refusal.as_ref().filter(|r| now - r.at <= REFUSED_WITHIN) {
            let since = card.last_success_at.map_or_else(|| "never".to_owned(), |t| t.timestamp_millis().to_string());
            out.push(Reminder {
                kind: ReminderKind::Refused,
                event: format!("refused:{}:{since}", card.id),
                key_id: card.id.clone(),
                title: format!("Requests with “{}” are refused", card.name),
                body: format!("Its latest request {}. {}", refusal.cause, refusal.fix),
            });
        }
    }
    for r in rotations {
        let waiting_since = r.confirm_started_at.or(r.update_started_at);
        if r.stage == Stage::Confirming && waiting_since.is_some_and(|t| now - t >= WAITING_FOR) {
            out.push(Reminder {
                kind: ReminderKind::RotationWaiting,
                event: format!("waiting:{}", r.id),
                key_id: r.old_key.id.clone(),
                title: format!("The rotation of “{}” waits at step 3", r.old_key.name),
                body:
                    "It has waited more than a day for proof that the new key is in use. Open it to check or finish it."
                        .to_owned(),
            });
        }
    }
    out
}

fn in_days(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (at - now).num_days() {
        d if d <= 0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        d => format!("in {d} days"),
    }
}

/// The events already told, kept in the app's data directory so a restart does not repeat them:
/// each with the key it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    events: std::collections::BTreeMap<String, String>,
}

impl Sent {
    /// The reminders of `current` not told yet.
    pub fn new_of(&self, current: &[Reminder]) -> Vec<Reminder> {
        current.iter().filter(|r| !self.events.contains_key(&r.event)).cloned().collect()
    }

    /// Counts `told` as told. Events of keys no longer among `live_keys` are forgotten, so the
    /// record stays as small as the workspace; an event of a live key is kept even when one
    /// look misses it (a keychain that did not answer that time), so it is never told twice.
    pub fn record(&mut self, live_keys: &BTreeSet<String>, told: &[Reminder]) {
        self.events.retain(|_, key| live_keys.contains(key));
        for r in told {
            self.events.insert(r.event.clone(), r.key_id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::RefusalAdvice;
    use crate::error_code::ErrorCode;
    use crate::wire::KeyCard;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn view(id: &str) -> KeyCardView {
        let card: KeyCard = serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("Key {id}"), "prefix": "kdk_AbCd", "hint": "9xQz",
            "scopes": ["reports:read"], "createdAt": "2026-08-01T00:00:00Z",
            "createdBy": {"id": "u1", "name": "Ana", "canManageKeys": true},
            "lastUsedAt": null, "lastSuccessAt": null, "lastRefusal": null, "requestCount": 0,
            "expiresAt": "2026-12-06T12:00:00Z", "enabled": true, "status": "active",
            "rateLimit": {"enabled": true, "maxRequests": 100, "windowSeconds": 60},
            "replaces": null, "replacedBy": null, "allowedIps": [], "revokePlan": null, "leak": null
        }))
        .unwrap();
        KeyCardView {
            card,
            refusal: None,
            in_keychain: false,
            rotation_due: false,
            expires_soon: false,
            due: false,
            replacement_expires_in_days: None,
            keychain_account: format!("ws/{id}"),
            previous_keychain_account: format!("ws/{id} (previous)"),
        }
    }

    fn refused(at: DateTime<Utc>) -> RefusalAdvice {
        RefusalAdvice {
            at,
            error: ErrorCode::WorkspaceMismatch,
            status: 403,
            cause: "sent another workspace's ID with it".to_owned(),
            fix: "Paste ws_1 into the Workspace ID field.".to_owned(),
        }
    }

    /// What a look tells, recorded as told (every key of the test is live).
    fn take_new(sent: &mut Sent, current: &[Reminder]) -> Vec<Reminder> {
        let fresh = sent.new_of(current);
        let live = ["k1", "k2"].into_iter().map(str::to_owned).collect();
        sent.record(&live, &fresh);
        fresh
    }

    #[test]
    fn an_expiry_is_told_only_for_a_key_in_this_keychain_and_once() {
        let mut here = view("k1");
        (here.expires_soon, here.in_keychain) = (true, true);
        let mut elsewhere = view("k2");
        elsewhere.expires_soon = true;
        let found = reminders(&[here.clone(), elsewhere], &[], now());
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, found[0].key_id.as_str()), (ReminderKind::ExpiresSoon, "k1"));
        assert_eq!(found[0].title, "“Key k1” expires in 3 days");

        let mut sent = Sent::default();
        assert_eq!(take_new(&mut sent, &found).len(), 1);
        let again = reminders(&[here], &[], now() + Duration::hours(5));
        assert!(take_new(&mut sent, &again).is_empty(), "a later look at the same expiry is not news");
    }

    #[test]
    fn refusals_are_one_event_per_run_since_the_last_success() {
        let mut key = view("k1");
        key.refusal = Some(refused(now() - Duration::minutes(5)));
        let mut sent = Sent::default();
        let first = take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now()));
        assert_eq!(first.len(), 1);
        assert!(first[0].body.contains("sent another workspace's ID with it. Paste ws_1"), "{}", first[0].body);
        // More refusals of the same run: nothing new.
        key.refusal = Some(refused(now()));
        assert!(take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now())).is_empty());
        // A success ends the run; the next refusal is news.
        key.card.last_success_at = Some(now() + Duration::minutes(1));
        key.refusal = Some(refused(now() + Duration::minutes(2)));
        assert_eq!(
            take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now() + Duration::minutes(3))).len(),
            1
        );
        // A refusal more than an hour old needs no reminder.
        assert!(reminders(&[key], &[], now() + Duration::hours(2)).is_empty());
    }

    #[test]
    fn a_rotation_due_is_told_once_for_the_key_and_not_once_it_has_a_replacement() {
        let mut key = view("k1");
        key.rotation_due = true;
        let mut sent = Sent::default();
        assert_eq!(take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now())).len(), 1);
        assert!(take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now())).is_empty());
        key.card.replaced_by = Some("k9".to_owned());
        assert!(reminders(&[key], &[], now()).is_empty(), "a rotation is under way");
    }

    #[test]
    fn expired_and_revoked_keys_need_no_reminder() {
        let mut key = view("k1");
        (key.expires_soon, key.in_keychain, key.rotation_due) = (true, true, true);
        key.card.status = KeyStatus::Expired;
        assert!(reminders(&[key], &[], now()).is_empty());
    }

    #[test]
    fn a_rotation_is_told_after_a_day_at_step_three() {
        let rotation = |stage: Stage, since: DateTime<Utc>| -> RotationView {
            serde_json::from_value(serde_json::json!({
                "id": "rot_1", "reason": "scheduled", "accountId": "a", "workspaceId": "ws",
                "oldKey": {"id": "k1", "name": "Payroll", "prefix": "kdk_AbCd", "hint": "9xQz"},
                "scopes": ["reports:read"], "expiresInDays": 90,
                "rateLimit": {"enabled": true, "maxRequests": 100, "windowSeconds": 60},
                "newKey": null, "stage": stage, "step": 3, "canCancel": true, "interrupted": false,
                "keychainAccount": "ws/Payroll", "previousKeychainAccount": "ws/Payroll (previous)",
                "startedAt": since, "createdAt": since, "updateStartedAt": since, "confirmStartedAt": since,
                "confirmation": null, "finishedAt": null, "previousInKeychain": true
            }))
            .unwrap()
        };
        let waiting = rotation(Stage::Confirming, now() - Duration::hours(25));
        let found = reminders(&[], &[waiting], now());
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, found[0].key_id.as_str()), (ReminderKind::RotationWaiting, "k1"));
        assert!(reminders(&[], &[rotation(Stage::Confirming, now() - Duration::hours(23))], now()).is_empty());
        assert!(reminders(&[], &[rotation(Stage::Confirmed, now() - Duration::hours(30))], now()).is_empty());
    }

    #[test]
    fn the_record_forgets_gone_keys_and_keeps_a_live_one_a_look_missed() {
        let mut key = view("k1");
        key.rotation_due = true;
        let mut sent = Sent::default();
        take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now()));
        // One look misses it (say the keychain did not answer): it is not news the next time.
        take_new(&mut sent, &[]);
        assert!(take_new(&mut sent, &reminders(std::slice::from_ref(&key), &[], now())).is_empty());
        // The key is gone: so is its record.
        sent.record(&BTreeSet::new(), &[]);
        assert_eq!(sent, Sent::default());
        let stored = serde_json::to_string(&sent).unwrap();
        assert_eq!(serde_json::from_str::<Sent>(&stored).unwrap(), sent);
    }
}
