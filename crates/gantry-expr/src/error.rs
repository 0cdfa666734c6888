//! Expression errors.
//!
//! Messages are GitHub's own words (capitalised, with upstream's `Located at position N within
//! expression: ...` suffix): tools and users match on them, so they are kept verbatim instead of
//! following this project's lowercase-fragment convention.

use crate::text::utf16_position;

/// Which stage rejected the expression, as upstream's test data classifies errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Lexing,
    Parsing,
    Evaluation,
}

/// Why an expression was rejected, so callers branch on a value instead of matching upstream's
/// message text (which stays verbatim for users and the conformance vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Longer than [`MAX_LENGTH`].
    TooLong,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A character or token that cannot appear where it does.
    UnexpectedSymbol,
    /// The expression stops before it is complete.
    UnexpectedEnd,
    /// A context name the caller did not allow.
    UnrecognizedNamedValue,
    /// A function that neither the language nor the caller provides.
    UnrecognizedFunction,
    /// Too few, too many, or (for `case`) an even number of arguments.
    ParameterCount,
    /// A built-in function refused its arguments (`format`, `fromJSON`, `case`).
    FunctionFailed,
    /// Evaluation created more than [`MAX_MEMORY`] bytes of values.
    MemoryExceeded,
    /// A template's `${{` has no closing `}}`.
    TemplateNotClosed,
    /// A template holds an empty `${{ }}`.
    ExpressionExpected,
    /// A caller-supplied function or value failed (e.g. `hashFiles`).
    Caller,
}

/// An error from lexing, parsing or evaluating one expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub kind: ErrorKind,
    pub reason: Reason,
    /// Upstream's full message.
    pub message: String,
    /// Byte offset in the expression source where the problem is (0 when it concerns the whole
    /// expression).
    pub offset: usize,
}

impl ExprError {
    /// An evaluation error, e.g. from a caller-supplied function such as `hashFiles`.
    pub fn evaluation(message: impl Into<String>) -> Self {
        ExprError::new(ErrorKind::Evaluation, Reason::Caller, message.into(), 0)
    }

    pub(crate) fn new(kind: ErrorKind, reason: Reason, message: String, offset: usize) -> Self {
        ExprError {
            kind,
            reason,
            message,
            offset,
        }
    }

    /// `<description>: '<token>'. Located at position N within expression: <source>`.
    pub(crate) fn located(
        kind: ErrorKind,
        reason: Reason,
        description: &str,
        token: &str,
        source: &str,
        offset: usize,
    ) -> Self {
        let position = utf16_position(source, offset);
        let message = format!(
            "{description}: '{token}'. Located at position {position} within expression: {source}"
        );
        ExprError::new(kind, reason, message, offset)
    }
}

/// Upstream's fixed limits.
pub const MAX_DEPTH: usize = 50;
/// Maximum expression length in UTF-16 code units.
pub const MAX_LENGTH: usize = 21_000;
/// Maximum bytes of values created while evaluating one expression (the runner's 1 MiB).
pub const MAX_MEMORY: usize = 1_048_576;
