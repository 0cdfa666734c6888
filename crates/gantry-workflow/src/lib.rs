//! Workflow and action files: YAML with source positions into a typed model, and validation.
//! No I/O: callers hand in file names and contents.

pub mod checks;
pub mod cron;
pub mod filter;
pub mod model;
pub mod uses;

pub use model::*;
