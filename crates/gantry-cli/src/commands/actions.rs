//! `gantry actions ...`: the action store in gantry's data directory.

use std::path::{Path, PathBuf};

use gantry_actions::{ActionRef, ActionStore, Entry, RefError, StoreError};

use crate::cli::{ActionsArgs, ActionsCommand};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::registry;

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ref(#[from] RefError),
    #[error("no cache directory for act: set HOME or XDG_CACHE_HOME, or pass DIR")]
    NoActCache,
}

/// Opens the store in gantry's data directory (`--data-dir`, `GANTRY_DATA_DIR`, the default).
pub fn open_store(data_dir: Option<&Path>) -> Result<ActionStore, CliError> {
    let dir = registry::data_dir(data_dir)?;
    Ok(ActionStore::open(&dir).map_err(ActionsError::from)?)
}

pub fn run(args: &ActionsArgs) -> Result<Outcome, CliError> {
    let store = open_store(args.data_dir.as_deref())?;
    match &args.command {
        ActionsCommand::Add { action, path } => {
            let entry = store
                .add(&parse(action)?, path)
                .map_err(ActionsError::from)?;
            output::print(&format!("added {}\n", describe(&entry)))?;
        }
        ActionsCommand::Pull { actions } => {
            // Parse everything first: a typo in the third name should not leave two fetched.
            let refs = actions
                .iter()
                .map(|a| parse(a))
                .collect::<Result<Vec<_>, _>>()?;
            for action in &refs {
                let entry = store
                    .pull(action, &args.forge)
                    .map_err(ActionsError::from)?;
                output::print(&format!("pulled {}\n", describe(&entry)))?;
            }
        }
        ActionsCommand::List => list(&store)?,
        ActionsCommand::Rm { action } => {
            let entry = store.rm(&parse(action)?).map_err(ActionsError::from)?;
            output::print(&format!("removed {}\n", entry.name()))?;
        }
        ActionsCommand::ImportAct { dir } => import_act(&store, dir.clone())?,
    }
    Ok(Outcome::Clean)
}

fn parse(action: &str) -> Result<ActionRef, ActionsError> {
    Ok(ActionRef::parse(action)?)
}

fn describe(entry: &Entry) -> String {
    format!(
        "{} (SHA:{}) from {}",
        entry.name(),
        entry.commit,
        entry.source
    )
}

fn list(store: &ActionStore) -> Result<(), CliError> {
    let entries = store.list().map_err(ActionsError::from)?;
    if entries.is_empty() {
        output::note("no actions (add some with `gantry actions add` or `gantry actions pull`)\n");
        return Ok(());
    }
    let width = entries.iter().map(|e| e.name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for entry in &entries {
        out.push_str(&format!(
            "{:<width$}  {}  {}\n",
            entry.name(),
            entry.commit,
            entry.source
        ));
    }
    output::print(&out)
}

fn import_act(store: &ActionStore, dir: Option<PathBuf>) -> Result<(), CliError> {
    let dir = match dir {
        Some(dir) => dir,
        None => act_cache_dir().ok_or(ActionsError::NoActCache)?,
    };
    let report = store.import_act(&dir).map_err(ActionsError::from)?;
    let mut out = String::new();
    for entry in &report.imported {
        out.push_str(&format!("imported {}\n", describe(entry)));
    }
    output::print(&out)?;
    for (path, why) in &report.skipped {
        output::note(&format!("skipped {}: {why}\n", path.display()));
    }
    Ok(())
}

/// act's default `--action-cache-path`: Go's user cache directory joined with `act`.
fn act_cache_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|dir| dir.join("act"))
}

/// What `gantry run` gives the runner for remote actions.
pub struct RunActions {
    source: Option<std::sync::Arc<dyn gantry_runner::ActionSource>>,
    real: Vec<String>,
}

impl RunActions {
    /// The store in the data directory; when it cannot be opened the run goes on without one
    /// (with a note), and only jobs using remote actions fail.
    pub fn from_args(args: &crate::cli::RunArgs) -> RunActions {
        let source = match open_store(args.data_dir.as_deref()) {
            Ok(store) => {
                let pull = args.pull_actions.then(|| args.forge.clone());
                let source: std::sync::Arc<dyn gantry_runner::ActionSource> =
                    std::sync::Arc::new(gantry_runner::StoreSource::new(store, pull));
                Some(source)
            }
            Err(e) => {
                output::note(&format!("warning: no action store: {e}\n"));
                None
            }
        };
        RunActions {
            source,
            real: args.real_action.clone(),
        }
    }

    pub fn apply(
        &self,
        mut registry: gantry_runner::ActionRegistry,
    ) -> gantry_runner::ActionRegistry {
        for name in &self.real {
            registry.prefer_real(name);
        }
        match &self.source {
            Some(source) => registry.with_source(source.clone()),
            None => registry,
        }
    }
}
