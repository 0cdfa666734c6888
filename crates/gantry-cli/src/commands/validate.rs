//! `gantry validate [PATH...]`.

use std::path::{Path, PathBuf};

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::commands::Colors;
use crate::discover::{self, SourceFile};
use crate::engine;
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
    let checked = check_all(files);
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

fn check_all(files: Vec<SourceFile>) -> Vec<Checked> {
    files
        .into_iter()
        .map(|file| Checked {
            diagnostics: engine::check(&file),
            file,
        })
        .collect()
}
