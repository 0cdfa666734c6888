//! One module per subcommand. Each returns what it found as an [`Outcome`] or the error that
//! stopped it; [`crate::exit`] turns both into a status.

pub mod actions;
mod clean;
pub mod daemon;
mod expr;
mod graph;
mod list;
mod packages;
pub mod run;
pub mod services;
mod validate;
mod workflows;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::exit::Outcome;

/// Whether each output stream gets color, decided once from `--color` and the terminals.
#[derive(Debug, Clone, Copy)]
pub struct Colors {
    pub stdout: bool,
    pub stderr: bool,
}

pub fn dispatch(cli: Cli) -> Result<Outcome, CliError> {
    let colors = Colors {
        stdout: cli.color.enabled(&std::io::stdout()),
        stderr: cli.color.enabled(&std::io::stderr()),
    };
    crate::logging::init(colors.stderr)?;
    match cli.command {
        Command::Validate(args) => validate::run(&args, colors),
        Command::List(args) => list::run(&args, colors),
        Command::Graph(args) => graph::run(&args, colors),
        Command::Expr(args) => expr::run(&args, colors),
        Command::Run(args) => run::run(&args, colors),
        Command::Clean(args) => clean::run(&args, colors),
        Command::Packages(args) => packages::run(&args, colors),
        Command::Actions(args) => actions::run(&args),
        Command::Artifacts(args) => services::artifacts(&args),
        Command::Cache(args) => services::cache(&args),
        Command::Daemon(args) => daemon::run(&args, colors),
    }
}
