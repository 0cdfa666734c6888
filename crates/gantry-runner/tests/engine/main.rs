//! End-to-end tests of the run engine on host processes, and a subset on the real Docker engine.

mod docker;
mod fixtures;
mod github_context;
mod harness;
mod host;
mod remote_actions;
mod scenarios;
