//! gantry-lint's integration tests: a fixture folder per rule, and the real-world corpus.

mod corpus;
mod fixtures;
mod source;
mod support;
