//! `gantry validate [PATH...]`.

use std::path::{Path, PathBuf};

use crate::callees::Callees;
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::commands::Colors;
use crate::discover::{self, SourceFile};
use crate::engine::{self, Diagnostic};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::render::{Checked, Summary, json, sarif, text};

pub fn run(args: &ValidateArgs, colors: Colors) -> Result<Outcome, CliError> {
    let paths = targets(&args.paths)?;
    let files = paths
        .iter()
        .map(|p| discover::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    tracing::debug!(files = files.len(), "validating");
    let checked = check_all(files, jobs(args.jobs));
    let rendered = match args.format {
        ValidateFormat::Text => text::render(&checked, colors.stdout),
        ValidateFormat::Json => json::render(&checked),
        ValidateFormat::Sarif => sarif::render(&checked),
    };
    output::print(&rendered)?;
    Ok(if Summary::of(&checked).errors > 0 {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

fn targets(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    if paths.is_empty() {
        discover::default_targets(Path::new(""))
    } else {
        discover::expand(paths)
    }
}

fn jobs(requested: Option<u16>) -> usize {
    requested.map_or(1, usize::from)
}

/// Checks the files on up to `jobs` threads; thread `t` takes every `jobs`-th file from `t`, and
/// the results are put back in the order read, so the report does not depend on scheduling.
fn check_all(files: Vec<SourceFile>, jobs: usize) -> Vec<Checked> {
    let jobs = jobs.clamp(1, files.len().max(1));
    let mut diagnostics: Vec<Vec<Diagnostic>> = vec![Vec::new(); files.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|t| {
                let files = &files;
                scope.spawn(move || {
                    (t..files.len())
                        .step_by(jobs)
                        .map(|i| (i, check(&files[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            // A panic in a check is a bug in a library crate: let it surface as one.
            let results = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, found) in results {
                diagnostics[i] = found;
            }
        }
    });
    files
        .into_iter()
        .zip(diagnostics)
        .map(|(file, diagnostics)| Checked { file, diagnostics })
        .collect()
}

/// One file's diagnostics, its calls checked against the files of its own repository.
fn check(file: &SourceFile) -> Vec<Diagnostic> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let callees = Callees::new(Callees::root_of(&file.path, &cwd));
    engine::check(file, &callees)
}
