//! [`EngineLauncher`]: runs queued runs with the real engine (`gantry-runner`) on
//! `gantry-docker`'s executors — containers for labels mapped to images, host processes for
//! labels mapped to `host`.
//!
//! The daemon fixes everything a run needs when it claims it ([`QueuedRun`]), including the
//! run's `GITHUB_TOKEN` for the embedded package registry; this adapter only translates.

use std::path::PathBuf;
use std::sync::Arc;

use gantry_docker::{DockerExecutor, HostExecutor, RoutingExecutor};
use gantry_plan::{CallTarget, Event, PlanContext, WorkflowOutcome, plan_workflow_resolving};
use gantry_runner::executor::{Executor, Platform};
use gantry_runner::{ActionRegistry, GithubInfo, RunOptions};
use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actions::read_callee;
use crate::job_groups::{GroupedExecutor, JobGroups};
use crate::launcher::{AnnotationLevel, Conclusion, QueuedRun, RunEvent, RunLauncher, RunOutcome};
use crate::planner::job_groups;

/// The label value that runs a job's steps as processes on the daemon's machine.
pub const HOST_LABEL: &str = "host";

/// Runs queued runs with `gantry_runner::run`.
pub struct EngineLauncher {
    executor: Arc<dyn Executor>,
    /// Job-level `concurrency:` groups, shared by every run.
    groups: Arc<JobGroups>,
    /// The Docker executor (its owner labels what runs create), for reaping at start.
    docker: Option<DockerExecutor>,
    /// Host jobs' directories, reaped at start.
    host: HostExecutor,
    /// Jobs running at once within one run.
    max_jobs: usize,
    /// The action store remote actions resolve through (none: they fail their job).
    action_source: Option<Arc<dyn gantry_runner::ActionSource>>,
}

impl EngineLauncher {
    /// Connects to Docker when it is reachable; without it only `host` labels run. Host jobs
    /// get their directories under `host_dir`. What runs create in Docker is labelled with
    /// the daemon's `instance_id`, so that recovery removes only this daemon's objects.
    pub async fn connect(host_dir: impl Into<PathBuf>, instance_id: &str) -> EngineLauncher {
        let owner = gantry_docker::Owner::Daemon(instance_id.to_owned());
        let docker = match DockerExecutor::connect().await {
            Ok(docker) => Some(docker.with_owner(owner)),
            Err(e) => {
                tracing::warn!(error = %e, "docker is unavailable: only `host` labels can run");
                None
            }
        };
        EngineLauncher::with_docker(docker, host_dir)
    }

    /// Host jobs only (no Docker).
    pub fn host_only(host_dir: impl Into<PathBuf>) -> EngineLauncher {
        EngineLauncher::with_docker(None, host_dir)
    }

    /// With a given Docker executor (or none), which keeps its owner.
    pub fn with_docker(docker: Option<DockerExecutor>, host_dir: impl Into<PathBuf>) -> Self {
        let host = HostExecutor::new(host_dir);
        let executor = RoutingExecutor::new(docker.clone(), host.clone());
        EngineLauncher {
            executor: Arc::new(executor),
            groups: Arc::default(),
            docker,
            host,
            max_jobs: 4,
            action_source: None,
        }
    }

    /// Remote actions come from `source` (the daemon's `[actions]` store).
    pub fn with_action_source(mut self, source: Arc<dyn gantry_runner::ActionSource>) -> Self {
        self.action_source = Some(source);
        self
    }

    /// Whether container labels can run.
    pub fn has_docker(&self) -> bool {
        self.docker.is_some()
    }
}

