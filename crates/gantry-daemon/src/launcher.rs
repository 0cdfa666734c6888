//! The seam between the daemon and the run engine.
//!
//! The daemon decides *what* runs and *when*; a [`RunLauncher`] executes one queued run and
//! reports progress as [`RunEvent`]s, which the daemon stores and streams. The real engine
//! is [`crate::EngineLauncher`] (`gantry-runner` on `gantry-docker`'s executors).
//!
//! [`crate::EngineLauncher`] adapts `gantry_runner::run(workflow, &plan, options, executor,
//! tx)`: parse `run.workflow_source` (`gantry_workflow::parse_workflow`), build an `Event` from
//! `run.event`/`run.payload`/`run.git_ref` and plan it with
//! `gantry_plan::plan_workflow_with(&wf, &event, &job_keys, &ctx)` where `job_keys` are the
//! keys in `run.jobs`; fill `RunOptions` (`run_id` = `run.run_id`, `secrets`, `vars`,
//! `platforms` from `run.labels`, `workspace_source` = a checkout of `run.sha`, `cancel` =
//! the token), then forward the engine's events:
//!
//! | `gantry_runner::RunEvent`          | [`RunEvent`]                                           |
//! |------------------------------------|--------------------------------------------------------|
//! | `JobStarted { job, name, .. }`     | `JobStarted { job, name }`                             |
//! | `StepStarted { job, step }`        | `StepStarted { job, number: path's first part + 1, name }` |
//! | `Log { job, step, line, .. }`      | `Log { job, step: step number, text: line }`           |
//! | `StepFinished { conclusion, .. }`  | `StepFinished`                                         |
//! | `JobFinished { conclusion, .. }`   | `JobFinished`                                          |
//! | `Annotation { annotation, .. }`    | `Annotation`                                           |
//! | `StepSummary { markdown, .. }`     | `Summary`                                              |
//! | `RunFinished { conclusion, .. }`   | the returned [`RunOutcome`]                            |
//! | (plan: a matrix with >1 rows)      | `MatrixExpanded { job, legs }` before anything starts  |
//! | `GroupStarted { title, .. }`       | `Log { text: "▸ title" }`                              |
//!
//! Steps of composite actions (`3.1`) are reported under their top-level step. A launcher
//! masks every string it reports (the engine's events are masked by the runner at its one
//! choke point); the daemon stores what it is given.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything a launcher needs to execute one run, fixed when the run was queued. Its
/// `Debug` output names the secrets but never shows their values.
#[derive(Clone, Serialize, Deserialize)]
pub struct QueuedRun {
    pub run_id: i64,
    /// 1 for the first attempt; re-runs and re-queues after a crash count up.
    pub attempt: u32,
    /// `owner/repo`.
    pub repo: String,
    /// Where the repository was fetched from (local path or `file://` URL).
    pub repo_url: String,
    /// The event name (`github.event_name`).
    pub event: String,
    /// The webhook payload (`github.event`).
    pub payload: Value,
    /// `github.ref` and `github.sha`.
    pub git_ref: String,
    pub sha: String,
    /// `.github/workflows/ci.yml`.
    pub workflow_path: String,
    /// The workflow file's text at `sha`.
    pub workflow_source: String,
    /// The jobs to execute, in topological order. A re-run of failed jobs lists only those
    /// and their dependents; the others keep their earlier results.
    pub jobs: Vec<PlannedJobInfo>,
    /// `inputs` for `workflow_dispatch`.
    pub inputs: Option<Value>,
    pub secrets: BTreeMap<String, String>,
    pub variables: BTreeMap<String, String>,
    /// `runs-on` label → image, from the configuration.
    pub labels: BTreeMap<String, String>,
    /// A directory reserved for this run attempt, holding the repository's files at `sha`
    /// (removed when the run ends).
    pub workspace: PathBuf,
    /// The embedded package registry and this run's `GITHUB_TOKEN` for it (`None` when the
    /// daemon hosts no registry). Never logged; masked like a secret.
    #[serde(default, skip_serializing)]
    pub packages: Option<PackagesAccess>,
    /// The runner services (artifacts, caches) and this run's `ACTIONS_RUNTIME_TOKEN` for
    /// them (`None` when `[services] enabled = false`). Never logged; masked like a secret;
    /// revoked when the run ends.
    #[serde(default, skip_serializing)]
    pub services: Option<ServicesAccess>,
}

impl std::fmt::Debug for QueuedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedRun")
            .field("run_id", &self.run_id)
            .field("attempt", &self.attempt)
            .field("repo", &self.repo)
            .field("event", &self.event)
            .field("git_ref", &self.git_ref)
            .field("sha", &self.sha)
            .field("workflow_path", &self.workflow_path)
            .field("jobs", &self.jobs)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("variables", &self.variables)
            .field("labels", &self.labels)
            .field("workspace", &self.workspace)
            .field("packages", &self.packages)
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// Where a run reaches the daemon's package registry, and with which token.
#[derive(Clone, Deserialize)]
pub struct PackagesAccess {
    /// `http://127.0.0.1:8080`: the daemon's own address.
    pub url: String,
    /// Minted for this run: the repository owner's packages, read and write, for a few hours.
    pub token: String,
}

/// The token stays out of debug output.
impl std::fmt::Debug for PackagesAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackagesAccess")
            .field("url", &self.url)
            .field("token", &"***")
            .finish()
    }
}

