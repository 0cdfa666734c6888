//! The run engine: takes a plan and runs it on an [`executor::Executor`].
//!
//! ```ignore
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let result = tokio::spawn(gantry_runner::run(workflow, &plan, options, executor, tx));
//! while let Some(event) = rx.recv().await { render(&event); log_writer.handle(&event)?; }
//! ```

pub mod action_source;
pub mod actions;
pub mod builtin;
mod calls;
mod concurrency;
pub mod context;
pub mod debugger;
mod dispatcher;
pub mod event;
pub mod executor;
pub mod explain;
pub mod file_commands;
pub mod git;
mod git_direct;
mod hashfiles;
mod hints;
pub mod interactive;
mod job;
pub mod logs;
pub mod mask;
pub mod shell;
mod step;
mod step_names;
pub mod workflow_commands;

pub use action_source::{ActionSource, StoreSource};
pub use actions::{ActionCall, ActionError, ActionRegistry, BuiltinAction};
pub use context::{GithubInfo, HashFiles, LocalHashFiles, StepGithub};
pub use dispatcher::{RunOptions, run};
pub use event::{Conclusion, JobSummary, LogStream, RunEvent, RunResult, StepRef};
pub use logs::{LogWriter, next_run_dir};
pub use workflow_commands::{Annotation, AnnotationLevel};
