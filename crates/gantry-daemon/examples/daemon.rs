//! Runs the daemon with the real engine on the host executor: `daemon <gantry.toml>`.
//!
//! Prints `listening on <addr>` once it serves, and drains on SIGTERM. The crash tests and
//! `scripts/bench-daemon.sh` start this binary, kill it with SIGKILL and start it again. Jobs
//! run as host processes under `<data_dir>/host` (no Docker), and `runs-on: ubuntu-latest`
//! runs there too unless the configuration maps that label, so the tests' and the
//! benchmark's configurations need no `[labels]`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use gantry_daemon::engine::HOST_LABEL;
use gantry_daemon::{Config, Daemon, EngineLauncher};

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
    let mut config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    config
        .labels
        .entry("ubuntu-latest".to_owned())
        .or_insert_with(|| HOST_LABEL.to_owned());
    // Host jobs' sessions are recorded here, so a restart after `kill -9` reaps them.
    let launcher = EngineLauncher::host_only(config.data_dir.join("host"));
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
