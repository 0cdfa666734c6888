//! End-to-end tests: each runs the built `gantry` binary in a fresh temporary directory and
//! checks its whole stdout, stderr and exit status (in the style of `just`'s test builder).

mod actions;
mod bounded;
mod concurrency;
mod daemon;
mod debug;
mod expr;
mod fixtures;
mod fixtures_dir;
mod github_parity;
mod graph;
mod isolation;
mod list;
mod matrix_templates;
mod options;
mod packages;
mod paths;
mod reference;
mod reusable;
mod run;
mod run_docker;
mod services;
mod test;
mod validate;
