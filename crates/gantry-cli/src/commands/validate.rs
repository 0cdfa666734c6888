//! `gantry validate [PATH...]`.

use std::path::{Path, PathBuf};

use crate::callees::{Callees, Store};
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::commands::Colors;
use crate::discover::{self, SourceFile};
use crate::engine::{self, Diagnostic, Linter, Script};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::preflight::Readiness;
use crate::render::{Checked, Summary, json, sarif, text};

pub fn run(args: &ValidateArgs, colors: Colors) -> Result<Outcome, CliError> {
    let paths = targets(&args.paths)?;
    let files = paths
        .iter()
        .map(|p| discover::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    tracing::debug!(files = files.len(), "validating");
    let linter = engine::linter(args.config.as_deref(), args.data_dir.as_deref())?;
    let store = Store::existing(args.data_dir.as_deref());
    // No `-P` here: `runs-on` is checked against the default platforms; images are not asked
    // about (validating needs no Docker engine).
    let builtins = engine::actions_for(None);
    let platforms = crate::commands::run::default_platforms();
    let no_engine = |_: &str| None;
    let readiness = crate::preflight::Readiness {
        builtins: &builtins,
        store: &store,
        platforms: &platforms,
        image_present: &no_engine,
    };
    let checked = check_all(files, jobs(args.jobs), &linter, &readiness);
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
/// The scripts of all files then go to the external tools at once.
fn check_all(
    files: Vec<SourceFile>,
    jobs: usize,
    linter: &Linter,
    readiness: &Readiness<'_>,
) -> Vec<Checked> {
    let mut diagnostics = check_files(&files, jobs, linter, readiness);
    let scripts: Vec<Script> = diagnostics
        .iter_mut()
        .flat_map(|(_, scripts)| std::mem::take(scripts))
        .collect();
    let mut diagnostics: Vec<Vec<Diagnostic>> = diagnostics.into_iter().map(|(d, _)| d).collect();
    if !scripts.is_empty() {
        // The tools are processes: use every core whatever `-j` says.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (found, notices) = engine::lint_scripts(linter, &scripts, cores);
        for notice in notices {
            output::note(&format!("note: {notice}\n"));
        }
        for (index, diagnostic) in found {
            if let Some(list) = diagnostics.get_mut(index) {
                list.push(diagnostic);
            }
        }
    }
    files
        .into_iter()
        .zip(diagnostics)
        .map(|(file, mut diagnostics)| {
            engine::finish(linter, &file, &mut diagnostics);
            Checked { file, diagnostics }
        })
        .collect()
}

type FileResult = (Vec<Diagnostic>, Vec<Script>);

fn check_files(
    files: &[SourceFile],
    jobs: usize,
    linter: &Linter,
    readiness: &Readiness<'_>,
) -> Vec<FileResult> {
    let jobs = jobs.clamp(1, files.len().max(1));
    let mut diagnostics: Vec<FileResult> = vec![(Vec::new(), Vec::new()); files.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|t| {
                scope.spawn(move || {
                    (t..files.len())
                        .step_by(jobs)
                        .map(|i| {
                            let callees = callees(&files[i], readiness.store);
                            (i, engine::check(&files[i], linter, i, &callees, readiness))
                        })
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
    diagnostics
}

/// Where a file's calls of reusable workflows are read from: its own repository, and the
/// action store for remote ones.
fn callees(file: &SourceFile, store: &Store) -> Callees {
    let cwd = std::env::current_dir().unwrap_or_default();
    Callees::new(Callees::root_of(&file.path, &cwd), store.clone())
}
