//! Exit statuses, mapped in one place.
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | success: nothing wrong (warnings allowed) |
//! | 1 | problems found: validation errors, a failed job, an expression error |
//! | 2 | usage error (bad flags or arguments) or I/O error (a missing path, an unreadable file) |
//! | 130 | `gantry run` was cancelled (Ctrl-C), as shells report a SIGINT death (128 + 2) |

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::CliError;
use crate::output::Paint;

pub const SUCCESS: u8 = 0;
pub const PROBLEMS: u8 = 1;
pub const USAGE_OR_IO: u8 = 2;
pub const CANCELLED: u8 = 130;

/// What a command found, when it could run to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Problems,
    /// A run was cancelled before it could finish.
    Cancelled,
}

/// Parses the arguments, runs the command and maps every way it can end to a status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return clap_error(&err),
    };
    let stderr_paint = Paint {
        enabled: cli.color.enabled(&std::io::stderr()),
    };
    match crate::commands::dispatch(cli) {
        Ok(Outcome::Clean) => ExitCode::from(SUCCESS),
        Ok(Outcome::Problems) => ExitCode::from(PROBLEMS),
        Ok(Outcome::Cancelled) => ExitCode::from(CANCELLED),
        // A closed pipe (`gantry list | head`) is the reader's choice, not our failure.
        Err(CliError::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(SUCCESS)
        }
        Err(err) => {
            crate::output::report_error(&err, stderr_paint);
            ExitCode::from(USAGE_OR_IO)
        }
    }
}

/// `--help` and `--version` are successes that clap reports as errors; everything else it
/// reports is a usage error.
fn clap_error(err: &clap::Error) -> ExitCode {
    // Printing can only fail when stderr is gone, and then there is no one left to tell.
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::from(USAGE_OR_IO)
    } else {
        ExitCode::from(SUCCESS)
    }
}
