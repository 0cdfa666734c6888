//! Why a step failed before or around its process: one typed error, reported as the step's
//! error annotation in one place ([`JobRunner::fail`](crate::job::JobRunner)). The texts are the
//! ones `actions/runner` shows where it has one (users and tests match them), else gantry's
//! lowercase fragments.

use gantry_actions::{RefError, StoreError};
use gantry_expr::ExprError;
use gantry_workflow::uses::UsesError;

use crate::executor::ExecutorError;
use crate::file_commands::FileCommandError;
use crate::shell::ShellError;

use super::MAX_DEPTH;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error("The step's condition is invalid: {0}")]
    Condition(#[source] ExprError),
    #[error("pre-if: {0}")]
    PreCondition(#[source] ExprError),
    #[error("post-if: {0}")]
    PostCondition(#[source] ExprError),
    /// A value the step evaluates, named by where it is (`env.NAME`, `with.NAME`,
    /// `working-directory`, `outputs.NAME`, `args`, ...).
    #[error("{at}: {source}")]
    Expression {
        at: String,
        #[source]
        source: ExprError,
    },
    /// The `run:` script itself: the runner shows the bare expression error.
    #[error("{0}")]
    Script(#[source] ExprError),
    #[error("{0}")]
    Shell(#[from] ShellError),
    #[error("cannot write the step script: {0}")]
    WriteScript(#[source] ExecutorError),
    #[error("cannot create the environment files: {0}")]
    FileCommandFiles(#[source] ExecutorError),
    #[error("The action '{name}' has timed out after {minutes} minutes.")]
    TimedOut { name: String, minutes: f64 },
    #[error("Process completed with exit code {0}.")]
    ExitCode(i32),
    /// The executor could not run the step's process (or a built-in action failed).
    #[error("{0}")]
    Executor(#[source] ExecutorError),
    #[error("invalid `uses: {uses}`: {source}")]
    InvalidUses {
        uses: String,
        #[source]
        source: UsesError,
    },
    #[error("composite actions are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("cannot read {path}: {source}")]
    ReadAction {
        path: String,
        #[source]
        source: ExecutorError,
    },
    /// `action.yml` has errors: each as `path (Line: L, Col: C): message`, one per line.
    #[error("{}", .0.join("\n"))]
    InvalidAction(Vec<String>),
    #[error(
        "Can't find 'action.yml' or 'action.yaml' under '{0}'. Did you forget to run actions/checkout before running your local action?"
    )]
    NoActionFile(String),
    /// A remote action's own problem, prefixed by its `uses:`.
    #[error("{uses}: {source}")]
    InAction {
        uses: String,
        #[source]
        source: Box<StepError>,
    },
    #[error("{0}")]
    ActionRef(#[from] RefError),
    #[error(
        "action '{0}' is not available: this run has no action store (gantry runs local actions, built-in actions and actions from its store)"
    )]
    NoActionStore(String),
    #[error("resolving '{reference}': {source}")]
    ResolveTask {
        reference: String,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot copy '{reference}' into the job: {source}")]
    CopyAction {
        reference: String,
        #[source]
        source: ExecutorError,
    },
    #[error(
        "'{uses}' is a node action, but the job environment has no `node` on its PATH and gantry has no node{major} to copy in (build the runner image with `scripts/build-images.sh`)"
    )]
    NoNode { uses: String, major: String },
    #[error("'{uses}' is a node action, but copying gantry's node{major} in failed: {source}")]
    ExternalNode {
        uses: String,
        major: String,
        #[source]
        source: ExecutorError,
    },
    #[error("cannot build the action's image: {0}")]
    ActionImage(#[source] ExecutorError),
    /// Several problems found at once (every bad `runs.args` / `runs.env` value), one per line.
    #[error("{}", join_lines(.0))]
    Several(Vec<StepError>),
    /// A file command's file could not be read or holds an invalid entry.
    #[error("{0}")]
    FileCommand(#[from] FileCommandError),
    #[error("{0}")]
    ReadFileCommand(#[source] ExecutorError),
}

impl StepError {
    /// An expression error at `at` (a key path such as `env.NAME`).
    pub(crate) fn at(at: impl Into<String>, source: ExprError) -> Self {
        StepError::Expression {
            at: at.into(),
            source,
        }
    }
}

fn join_lines(errors: &[StepError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr_error() -> ExprError {
        ExprError::evaluation("boom")
    }

    #[test]
    fn texts_name_where_the_problem_is() {
        assert_eq!(
            StepError::at("env.A", expr_error()).to_string(),
            "env.A: boom"
        );
        let several = StepError::Several(vec![
            StepError::at("args", expr_error()),
            StepError::at("env.B", expr_error()),
        ]);
        assert_eq!(several.to_string(), "args: boom\nenv.B: boom");
        let nested = StepError::InAction {
            uses: "o/r@v1".into(),
            source: Box::new(StepError::NoActionFile("/a".into())),
        };
        assert!(
            nested
                .to_string()
                .starts_with("o/r@v1: Can't find 'action.yml'")
        );
        assert_eq!(
            StepError::ExitCode(3).to_string(),
            "Process completed with exit code 3."
        );
    }

    #[test]
    fn causes_stay_reachable() {
        use std::error::Error as _;
        let error = StepError::Condition(expr_error());
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("boom")
        );
    }
}
