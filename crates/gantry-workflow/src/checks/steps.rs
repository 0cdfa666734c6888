//! Steps: ids, `uses` references, shells, timeouts.

use super::{Sink, ids, is_expression, jobs};
use crate::model::{Defaults, RunsOn, Spanned, Step, StepKind, UsesRef};
use crate::uses::{UsesError, parse_uses};

/// The shells GitHub knows by name; anything else must be a command template with `{0}`.
const KNOWN_SHELLS: &[&str] = &["bash", "pwsh", "python", "sh", "cmd", "powershell"];

/// Shells that exist only on Windows runners.
const WINDOWS_SHELLS: &[&str] = &["cmd", "powershell"];

/// The label that shows a job runs on Linux or macOS, when `runs-on` says so plainly
/// (`ubuntu-latest`, `macos-14`, `[self-hosted, linux]`); `None` when unknown or Windows.
pub(super) fn unix_label(runs_on: Option<&Spanned<RunsOn>>) -> Option<&str> {
    let RunsOn::Labels { labels, .. } = &runs_on?.value else {
        return None;
    };
    let lower = |l: &Spanned<String>| l.value.to_ascii_lowercase();
    if labels
        .iter()
        .any(|l| lower(l).contains("windows") || is_expression(&l.value))
    {
        return None;
    }
    labels
        .iter()
        .find(|l| {
            let l = lower(l);
            l.starts_with("ubuntu-") || l.starts_with("macos-") || l == "linux" || l == "macos"
        })
        .map(|l| l.value.as_str())
}

/// Steps of a job (with its runner's OS when known) or of a composite action. A composite
/// `run` step without `shell` is the schema's to report (GitHub's action schema requires it).
pub(super) fn check_steps(steps: &[Step], unix: Option<&str>, sink: &mut Sink) {
    ids::check_step_ids(steps, sink);
    for step in steps {
        jobs::check_timeout(step.timeout_minutes.as_ref(), "timeout-minutes", sink);
        match &step.kind {
            StepKind::Run {
                shell: Some(shell), ..
            } => check_shell(shell, unix, sink),
            StepKind::Run { shell: None, .. } => {}
            StepKind::Uses { uses, .. } => check_step_uses(uses, sink),
        }
    }
}

/// `defaults.run.shell` at workflow or job level.
pub(super) fn check_defaults_shell(defaults: &Defaults, unix: Option<&str>, sink: &mut Sink) {
    if let Some(shell) = &defaults.shell {
        check_shell(shell, unix, sink);
    }
}

fn check_shell(shell: &Spanned<String>, unix: Option<&str>, sink: &mut Sink) {
    let name = shell.value.trim();
    if is_expression(name) || name.contains("{0}") {
        return;
    }
    if !KNOWN_SHELLS.contains(&name) {
        let message = format!(
            "Invalid shell '{}'. Use one of {}, or a custom command containing '{{0}}' (for example 'perl {{0}}').",
            shell.value,
            KNOWN_SHELLS.join(", ")
        );
        sink.error(shell.span, "shell", message);
    } else if let Some(label) = unix
        && WINDOWS_SHELLS.contains(&name)
    {
        let message = format!(
            "Shell '{name}' exists only on Windows runners, but this job runs on '{label}'; use 'pwsh' or 'bash'."
        );
        // A warning: the OS is inferred from labels, and a self-hosted label can mean anything.
        sink.warning(shell.span, "shell", message);
    }
}

/// A workflow file where an action is expected: reusable workflows are called by jobs.
fn is_workflow_path(path: &str) -> bool {
    path.starts_with(".github/workflows/") && (path.ends_with(".yml") || path.ends_with(".yaml"))
}

fn workflow_in_step(uses: &Spanned<String>, sink: &mut Sink) {
    let message = format!(
        "'{}' is a reusable workflow: call it with 'uses' on the job, not in a step.",
        uses.value
    );
    sink.error(uses.span, "uses", message);
}

fn check_step_uses(uses: &Spanned<String>, sink: &mut Sink) {
    if is_expression(&uses.value) {
        // Expressions are not allowed in `uses`; the schema says so.
        return;
    }
    match parse_uses(&uses.value) {
        Ok(UsesRef::Local(path)) if is_workflow_path(path.trim_start_matches("./")) => {
            workflow_in_step(uses, sink)
        }
        Ok(UsesRef::Repo {
            path: Some(path), ..
        }) if is_workflow_path(&path) => workflow_in_step(uses, sink),
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
