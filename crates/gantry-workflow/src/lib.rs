//! Workflow and action files: YAML with source positions into a typed model, and validation.
//! No I/O: callers hand in file names and contents.

pub mod checks;
mod convert;
pub mod cron;
pub mod exprcheck;
pub mod filter;
pub mod model;
mod parse;
pub mod schema;
pub mod template;
pub mod uses;
pub mod yaml;

pub use model::*;
pub use parse::{parse_action, parse_workflow};
