//! The `gantry` binary. All logic lives in the library crates; this crate parses the command line,
//! reads files, renders results and is the only place that prints or picks an exit status.

mod callees;
mod cli;
mod color;
mod commands;
mod discover;
mod engine;
mod error;
mod exit;
mod logging;
mod output;
mod preflight;
mod registry;
mod render;
mod services;
mod terminal;

fn main() -> std::process::ExitCode {
    exit::run(std::env::args_os())
}
