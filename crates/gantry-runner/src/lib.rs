//! The run engine: takes a plan and runs it on an [`executor::Executor`].

pub mod executor;
