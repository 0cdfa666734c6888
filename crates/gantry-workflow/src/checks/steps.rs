//! Steps: ids, `uses` references, shells, timeouts.

use super::{Sink, ids, is_expression, jobs};
use crate::model::{Defaults, Spanned, Step, StepKind};
use crate::uses::{UsesError, parse_uses};

/// The shells GitHub knows by name; anything else must be a command template with `{0}`.
const KNOWN_SHELLS: &[&str] = &["bash", "pwsh", "python", "sh", "cmd", "powershell"];

/// Steps of a job or of a composite action. A composite `run` step without `shell` is the
/// schema's to report (GitHub's action schema requires it).
pub(super) fn check_steps(steps: &[Step], sink: &mut Sink) {
    ids::check_step_ids(steps, sink);
    for step in steps {
        jobs::check_timeout(step.timeout_minutes.as_ref(), "timeout-minutes", sink);
        match &step.kind {
            StepKind::Run {
                shell: Some(shell), ..
            } => check_shell(shell, sink),
            StepKind::Run { shell: None, .. } => {}
            StepKind::Uses { uses, .. } => check_step_uses(uses, sink),
        }
    }
}

/// `defaults.run.shell` at workflow or job level.
pub(super) fn check_defaults_shell(defaults: &Defaults, sink: &mut Sink) {
    if let Some(shell) = &defaults.shell {
        check_shell(shell, sink);
    }
}

fn check_shell(shell: &Spanned<String>, sink: &mut Sink) {
    let name = shell.value.trim();
    if is_expression(name) || KNOWN_SHELLS.contains(&name) || name.contains("{0}") {
        return;
    }
    let message = format!(
        "Invalid shell '{}'. Use one of {}, or a custom command containing '{{0}}' (for example 'perl {{0}}').",
        shell.value,
        KNOWN_SHELLS.join(", ")
    );
    sink.error(shell.span, "shell", message);
}

fn check_step_uses(uses: &Spanned<String>, sink: &mut Sink) {
    if is_expression(&uses.value) {
        // Expressions are not allowed in `uses`; the schema says so.
        return;
    }
    match parse_uses(&uses.value) {
        Ok(_) | Err(UsesError::Empty) => {}
        // GitHub accepts the bare prefix when reading the file; the run fails later.
        Err(e @ UsesError::EmptyImage) => sink.warning(uses.span, "uses", format!("{e}.")),
        Err(_) => {
            let message = format!(
                "Expected format {{org}}/{{repo}}[/path]@ref. Actual '{}'",
                uses.value
            );
            sink.error(uses.span, "uses", message);
        }
    }
}
