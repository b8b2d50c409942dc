//! Diagnosis of a key test: turns what went wrong (offline format check, the server's error
//! code, no answer at all) into a title, an explanation and what to do, in plain words. The same
//! words explain, live, why an integration's requests with a key are refused
//! ([`attempt_refused`]), for the screens that wait for an integration to work.

use crate::ErrorCode;
use crate::app::{Budget, RefusalAdvice, TestFailure, TestReport, Verdict};
use crate::key::KeyFormatError;
use crate::wire::KeyRefusal;

/// What to do about a refusal that is the key's own state, in the words of both the key test
/// and the live watch.
fn key_state_fix(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::KeyRevoked => "Make a new key and put it where this one was used.",
        ErrorCode::KeyExpired => "Make a new key (expiry cannot be extended) and put it where this one was used.",
        ErrorCode::KeyDisabled => "Enable it on its card if it should work, or make a new one.",
        ErrorCode::KeyOwnerRemoved => {
            "Keys act with their creator's permissions. Make a new key yourself and replace this one."
        }
        ErrorCode::PlanRequired => "Move the workspace to the Team or Business plan; the key will work again.",
        ErrorCode::RateLimitExceeded => "Wait, or raise the key's rate limit on its card.",
        ErrorCode::IpNotAllowed => {
            "Add the address the server saw to the key's allowed addresses on its page, or call from an allowed one."
        }
        _ => return None,
    })
}

/// Why a request that an integration made with a key was refused, and what to fix, for a
/// sentence like "Zapier tried the key at 9:39 but {cause}. {fix}". `workspace_id` is the key's
/// own workspace, the one the integration should name.
pub fn attempt_refused(refusal: &KeyRefusal, workspace_id: &str) -> RefusalAdvice {
    let paste_id = format!("Paste {workspace_id} into the Workspace ID field, then try again.");
    let (cause, fix) = match refusal.error {
        ErrorCode::WorkspaceMismatch => ("sent another workspace's ID with it", paste_id),
        ErrorCode::MissingWorkspaceId => ("sent no workspace ID with it", paste_id),
        ErrorCode::InsufficientScope => (
            "asked for something the key may not do",
            "Add the permission the request needs to the key on its page, or turn off that action in the integration."
                .to_owned(),
        ),
        ErrorCode::WorkspaceReadOnly => (
            "tried to change data while the workspace is read-only for billing",
            "Resolve the workspace's billing; reading data keeps working meanwhile.".to_owned(),
        ),
        ErrorCode::InternalError => (
            "the server failed to answer",
            "Try again in a moment; if it keeps happening, ask whoever runs the workspace server to check its log."
                .to_owned(),
        ),
        code => match key_state_fix(code) {
            Some(fix) => (
                match code {
                    ErrorCode::KeyRevoked => "the key is revoked",
                    ErrorCode::KeyExpired => "the key has expired",
                    ErrorCode::KeyDisabled => "the key is disabled",
                    ErrorCode::KeyOwnerRemoved => "the person who made the key is no longer an owner or admin",
                    ErrorCode::PlanRequired => "this workspace's plan has no API access",
                    ErrorCode::IpNotAllowed => "it called from an address the key does not allow",
                    _ => "it sent more requests than the key's rate limit allows",
                },
                fix.to_owned(),
            ),
            // Not found, a malformed request, ...: the key got through; the request did not.
            None => (
                "the server could not do what it asked",
                format!(
                    "The key itself was accepted. Check the integration's settings for this action (the server answered {} {}).",
                    refusal.status,
                    code.as_str()
                ),
            ),
        },
    };
    RefusalAdvice { at: refusal.at, error: refusal.error, status: refusal.status, cause: cause.to_owned(), fix }
}

fn report(failure: TestFailure, title: &str, detail: String, action: &str) -> TestReport {
    TestReport {
        verdict: Verdict::Problem,
        failure: Some(failure),
        title: title.to_owned(),
        detail,
        action: action.to_owned(),
        code: None,
        budget: None,
        key_name: None,
        workspace_name: None,
    }
}

/// The key failed the offline checks: no request was made.
pub fn format_problem(e: &KeyFormatError) -> TestReport {
    let (title, action) = match e {
        KeyFormatError::Empty => ("No key to test", "Paste the key, or pick one from the keychain."),
        KeyFormatError::SurroundingWhitespace { .. } => (
            "Extra spaces around the key",
            "Remove the spaces or line breaks where you pasted it (Zapier, a config file), then test again.",
        ),
        KeyFormatError::WrongPrefix { .. } => {
            ("Not a Keydeck key", "Find the key that starts with kdk_ and test that one.")
        }
        KeyFormatError::BadCharacter { .. } => {
            ("A character does not belong", "Copy the key again from where it was first saved.")
        }
        KeyFormatError::TooShort { .. } => ("The key is cut off", "Copy the whole key again: it has 42 characters."),
        KeyFormatError::TooLong { .. } => ("Something extra was pasted", "Copy just the key: it has 42 characters."),
        KeyFormatError::BadChecksum => ("The key was mistyped", "Copy the key again instead of typing it."),
    };
    report(TestFailure::Malformed, title, e.to_string(), action)
}

/// The server could not be reached.
pub fn unreachable(detail: String) -> TestReport {
    report(
        TestFailure::Unreachable,
        "The workspace server did not answer",
        detail,
        "Check your connection and the server address, then test again. The key itself was not checked.",
    )
}

