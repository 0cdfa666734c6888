//! Diagnostics about gantry itself (not about the user's files) go through `tracing` to stderr,
//! filtered by `GANTRY_LOG` (the `RUST_LOG` syntax; `warn` when unset).

use tracing_subscriber::EnvFilter;

use crate::error::CliError;

pub const LOG_ENV: &str = "GANTRY_LOG";

pub fn init(ansi: bool) -> Result<(), CliError> {
    let spec = std::env::var(LOG_ENV).unwrap_or_else(|_| "warn".to_owned());
    let filter = EnvFilter::try_new(spec).map_err(|source| CliError::LogFilter { source })?;
    // `try_init` fails only when a subscriber is already set, which cannot happen in `main`.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(true)
        .try_init();
    Ok(())
}
