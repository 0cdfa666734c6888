//! One job instance from start to end: environment, steps, outputs, cleanup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gantry_workflow::{Job, OrExpr, RunsOn};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::calls::CallScope;
use crate::context::{
    GithubInfo, HashFiles, LocalHashFiles, NeedRecord, RunnerInfo, Scope, Status, StepGithub,
    StepRecord, needs_context, string_map,
};
use crate::dispatcher::{Dispatch, RunOptions};
use crate::event::{Conclusion, LogStream, RunEvent, StepRef};
use crate::executor::{ContainerSpec, Executor, JobEnvironment, JobSpec, Platform};
use crate::file_commands::PrependPath;
use crate::mask::{Masker, SharedMasker};
use crate::step::StepError;
use crate::workflow_commands::{Annotation, AnnotationLevel};

/// What every job of a run shares.
pub(crate) struct RunShared {
    pub options: RunOptions,
    pub executor: Arc<dyn Executor>,
    /// The run's secrets and token: what every job's masker starts from, and what masks the
    /// events the dispatcher makes itself.
    pub masker: Masker,
}

impl RunShared {
    /// The masker for a run's options: every secret, the masked values and the `GITHUB_TOKEN`.
    pub fn masker_for(options: &RunOptions) -> Masker {
        let mut masker = Masker::new();
        for secret in options.secrets.values().chain(&options.masked_values) {
            masker.add(secret);
        }
        masker.add(&options.github.token);
        masker
    }
}

/// One job to run (a matrix row is one instance).
#[derive(Debug, Clone)]
pub(crate) struct JobInstance {
    /// The workflow the job is in (the run's, or one it calls).
    pub scope: Arc<CallScope>,
    pub key: String,
    pub id: String,
    pub name: String,
    pub matrix: Option<Map<String, Json>>,
    pub strategy: Json,
    pub needs: IndexMap<String, NeedRecord>,
    pub cancel: CancellationToken,
}

#[derive(Debug, Clone)]
pub(crate) struct JobOutcome {
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
    pub outputs: Map<String, Json>,
}

/// Sends events to the dispatcher together with the masker in force for them (the run's, or
/// the job's once it has one); the dispatcher masks them.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::UnboundedSender<Dispatch>,
    masker: SharedMasker,
}

impl EventSink {
    pub fn new(tx: mpsc::UnboundedSender<Dispatch>, masker: SharedMasker) -> Self {
        Self { tx, masker }
    }

    /// The same channel, masked with `masker` (a job's, which grows with `add-mask`).
    pub fn with_masker(&self, masker: SharedMasker) -> Self {
        Self {
            tx: self.tx.clone(),
            masker,
        }
    }

    pub fn send(&self, event: RunEvent) {
        // The dispatcher outlives every job task; a send can only fail while shutting down.
        let _ = self.tx.send(Dispatch::Event(event, self.masker.clone()));
    }
}

/// The scope steps run in: the job itself, or a composite action's steps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame {
    pub steps: IndexMap<String, StepRecord>,
    pub failed: bool,
    /// `inputs` (a composite action's, or the workflow's).
    pub inputs: Option<Json>,
    pub action_path: String,
    /// `github.action_repository` / `github.action_ref`: set inside a remote action.
    pub action_repository: String,
    pub action_ref: String,
    /// `env` as the steps of this frame start from (workflow + job, or the calling step's).
    pub env: IndexMap<String, String>,
    pub depth: usize,
    /// Stops this frame's steps: the job's token, or a composite step's (its timeout bounds the
    /// nested steps).
    pub cancel: CancellationToken,
}

/// The mutable state of one running job, owned by its task.
pub(crate) struct JobRunner<'a> {
    pub shared: &'a RunShared,
    pub inst: &'a JobInstance,
    pub env: &'a dyn JobEnvironment,
    pub events: EventSink,
    pub runner: RunnerInfo,
    /// The job's masker (secrets, token, `add-mask` values); shared with [`Self::events`].
    pub masker: SharedMasker,
    /// Variables set through `GITHUB_ENV` (and `set-env`).
    pub env_file: IndexMap<String, String>,
    pub prepend_path: PrependPath,
    pub state: IndexMap<String, String>,
    pub step_counter: usize,
    /// `GITHUB_ACTION` names handed out in this job, and the running step's.
    pub action_names: crate::step_names::ActionNames,
    pub step_action: Option<String>,
    pub event_path: String,
    pub hash: Option<LocalHashFiles>,
    /// Node actions' `post` scripts, run at the end of the job in reverse order.
    pub post_steps: Vec<crate::step::PostStep>,
    /// Remote actions downloaded into the job, and what their `pre` steps saved.
    pub remote: crate::step::RemoteActions,
    /// The `job.container` / `job.services` contexts.
    pub containers: Json,
    /// What the running step's output said that a failure hint may explain.
    pub clues: crate::hints::OutputClues,
}

