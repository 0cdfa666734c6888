//! Job and step ids: GitHub's identifier rules and, for steps, uniqueness within a job.

use std::collections::HashSet;

use super::Sink;
use crate::model::{Spanned, Step};

/// GitHub rejects ids of this many characters or more.
const MAX_ID_LEN: usize = 100;

/// GitHub's message for an id that breaks the rules, or `None` when it is valid.
fn id_problem(id: &str) -> Option<String> {
    if !is_valid_id(id) {
        return Some(format!(
            "The identifier '{id}' is invalid. IDs may only contain alphanumeric characters, '_', \
             and '-'. IDs must start with a letter or '_' and and must be less than \
             {MAX_ID_LEN} characters."
        ));
    }
    if id.starts_with("__") {
        // GitHub generates `__run`, `__actions_checkout`, ... for steps without an id.
        return Some(format!(
            "The identifier '{id}' is invalid. IDs starting with '__' are reserved."
        ));
    }
    None
}

/// ASCII letters and `_` first, then letters, digits, `_` and `-`; shorter than the limit.
fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() < MAX_ID_LEN
}

/// The empty job id is left to the schema (`Unexpected value ''`), as GitHub does.
pub(super) fn check_job_id(id: &Spanned<String>, sink: &mut Sink) {
    if id.value.is_empty() {
        return;
    }
    if let Some(message) = id_problem(&id.value) {
        sink.error(id.span, "job-id", message);
    }
}

/// Step ids of one job (or one composite action): rules, then case-insensitive uniqueness.
pub(super) fn check_step_ids(steps: &[Step], sink: &mut Sink) {
    let mut seen = HashSet::new();
    for id in steps.iter().filter_map(|s| s.id.as_ref()) {
        if let Some(message) = id_problem(&id.value) {
            sink.error(id.span, "step-id", message);
        } else if !seen.insert(id.value.to_ascii_lowercase()) {
            sink.error(
                id.span,
                "step-id",
                format!(
                    "The identifier '{}' may not be used more than once within the same scope.",
                    id.value
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        for ok in ["_", "_a", "a__", "valid-id", "A1_-", &"a".repeat(99)] {
            assert_eq!(id_problem(ok), None, "{ok}");
        }
        for bad in ["", "1a", "-a", "a$", "a.b", "é", &"a".repeat(100)] {
            assert!(
                id_problem(bad).unwrap().contains("IDs may only contain"),
                "{bad}"
            );
        }
        for reserved in ["__", "__a"] {
            assert!(
                id_problem(reserved).unwrap().contains("reserved"),
                "{reserved}"
            );
        }
    }
}