/// Where a run reaches the daemon's runner services, and with which token.
#[derive(Clone, Deserialize)]
pub struct ServicesAccess {
    /// The daemon's own address (`ACTIONS_RUNTIME_URL`, `ACTIONS_RESULTS_URL`,
    /// `ACTIONS_CACHE_URL`).
    pub url: String,
    /// `ACTIONS_RUNTIME_TOKEN`: this run's artifacts, its repository's caches.
    pub token: String,
    /// The run's `GITHUB_TOKEN` as the services' REST API (`GITHUB_API_URL`) accepts it: the
    /// package token when the daemon hosts the registry, else one minted for the services.
    #[serde(default)]
    pub api_token: String,
}

impl ServicesAccess {
    /// The variables GitHub's runner gives every step for the services.
    pub fn env(&self) -> Vec<(String, String)> {
        gantry_services::job_env(&self.url, &self.token)
    }

    /// `GITHUB_API_URL`: the services' slice of GitHub's REST API.
    pub fn api_url(&self) -> String {
        gantry_services::api_url(&self.url)
    }
}

/// The token stays out of debug output.
impl std::fmt::Debug for ServicesAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicesAccess")
            .field("url", &self.url)
            .field("token", &"***")
            .field("api_token", &"***")
            .finish()
    }
}

/// One job of a planned run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedJobInfo {
    /// The job id (`build`).
    pub key: String,
    /// The display name (`name:` or the id).
    pub name: String,
    pub needs: Vec<String>,
}

/// How something ended: the engine's own type, so a run's result needs no translation.
pub use gantry_runner::Conclusion;

/// An annotation's level (`::error::`, `::warning::`, `::notice::`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

/// Progress of a run, in the order it happened. Jobs are named by their key; a launcher that
/// expands matrices reports each leg under its own key (`build (ubuntu, 20)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// A matrix job expanded into legs before any of them started: the legs (key, display
    /// name) replace the job's single queued row, so every row is visible while it waits.
    MatrixExpanded {
        job: String,
        legs: Vec<(String, String)>,
    },
    JobStarted {
        job: String,
        name: String,
    },
    StepStarted {
        job: String,
        number: u32,
        name: String,
    },
    /// Output text; `step` is `None` for job-level output (set-up, tear-down).
    Log {
        job: String,
        step: Option<u32>,
        text: String,
    },
    StepFinished {
        job: String,
        number: u32,
        conclusion: Conclusion,
    },
    JobFinished {
        job: String,
        conclusion: Conclusion,
    },
    Annotation {
        job: String,
        level: AnnotationLevel,
        message: String,
        file: Option<String>,
        line: Option<u32>,
    },
    /// The job's `$GITHUB_STEP_SUMMARY` markdown (appended across steps).
    Summary {
        job: String,
        markdown: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub conclusion: Conclusion,
    /// Why, when it did not succeed for reasons outside the steps (cancelled, engine error).
    pub reason: Option<String>,
}

impl RunOutcome {
    pub fn new(conclusion: Conclusion) -> RunOutcome {
        RunOutcome {
            conclusion,
            reason: None,
        }
    }

    pub fn with_reason(conclusion: Conclusion, reason: impl Into<String>) -> RunOutcome {
        RunOutcome {
            conclusion,
            reason: Some(reason.into()),
        }
    }
}

/// Executes runs. The daemon calls [`RunLauncher::run`] from up to `capacity` tasks at once.
#[async_trait::async_trait]
pub trait RunLauncher: Send + Sync + 'static {
    /// Executes `run`, sending progress on `events`, and returns when it is over. When `cancel`
    /// fires the launcher stops its processes promptly and returns
    /// [`Conclusion::Cancelled`]. A closed `events` channel is not an error.
    async fn run(
        &self,
        run: QueuedRun,
        events: mpsc::Sender<RunEvent>,
        cancel: CancellationToken,
    ) -> RunOutcome;

    /// Removes whatever runs in flight at a crash left behind (processes, directories,
    /// containers, networks), and only this daemon's. Called once at start-up, before queued
    /// runs start. The engine kills host steps' sessions and removes this daemon's owner's
    /// objects (`gantry_docker::Selection::Owner`).
    async fn reap(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secret_values_and_the_token() {
        let run = QueuedRun {
            run_id: 1,
            attempt: 1,
            repo: "o/r".into(),
            repo_url: "/r".into(),
            event: "push".into(),
            payload: Value::Null,
            git_ref: "refs/heads/main".into(),
            sha: "0".into(),
            workflow_path: "w.yml".into(),
            workflow_source: String::new(),
            jobs: Vec::new(),
            inputs: None,
            secrets: BTreeMap::from([("KEY".to_owned(), "hunter2".to_owned())]),
            variables: BTreeMap::new(),
            labels: BTreeMap::new(),
            workspace: PathBuf::from("/w"),
            packages: Some(PackagesAccess {
                url: "http://127.0.0.1:1".into(),
                token: "ghs_tok".into(),
            }),
            services: Some(ServicesAccess {
                url: "http://127.0.0.1:1".into(),
                token: "eyJ.runtime".into(),
                api_token: "ghs_api".into(),
            }),
        };
        let shown = format!("{run:?}");
        assert!(shown.contains("KEY"), "{shown}");
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("ghs_tok")
                && !shown.contains("eyJ")
                && !shown.contains("ghs_api"),
            "{shown}"
        );
    }
}
