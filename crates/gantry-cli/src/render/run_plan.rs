//! `gantry run --dry-run`: what would run, without creating anything.
//!
//! ```text
//! .github/workflows/ci.yml (CI) on push
//!   build
//!     runs-on: ubuntu-latest -> gantry/runner:bookworm
//!   test
//!     needs: build
//!     runs-on: ubuntu-latest -> host
//!     matrix: node=18
//!     matrix: node=20
//! ```

use indexmap::IndexMap;

use crate::engine::{self, PlannedRows, Platform};
use crate::output::Paint;
use crate::render::run::PlannedWorkflow;

pub fn render(
    event: &str,
    workflows: &[PlannedWorkflow<'_>],
    platforms: &IndexMap<String, Platform>,
    paint: Paint,
) -> String {
    let mut out = String::new();
    for w in workflows {
        let title = match &w.workflow.name {
            Some(name) => format!("{} ({})", w.path, name.value),
            None => w.path.to_owned(),
        };
        out.push_str(&format!("{} on {event}\n", paint.bold(&title)));
        for job in &w.plan.jobs {
            out.push_str(&format!("  {}\n", job.id));
            if !job.needs.is_empty() {
                out.push_str(&format!("    needs: {}\n", job.needs.join(", ")));
            }
            let labels = w
                .workflow
                .jobs
                .get(&job.id)
                .and_then(engine::runs_on_labels);
            out.push_str(&format!(
                "    runs-on: {}\n",
                runs_on(labels.as_deref(), platforms)
            ));
            out.push_str(&matrix(engine::planned_rows(job)));
        }
    }
    out
}

/// The first label with a platform, as the runner picks it.
pub fn platform_for(labels: &[String], platforms: &IndexMap<String, Platform>) -> Option<Platform> {
    labels
        .iter()
        .find_map(|l| platforms.get(&l.to_ascii_lowercase()).cloned())
}

fn runs_on(labels: Option<&[String]>, platforms: &IndexMap<String, Platform>) -> String {
    let Some(labels) = labels else {
        return "(an expression, resolved when the job starts)".to_owned();
    };
    let shown = if labels.is_empty() {
        "(none)".to_owned()
    } else {
        labels.join(", ")
    };
    match platform_for(labels, platforms) {
        Some(Platform::Host) => format!("{shown} -> host"),
        Some(Platform::Image(image)) => format!("{shown} -> {image}"),
        None => format!("{shown} -> no platform (map a label with -P LABEL=IMAGE|host)"),
    }
}

fn matrix(rows: PlannedRows) -> String {
    match rows {
        PlannedRows::None => String::new(),
        PlannedRows::Deferred => "    matrix: known when the job starts\n".to_owned(),
        PlannedRows::Rows(rows) if rows.is_empty() => {
            "    matrix: no row matches --matrix\n".to_owned()
        }
        PlannedRows::Rows(rows) => rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", engine::display_value(v)))
                    .collect();
                format!("    matrix: {}\n", cells.join(", "))
            })
            .collect(),
    }
}
