//! Breakpoints: the hook a front end (the CLI) plugs in to stop a job before or after a step,
//! or when a step fails, with the job's environment intact.
//!
//! The runner decides *where* it stops ([`Breakpoints`]) and hands the front end a [`Pause`]:
//! which step, why, the environment the next step would run in (to open a shell there), and the
//! job's masker (everything the front end prints about the pause goes through it). The front end
//! answers with a [`Resume`]. The runner never reads a terminal: a front end without one answers
//! from a timeout or refuses to pause.

use std::sync::Arc;

use async_trait::async_trait;
use gantry_workflow::{Step, StepKind, Workflow};
use indexmap::IndexMap;

use crate::event::{Conclusion, StepRef};
use crate::executor::JobEnvironment;
use crate::mask::Masker;

/// Where runs stop. Steps are named by `id`, by display name, by 1-based position, each
/// optionally prefixed with the job id (`build.compile`).
#[derive(Debug, Clone, Default)]
pub struct Breakpoints {
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub on_failure: bool,
}

/// What a breakpoint is compared against: one top-level step of a job.
#[derive(Debug, Clone, Copy)]
pub struct StepAt<'a> {
    pub job_id: &'a str,
    /// 0-based position in the job's steps.
    pub index: usize,
    pub step_id: Option<&'a str>,
    /// The display name (`name:` evaluated, or `Run <first line>`).
    pub name: &'a str,
}

impl StepAt<'_> {
    /// Whether `selector` names this step: `ID`, `NAME`, `N` (1-based), or any of them after
    /// `JOB.`. Names may contain dots, so the whole text is tried as a step first.
    pub fn matches(&self, selector: &str) -> bool {
        let position = (self.index + 1).to_string();
        let names_step =
            |s: &str| self.step_id == Some(s) || self.name == s || (!s.is_empty() && position == s);
        if names_step(selector) {
            return true;
        }
        selector
            .strip_prefix(self.job_id)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(names_step)
    }
}

impl Breakpoints {
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty() && !self.on_failure
    }

    pub fn pauses_before(&self, at: &StepAt<'_>) -> bool {
        self.before.iter().any(|s| at.matches(s))
    }

    pub fn pauses_after(&self, at: &StepAt<'_>) -> bool {
        self.after.iter().any(|s| at.matches(s))
    }

    /// The selectors that name no step of `jobs` in `workflow` (a typo would otherwise run the
    /// whole workflow without stopping). Names are compared unevaluated (`name:` as written,
    /// `Run <first line>` for unnamed `run:` steps).
    pub fn unmatched<'s>(&'s self, workflow: &Workflow, jobs: &[String]) -> Vec<&'s str> {
        self.before
            .iter()
            .chain(&self.after)
            .map(String::as_str)
            .filter(|selector| {
                !jobs.iter().any(|job| {
                    workflow.jobs.get(job).is_some_and(|j| {
                        j.steps.iter().enumerate().any(|(index, step)| {
                            let name = static_name(step);
                            let at = StepAt {
                                job_id: job,
                                index,
                                step_id: step.id.as_ref().map(|i| i.value.as_str()),
                                name: &name,
                            };
                            at.matches(selector)
                        })
                    })
                })
            })
            .collect()
    }
}

/// A step's name without evaluating anything: `name:` as written, else what GitHub shows.
pub fn static_name(step: &Step) -> String {
    if let Some(name) = &step.name {
        return name.value.clone();
    }
    match &step.kind {
        StepKind::Run { run, .. } => {
            let first = run
                .value
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!("Run {}", first.trim())
        }
        StepKind::Uses { uses, .. } => format!("Run {}", uses.value),
    }
}

/// Why the run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// `--pause-before`: the step has not run yet.
    Before,
    /// `--pause-after`: the step ran (its outcome is in [`Pause::outcome`]).
    After,
    /// `--pause-on-failure`: the step failed.
    Failed,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Before => "before",
            PauseReason::After => "after",
            PauseReason::Failed => "failure",
        }
    }
}

/// How the job goes on after a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run the step (before it) or keep its result (after it).
    Continue,
    /// Run the step again (after it; before it, the same as continue). The workflow's step
    /// definition is the one read at the start of the run; files the step reads are re-read.
    Retry,
    /// Do not run the step (before it) or drop its result (after it): it counts as skipped,
    /// so a failure no longer fails the job.
    Skip,
    /// Cancel the run: the remaining steps do not run, job environments are cleaned up.
    Abort,
}

/// The process a shell at a pause starts as: what the next step would see.
#[derive(Debug, Clone)]
pub struct ShellRequest {
    /// `bash` when the environment has it, else `sh`.
    pub argv: Vec<String>,
    /// `env` with `GITHUB_ENV` applied, the `GITHUB_*`/`RUNNER_*` defaults, and `PATH` with
    /// `GITHUB_PATH` directories first.
    pub env: IndexMap<String, String>,
    /// The job's workspace, as steps see it.
    pub workdir: String,
}

/// A stopped job, handed to the [`Debugger`].
pub struct Pause<'a> {
    /// Unique within the run (`build`, `test-2`).
    pub job: &'a str,
    pub job_id: &'a str,
    pub step: &'a StepRef,
    pub step_id: Option<&'a str>,
    pub reason: PauseReason,
    /// The step's outcome when it has run.
    pub outcome: Option<Conclusion>,
    /// Where a shell opens (`JobEnvironment::interactive_shell`).
    pub environment: &'a dyn JobEnvironment,
    pub shell: ShellRequest,
    /// The job's secrets and `add-mask` values: mask everything shown about the pause.
    pub masker: &'a Masker,
}

/// The front end's side of a pause.
#[async_trait]
pub trait Debugger: Send + Sync {
    /// Called with the job stopped; the job waits until it returns.
    async fn pause(&self, pause: Pause<'_>) -> Resume;
}

/// Breakpoints and who answers them ([`crate::RunOptions::debug`]).
#[derive(Clone)]
pub struct DebugOptions {
    pub breakpoints: Breakpoints,
    pub debugger: Arc<dyn Debugger>,
}

impl std::fmt::Debug for DebugOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugOptions")
            .field("breakpoints", &self.breakpoints)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(name: &'a str, id: Option<&'a str>) -> StepAt<'a> {
        StepAt {
            job_id: "build",
            index: 2,
            step_id: id,
            name,
        }
    }

    #[test]
    fn selectors_name_steps_by_id_name_position_and_job() {
        let step = at("Run tests v1.2", Some("tests"));
        for yes in [
            "tests",
            "Run tests v1.2",
            "3",
            "build.tests",
            "build.Run tests v1.2",
            "build.3",
        ] {
            assert!(step.matches(yes), "{yes}");
        }
        for no in ["test", "deploy.tests", "2", "build.", "", "build"] {
            assert!(!step.matches(no), "{no}");
        }
    }
}
