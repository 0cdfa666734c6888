//! The errors that stop a command before it can report what it found. All of them exit with
//! [`crate::exit::USAGE_OR_IO`]; problems found in the user's files are not errors but an
//! [`crate::exit::Outcome`].

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    File(#[from] gantry_files::ReadError),
    #[error(
        "no workflows directory at `{}` (pass the files or directories to read)",
        path.display()
    )]
    NoWorkflows { path: PathBuf },
    #[error("`{}` is not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("`{}` must hold a JSON object whose keys are context names", path.display())]
    ContextNotObject { path: PathBuf },
    #[error("invalid GANTRY_LOG filter: {source}")]
    LogFilter {
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("`{}`: {source}", path.display())]
    LintConfig {
        path: PathBuf,
        source: gantry_lint::ConfigError,
    },
    #[error(transparent)]
    Lint(#[from] gantry_lint::LintError),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Run(#[from] crate::commands::run::RunError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Actions(#[from] crate::commands::actions::ActionsError),
    #[error(transparent)]
    Services(#[from] crate::services::ServicesError),
    #[error(transparent)]
    ServicesCommand(#[from] crate::commands::services::ServicesCommandError),
    #[error(transparent)]
    Daemon(#[from] crate::commands::daemon::DaemonCommandError),
}
