//! End-to-end tests of the run engine on host processes.

mod fixtures;
mod harness;
mod host;
mod scenarios;
