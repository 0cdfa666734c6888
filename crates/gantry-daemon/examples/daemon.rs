//! Runs the daemon with the process launcher: `daemon <gantry.toml>`.
//!
//! Prints `listening on <addr>` once it serves, and drains on SIGTERM. The crash tests start
//! this binary, kill it with SIGKILL and start it again.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use gantry_daemon::{Config, Daemon, ProcessLauncher};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: daemon <gantry.toml>");
        return std::process::ExitCode::from(2);
    };
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let launcher = ProcessLauncher::with_pid_dir(config.data_dir.join("pids"));
    let handle = match Daemon::start(config, Arc::new(launcher)).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {}", handle.local_addr());
    let _ = std::io::stdout().flush();
    let report = handle.run_until_signal().await;
    eprintln!("stopped: {report:?}");
    std::process::ExitCode::SUCCESS
}