impl JobRunner<'_> {
    pub fn github(&self) -> &GithubInfo {
        &self.shared.options.github
    }

    pub fn emit(&self, event: RunEvent) {
        self.events.send(event);
    }

    pub fn log(&self, step: Option<&StepRef>, stream: LogStream, line: &str) {
        self.emit(RunEvent::Log {
            job: self.inst.key.clone(),
            step: step.cloned(),
            stream,
            line: line.to_owned(),
        });
    }

    pub fn annotate(&self, step: Option<&StepRef>, mut annotation: Annotation) {
        // Like the runner, a file under the workspace is shown relative to it.
        let workspace = format!("{}/", self.env.paths().workspace.trim_end_matches('/'));
        annotation.file = annotation
            .file
            .map(|f| f.strip_prefix(&workspace).map_or(f.clone(), str::to_owned));
        self.emit(RunEvent::Annotation {
            job: self.inst.key.clone(),
            step: step.cloned(),
            annotation,
        });
    }

    pub fn error(&self, step: Option<&StepRef>, message: impl Into<String>) {
        self.annotate(step, Annotation::plain(AnnotationLevel::Error, message));
    }

    pub fn warning(&self, step: Option<&StepRef>, message: impl Into<String>) {
        self.annotate(step, Annotation::plain(AnnotationLevel::Warning, message));
    }

    /// The expression scope for a step in `frame` with `env` as the `env` context.
    pub fn scope(&self, frame: &Frame, env: &IndexMap<String, String>) -> Scope<'_> {
        let status = Status::Step {
            failed: frame.failed,
            cancelled: frame.cancel.is_cancelled(),
        };
        let mut scope = Scope::new(status, self.hash.as_ref().map(|h| h as &dyn HashFiles));
        let vars = self.step_vars(frame, "");
        scope.set("github", self.github().step_context(&vars));
        scope.set("env", string_map(env));
        self.set_common(&mut scope);
        scope.set("runner", self.runner.context());
        scope.set("steps", crate::context::steps_context(&frame.steps));
        let job_status = if frame.cancel.is_cancelled() {
            "cancelled"
        } else if frame.failed {
            "failure"
        } else {
            "success"
        };
        let mut job = self.containers.clone();
        if let Json::Object(map) = &mut job {
            map.insert("status".to_owned(), json!(job_status));
        }
        scope.set("job", job);
        if let Some(inputs) = &frame.inputs {
            scope.set("inputs", inputs.clone());
        }
        scope
    }

    fn set_common(&self, scope: &mut Scope<'_>) {
        set_common(scope, self.shared, self.inst);
    }

    pub fn step_vars(&self, frame: &Frame, action: &str) -> crate::context::StepVars {
        crate::context::StepVars {
            job: self.inst.id.clone(),
            // The running step's name (its id, `__run`, ...); `action` names what runs for
            // steps outside one (post scripts).
            action: self
                .step_action
                .clone()
                .unwrap_or_else(|| action.to_owned()),
            action_path: frame.action_path.clone(),
            action_repository: frame.action_repository.clone(),
            action_ref: frame.action_ref.clone(),
            workspace: self.env.paths().workspace.clone(),
            event_path: self.event_path.clone(),
            files: Vec::new(),
        }
    }

    /// A fresh id for generated file names and `GITHUB_ACTION`.
    pub fn next_step_number(&mut self) -> usize {
        self.step_counter += 1;
        self.step_counter
    }
}

/// Contexts every evaluation in a job sees.
fn set_common(scope: &mut Scope<'_>, shared: &RunShared, inst: &JobInstance) {
    scope.set("vars", string_map(&shared.options.vars));
    scope.set(
        "secrets",
        secrets_context(&shared.options, &inst.scope.secrets),
    );
    scope.set("needs", needs_context(&inst.needs));
    scope.set("strategy", inst.strategy.clone());
    scope.set(
        "matrix",
        inst.matrix.clone().map_or(Json::Null, Json::Object),
    );
    if let Some(inputs) = &inst.scope.inputs {
        scope.set("inputs", Json::Object(inputs.clone()));
    }
}

