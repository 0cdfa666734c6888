//! What a run tells the outside world, as a typed stream: the CLI renders these (terminal or
//! `--json`) and [`crate::logs::LogWriter`] stores them. Every string in an event has been
//! through the job's masker.

use serde::{Deserialize, Serialize};

use crate::commands::Annotation;

/// The result of a step, a job or a run, with GitHub's names (`needs.x.result`,
/// `steps.x.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }

    /// The inverse of [`Conclusion::as_str`] (stores keep conclusions as text).
    pub fn parse(s: &str) -> Option<Conclusion> {
        match s {
            "success" => Some(Conclusion::Success),
            "failure" => Some(Conclusion::Failure),
            "cancelled" => Some(Conclusion::Cancelled),
            "skipped" => Some(Conclusion::Skipped),
            _ => None,
        }
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// `::debug::` messages and the runner's debug notes (shown with `ACTIONS_STEP_DEBUG`).
    Debug,
    /// gantry's own lines (the `Run ...` header, errors that are not annotations).
    Runner,
}

/// Identifies a step within a job: its position (0-based, in the job's step list; nested
/// composite steps get `parent.child` paths) and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRef {
    /// `"3"` for the fourth step, `"3.1"` for the second step of the composite action it runs.
    pub path: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        workflow: String,
        /// Job ids in topological order.
        jobs: Vec<String>,
    },
    JobStarted {
        /// Unique within the run (`build`, `test-2` for the second matrix row).
        job: String,
        /// The job id in the workflow.
        job_id: String,
        name: String,
        matrix: Option<serde_json::Value>,
    },
    JobFinished {
        job: String,
        job_id: String,
        name: String,
        /// Before `continue-on-error`.
        outcome: Conclusion,
        /// What `needs.<job>.result` and the run result see.
        conclusion: Conclusion,
        duration_ms: u64,
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    StepStarted {
        job: String,
        step: StepRef,
    },
    StepFinished {
        job: String,
        step: StepRef,
        outcome: Conclusion,
        conclusion: Conclusion,
        duration_ms: u64,
    },
    Log {
        job: String,
        step: Option<StepRef>,
        stream: LogStream,
        line: String,
    },
    GroupStarted {
        job: String,
        step: Option<StepRef>,
        title: String,
    },
    GroupEnded {
        job: String,
        step: Option<StepRef>,
    },
    Annotation {
        job: String,
        step: Option<StepRef>,
        annotation: Annotation,
    },
    /// One step's `GITHUB_STEP_SUMMARY` markdown.
    StepSummary {
        job: String,
        step: StepRef,
        markdown: String,
    },
    RunFinished {
        conclusion: Conclusion,
        duration_ms: u64,
    },
}

/// The final state of a run, returned by [`crate::run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub conclusion: Conclusion,
    pub duration_ms: u64,
    pub jobs: Vec<JobSummary>,
    /// Every step summary, in the order the steps finished, joined as GitHub shows them.
    pub summary: String,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    pub job: String,
    pub job_id: String,
    pub name: String,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
    pub duration_ms: u64,
    pub outputs: serde_json::Map<String, serde_json::Value>,
}
