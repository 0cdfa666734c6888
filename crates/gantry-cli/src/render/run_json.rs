//! `gantry run --json`: one JSON object per line, on stdout.
//!
//! Every runner event is one line, tagged by `type` (fields as in `gantry_runner::RunEvent`):
//!
//! | `type` | fields |
//! | --- | --- |
//! | `run_started` | `run_id`, `workflow`, `jobs` (ids, topological order) |
//! | `job_started` | `job` (unique key: `test-2` for a matrix row), `job_id`, `name`, `matrix` (object or null) |
//! | `step_started` | `job`, `step` (`{"path": "0", "name": "Run make"}`; composite steps `"2.1"`) |
//! | `log` | `job`, `step` (or null), `stream` (`stdout`, `stderr`, `debug`, `runner`), `line` |
//! | `group_started` / `group_ended` | `job`, `step`, `title` (started only) |
//! | `annotation` | `job`, `step`, `annotation` (`level`, `message`, `title`, `file`, `line`, `col`, `end_line`, `end_column`) |
//! | `step_summary` | `job`, `step`, `markdown` |
//! | `step_finished` | `job`, `step`, `outcome`, `conclusion`, `duration_ms` |
//! | `job_finished` | `job`, `job_id`, `name`, `outcome`, `conclusion`, `duration_ms`, `outputs` |
//! | `run_finished` | `conclusion`, `duration_ms` |
//!
//! Results are `success`, `failure`, `cancelled` or `skipped`; `outcome` is before
//! `continue-on-error`, `conclusion` after. After `run_finished` comes one line of gantry's own:
//! `{"type": "run_result", "workflow_file", "log_dir", "result": {"conclusion", "duration_ms",
//! "jobs": [...], "summary", "annotations": [...]}}`. Every string is masked by the runner.
//!
//! `--dry-run --json` prints one `{"type": "planned_job", "workflow_file", "event", "job",
//! "needs", "runs_on", "platform", "matrix"}` line per job instead; `runs_on` is null when it is
//! an expression, `platform` is an image, `"host"` or null (no `-P` mapping), and `matrix` is
//! null (no matrix), an array of rows, or `"deferred"` (known only at run time).

use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use crate::engine::{self, PlannedRows, Platform, RunEvent, RunResult};
use crate::render::run::PlannedWorkflow;

pub fn event_line(event: &RunEvent) -> String {
    line(serde_json::to_value(event).unwrap_or(Json::Null))
}

pub fn result_line(workflow_file: &str, log_dir: &str, result: &RunResult) -> String {
    line(json!({
        "type": "run_result",
        "workflow_file": workflow_file,
        "log_dir": log_dir,
        "result": result,
    }))
}

pub fn plan_lines(
    event: &str,
    workflows: &[PlannedWorkflow<'_>],
    platforms: &IndexMap<String, Platform>,
) -> String {
    let mut out = String::new();
    for w in workflows {
        for job in &w.plan.jobs {
            let labels = w
                .workflow
                .jobs
                .get(&job.id)
                .and_then(engine::runs_on_labels);
            let platform = labels
                .as_deref()
                .and_then(|l| super::run_plan::platform_for(l, platforms));
            let platform = match platform {
                Some(Platform::Host) => json!("host"),
                Some(Platform::Image(image)) => json!(image),
                None => Json::Null,
            };
            let matrix = match engine::planned_rows(job) {
                PlannedRows::None => Json::Null,
                PlannedRows::Rows(rows) => Json::Array(rows),
                PlannedRows::Deferred => json!("deferred"),
            };
            out.push_str(&line(json!({
                "type": "planned_job",
                "workflow_file": w.path,
                "event": event,
                "job": job.id,
                "needs": job.needs,
                "runs_on": labels,
                "platform": platform,
                "matrix": matrix,
            })));
        }
    }
    out
}

fn line(value: Json) -> String {
    format!("{value}\n")
}
