//! Checks beyond the schema, on the typed model: `needs` (unknown jobs, cycles), job and step ids,
//! `uses` syntax, event names and activity types, cron and filter syntax, matrix keys, shells.
//!
//! Messages use GitHub's wording where GitHub has one; every diagnostic carries a rule name.
//! Rules: `needs`, `needs-cycle`, `job-id`, `step-id`, `uses`, `event`, `event-types`,
//! `event-filter`, `cron`, `glob`, `input`, `matrix`, `shell`, `job`, `timeout`, `action`.

mod action;
mod events;
mod events_table;
mod ids;
mod jobs;
mod matrix;
mod needs;
mod steps;

use crate::model::{Action, Diagnostic, Severity, Span, Workflow};

/// Every semantic problem in a workflow, in source order.
pub fn check_workflow(workflow: &Workflow) -> Vec<Diagnostic> {
    let mut sink = Sink::default();
    events::check(&workflow.on, &mut sink);
    steps::check_defaults_shell(&workflow.defaults, None, &mut sink);
    needs::check(workflow, &mut sink);
    for job in workflow.jobs.values() {
        jobs::check(job, &mut sink);
    }
    sink.into_sorted()
}

/// Every semantic problem in an action.
pub fn check_action(action: &Action) -> Vec<Diagnostic> {
    let mut sink = Sink::default();
    action::check(action, &mut sink);
    sink.into_sorted()
}

/// Collects diagnostics; sorted once at the end so each check can walk in its own order.
#[derive(Default)]
struct Sink {
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    fn error(&mut self, span: Span, rule: &'static str, message: impl Into<String>) {
        self.push(Severity::Error, span, rule, message.into());
    }

    fn warning(&mut self, span: Span, rule: &'static str, message: impl Into<String>) {
        self.push(Severity::Warning, span, rule, message.into());
    }

    fn push(&mut self, severity: Severity, span: Span, rule: &'static str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            span,
            message,
            rule,
        });
    }

    /// Stable sort by position: diagnostics at one place keep the order the checks found them.
    fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diagnostics
            .sort_by_key(|d| (d.span.start.line, d.span.start.col));
        self.diagnostics
    }
}

/// Values that GitHub evaluates at run time cannot be checked statically.
fn is_expression(s: &str) -> bool {
    s.contains("${{")
}
