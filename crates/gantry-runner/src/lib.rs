//! The run engine: takes a plan and runs it on an [`executor::Executor`].

pub mod commands;
pub mod executor;
pub mod file_commands;
pub mod mask;
pub mod shell;