/// A workflow's secrets; every workflow, called ones too, gets `GITHUB_TOKEN`.
fn secrets_context(options: &RunOptions, secrets: &IndexMap<String, String>) -> Json {
    let mut secrets = secrets.clone();
    secrets
        .entry("GITHUB_TOKEN".to_owned())
        .or_insert_with(|| options.github.token.clone());
    string_map(&secrets)
}

/// A scope for job-level keys (`runs-on`, `env`, `container`, `outputs` come later).
pub(crate) fn job_scope<'s>(shared: &'s RunShared, inst: &'s JobInstance) -> Scope<'s> {
    let mut scope = Scope::new(
        Status::Step {
            failed: false,
            cancelled: inst.cancel.is_cancelled(),
        },
        None,
    );
    let vars = crate::context::StepVars {
        job: inst.id.clone(),
        ..Default::default()
    };
    scope.set("github", shared.options.github.step_context(&vars));
    set_common(&mut scope, shared, inst);
    scope
}

/// Runs one job instance to the end (cleanup included) and reports how it went.
pub(crate) async fn run_job(
    shared: Arc<RunShared>,
    inst: JobInstance,
    events: EventSink,
) -> JobOutcome {
    let started = Instant::now();
    events.send(RunEvent::JobStarted {
        job: inst.key.clone(),
        job_id: inst.id.clone(),
        name: inst.name.clone(),
        matrix: inst.matrix.clone().map(Json::Object),
    });
    let outcome = run_job_inner(&shared, &inst, &events).await;
    let conclusion = match (outcome.outcome, continue_on_error(&shared, &inst)) {
        (Conclusion::Failure, true) => Conclusion::Success,
        (other, _) => other,
    };
    events.send(RunEvent::JobFinished {
        job: inst.key.clone(),
        job_id: inst.id.clone(),
        name: inst.name.clone(),
        outcome: outcome.outcome,
        conclusion,
        duration_ms: millis(started.elapsed()),
        outputs: outcome.outputs.clone(),
    });
    JobOutcome {
        conclusion,
        ..outcome
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn continue_on_error(shared: &RunShared, inst: &JobInstance) -> bool {
    let Some(job) = inst.scope.job(&inst.id) else {
        return false;
    };
    match job.continue_on_error.as_ref().map(|c| &c.value) {
        Some(OrExpr::Value(b)) => *b,
        Some(OrExpr::Expr(source)) => job_scope(shared, inst)
            .eval_value(source)
            .is_ok_and(|v| v.is_truthy()),
        None => false,
    }
}

/// A job-level failure before any step ran (no platform, executor error): reported as an
/// annotation on the job.
fn early_failure(events: &EventSink, inst: &JobInstance, message: String) -> JobOutcome {
    events.send(RunEvent::Annotation {
        job: inst.key.clone(),
        step: None,
        annotation: Annotation::plain(AnnotationLevel::Error, message),
    });
    JobOutcome {
        outcome: Conclusion::Failure,
        conclusion: Conclusion::Failure,
        outputs: Map::new(),
    }
}

async fn run_job_inner(shared: &RunShared, inst: &JobInstance, events: &EventSink) -> JobOutcome {
    let Some(job) = inst.scope.job(&inst.id) else {
        return early_failure(
            events,
            inst,
            format!("job '{}' is not in the workflow", inst.id),
        );
    };
    if let Some(uses) = &job.uses {
        // The engine runs resolved calls itself; this one was planned without its callee.
        return early_failure(
            events,
            inst,
            format!(
                "reusable workflow '{}' was not loaded: plan the run with the called workflows",
                uses.value
            ),
        );
    }
    let spec = match job_spec(shared, inst, job) {
        Ok(spec) => spec,
        Err(SpecError::NoPlatform(labels)) if !shared.options.strict_platforms => {
            return skipped_for_platform(events, inst, &labels);
        }
        Err(SpecError::NoPlatform(labels)) => {
            return early_failure(events, inst, no_platform_message(&labels));
        }
        Err(SpecError::Invalid(e)) => return early_failure(events, inst, e.to_string()),
    };
    let spec_on_host = spec.platform == Platform::Host && spec.container.is_none();
    let environment = match shared.executor.start_job(spec).await {
        Ok(env) => env,
        Err(e) => {
            return early_failure(
                events,
                inst,
                format!("cannot start the job environment: {e}"),
            );
        }
    };
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = job_timer(shared, inst, job, timed_out.clone());
    let on_host = spec_on_host;
    let mut outcome =
        run_in_environment(shared, inst, job, environment.as_ref(), events, on_host).await;
    timer.abort();
    if timed_out.load(Ordering::SeqCst) {
        let minutes = job_timeout_minutes(shared, inst, job);
        events.send(RunEvent::Annotation {
            job: inst.key.clone(),
            step: None,
            annotation: Annotation::plain(
                AnnotationLevel::Error,
                format!("The job running on runner gantry has exceeded the maximum execution time of {minutes} minutes."),
            ),
        });
        outcome.outcome = Conclusion::Failure;
    }
    if let Err(e) = environment.cleanup().await {
        events.send(RunEvent::Annotation {
            job: inst.key.clone(),
            step: None,
            annotation: Annotation::plain(AnnotationLevel::Warning, format!("cleanup failed: {e}")),
        });
    }
    outcome
}

fn job_timeout_minutes(shared: &RunShared, inst: &JobInstance, job: &Job) -> f64 {
    minutes(
        job.timeout_minutes.as_ref().map(|t| &t.value),
        &job_scope(shared, inst),
    )
    .unwrap_or(360.0)
}

/// Reads a `timeout-minutes` value (a number or an expression).
pub(crate) fn minutes(value: Option<&OrExpr<f64>>, scope: &Scope<'_>) -> Option<f64> {
    match value? {
        OrExpr::Value(m) => Some(*m),
        OrExpr::Expr(source) => scope.eval_value(source).ok().map(|v| v.to_number()),
    }
    .filter(|m| m.is_finite() && *m > 0.0)
}

/// Cancels the job when `timeout-minutes` (default 360) passes.
fn job_timer(
    shared: &RunShared,
    inst: &JobInstance,
    job: &Job,
    flag: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let limit = Duration::from_secs_f64(job_timeout_minutes(shared, inst, job) * 60.0);
    let cancel = inst.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(limit).await;
        flag.store(true, Ordering::SeqCst);
        cancel.cancel();
    })
}

