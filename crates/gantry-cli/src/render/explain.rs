//! `gantry run --dry-run --explain`: jobs and steps as the runner would see them, as text.
//! Every value passes the run's masker (an `env` value may come from a secret).

use std::fmt::Write;

use crate::engine::{Condition, JobExplanation, Masker, StepAction, StepExplanation};
use crate::output::Paint;

pub fn render(path: &str, jobs: &[JobExplanation], masker: &Masker, paint: Paint) -> String {
    let mut out = format!("{}\n", paint.bold(&format!("▶ {path}")));
    for job in jobs {
        job_text(&mut out, job, masker, paint);
    }
    out
}

fn job_text(out: &mut String, job: &JobExplanation, masker: &Masker, paint: Paint) {
    let matrix = job
        .matrix
        .as_ref()
        .map(|m| format!(" {}", masker.mask(&m.to_string())))
        .unwrap_or_default();
    let place = match &job.platform {
        Ok(platform) => format!("runs on {platform}"),
        Err(_) => "no platform".to_owned(),
    };
    let _ = writeln!(out, "\njob {}{matrix} ({place})", paint.bold(&job.job_id));
    if let Some(reason) = &job.skipped {
        let _ = writeln!(
            out,
            "  {}: {}",
            paint.warning("skipped"),
            masker.mask(reason)
        );
    }
    condition_text(out, "  ", &job.condition, masker);
    map_text(out, "  ", "env", &job.env, masker);
    if job.skipped.is_some() {
        return;
    }
    for step in &job.steps {
        step_text(out, step, masker, paint);
    }
}

fn step_text(out: &mut String, step: &StepExplanation, masker: &Masker, paint: Paint) {
    let id = step
        .id
        .as_ref()
        .map(|i| format!(" (id `{i}`)"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  step {} {}{id}",
        step.number,
        paint.bold(&masker.mask(&step.name))
    );
    condition_text(out, "    ", &step.condition, masker);
    if step.condition.result == Ok(false) {
        let _ = writeln!(out, "    {}: its `if` is false", paint.warning("skipped"));
    }
    match &step.action {
        StepAction::Run {
            shell,
            working_directory,
            script,
        } => {
            let _ = writeln!(out, "    shell: {shell}");
            let _ = writeln!(out, "    working-directory: {working_directory}");
            match script {
                Ok(script) => {
                    let _ = writeln!(out, "    run:");
                    for line in masker.mask(script).lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "    run: {}: {}", paint.error("error"), masker.mask(e));
                }
            }
        }
        StepAction::Uses {
            uses,
            resolved,
            inputs,
        } => {
            let _ = writeln!(out, "    uses: {uses} → {resolved}");
            if !inputs.is_empty() {
                let _ = writeln!(out, "    with:");
                for (name, value) in inputs {
                    let value = match value {
                        Ok(v) => masker.mask(v),
                        Err(e) => format!("{}: {}", paint.error("error"), masker.mask(e)),
                    };
                    let _ = writeln!(out, "      {name}: {value}");
                }
            }
        }
    }
    map_text(out, "    ", "env", &step.env, masker);
}

fn condition_text(out: &mut String, indent: &str, condition: &Condition, masker: &Masker) {
    let result = match &condition.result {
        Ok(b) => b.to_string(),
        Err(e) => format!("error: {e}"),
    };
    let _ = writeln!(
        out,
        "{indent}if: {} → {result}",
        masker.mask(&condition.source)
    );
    for (path, value) in &condition.reads {
        let _ = writeln!(
            out,
            "{indent}  {path} = {}",
            masker.mask(&value.to_string())
        );
    }
}

fn map_text(
    out: &mut String,
    indent: &str,
    title: &str,
    map: &indexmap::IndexMap<String, String>,
    masker: &Masker,
) {
    if map.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{title}:");
    for (k, v) in map {
        let _ = writeln!(out, "{indent}  {k}: {}", masker.mask(v));
    }
}
