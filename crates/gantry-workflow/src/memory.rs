//! GitHub's estimate of the memory a template takes (`TemplateMemory` of actions/workflow-parser),
//! behind `max-result-size`.
//!
//! The reader charges each token as it *accepts* it, after the schema had its say: a scalar as
//! the token it became (a number where a string is expected was converted and is charged as
//! that string; an expression is charged as its expression text, `github.sha` for
//! `${{ github.sha }}` and `format('a {0}', x)` for `a ${{ x }}`); a mapping key only once it is
//! accepted (a duplicate or unexpected key, and the value under it, are skipped unread); a
//! collection only for its own header (its children charge themselves, and an illegal
//! collection's children are skipped). The walker in `schema_walk.rs` calls [`Meter::charge`] at
//! exactly those points.

use crate::model::{Diagnostic, Severity, Span};

/// The base size GitHub charges for any token (an object header and a few fields); strings add
/// [`STRING_BASE_OVERHEAD`] and two bytes per UTF-16 unit.
pub const MIN_OBJECT_SIZE: usize = 24;
const STRING_BASE_OVERHEAD: usize = 26;

/// What a string token of `text` costs.
pub fn string_bytes(text: &str) -> usize {
    MIN_OBJECT_SIZE + text_bytes(utf16_len(text))
}

/// What an expression token costs, given its expression text's UTF-16 length.
pub fn expression_bytes(expression_len: usize) -> usize {
    MIN_OBJECT_SIZE + text_bytes(expression_len)
}

fn text_bytes(utf16_units: usize) -> usize {
    STRING_BASE_OVERHEAD + 2 * utf16_units
}

/// UTF-16 length (what GitHub's `string.length` counts) without encoding ASCII text.
pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(char::len_utf16).sum()
}

/// The running total of one read, and whether it already passed the limit.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    pub used: usize,
    max: usize,
    reported: bool,
}

impl Meter {
    pub fn new(max: usize) -> Meter {
        Meter {
            used: 0,
            max,
            reported: false,
        }
    }

    /// Adds a token's bytes; the token that first passes the limit gets the error (GitHub stops
    /// reading there; gantry reads on so that other problems are still found).
    pub fn charge(&mut self, bytes: usize, span: Span) -> Option<Diagnostic> {
        self.used = self.used.saturating_add(bytes);
        if self.used <= self.max || self.reported {
            return None;
        }
        self.reported = true;
        Some(Diagnostic {
            severity: Severity::Error,
            span,
            message: "Maximum object size exceeded".into(),
            rule: "limits",
        })
    }
}