#[async_trait::async_trait]
impl RunLauncher for EngineLauncher {
    async fn run(
        &self,
        run: QueuedRun,
        events: mpsc::Sender<RunEvent>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let parsed = gantry_workflow::parse_workflow(&run.workflow_path, &run.workflow_source);
        let has_errors = parsed.has_errors();
        let workflow = match parsed.value {
            Some(wf) if !has_errors => Arc::new(wf),
            _ => return RunOutcome::with_reason(Conclusion::Failure, "the workflow has errors"),
        };
        let plan = match plan_run(&workflow, &run, self.action_source.as_deref()) {
            Ok(WorkflowOutcome::Run(plan)) => plan,
            Ok(WorkflowOutcome::Skipped(reason)) => {
                return RunOutcome::with_reason(Conclusion::Skipped, reason.to_string());
            }
            Err(e) => return RunOutcome::with_reason(Conclusion::Failure, e.to_string()),
        };
        for event in matrix_legs(&plan) {
            let _ = events.send(event).await;
        }
        let grouped = Arc::new(self.grouped(&run, &workflow, &events, &cancel));
        let executor: Arc<dyn Executor> = if grouped.by_job.is_empty() {
            self.executor.clone()
        } else {
            grouped.clone()
        };
        let options = self.options(&run, &workflow, cancel);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let engine = gantry_runner::run(workflow, &plan, options, executor, tx);
        let forward = async {
            while let Some(event) = rx.recv().await {
                if let gantry_runner::RunEvent::JobFinished { job, .. } = &event {
                    grouped.release(job);
                }
                for mapped in map_event(event) {
                    // A closed channel means nobody records any more; the run goes on.
                    let _ = events.send(mapped).await;
                }
            }
        };
        let (result, ()) = tokio::join!(engine, forward);
        RunOutcome::new(result.conclusion)
    }

    /// Host steps first (their processes, then their directories), then this daemon's own
    /// engine objects: never another daemon's or a `gantry run`'s.
    async fn reap(&self) {
        match self.host.reap().await {
            Ok(report) if report.directories > 0 => tracing::warn!(
                processes = report.processes,
                directories = report.directories,
                "removed what interrupted host jobs left"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot remove what interrupted host jobs left"),
        }
        if let Some(docker) = &self.docker {
            let mine = gantry_docker::Selection::Owner(docker.owner().clone());
            if let Err(e) = gantry_docker::clean(docker.client(), &mine).await {
                tracing::error!(error = %e, "cannot remove what interrupted runs left in docker");
            }
        }
    }
}

impl EngineLauncher {
    /// The run's executor with its jobs' `concurrency:` groups.
    fn grouped(
        &self,
        run: &QueuedRun,
        workflow: &Arc<gantry_workflow::Workflow>,
        events: &mpsc::Sender<RunEvent>,
        cancel: &CancellationToken,
    ) -> GroupedExecutor {
        let vars = serde_json::json!(run.variables);
        let (by_job, errors) = job_groups(
            workflow,
            &github_json(run, workflow),
            run.inputs.as_ref(),
            &vars,
        );
        for error in errors {
            tracing::warn!(run = run.run_id, %error, "a job's concurrency group is not enforced");
        }
        GroupedExecutor {
            inner: self.executor.clone(),
            groups: self.groups.clone(),
            workflow: workflow.clone(),
            by_job,
            events: events.clone(),
            cancel: cancel.clone(),
            held: Default::default(),
        }
    }

