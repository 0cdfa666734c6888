//! Reading the workflows `list` and `graph` show.

use std::path::Path;

use crate::discover;
use crate::engine::{self, Workflow};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output::{self, Paint};
use crate::render::plural;

/// A workflow that could be read, with the path it is shown under.
#[derive(Debug)]
pub struct Loaded {
    pub path: String,
    pub workflow: Workflow,
}

impl Loaded {
    /// `path: name`, or the path alone for an unnamed workflow (GitHub shows it by path).
    pub fn title(&self) -> String {
        match &self.workflow.name {
            Some(name) => format!("{}: {}", self.path, name.value),
            None => self.path.clone(),
        }
    }
}

/// Reads the workflows at `path`, keeping those `event` triggers (all when `None`). A file with
/// errors is mentioned on stderr and makes the outcome [`Outcome::Problems`]; it is still shown
/// when the parser recovered a model from it.
pub fn load(
    path: &Path,
    event: Option<&str>,
    paint: Paint,
) -> Result<(Vec<Loaded>, Outcome), CliError> {
    let mut loaded = Vec::new();
    let mut outcome = Outcome::Clean;
    for file in discover::workflow_files(path)? {
        let source = discover::read(&file)?;
        let path = source.display_path();
        let parsed = engine::parse_workflow(&path, &source.text);
        if parsed.has_errors() {
            outcome = Outcome::Problems;
            warn_errors(&path, parsed.diagnostics.len(), paint);
        }
        let Some(workflow) = parsed.value else {
            continue;
        };
        if event.is_none_or(|e| engine::triggered_by(&workflow, e)) {
            loaded.push(Loaded { path, workflow });
        }
    }
    Ok((loaded, outcome))
}

fn warn_errors(path: &str, count: usize, paint: Paint) {
    output::note(&format!(
        "{}: `{path}` has {} (see `gantry validate {path}`)\n",
        paint.warning("warning"),
        plural(count, "problem"),
    ));
}

/// What to print when no workflow matched.
pub fn nothing_found(event: Option<&str>) -> String {
    match event {
        Some(event) => format!("no workflow is triggered by `{event}`\n"),
        None => "no workflows found\n".to_owned(),
    }
}
