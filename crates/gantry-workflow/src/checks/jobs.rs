//! One job: its id, what it runs (steps on a runner, or a reusable workflow), timeouts, matrix.

use super::{Sink, ids, is_expression, matrix, steps};
use crate::model::{Job, OrExpr, RunsOn, Spanned};
use crate::uses::parse_workflow_ref;

pub(super) fn check(job: &Job, sink: &mut Sink) {
    ids::check_job_id(&job.id, sink);
    match &job.uses {
        Some(uses) => check_workflow_call(uses, sink),
        None => check_runner_job(job, sink),
    }
    check_timeout(job.timeout_minutes.as_ref(), "timeout-minutes", sink);
    check_timeout(
        job.cancel_timeout_minutes.as_ref(),
        "cancel-timeout-minutes",
        sink,
    );
    if let Some(strategy) = &job.strategy
        && let Some(m) = &strategy.value.matrix
    {
        matrix::check(m, sink);
    }
}

/// A job that runs on a runner needs a runner to match and steps.
fn check_runner_job(job: &Job, sink: &mut Sink) {
    // A missing `runs-on` is the schema's to report ("Required property is missing: runs-on").
    match &job.runs_on {
        None => {}
        Some(Spanned {
            value:
                RunsOn::Labels {
                    labels,
                    group: None,
                },
            span,
        }) if labels.is_empty() => {
            let message = format!(
                "Job '{}' has an empty 'runs-on': no runner can match it.",
                job.id.value
            );
            sink.error(*span, "job", message);
        }
        Some(_) => {}
    }
    if job.steps.is_empty() {
        // GitHub reads such a file without complaint, but the job has nothing to do.
        let message = format!("Job '{}' has no steps, so it does nothing.", job.id.value);
        sink.warning(job.span, "job", message);
    }
    let unix = steps::unix_label(job.runs_on.as_ref());
    steps::check_defaults_shell(&job.defaults, unix, sink);
    steps::check_steps(&job.steps, unix, sink);
}

/// A reusable-workflow call: `uses` must name a workflow file.
fn check_workflow_call(uses: &Spanned<String>, sink: &mut Sink) {
    if !is_expression(&uses.value)
        && let Err(e) = parse_workflow_ref(&uses.value)
    {
        let message = format!(
            "Invalid reusable workflow reference '{}': {e}. Expected \
             {{owner}}/{{repo}}/.github/workflows/{{filename}}@{{ref}} or ./.github/workflows/{{filename}}",
            uses.value
        );
        sink.error(uses.span, "uses", message);
    }
    // `steps`, `runs-on` and the like next to `uses` are the schema's to report.
}

/// Timeouts are minutes. GitHub reads a zero or negative timeout without complaint (even
/// `-Infinity`), but it cannot be what the author meant: warn.
pub(super) fn check_timeout(value: Option<&Spanned<OrExpr<f64>>>, key: &str, sink: &mut Sink) {
    if let Some(Spanned {
        value: OrExpr::Value(minutes),
        span,
    }) = value
        && (*minutes <= 0.0 || minutes.is_nan())
    {
        let message = format!("'{key}' must be a positive number of minutes, got {minutes}.");
        sink.warning(*span, "timeout", message);
    }
}
