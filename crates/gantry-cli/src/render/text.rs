//! `gantry validate --format text`: one block per diagnostic, then a summary line.
//!
//! ```text
//! .github/workflows/ci.yml:4:14: error: unknown job `biuld` in needs [needs]
//!   |
//! 4 |     needs: [biuld]
//!   |             ^^^^^
//!
//! 1 file checked: 1 error
//! ```

use std::fmt::Write;

use annotate_snippets::Level;

use super::{Checked, Summary, plural, severity_name, snippet};
use crate::engine::{Diagnostic, Severity};
use crate::output::Paint;

pub fn render(checked: &[Checked], color: bool) -> String {
    let paint = Paint { enabled: color };
    let mut out = String::new();
    for file in checked {
        for diagnostic in &file.diagnostics {
            out.push_str(&diagnostic_block(file, diagnostic, paint));
            out.push_str("\n\n");
        }
    }
    out.push_str(&summary_line(Summary::of(checked), paint));
    out.push('\n');
    out
}

fn diagnostic_block(file: &Checked, d: &Diagnostic, paint: Paint) -> String {
    let (label, level) = match d.severity {
        Severity::Error => (paint.error(severity_name(d.severity)), Level::ERROR),
        Severity::Warning => (paint.warning(severity_name(d.severity)), Level::WARNING),
    };
    let path = file.file.display_path();
    // Line 0 means the diagnostic is about the whole file (an empty file): no line to show.
    let whole_file = d.span.start.line == 0;
    let location = if whole_file {
        format!("{path}:")
    } else {
        format!("{path}:{}:{}:", d.span.start.line, d.span.start.col)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {label}: {} {}",
        paint.bold(&location),
        paint.bold(&d.message),
        paint.dim(&format!("[{}]", d.rule)),
    );
    if whole_file {
        out.pop();
    } else {
        let span = d.span.start.offset..d.span.end.offset;
        out.push_str(&snippet::render(
            &file.file.text,
            span,
            d.span.start.line,
            level,
            paint.enabled,
        ));
    }
    out
}

fn summary_line(summary: Summary, paint: Paint) -> String {
    let files = format!("{} checked", plural(summary.files, "file"));
    let mut found = Vec::new();
    if summary.errors > 0 {
        found.push(paint.error(&plural(summary.errors, "error")));
    }
    if summary.warnings > 0 {
        found.push(paint.warning(&plural(summary.warnings, "warning")));
    }
    if found.is_empty() {
        format!("{files}: no problems found")
    } else {
        format!("{files}: {}", found.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use gantry_workflow::{Pos, Span};

    use super::*;
    use crate::discover::{FileKind, SourceFile};

    fn diagnostic(severity: Severity, start: usize, end: usize) -> Diagnostic {
        let pos = |offset| Pos {
            line: 2,
            col: u32::try_from(offset - 9).unwrap() + 1,
            offset,
        };
        Diagnostic {
            severity,
            span: Span {
                start: pos(start),
                end: pos(end),
            },
            message: "something".to_owned(),
            rule: "rule",
        }
    }

    /// The workflow crate emits no warning yet; the rendering of both kinds is fixed here.
    #[test]
    fn warnings_and_errors_are_labelled_and_counted_apart() {
        let checked = [Checked {
            file: SourceFile {
                path: PathBuf::from("a.yml"),
                kind: FileKind::Workflow,
                text: "on: push\njobs: {}\n".to_owned(),
            },
            diagnostics: vec![
                diagnostic(Severity::Warning, 9, 13),
                diagnostic(Severity::Error, 15, 17),
            ],
        }];
        insta::assert_snapshot!(render(&checked, false));
        assert_eq!(
            Summary::of(&checked),
            Summary {
                files: 1,
                errors: 1,
                warnings: 1
            }
        );
    }
}
