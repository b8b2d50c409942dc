//! Diagnosis of a key test: turns what went wrong (offline format check, the server's error
//! code, no answer at all) into a title, an explanation and what to do, in plain words.

use crate::ErrorCode;
use crate::app::{Budget, TestReport, Verdict};
use crate::key::KeyFormatError;

fn report(title: &str, detail: String, action: &str) -> TestReport {
    TestReport {
        verdict: Verdict::Problem,
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
    report(title, e.to_string(), action)
}

/// The server could not be reached.
pub fn unreachable(detail: String) -> TestReport {
    report(
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
        ErrorCode::KeyRevoked => ("The key was revoked", "Make a new key and put it where this one was used."),
        ErrorCode::KeyExpired => {
            ("The key has expired", "Make a new key (expiry cannot be extended) and put it where this one was used.")
        }
        ErrorCode::KeyDisabled => {
            ("The key is disabled", "Enable it on its card if it should work, or make a new one.")
        }
        ErrorCode::KeyOwnerRemoved => (
            "The person who made the key has left",
            "Keys act with their creator's permissions. Make a new key yourself and replace this one.",
        ),
        ErrorCode::WorkspaceMismatch => (
            "The key belongs to another workspace",
            "Use the workspace ID shown under \"How it works\" for this key's workspace.",
        ),
        ErrorCode::PlanRequired => {
            ("This plan has no API access", "Move the workspace to the Team or Business plan; the key will work again.")
        }
        ErrorCode::RateLimitExceeded => {
            ("The key is over its rate limit", "Wait, or raise the key's rate limit on its card.")
        }
        ErrorCode::MissingWorkspaceId => {
            ("No workspace was named", "Send the workspace ID in the X-Workspace-Id header.")
        }
        _ => ("The server refused the key", "Read the server's message above."),
    };
    let detail = match (code, retry_after) {
        (ErrorCode::RateLimitExceeded, Some(s)) => format!("{message} Try again in {s} seconds."),
        _ => message.to_owned(),
    };
    TestReport { code: Some(code), budget, ..report(title, detail, action) }
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
        ]
        .into_iter()
        .map(|c| refused(c, "m.", None, None).title)
        .collect();
        assert_eq!(titles.len(), 8);
        let r = refused(ErrorCode::RateLimitExceeded, "Over.", Some(42), None);
        assert!(r.detail.contains("42 seconds"));
    }

    #[test]
    fn connected_shows_the_budget_left() {
        let r = connected("Zapier", "Acme", Some(Budget { limit: 100, remaining: 97, reset_in_seconds: 12 }));
        assert_eq!(r.verdict, Verdict::Connected);
        assert!(r.detail.contains("97 more of 100"));
    }
}