/// Why a job's environment cannot be described.
#[derive(Debug)]
pub(crate) enum SpecError {
    /// No `-P` mapping (and no default) for any of these `runs-on` labels.
    NoPlatform(Vec<String>),
    Invalid(StepError),
}

impl SpecError {
    /// Why the job would not run, for `--explain`.
    pub(crate) fn explain(&self, strict: bool) -> String {
        match self {
            SpecError::NoPlatform(labels) if strict => no_platform_message(labels),
            SpecError::NoPlatform(labels) => format!(
                "no platform for runs-on [{}]: it is skipped (map a label with -P LABEL=IMAGE|host)",
                labels.join(", ")
            ),
            SpecError::Invalid(e) => e.to_string(),
        }
    }
}

impl From<StepError> for SpecError {
    fn from(error: StepError) -> Self {
        SpecError::Invalid(error)
    }
}

fn no_platform_message(labels: &[String]) -> String {
    format!(
        "no platform for runs-on [{}]; map a label to an image or to the host with -P LABEL=IMAGE|host",
        labels.join(", ")
    )
}

/// What local runners do for a job whose runner they cannot provide (a `macos-latest` row of a
/// matrix): skip it with a notice that says how to map the label, and let the run succeed;
/// `--strict-platforms` makes it a failure instead.
fn skipped_for_platform(events: &EventSink, inst: &JobInstance, labels: &[String]) -> JobOutcome {
    let first = labels.first().map_or("LABEL", String::as_str);
    events.send(RunEvent::Annotation {
        job: inst.key.clone(),
        step: None,
        annotation: Annotation::plain(
            AnnotationLevel::Notice,
            format!(
                "skipped: no platform for runs-on [{}]; map it with -P {first}=IMAGE or -P {first}=host to run it (--strict-platforms fails such jobs instead)",
                labels.join(", ")
            ),
        ),
    });
    JobOutcome {
        outcome: Conclusion::Skipped,
        conclusion: Conclusion::Skipped,
        outputs: Map::new(),
    }
}