    fn options(
        &self,
        run: &QueuedRun,
        workflow: &gantry_workflow::Workflow,
        cancel: CancellationToken,
    ) -> RunOptions {
        let mut options = RunOptions::new(format!("daemon-{}-{}", run.run_id, run.attempt));
        options.github = github_info(run, workflow);
        options.secrets = to_index(&run.secrets);
        options.vars = to_index(&run.variables);
        options.platforms = platforms(run);
        // A service has no one watching a notice: a job whose label no `[labels]` entry serves
        // fails with the reason, as GitHub would leave it queued for a runner forever.
        options.strict_platforms = true;
        options.workspace_source = Some(run.workspace.clone());
        options.max_jobs = self.max_jobs;
        options.cancel = cancel;
        options.actions = match &self.action_source {
            Some(source) => actions(run).with_source(source.clone()),
            None => actions(run),
        };
        if let Some(services) = &run.services {
            options.runner_env.extend(services.env());
            options.masked_values.push(services.token.clone());
        }
        options
    }
}

/// Plans the run's jobs again from the stored workflow text (the daemon stored it at queue
/// time, so a later push cannot change what runs).
fn plan_run(
    workflow: &gantry_workflow::Workflow,
    run: &QueuedRun,
    source: Option<&dyn gantry_runner::ActionSource>,
) -> Result<WorkflowOutcome, gantry_plan::PlanError> {
    let event = Event {
        git_ref: Some(run.git_ref.clone()),
        ..Event::new(run.event.clone(), event_payload(run))
    };
    let mut keys: Vec<String> = run
        .jobs
        .iter()
        .map(|j| job_id_of(workflow, &j.key))
        .collect();
    keys.sort();
    keys.dedup();
    if keys.len() == workflow.jobs.len() {
        keys.clear();
    }
    let context = PlanContext {
        github: Some(github_json(run, workflow)),
        vars: Some(serde_json::json!(run.variables)),
    };
    let resolve = |target: &CallTarget| read_callee(&run.workspace, source, target);
    plan_workflow_resolving(workflow, &event, &keys, &context, &resolve)
}

/// The workflow job a stored key belongs to: matrix legs are stored as `build-2`.
pub(crate) fn job_id_of(workflow: &gantry_workflow::Workflow, key: &str) -> String {
    if workflow.jobs.contains_key(key) {
        return key.to_owned();
    }
    match key.rsplit_once('-') {
        Some((id, n)) if n.parse::<u32>().is_ok() && workflow.jobs.contains_key(id) => {
            id.to_owned()
        }
        _ => key.to_owned(),
    }
}

/// The legs of every matrix known at plan time, keyed as the engine reports them
/// (`build-1`, `build-2`; a one-row matrix keeps the job's key), so the page lists them
/// before they start.
fn matrix_legs(plan: &gantry_plan::WorkflowPlan) -> Vec<RunEvent> {
    plan.jobs
        .iter()
        .filter_map(|job| match &job.matrix {
            gantry_plan::MatrixPlan::Rows(rows) if rows.len() > 1 => {
                Some(RunEvent::MatrixExpanded {
                    job: job.id.clone(),
                    legs: rows
                        .iter()
                        .enumerate()
                        .map(|(i, row)| (format!("{}-{}", job.id, i + 1), leg_name(&job.id, row)))
                        .collect(),
                })
            }
            _ => None,
        })
        .collect()
}

/// `build (ubuntu, 20)`, as GitHub names a leg of a job without `name:`.
fn leg_name(id: &str, row: &gantry_plan::MatrixRow) -> String {
    let values: Vec<String> = row
        .values()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    format!("{id} ({})", values.join(", "))
}

/// The `github` context as the run's steps see it outside a step (for planning and for
/// job-level concurrency groups): the same builder as the runner's.
fn github_json(run: &QueuedRun, workflow: &gantry_workflow::Workflow) -> Value {
    Value::Object(github_info(run, workflow).context())
}

/// `workflow_dispatch` inputs reach the planner through the payload, as GitHub sends them.
fn event_payload(run: &QueuedRun) -> Value {
    let mut payload = run.payload.clone();
    if let (Some(inputs), Some(object)) = (&run.inputs, payload.as_object_mut()) {
        object.entry("inputs").or_insert_with(|| inputs.clone());
    }
    payload
}

fn github_info(run: &QueuedRun, workflow: &gantry_workflow::Workflow) -> GithubInfo {
    let payload = event_payload(run);
    let facts = gantry_plan::EventFacts {
        event_name: &run.event,
        payload: &payload,
        repository: &run.repo,
        sha: &run.sha,
        git_ref: &run.git_ref,
        workflow_path: &run.workflow_path,
        workflow_name: workflow.name.as_ref().map(|n| n.value.as_str()),
    };
    let mut info = GithubInfo {
        run_id: run.run_id.to_string(),
        run_number: u64::try_from(run.run_id).unwrap_or_default(),
        run_attempt: u64::from(run.attempt),
        ..GithubInfo::for_event(&facts)
    };
    if let Some(services) = &run.services {
        // download-artifact's `run-id` reads other runs there with the run's GITHUB_TOKEN;
        // any other API call gets a 404 instead of an unreachable api.github.com.
        info.api_url = services.api_url();
        info.graphql_url = format!("{}/graphql", info.api_url);
        info.token.clone_from(&services.api_token);
    }
    if let Some(packages) = &run.packages {
        info.token = packages.token.clone();
    }
    info
}

fn to_index(map: &std::collections::BTreeMap<String, String>) -> IndexMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `runs-on` labels from the configuration: `host` runs on this machine, anything else is an
/// image.
fn platforms(run: &QueuedRun) -> IndexMap<String, Platform> {
    run.labels
        .iter()
        .map(|(label, target)| {
            let platform = if target == HOST_LABEL {
                Platform::Host
            } else {
                Platform::Image(target.clone())
            };
            (label.to_ascii_lowercase(), platform)
        })
        .collect()
}

/// The built-in actions, with checkout reading the configured repository and setup-node
/// pointing GitHub Packages at the daemon's registry.
fn actions(run: &QueuedRun) -> ActionRegistry {
    let mut actions = ActionRegistry::with_defaults();
    let source = run
        .repo_url
        .strip_prefix("file://")
        .unwrap_or(&run.repo_url);
    actions.register(
        "actions/checkout",
        Arc::new(gantry_runner::builtin::Checkout::for_repository(source)),
    );
    if let Some(packages) = &run.packages {
        let url = format!("{}/", packages.url.trim_end_matches('/'));
        actions.register(
            "actions/setup-node",
            Arc::new(gantry_runner::builtin::SetupNode::with_registry(url)),
        );
    }
    actions
}

/// The top-level step number (1-based) of a step path (`"3.1"` → 4).
fn step_number(step: &gantry_runner::StepRef) -> Option<u32> {
    let first = step.path.split('.').next()?;
    first.parse::<u32>().ok().map(|n| n + 1)
}

/// Composite actions' inner steps (`3.1`) are shown under their top-level step.
fn is_top_level(step: &gantry_runner::StepRef) -> bool {
    !step.path.contains('.')
}

/// The engine's events as the daemon stores them (see the table in [`crate::launcher`]).
pub fn map_event(event: gantry_runner::RunEvent) -> Vec<RunEvent> {
    use gantry_runner::RunEvent as E;
    let one = match event {
        E::JobStarted { job, name, .. } => RunEvent::JobStarted { job, name },
        E::StepStarted { job, step } if is_top_level(&step) => match step_number(&step) {
            Some(number) => RunEvent::StepStarted {
                job,
                number,
                name: step.name,
            },
            None => return Vec::new(),
        },
        E::StepFinished {
            job,
            step,
            conclusion: c,
            ..
        } if is_top_level(&step) => match step_number(&step) {
            Some(number) => RunEvent::StepFinished {
                job,
                number,
                conclusion: c,
            },
            None => return Vec::new(),
        },
        E::Log {
            job, step, line, ..
        } => RunEvent::Log {
            job,
            step: step.as_ref().and_then(step_number),
            text: line,
        },
        E::GroupStarted { job, step, title } => RunEvent::Log {
            job,
            step: step.as_ref().and_then(step_number),
            text: format!("▸ {title}"),
        },
        E::JobFinished {
            job, conclusion: c, ..
        } => RunEvent::JobFinished { job, conclusion: c },
        E::Annotation {
            job, annotation, ..
        } => RunEvent::Annotation {
            job,
            level: level(annotation.level),
            message: annotation.message,
            file: annotation.file,
            line: annotation.line.and_then(|l| u32::try_from(l).ok()),
        },
        E::StepSummary { job, markdown, .. } => RunEvent::Summary { job, markdown },
        _ => return Vec::new(),
    };
    vec![one]
}

fn level(level: gantry_runner::AnnotationLevel) -> AnnotationLevel {
    match level {
        gantry_runner::AnnotationLevel::Error => AnnotationLevel::Error,
        gantry_runner::AnnotationLevel::Warning => AnnotationLevel::Warning,
        gantry_runner::AnnotationLevel::Notice => AnnotationLevel::Notice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_runner::{LogStream, StepRef};

    fn step(path: &str) -> StepRef {
        StepRef {
            path: path.to_owned(),
            name: "s".to_owned(),
        }
    }

    #[test]
    fn nested_steps_fold_into_their_top_level_step() {
        let started = gantry_runner::RunEvent::StepStarted {
            job: "b".into(),
            step: step("3.1"),
        };
        assert!(map_event(started).is_empty());
        let log = gantry_runner::RunEvent::Log {
            job: "b".into(),
            step: Some(step("3.1")),
            stream: LogStream::Stdout,
            line: "hi".into(),
        };
        assert_eq!(
            map_event(log),
            vec![RunEvent::Log {
                job: "b".into(),
                step: Some(4),
                text: "hi".into()
            }]
        );
    }

    #[test]
    fn top_level_steps_are_numbered_from_one() {
        let started = gantry_runner::RunEvent::StepStarted {
            job: "b".into(),
            step: step("0"),
        };
        assert_eq!(
            map_event(started),
            vec![RunEvent::StepStarted {
                job: "b".into(),
                number: 1,
                name: "s".into()
            }]
        );
    }
}
