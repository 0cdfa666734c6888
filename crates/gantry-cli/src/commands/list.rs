//! `gantry list [EVENT]`: each workflow with its triggers, then its jobs in a table.
//!
//! ```text
//! .github/workflows/ci.yml: CI
//!   on: push, pull_request
//!   JOB     NAME   NEEDS  MATRIX
//!   build   Build  -      6
//!   test    -      build  -
//! ```

use crate::cli::ListArgs;
use crate::commands::Colors;
use crate::commands::workflows::{self, Loaded};
use crate::engine::{self, Job, MatrixSize};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output::{self, Paint};

pub fn run(args: &ListArgs, colors: Colors) -> Result<Outcome, CliError> {
    let stderr = Paint {
        enabled: colors.stderr,
    };
    let (loaded, outcome) =
        workflows::load(&args.workflows.workflows, args.event.as_deref(), stderr)?;
    let stdout = Paint {
        enabled: colors.stdout,
    };
    let text = if loaded.is_empty() {
        workflows::nothing_found(args.event.as_deref())
    } else {
        let blocks: Vec<String> = loaded.iter().map(|w| workflow_block(w, stdout)).collect();
        blocks.join("\n")
    };
    output::print(&text)?;
    Ok(outcome)
}

fn workflow_block(loaded: &Loaded, paint: Paint) -> String {
    let events: Vec<&str> = loaded
        .workflow
        .on
        .events
        .keys()
        .map(String::as_str)
        .collect();
    let mut rows = vec![["JOB", "NAME", "NEEDS", "MATRIX"].map(str::to_owned)];
    rows.extend(loaded.workflow.jobs.values().map(job_row));
    let mut out = format!(
        "{}\n  on: {}\n",
        paint.bold(&loaded.title()),
        events.join(", ")
    );
    out.push_str(&table(&rows));
    out
}

fn job_row(job: &Job) -> [String; 4] {
    let name = job.name.as_ref().map_or("-", |n| n.value.as_str());
    let needs: Vec<&str> = job.needs.iter().map(|n| n.value.as_str()).collect();
    let matrix = match engine::matrix_size(job) {
        MatrixSize::None => "-".to_owned(),
        MatrixSize::Fixed(n) => n.to_string(),
        MatrixSize::Dynamic => "dynamic".to_owned(),
        MatrixSize::Invalid => "invalid".to_owned(),
    };
    let needs = if needs.is_empty() {
        "-".to_owned()
    } else {
        needs.join(", ")
    };
    [job.id.value.clone(), name.to_owned(), needs, matrix]
}

/// Left-aligned columns, two spaces apart, indented by two; no trailing spaces.
fn table(rows: &[[String; 4]]) -> String {
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2), width(3)];
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
