//! `gantry validate --format json`. The shape is stable (`version` changes if it ever must):
//!
//! ```json
//! {
//!   "version": 1,
//!   "files": [
//!     {
//!       "path": ".github/workflows/ci.yml",
//!       "kind": "workflow",
//!       "diagnostics": [
//!         {
//!           "severity": "error",
//!           "rule": "needs",
//!           "message": "unknown job `biuld` in needs",
//!           "start": { "line": 4, "column": 14, "offset": 40 },
//!           "end": { "line": 4, "column": 19, "offset": 45 }
//!         }
//!       ]
//!     }
//!   ],
//!   "summary": { "files": 1, "errors": 1, "warnings": 0 }
//! }
//! ```
//!
//! Every file read is listed, clean or not, in the order read. Lines and columns are 1-based;
//! `end` is exclusive; offsets are bytes from the start of the file. `start` and `end` are `null`
//! for a diagnostic about the whole file (an empty file). `severity` is `error` or `warning`;
//! `kind` is `workflow` or `action`.

use serde_json::{Value, json};

use super::{Checked, Summary, severity_name};
use crate::engine::{Diagnostic, Span};

pub const VERSION: u32 = 1;

pub fn render(checked: &[Checked]) -> String {
    let summary = Summary::of(checked);
    let doc = json!({
        "version": VERSION,
        "files": checked.iter().map(file).collect::<Vec<_>>(),
        "summary": {
            "files": summary.files,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
    });
    pretty(&doc)
}

fn file(checked: &Checked) -> Value {
    json!({
        "path": checked.file.display_path(),
        "kind": checked.file.kind.as_str(),
        "diagnostics": checked.diagnostics.iter().map(diagnostic).collect::<Vec<_>>(),
    })
}

fn diagnostic(d: &Diagnostic) -> Value {
    let (start, end) = positions(&d.span);
    json!({
        "severity": severity_name(d.severity),
        "rule": d.rule,
        "message": d.message,
        "start": start,
        "end": end,
    })
}

fn positions(span: &Span) -> (Value, Value) {
    let pos =
        |p: gantry_workflow::Pos| json!({ "line": p.line, "column": p.col, "offset": p.offset });
    (pos(span.start), pos(span.end))
}

/// Pretty JSON with a final newline. Serialising a `Value` cannot fail.
pub fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
