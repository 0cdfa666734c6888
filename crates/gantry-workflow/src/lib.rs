//! Workflow and action files: YAML with source positions into a typed model, and validation.
//! No I/O: callers hand in file names and contents.

pub mod calls;
pub mod checks;
mod convert;
pub mod cron;
pub mod exprcheck;
pub mod filter;
pub mod memory;
pub mod model;
mod parse;
pub mod schema;
pub mod schema_walk;
pub mod uses;
pub mod yaml;

pub use calls::{CallOptions, PermissionPolicy, check_calls};
pub use model::*;
pub use parse::{
    ReadOptions, parse_action, parse_action_with, parse_workflow, parse_workflow_with,
};
