//! gantry-docker: where a job's steps run.
//!
//! * [`DockerExecutor`]: one container per job (bollard), steps sent to a small in-container
//!   shell agent over the attached stdin, so a step costs a pipe write instead of a `docker exec`.
//! * [`HostExecutor`]: steps as processes on this machine, in a per-job work directory.
//! * [`RoutingExecutor`]: host-platform jobs to the host, the rest to Docker.
//! * [`clean`]: removes what gantry left in the engine, by [`Selection`]: one run's, one
//!   [`Owner`]'s (a daemon's crash recovery), ended processes' (`gantry clean`), or all.

mod access;
mod agent;
mod docker;
mod externals;
mod host;
mod host_services;
mod interactive;
mod job;
mod options;
mod owner;
mod procs;
mod resources;
mod routing;
mod services;
mod sessions;
mod step_container;
mod tarball;

pub use docker::DockerExecutor;
pub use host::{HostExecutor, ReapReport};
pub use owner::{LABEL_OWNER, LABEL_SCOPE, Owner, ProcessId};
pub use resources::{
    CleanReport, LABEL_JOB, LABEL_MANAGED, LABEL_RUN_ID, ManagedObjects, Selection, clean,
    clean_all, clean_blocking, clean_run, list, list_managed,
};
pub use routing::RoutingExecutor;

/// Re-exported so callers of [`clean_all`] need no direct bollard dependency.
pub use bollard::Docker;

use gantry_runner::executor::ExecutorError;

pub(crate) fn io_error(context: impl Into<String>, source: std::io::Error) -> ExecutorError {
    ExecutorError::Io {
        context: context.into(),
        source,
    }
}

/// Maps an engine error: connection failures mean the engine is unavailable, the rest carry
/// what we were doing.
pub(crate) fn engine_error(context: &str, e: bollard::errors::Error) -> ExecutorError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => ExecutorError::Other(format!(
            "{context}: docker engine answered {status_code}: {message}"
        )),
        E::IOError { .. }
        | E::HyperResponseError { .. }
        | E::SocketNotFoundError(_)
        | E::RequestTimeoutError => ExecutorError::EngineUnavailable(format!("{context}: {e}")),
        other => ExecutorError::failed(context, other),
    }
}