fn job_spec(shared: &RunShared, inst: &JobInstance, job: &Job) -> Result<JobSpec, SpecError> {
    let scope = job_scope(shared, inst);
    let platform = platform(shared, job, &scope)?;
    // GitHub starts no container for an image that evaluates to an empty string
    // (`image: ${{ matrix.db == 'pg' && 'postgres' || '' }}`): the job runs on the runner
    // itself, and such a service is not started.
    let container = match &job.container {
        Some(c) => Some(container_spec(&c.value, &scope)?).filter(|c| !c.image.trim().is_empty()),
        None => None,
    };
    let mut services = IndexMap::new();
    for (id, service) in &job.services {
        let spec = container_spec(&service.value, &scope)?;
        if !spec.image.trim().is_empty() {
            services.insert(id.clone(), spec);
        }
    }
    Ok(JobSpec {
        run_id: shared.options.run_id.clone(),
        job_key: inst.key.clone(),
        platform,
        container,
        services,
        workspace_source: shared.options.workspace_source.clone(),
        repository: shared.options.github.repository.clone(),
        docker_socket: shared.options.docker_socket,
        keep: shared.options.keep_containers,
    })
}

pub(crate) fn platform(
    shared: &RunShared,
    job: &Job,
    scope: &Scope<'_>,
) -> Result<Platform, SpecError> {
    let labels: Vec<String> = match job.runs_on.as_ref().map(|r| &r.value) {
        None => Vec::new(),
        Some(RunsOn::Labels { labels, .. }) => labels
            .iter()
            .map(|l| scope.eval_string(&l.value))
            .collect::<Result<_, _>>()
            .map_err(|e| StepError::at("runs-on", e))?,
        Some(RunsOn::Expr(source)) => {
            let value = scope
                .eval_value(source)
                .map_err(|e| StepError::at("runs-on", e))?;
            match value {
                gantry_expr::Value::Array(items) => {
                    items.iter().map(|v| v.to_display_string()).collect()
                }
                other => vec![other.to_display_string()],
            }
        }
    };
    let platforms = &shared.options.platforms;
    labels
        .iter()
        .find_map(|l| platforms.get(&l.to_ascii_lowercase()).cloned())
        .or_else(|| shared.options.default_platform.clone())
        .ok_or(SpecError::NoPlatform(labels))
}

fn container_spec(
    c: &gantry_workflow::Container,
    scope: &Scope<'_>,
) -> Result<ContainerSpec, StepError> {
    let eval = |s: &str| {
        scope
            .eval_string(s)
            .map_err(|e| StepError::at("container", e))
    };
    let mut env = IndexMap::new();
    for (k, v) in &c.env {
        env.insert(k.clone(), eval(&v.value)?);
    }
    let credentials = match &c.credentials {
        Some(cr) => Some((
            eval(&cr.value.username.value)?,
            eval(&cr.value.password.value)?,
        )),
        None => None,
    };
    Ok(ContainerSpec {
        image: eval(&c.image.value)?,
        env,
        volumes: c
            .volumes
            .iter()
            .map(|v| eval(&v.value))
            .collect::<Result<_, _>>()?,
        ports: c
            .ports
            .iter()
            .map(|v| eval(&v.value))
            .collect::<Result<_, _>>()?,
        options: c.options.as_ref().map(|o| eval(&o.value)).transpose()?,
        credentials,
    })
}

