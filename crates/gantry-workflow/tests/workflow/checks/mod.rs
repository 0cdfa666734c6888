//! The semantic checks (`gantry_workflow::checks`) through the reader: YAML fixtures, and the
//! real-world corpus that GitHub ran.

mod fixtures;
mod realworld;

use gantry_workflow::{Diagnostic, Severity};

/// `line:col: message [rule]`, with `warning: ` before the message of warnings.
pub(crate) fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            let level = if d.severity == Severity::Warning {
                "warning: "
            } else {
                ""
            };
            format!(
                "{}:{}: {level}{} [{}]\n",
                d.span.start.line, d.span.start.col, d.message, d.rule
            )
        })
        .collect()
}
