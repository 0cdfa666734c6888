//! `gantry daemon`: the long-running service (webhooks, queue, engine, package registry, web
//! page), and `--check-config` to validate `gantry.toml` without starting it.

use std::sync::Arc;

use gantry_daemon::{Config, ConfigError, Daemon, DaemonError, EngineLauncher};

use crate::cli::DaemonArgs;
use crate::commands::Colors;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;

#[derive(Debug, thiserror::Error)]
pub enum DaemonCommandError {
    #[error("{0}")]
    Config(ConfigError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the daemon could not start: {0}")]
    Start(#[from] DaemonError),
}

pub fn run(args: &DaemonArgs, _colors: Colors) -> Result<Outcome, CliError> {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        // Problems in the file are findings (status 1); a file we cannot read or parse is an
        // I/O or usage error (status 2).
        Err(ConfigError::Invalid(problems)) => {
            let path = args.config.display();
            let text: String = problems.iter().map(|p| format!("{path}: {p}\n")).collect();
            eprint!("{text}");
            return Ok(Outcome::Problems);
        }
        Err(e) => return Err(DaemonCommandError::Config(e).into()),
    };
    if args.check_config {
        output::print(&format!("{}: ok\n", args.config.display()))?;
        return Ok(Outcome::Clean);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DaemonCommandError::Runtime)?;
    runtime.block_on(serve(config))?;
    Ok(Outcome::Clean)
}

async fn serve(config: Config) -> Result<(), DaemonCommandError> {
    let mut launcher =
        EngineLauncher::connect(config.data_dir.join("host"), &config.instance_id()).await;
    match gantry_daemon::actions::action_source(&config) {
        Ok(source) => launcher = launcher.with_action_source(source),
        Err(e) => tracing::warn!(error = %e, "no action store: remote actions will fail"),
    }
    let handle = Daemon::start(config, Arc::new(launcher)).await?;
    // Scripts wait for this line to know the port (`listen = "127.0.0.1:0"`).
    println!("listening on {}", handle.local_addr());
    let report = handle.run_until_signal().await;
    tracing::info!(?report, "stopped");
    Ok(())
}
