//! Linting a file the way `gantry validate` does: the reader, the in-process rules, the tools,
//! then the configuration and ignore comments.

use std::path::Path;

use gantry_lint::{Config, Input, Linter};
use gantry_workflow::Diagnostic;

/// The linter's diagnostics for one workflow file (the reader's are left out).
pub fn lint(linter: &Linter, path: &str, text: &str, root: Option<&Path>) -> Vec<Diagnostic> {
    let parsed = gantry_workflow::parse_workflow(path, text);
    let Some(workflow) = parsed.value else {
        return Vec::new();
    };
    let input = Input {
        path,
        source: text,
        root,
    };
    let (mut diagnostics, scripts) = linter.lint(&input, &workflow, 0);
    let outcome = linter.run_tools(&scripts, 2);
    assert!(outcome.notices.is_empty(), "{:?}", outcome.notices);
    diagnostics.extend(outcome.diagnostics.into_iter().map(|(_, d)| d));
    linter.filter(path, text, &mut diagnostics);
    diagnostics.sort_by_key(|d| (d.span.start.offset, d.span.end.offset, d.rule));
    diagnostics
}

pub fn linter(config: Option<&str>) -> Linter {
    let config = config.map_or_else(Config::default, |c| Config::parse(c).unwrap());
    Linter::new(config).unwrap()
}

/// `line:col: severity: message [rule]`, the source line and a caret under the span.
pub fn render(text: &str, diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for d in diagnostics {
        let (line, col) = (d.span.start.line, d.span.start.col);
        let severity = match d.severity {
            gantry_workflow::Severity::Error => "error",
            gantry_workflow::Severity::Warning => "warning",
        };
        out.push_str(&format!(
            "{line}:{col}: {severity}: {} [{}]\n",
            d.message, d.rule
        ));
        let source = lines.get(line as usize - 1).copied().unwrap_or("");
        let width = if d.span.end.line == line {
            (d.span.end.col.saturating_sub(col)).max(1)
        } else {
            (source.chars().count() as u32 + 1)
                .saturating_sub(col)
                .max(1)
        };
        out.push_str(&format!("  | {source}\n"));
        out.push_str(&format!(
            "  | {}{}\n",
            " ".repeat(col as usize - 1),
            "^".repeat(width as usize)
        ));
    }
    out
}