async fn run_in_environment(
    shared: &RunShared,
    inst: &JobInstance,
    job: &Job,
    environment: &dyn JobEnvironment,
    events: &EventSink,
    on_host: bool,
) -> JobOutcome {
    let paths = environment.paths().clone();
    // A called workflow's secrets may be values the caller computed, so they are masked too.
    let mut masker = shared.masker.clone();
    for secret in inst.scope.secrets.values() {
        masker.add(secret);
    }
    let masker = SharedMasker::new(masker);
    let runner = RunnerInfo {
        os: "Linux".into(),
        arch: "X64".into(),
        name: "gantry".into(),
        temp: paths.temp.clone(),
        tool_cache: paths.tool_cache.clone(),
        home: paths.home.clone(),
        workspace: paths.workspace.clone(),
        debug: step_debug(&shared.options),
    };
    let event_path = format!("{}/_github_workflow/event.json", paths.temp);
    let mut runner = JobRunner {
        shared,
        inst,
        env: environment,
        events: events.with_masker(masker.clone()),
        runner,
        masker,
        env_file: IndexMap::new(),
        prepend_path: PrependPath::default(),
        state: IndexMap::new(),
        step_counter: 0,
        action_names: Default::default(),
        step_action: None,
        event_path: event_path.clone(),
        hash: hash_root(shared, environment, on_host, &paths.workspace)
            .map(|root| LocalHashFiles { root }),
        post_steps: Vec::new(),
        remote: Default::default(),
        containers: containers_context(&environment.containers()),
        clues: Default::default(),
    };
    let payload = serde_json::to_vec_pretty(&shared.options.github.event).unwrap_or_default();
    if let Err(e) = environment.write_file(&event_path, &payload).await {
        return early_failure(events, inst, format!("cannot write the event payload: {e}"));
    }
    let mut frame = match job_frame(&runner, job) {
        Ok(frame) => frame,
        Err(e) => return early_failure(events, inst, e.to_string()),
    };
    // GitHub's "Set up job": every remote action is resolved and downloaded first (a missing
    // one fails the job before any step), then the `pre` steps run.
    if let Err(e) = runner.prepare_actions(&job.steps, 0).await {
        return early_failure(events, inst, e.to_string());
    }
    runner.run_pre_steps(&job.steps, &mut frame).await;
    runner.run_steps(&job.steps, &mut frame, "").await;
    runner.run_post_steps(&mut frame).await;
    let outputs = job_outputs(&runner, job, &frame);
    let outcome = if inst.cancel.is_cancelled() && !frame.failed {
        Conclusion::Cancelled
    } else if frame.failed {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    JobOutcome {
        outcome,
        conclusion: outcome,
        outputs,
    }
}

/// Debug output is on when asked for, or when the `ACTIONS_STEP_DEBUG` / `ACTIONS_RUNNER_DEBUG`
/// secret or variable is `true`, as on GitHub.
fn step_debug(options: &RunOptions) -> bool {
    let on = |map: &IndexMap<String, String>, key: &str| {
        map.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    options.step_debug
        || ["ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG"]
            .iter()
            .any(|k| on(&options.secrets, k) || on(&options.vars, k))
}

/// Where `hashFiles` looks: the job's own workspace when it is a directory of this machine
/// (so files steps created count), else the source the workspace was copied from.
fn hash_root(
    shared: &RunShared,
    environment: &dyn JobEnvironment,
    on_host: bool,
    workspace: &str,
) -> Option<std::path::PathBuf> {
    if let Some(local) = environment.local_workspace() {
        return Some(local);
    }
    if on_host {
        return Some(std::path::PathBuf::from(workspace));
    }
    shared.options.workspace_source.clone()
}

/// `job.container` and `job.services` as GitHub shows them (absent for a job without them).
fn containers_context(containers: &crate::executor::JobContainers) -> Json {
    let info = |c: &crate::executor::ContainerInfo| json!({ "id": c.id, "network": c.network, "ports": c.ports });
    let mut job = Map::new();
    if let Some(c) = &containers.container {
        job.insert(
            "container".to_owned(),
            json!({ "id": c.id, "network": c.network }),
        );
    }
    if !containers.services.is_empty() {
        let services: Map<String, Json> = containers
            .services
            .iter()
            .map(|(id, c)| (id.clone(), info(c)))
            .collect();
        job.insert("services".to_owned(), Json::Object(services));
    }
    Json::Object(job)
}

/// The job's starting frame: workflow `env` < job `env`, evaluated in order.
fn job_frame(runner: &JobRunner<'_>, job: &Job) -> Result<Frame, StepError> {
    let mut frame = Frame {
        inputs: runner.inst.scope.inputs.clone().map(Json::Object),
        cancel: runner.inst.cancel.clone(),
        ..Frame::default()
    };
    for level in [&runner.inst.scope.workflow.env, &job.env] {
        for (name, value) in level {
            let scope = runner.scope(&frame, &frame.env);
            let value = scope
                .eval_string(&value.value)
                .map_err(|e| StepError::at(format!("env.{name}"), e))?;
            frame.env.insert(name.clone(), value);
        }
    }
    Ok(frame)
}

/// `jobs.<id>.outputs`, evaluated after the last step. Values holding a secret are dropped, as
/// GitHub does.
fn job_outputs(runner: &JobRunner<'_>, job: &Job, frame: &Frame) -> Map<String, Json> {
    let mut outputs = Map::new();
    let env = runner.env_context(frame);
    let scope = runner.scope(frame, &env);
    for (name, template) in &job.outputs {
        match scope.eval_string(&template.value) {
            Ok(value) if runner.masker.mask(&value) != value => {
                runner.warning(
                    None,
                    format!("Skip output '{name}' since it may contain secret."),
                );
            }
            Ok(value) => {
                outputs.insert(name.clone(), Json::String(value));
            }
            Err(e) => runner.error(None, format!("outputs.{name}: {e}")),
        }
    }
    outputs
}