/// The server refused the key with `code`.
pub fn refused(code: ErrorCode, message: &str, retry_after: Option<u64>, budget: Option<Budget>) -> TestReport {
    let (title, action) = match code {
        ErrorCode::InvalidApiKey => (
            "The server does not know this key",
            "It may belong to another workspace server, or have been revoked long ago. Make a new key in Keydeck.",
        ),
        ErrorCode::KeyRevoked => ("The key was revoked", key_state_fix(code).unwrap_or_default()),
        ErrorCode::KeyExpired => ("The key has expired", key_state_fix(code).unwrap_or_default()),
        ErrorCode::KeyDisabled => ("The key is disabled", key_state_fix(code).unwrap_or_default()),
        ErrorCode::KeyOwnerRemoved => ("The person who made the key has left", key_state_fix(code).unwrap_or_default()),
        ErrorCode::WorkspaceMismatch => (
            "The key belongs to another workspace",
            "Use the workspace ID shown under \"How it works\" for this key's workspace.",
        ),
        ErrorCode::PlanRequired => ("This plan has no API access", key_state_fix(code).unwrap_or_default()),
        ErrorCode::RateLimitExceeded => ("The key is over its rate limit", key_state_fix(code).unwrap_or_default()),
        ErrorCode::IpNotAllowed => ("This address may not use the key", key_state_fix(code).unwrap_or_default()),
        ErrorCode::MissingWorkspaceId => {
            ("No workspace was named", "Send the workspace ID in the X-Workspace-Id header.")
        }
        _ => ("The server refused the key", "Read the server's message above."),
    };
    let detail = match (code, retry_after) {
        (ErrorCode::RateLimitExceeded, Some(s)) => format!("{message} Try again in {s} seconds."),
        _ => message.to_owned(),
    };
    TestReport { code: Some(code), budget, ..report(TestFailure::Refused, title, detail, action) }
}

/// The key works.
pub fn connected(key_name: &str, workspace_name: &str, budget: Option<Budget>) -> TestReport {
    let detail = match &budget {
        Some(b) => format!(
            "The key \"{key_name}\" reaches {workspace_name}. It may make {} more of {} requests in this window (resets in {} s).",
            b.remaining, b.limit, b.reset_in_seconds
        ),
        None => format!("The key \"{key_name}\" reaches {workspace_name}. It has no rate limit."),
    };
    TestReport {
        verdict: Verdict::Connected,
        title: "Connected".to_owned(),
        detail,
        action: String::new(),
        failure: None,
        code: None,
        budget,
        key_name: Some(key_name.to_owned()),
        workspace_name: Some(workspace_name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParsedKey;

    #[test]
    fn a_truncated_key_says_how_much_is_missing() {
        let e = ParsedKey::parse("kdk_abc").unwrap_err();
        let r = format_problem(&e);
        assert_eq!(r.verdict, Verdict::Problem);
        assert_eq!(r.title, "The key is cut off");
        assert!(r.detail.contains("35 characters are missing"), "{}", r.detail);
    }

    #[test]
    fn extra_spaces_are_called_out() {
        let r = format_problem(&KeyFormatError::SurroundingWhitespace { leading: false, trailing: true });
        assert_eq!(r.title, "Extra spaces around the key");
    }

    #[test]
    fn each_refusal_has_its_own_title_and_the_wait_is_given() {
        let titles: std::collections::HashSet<_> = [
            ErrorCode::InvalidApiKey,
            ErrorCode::KeyRevoked,
            ErrorCode::KeyExpired,
            ErrorCode::KeyDisabled,
            ErrorCode::KeyOwnerRemoved,
            ErrorCode::WorkspaceMismatch,
            ErrorCode::PlanRequired,
            ErrorCode::RateLimitExceeded,
            ErrorCode::IpNotAllowed,
        ]
        .into_iter()
        .map(|c| refused(c, "m.", None, None).title)
        .collect();
        assert_eq!(titles.len(), 9);
        let r = refused(ErrorCode::RateLimitExceeded, "Over.", Some(42), None);
        assert!(r.detail.contains("42 seconds"));
    }

    #[test]
    fn a_refused_attempt_names_the_fix_in_the_key_test_s_words() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let refusal = |error: ErrorCode| KeyRefusal { at, error, status: error.status() };
        let wrong_id = attempt_refused(&refusal(ErrorCode::WorkspaceMismatch), "ws_Abc");
        assert_eq!(wrong_id.cause, "sent another workspace's ID with it");
        assert_eq!(wrong_id.fix, "Paste ws_Abc into the Workspace ID field, then try again.");
        assert_eq!((wrong_id.at, wrong_id.status), (at, 403));
        // A refusal that is the key's state reads as the key test reads it.
        for code in [ErrorCode::KeyDisabled, ErrorCode::KeyRevoked, ErrorCode::RateLimitExceeded] {
            assert_eq!(attempt_refused(&refusal(code), "ws").fix, refused(code, "m", None, None).action, "{code:?}");
        }
        let causes: std::collections::HashSet<_> = [
            ErrorCode::WorkspaceMismatch,
            ErrorCode::MissingWorkspaceId,
            ErrorCode::InsufficientScope,
            ErrorCode::KeyDisabled,
            ErrorCode::KeyRevoked,
            ErrorCode::KeyExpired,
            ErrorCode::RateLimitExceeded,
            ErrorCode::NotFound,
            ErrorCode::IpNotAllowed,
        ]
        .into_iter()
        .map(|c| attempt_refused(&refusal(c), "ws").cause)
        .collect();
        assert_eq!(causes.len(), 9, "each refusal its own cause");
        assert!(attempt_refused(&refusal(ErrorCode::NotFound), "ws").fix.contains("404 not_found"));
    }

    #[test]
    fn connected_shows_the_budget_left() {
        let r = connected("Zapier", "Acme", Some(Budget { limit: 100, remaining: 97, reset_in_seconds: 12 }));
        assert_eq!(r.verdict, Verdict::Connected);
        assert!(r.detail.contains("97 more of 100"));
    }
}
