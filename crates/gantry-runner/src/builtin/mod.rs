//! Offline implementations of `actions/checkout` and `actions/setup-node`.
//!
//! Both talk to the job only through [`JobEnvironment`](crate::executor::JobEnvironment), so
//! they work the same in a container and on the host. What they change for later steps goes
//! through the step's own `GITHUB_ENV` / `GITHUB_PATH` files, which the step engine applies
//! after the action returns, exactly as for a `run:` step.

pub mod checkout;
pub mod node_version;
mod npmrc;
pub mod setup_node;

#[cfg(test)]
mod tests;

pub use checkout::Checkout;
pub use setup_node::SetupNode;

use crate::actions::{ActionCall, ActionError};
use crate::executor::ExecutorError;

/// Why a built-in action failed.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("input '{name}' must be true or false, not '{value}'")]
    NotABoolean { name: String, value: String },
    #[error("input '{name}' must be a whole number, not '{value}'")]
    NotANumber { name: String, value: String },
    #[error(
        "actions/checkout of '{requested}' needs the network: offline, gantry can only check out the run's own repository ('{own}')"
    )]
    OtherRepository { requested: String, own: String },
    #[error("repository path '{path}' is not under '{workspace}'")]
    OutsideWorkspace { path: String, workspace: String },
    #[error("the step environment has no {0}")]
    MissingVariable(&'static str),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error("{0}")]
    Version(#[from] node_version::SpecError),
    #[error("no Node.js is available offline (none on PATH, none under {tool_cache}/node)")]
    NoNode { tool_cache: String },
    #[error("node-version-file '{0}' does not exist in the workspace")]
    MissingVersionFile(String),
    #[error("node-version-file '{0}' names no Node.js version")]
    EmptyVersionFile(String),
    #[error("{context} exited with {status}")]
    Command { context: String, status: String },
    #[error("a background task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

impl From<BuiltinError> for ActionError {
    fn from(error: BuiltinError) -> Self {
        match error {
            BuiltinError::Executor(e) => ActionError::Executor(e),
            other => ActionError::Failed(other.to_string()),
        }
    }
}

/// An input's value, trimmed; empty when not given.
fn input<'a>(call: &'a ActionCall<'_>, name: &str) -> &'a str {
    call.inputs.get(name).map_or("", |v| v.trim())
}

/// A boolean input as `core.getBooleanInput` reads it (YAML 1.2 core schema spellings).
fn bool_input(call: &ActionCall<'_>, name: &str, default: bool) -> Result<bool, BuiltinError> {
    match input(call, name) {
        "" => Ok(default),
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        value => Err(BuiltinError::NotABoolean {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// A warning annotation on the step (through the workflow-command parser).
async fn warn(call: &ActionCall<'_>, message: &str) {
    call.log(&format!("::warning::{}", escape_data(message)))
        .await;
}

/// Workflow-command data escaping, so a message cannot end the command early.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Appends `text` to a file in the job (the step's `GITHUB_ENV` / `GITHUB_PATH`).
async fn append_file(call: &ActionCall<'_>, path: &str, text: &str) -> Result<(), BuiltinError> {
    let mut contents = call.job.read_file(path).await?.unwrap_or_default();
    if !contents.is_empty() && !contents.ends_with(b"\n") {
        contents.push(b'\n');
    }
    contents.extend_from_slice(text.as_bytes());
    call.job.write_file(path, &contents).await?;
    Ok(())
}

/// Sets a variable for later steps through the step's `GITHUB_ENV` file.
async fn export_variable(
    call: &ActionCall<'_>,
    name: &str,
    value: &str,
) -> Result<(), BuiltinError> {
    let file = call
        .env
        .get("GITHUB_ENV")
        .ok_or(BuiltinError::MissingVariable("GITHUB_ENV"))?;
    append_file(call, file, &env_file_entry(name, value)).await
}

/// One `GITHUB_ENV` entry; multi-line values use the heredoc form with a delimiter that does
/// not occur in the value.
fn env_file_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut delimiter = "gantry_delimiter".to_owned();
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Prepends a directory to `PATH` for later steps through the step's `GITHUB_PATH` file.
async fn add_path(call: &ActionCall<'_>, dir: &str) -> Result<(), BuiltinError> {
    let file = call
        .env
        .get("GITHUB_PATH")
        .ok_or(BuiltinError::MissingVariable("GITHUB_PATH"))?;
    append_file(call, file, &format!("{dir}\n")).await
}

/// Runs `sh -c script` in the job with the step's environment and returns its stdout; fails
/// on a non-zero exit.
async fn run_sh(
    call: &ActionCall<'_>,
    context: &str,
    script: &str,
    args: &[&str],
) -> Result<String, BuiltinError> {
    use crate::executor::{ExecRequest, ExitStatus};
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "sh".to_owned(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let request = ExecRequest {
        argv,
        env: call.env.clone(),
        workdir: call.job.paths().temp.clone(),
        cancel: call.cancel.clone(),
    };
    let (status, stdout) = crate::executor::capture_stdout(call.job, request).await?;
    match status {
        ExitStatus::Code(0) => Ok(stdout),
        status => Err(BuiltinError::Command {
            context: context.to_owned(),
            status: format!("{status:?}"),
        }),
    }
}

#[cfg(test)]
mod helper_tests {
    use super::*;

    #[test]
    fn env_entries_use_heredocs_only_for_multiline_values() {
        assert_eq!(env_file_entry("A", "b=c"), "A=b=c\n");
        assert_eq!(
            env_file_entry("A", "x\ny"),
            "A<<gantry_delimiter\nx\ny\ngantry_delimiter\n"
        );
        assert_eq!(
            env_file_entry("A", "gantry_delimiter\n"),
            "A<<gantry_delimiter_\ngantry_delimiter\n\ngantry_delimiter_\n"
        );
    }

    #[test]
    fn command_data_is_escaped() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
    }
}
