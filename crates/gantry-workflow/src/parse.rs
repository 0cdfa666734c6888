//! The entry points: source text in, model and every diagnostic out.

use crate::convert;
use crate::model::{Action, Diagnostic, Parsed, Severity, Span, Workflow};
use crate::schema::{action_schema, workflow_schema};
use crate::{checks, template, yaml};

/// Reads a workflow file: YAML, GitHub's schema and expressions, the model, then the semantic
/// checks. `file` names the file for callers that render diagnostics; nothing is read from disk.
pub fn parse_workflow(_file: &str, source: &str) -> Parsed<Workflow> {
    let doc = yaml::read(source);
    let mut diagnostics = doc.diagnostics;
    let Some(root) = doc.root else {
        if diagnostics.is_empty() {
            diagnostics.push(empty_file("workflow"));
        }
        return finish(None, diagnostics);
    };
    diagnostics.extend(template::validate(workflow_schema(), "workflow-root", &root));
    let value = convert::workflow(&root);
    if let Some(wf) = &value {
        diagnostics.extend(checks::check_workflow(wf));
    }
    finish(value, diagnostics)
}

/// Reads an action's metadata file (`action.yml`).
pub fn parse_action(_file: &str, source: &str) -> Parsed<Action> {
    let doc = yaml::read(source);
    let mut diagnostics = doc.diagnostics;
    let Some(root) = doc.root else {
        if diagnostics.is_empty() {
            diagnostics.push(empty_file("action"));
        }
        return finish(None, diagnostics);
    };
    diagnostics.extend(template::validate(action_schema(), "action-root", &root));
    let value = convert::action(&root);
    match &value {
        Some(action) => diagnostics.extend(checks::check_action(action)),
        None => diagnostics.push(missing_runs(&root)),
    }
    finish(value, diagnostics)
}

fn empty_file(what: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        span: Span::default(),
        message: format!("The {what} file is empty"),
        rule: "syntax",
    }
}

/// An action without a usable `runs:` cannot be run; say which part is missing.
fn missing_runs(root: &yaml::Node) -> Diagnostic {
    let (span, message) = match root.get("runs") {
        None => (root.span, "Required property is missing: runs".to_owned()),
        Some(runs) => match runs.get("using") {
            None => (runs.span, "Required property is missing: using".to_owned()),
            Some(using) => (
                using.span,
                format!(
                    "Unexpected value '{}'",
                    using.scalar_to_string().unwrap_or_default()
                ),
            ),
        },
    };
    Diagnostic {
        severity: Severity::Error,
        span,
        message,
        rule: "schema",
    }
}

/// Diagnostics in source order; a stable sort keeps those at one place in the order found.
fn finish<T>(value: Option<T>, mut diagnostics: Vec<Diagnostic>) -> Parsed<T> {
    diagnostics.sort_by_key(|d| (d.span.start.line, d.span.start.col));
    Parsed { value, diagnostics }
}
