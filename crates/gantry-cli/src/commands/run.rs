//! `gantry run [EVENT]`: plans the workflows the event triggers and runs them, rendering the
//! runner's event stream live (text or `--json`) and storing it under `.gantry/runs/<n>/`.
//!
//! Workflows run one after another, each as its own run (own run id, own run directory).
//! Ctrl-C cancels the current run's token: running steps stop, job environments are cleaned up
//! and the command exits [`crate::exit::CANCELLED`]. A second Ctrl-C removes what the runs left
//! in the engine (best effort) and exits at once.

mod changes;
mod debug;
mod from;
mod payload;
mod settings;
pub use settings::{DEFAULT_IMAGE, default_platforms};
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::callees::{Callees, Store};
use crate::cli::RunArgs;
use crate::commands::Colors;
use crate::discover;
use crate::engine::{
    self, Conclusion, DockerExecutor, Event, GithubInfo, LogWriter, RepoInfo, RunOptions, Workflow,
    WorkflowOutcome, WorkflowPlan,
};
use crate::error::CliError;
use crate::exit::{self, Outcome};
use crate::output::{self, Paint};
use crate::registry::RunRegistry;
use crate::render::run::{PlannedWorkflow, TextRun};
use crate::render::{run_json, run_plan};
use crate::services::RunServices;

/// How long the second Ctrl-C waits for the engine to remove a run's containers.
const FORCED_CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{}", .0.join("\n"))]
    Settings(Vec<String>),
    #[error("`{}` must hold a JSON object (the webhook payload)", .0.display())]
    PayloadNotObject(PathBuf),
    #[error("no workflow triggered by `{event}` has a job named {}", quoted(.jobs))]
    UnknownJobs { event: String, jobs: Vec<String> },
    #[error("cannot create the run directory under `{}`: {source}", path.display())]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("docker engine: {0}")]
    Engine(engine::ExecutorError),
    #[error("no step of the jobs that run is named {}; name a step by its `id`, its name, its position (1, 2, ...) or `JOB.STEP`", quoted(.0))]
    UnknownSteps(Vec<String>),
    #[error("cannot watch the repository for changes: {0}")]
    Watch(String),
    #[error("--from `{0}` must name a job and a step, `JOB.STEP`")]
    FromSelector(String),
    #[error(
        "a pause needs a terminal (stdin and stdout are not one); give --pause-timeout SECS to pause without one"
    )]
    PauseNeedsTerminal,
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One workflow that runs for the event.
struct Planned {
    path: String,
    workflow: Workflow,
    plan: WorkflowPlan,
}

/// What every run of this invocation shares.
struct Context {
    args_json: bool,
    verbose: bool,
    paint: Paint,
    github: GithubInfo,
    settings: settings::Settings,
    /// Where `.gantry/runs` lives: the repository root, else the current directory.
    root: PathBuf,
    repo: Option<RepoInfo>,
    options: RunFlags,
    breakpoints: engine::Breakpoints,
    pause_timeout: Option<Duration>,
    from: Option<from::From>,
    /// Cancelled by `--watch` when files change.
    attempt: CancellationToken,
    /// Remote actions: the store (or none when it cannot be opened) and `--real-action`.
    actions: crate::commands::actions::RunActions,
    keyboard: Option<Arc<crate::terminal::Keyboard>>,
}

#[derive(Debug, Clone, Copy)]
struct RunFlags {
    max_jobs: usize,
    step_debug: bool,
    docker_socket: bool,
    keep_containers: bool,
    strict_platforms: bool,
}

pub fn run(args: &RunArgs, colors: Colors) -> Result<Outcome, CliError> {
    let keyboard = keyboard(args);
    if args.debug.watch {
        return watch::watch(args, colors, keyboard.as_ref());
    }
    run_attempt(args, colors, &CancellationToken::new(), keyboard.as_ref())
}

/// The keyboard, when a pause may need it: one reader of stdin for the whole process, shared
/// by every attempt of `--watch`.
fn keyboard(args: &RunArgs) -> Option<Arc<crate::terminal::Keyboard>> {
    let pauses = !args.debug.pause_before.is_empty()
        || !args.debug.pause_after.is_empty()
        || args.debug.pause_on_failure;
    (pauses && crate::terminal::is_interactive())
        .then(|| Arc::new(crate::terminal::Keyboard::start()))
}

/// One `gantry run`; cancelling `attempt` cancels its runs (`--watch` does on a change).
fn run_attempt(
    args: &RunArgs,
    colors: Colors,
    attempt: &CancellationToken,
    keyboard: Option<&Arc<crate::terminal::Keyboard>>,
) -> Result<Outcome, CliError> {
    let cwd = std::env::current_dir().map_err(|source| CliError::Read {
        path: PathBuf::from("."),
        source,
    })?;
    let settings = settings::load(args, &cwd)?;
    let repo = engine::repo_info(&cwd, prefers_tag(&args.event));
    let github = github_info(args, &settings, repo.as_ref())?;
    let changes = changes::changes(&cwd, &args.event, &github.event, &github.sha);
    let event = Event {
        name: args.event.clone(),
        payload: github.event.clone(),
        git_ref: Some(github.git_ref.clone()),
        base_ref: (!github.base_ref.is_empty()).then(|| github.base_ref.clone()),
        changed_files: changes
            .as_ref()
            .map(|c| c.files.clone())
            .unwrap_or_default(),
    };
    let stderr = Paint {
        enabled: colors.stderr,
    };
    let dry_run_paths = args.dry_run.then_some(changes.as_ref()).flatten();
    let (planned, mut outcome) =
        plan_all(args, &settings, (&event, dry_run_paths), &github, stderr)?;
    let stdout = Paint {
        enabled: colors.stdout,
    };
    if planned.is_empty() {
        output::note(&format!("no workflow is triggered by `{}`\n", args.event));
        return Ok(outcome);
    }
    for p in &planned {
        let explicit = settings::explicit_labels(&args.platform);
        for notice in crate::preflight::legacy_label_notices(&p.workflow, &explicit) {
            output::note(&format!("notice: {}: {notice}\n", p.path));
        }
    }
    if args.dry_run {
        warn_before_running(args, &planned, &settings, stderr);
    }
    if args.dry_run && args.debug.explain {
        print_explanation(&planned, &settings, &github, stdout)?;
        return Ok(outcome);
    }
    if args.dry_run {
        print_plan(args, &planned, &settings, stdout)?;
        return Ok(outcome);
    }
    let breakpoints = breakpoints(args, &planned)?;
    let from = match &args.debug.from {
        Some(selector) => Some(from::From::resolve(
            selector,
            planned.iter().map(|p| &p.workflow),
        )?),
        None => None,
    };
    let mut context = Context {
        args_json: args.json,
        verbose: args.verbose,
        paint: stdout,
        github,
        root: repo
            .as_ref()
            .map_or_else(|| cwd.clone(), |r| r.root.clone()),
        repo,
        settings,
        options: RunFlags {
            max_jobs: usize::from(args.parallel),
            step_debug: args.step_debug,
            docker_socket: args.docker_socket,
            keep_containers: args.keep_containers,
            strict_platforms: args.strict_platforms,
        },
        breakpoints,
        pause_timeout: args.debug.pause_timeout.map(Duration::from_secs),
        from,
        attempt: attempt.clone(),
        actions: crate::commands::actions::RunActions::from_args(args),
        keyboard: keyboard.cloned(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let mut planned = planned;
    let registry = runtime.block_on(start_registry(args, &mut context, &mut planned))?;
    let services = runtime.block_on(start_services(args, &context));
    let ran = runtime.block_on(run_all(planned, &context, services.as_ref()));
    if let Some(registry) = registry {
        runtime.block_on(registry.stop());
    }
    if let Some(services) = services {
        runtime.block_on(services.stop());
    }
    let ran = ran?;
    // Job environments are cleaned up before `run` returns; nothing left needs the runtime.
    runtime.shutdown_background();
    outcome = worst(outcome, ran);
    Ok(outcome)
}

/// Starts the run's package registry (or names `--registry`'s) and gives it to every workflow:
/// `GANTRY_*` env vars and `vars`, and its token as `GITHUB_TOKEN` unless one was given. When
/// the embedded registry cannot start the run goes on without it (only publishing jobs need it).
async fn start_registry(
    args: &RunArgs,
    context: &mut Context,
    planned: &mut [Planned],
) -> Result<Option<RunRegistry>, CliError> {
    let registry = match &args.registry {
        Some(url) => RunRegistry::external(url)?,
        None => {
            let repository = &context.github.repository;
            match RunRegistry::embedded(args.data_dir.as_deref(), repository).await {
                Ok(registry) => registry,
                Err(e) => {
                    let warning = context.paint.warning("warning");
                    output::note(&format!(
                        "{warning}: {e}; jobs run without a package registry\n"
                    ));
                    return Ok(None);
                }
            }
        }
    };
    registry.apply(&mut context.settings.secrets, &mut context.settings.vars);
    if let Some(token) = context.settings.secrets.get("GITHUB_TOKEN") {
        context.github.token.clone_from(token);
    }
    let env = registry.env();
    for p in planned {
        engine::add_env(&mut p.workflow, &env);
    }
    Ok(Some(registry))
}

/// Starts the artifact and cache services for the runs. Without them the run goes on: only
/// jobs using artifacts or caches need them.
async fn start_services(args: &RunArgs, context: &Context) -> Option<RunServices> {
    match RunServices::start(args.data_dir.as_deref()).await {
        Ok(services) => Some(services),
        Err(e) => {
            let warning = context.paint.warning("warning");
            output::note(&format!(
                "{warning}: {e}; jobs run without artifact and cache services\n"
            ));
            None
        }
    }
}

/// What one run's `ACTIONS_RUNTIME_TOKEN` grants: its artifacts, and the caches of its
/// repository (the checkout's path when it has no GitHub name) from its ref and the default
/// branch.
fn run_scope(context: &Context, run_id: &str) -> gantry_services::RunScope {
    let github = &context.github;
    let repository = if github.repository.is_empty() {
        context.root.display().to_string()
    } else {
        github.repository.clone()
    };
    let default_branch = github.event["repository"]["default_branch"]
        .as_str()
        .unwrap_or("main");
    gantry_services::RunScope {
        run_id: run_id.to_owned(),
        repository,
        git_ref: github.git_ref.clone(),
        default_ref: format!("refs/heads/{default_branch}"),
    }
}

/// The services' token among their variables.
const RUNTIME_TOKEN: &str = "ACTIONS_RUNTIME_TOKEN";

/// Release and tag events report the tag at HEAD as `GITHUB_REF`.
fn prefers_tag(event: &str) -> bool {
    matches!(event, "release" | "create")
}

fn worst(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Clean => 0,
        Outcome::Problems => 1,
        Outcome::Cancelled => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// The `github` context shared by every run: event, payload, refs and the repository facts.
fn github_info(
    args: &RunArgs,
    settings: &settings::Settings,
    repo: Option<&RepoInfo>,
) -> Result<GithubInfo, CliError> {
    let payload = match &args.payload {
        Some(path) => read_payload(path)?,
        None => payload::synthesize(&payload::Facts {
            event: &args.event,
            repo,
            inputs: &settings.inputs,
        }),
    };
    let payload = with_inputs(payload, &args.event, &settings.inputs);
    let repo_ref = repo.map_or("refs/heads/main", |r| r.git_ref.as_str());
    let (git_ref, head_ref, base_ref) = payload::refs(&args.event, &payload, repo_ref);
    let mut github = GithubInfo {
        event_name: args.event.clone(),
        event: payload,
        git_ref,
        head_ref,
        base_ref,
        ..GithubInfo::default()
    };
    if let Some(repo) = repo {
        github.sha = repo.sha.clone();
        github.repository = repo.repository.clone();
        github.actor = repo.actor.clone();
        github.triggering_actor = repo.actor.clone();
    }
    Ok(github)
}

/// `--input` values win over a given payload's `inputs` (`workflow_dispatch`, and
/// `workflow_call` run directly).
fn with_inputs(
    mut payload: Json,
    event: &str,
    inputs: &indexmap::IndexMap<String, String>,
) -> Json {
    if !matches!(event, "workflow_dispatch" | "workflow_call") || inputs.is_empty() {
        return payload;
    }
    if let Some(object) = payload.as_object_mut() {
        let entry = object
            .entry("inputs")
            .or_insert_with(|| Json::Object(serde_json::Map::new()));
        if let Some(map) = entry.as_object_mut() {
            for (k, v) in inputs {
                map.insert(k.clone(), Json::String(v.clone()));
            }
        }
    }
    payload
}

/// Shaped like GitHub's installation tokens (`ghs_` and 36 alphanumerics), so tools that check
/// the prefix accept it; random per run, and masked like every secret.
fn random_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("ghs_{}", &format!("{a}{b}")[..36])
}

fn read_payload(path: &Path) -> Result<Json, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Json = serde_json::from_str(&text).map_err(|source| CliError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    if !value.is_object() {
        return Err(RunError::PayloadNotObject(path.to_path_buf()).into());
    }
    Ok(value)
}

/// Reads and plans every workflow. A workflow with errors is reported and does not run (as on
/// GitHub), making the outcome [`Outcome::Problems`]; the others still run.
/// `--dry-run` passes the changed files' origin, to say how path filters decided.
fn plan_all(
    args: &RunArgs,
    settings: &settings::Settings,
    (event, explain): (&Event, Option<&changes::Changes>),
    github: &GithubInfo,
    paint: Paint,
) -> Result<(Vec<Planned>, Outcome), CliError> {
    let mut planned = Vec::new();
    let mut outcome = Outcome::Clean;
    let mut found_jobs = Vec::new();
    let cwd = std::env::current_dir().unwrap_or_default();
    let store = Store::open(args.data_dir.as_deref());
    for file in discover::workflow_files(&args.workflows.workflows)? {
        let callees = Callees::new(Callees::root_of(&file, &cwd), store.clone());
        let source = discover::read(&file)?;
        let path = source.display_path();
        let parsed = engine::parse_workflow(&path, &source.text);
        let errors = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == engine::Severity::Error)
            .count();
        let Some(mut workflow) = parsed.value.filter(|_| errors == 0) else {
            outcome = Outcome::Problems;
            invalid(&path, errors, paint);
            continue;
        };
        let call_errors: Vec<String> = engine::check_calls(&workflow, &callees)
            .into_iter()
            .filter(|d| d.severity == engine::Severity::Error)
            .map(|d| d.message)
            .collect();
        if !call_errors.is_empty() {
            outcome = Outcome::Problems;
            for message in &call_errors {
                output::note(&format!("{}: `{path}`: {message}\n", paint.error("error")));
            }
            invalid(&path, call_errors.len(), paint);
            continue;
        }
        let selected = selected_jobs(args);
        let jobs: Vec<String> = selected
            .iter()
            .filter(|j| workflow.jobs.contains_key(*j))
            .cloned()
            .collect();
        found_jobs.extend(jobs.iter().cloned());
        if !selected.is_empty() && jobs.is_empty() {
            continue;
        }
        let github_context = engine::github_context(github, &workflow, &path);
        let plan = match engine::plan_run(&workflow, event, &jobs, github_context, &callees) {
            Ok(WorkflowOutcome::Run(plan)) => {
                if let Some(changes) = explain {
                    explain_paths(&path, &workflow, (event, changes), None);
                }
                plan
            }
            Ok(WorkflowOutcome::Skipped(reason)) => {
                if let Some(changes) = explain {
                    explain_paths(&path, &workflow, (event, changes), Some(reason));
                }
                continue;
            }
            Err(e) => {
                outcome = Outcome::Problems;
                output::note(&format!("{}: `{path}`: {e}\n", paint.error("error")));
                continue;
            }
        };
        engine::add_env(&mut workflow, &settings.env);
        planned.push(Planned {
            path,
            workflow,
            plan,
        });
    }
    let missing: Vec<String> = selected_jobs(args)
        .iter()
        .filter(|j| !found_jobs.contains(j))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(RunError::UnknownJobs {
            event: args.event.clone(),
            jobs: missing,
        }
        .into());
    }
    filter_rows(&mut planned, &settings.matrix, paint);
    Ok((planned, outcome))
}

/// `--dry-run`: how a workflow's path filters decided (the changed files they let through,
/// and what the changed files were computed from), or why a workflow filtered otherwise does
/// not run.
fn explain_paths(
    path: &str,
    workflow: &Workflow,
    (event, changes): (&Event, &changes::Changes),
    skipped: Option<engine::SkipReason>,
) {
    let listed = |files: &[String]| match files {
        [] => "none".to_owned(),
        files => files.join(", "),
    };
    let basis = &changes.basis;
    let text = match (skipped, engine::path_filter(workflow, event)) {
        // A workflow that does not listen to the event at all needs no word.
        (Some(engine::SkipReason::Event(_)), _) => return,
        (Some(engine::SkipReason::Paths), _) => {
            let changed = match &event.changed_files {
                engine::ChangedFiles::Known(files) => listed(files),
                engine::ChangedFiles::Unknown => "unknown".to_owned(),
            };
            format!(
                "`{path}` does not run: no changed file matches its path filters (changed in {basis}: {changed})"
            )
        }
        (Some(reason), _) => format!("`{path}` does not run: {reason}"),
        (None, Some(engine::PathFilter::Matched(files))) => format!(
            "`{path}` runs: its path filters match {} (changed in {basis})",
            listed(&files)
        ),
        (None, Some(engine::PathFilter::Unknown)) => {
            format!("`{path}` runs: changed files unknown ({basis})")
        }
        (None, None) => return,
    };
    output::note(&format!("{text}\n"));
}

/// `-j` jobs, and the job `--from` names.
fn selected_jobs(args: &RunArgs) -> Vec<String> {
    let mut jobs = args.job.clone();
    if let Some(from) = &args.debug.from {
        let job = from::job_of(from).to_owned();
        if !jobs.contains(&job) {
            jobs.push(job);
        }
    }
    jobs
}

fn invalid(path: &str, errors: usize, paint: Paint) {
    output::note(&format!(
        "{}: `{path}` is invalid ({}); it does not run (see `gantry validate {path}`)\n",
        paint.error("error"),
        crate::render::plural(errors.max(1), "error"),
    ));
}

/// Applies `--matrix` filters; deferred matrices cannot be filtered before they run.
fn filter_rows(planned: &mut [Planned], filters: &[(String, String)], paint: Paint) {
    for p in planned {
        for job in engine::filter_matrix(&mut p.plan, filters) {
            output::note(&format!(
                "{}: `{}`: the matrix of job `{job}` is known only at run time; --matrix does not filter it\n",
                paint.warning("warning"),
                p.path
            ));
        }
    }
}

/// `--dry-run`: what will not work offline, on stderr before the plan (see `preflight`).
fn warn_before_running(
    args: &RunArgs,
    planned: &[Planned],
    settings: &settings::Settings,
    paint: Paint,
) {
    let images: Vec<String> = planned
        .iter()
        .flat_map(|p| crate::preflight::image_names(&p.workflow))
        .collect();
    let present = engine::images_present(&images);
    let image_present = |image: &str| present.as_ref().map(|set| set.contains(image));
    let store = Store::existing(args.data_dir.as_deref());
    let builtins = engine::actions_for(None);
    let readiness = crate::preflight::Readiness {
        builtins: &builtins,
        store: &store,
        platforms: &settings.platforms,
        image_present: &image_present,
    };
    for p in planned {
        for d in crate::preflight::check(&p.workflow, &readiness) {
            output::note(&format!(
                "{}: {}:{}:{}: {} [{}]\n",
                paint.warning("warning"),
                p.path,
                d.span.start.line,
                d.span.start.col,
                d.message,
                d.rule
            ));
        }
    }
}

fn print_plan(
    args: &RunArgs,
    planned: &[Planned],
    settings: &settings::Settings,
    paint: Paint,
) -> Result<(), CliError> {
    let views: Vec<PlannedWorkflow<'_>> = planned
        .iter()
        .map(|p| PlannedWorkflow {
            path: &p.path,
            workflow: &p.workflow,
            plan: &p.plan,
        })
        .collect();
    let text = if args.json {
        run_json::plan_lines(&args.event, &views, &settings.platforms)
    } else {
        run_plan::render(&args.event, &views, &settings.platforms, paint)
    };
    output::print(&text)
}

/// `--dry-run --explain`: every job and step of every planned workflow, evaluated with the
/// run's settings; secrets masked.
fn print_explanation(
    planned: &[Planned],
    settings: &settings::Settings,
    github: &GithubInfo,
    paint: Paint,
) -> Result<(), CliError> {
    let mut masker = engine::Masker::new();
    for secret in settings.secrets.values() {
        masker.add(secret);
    }
    let mut text = String::new();
    for p in planned {
        let mut options = RunOptions::new("dry-run");
        options.github = github.clone();
        let name = p.workflow.name.as_ref().map(|n| n.value.as_str());
        options.github.set_workflow(name, &p.path);
        options.secrets = settings.secrets.clone();
        options.vars = settings.vars.clone();
        options.platforms = settings.platforms.clone();
        let jobs = engine::explain(&p.workflow, &p.plan, options);
        text.push_str(&crate::render::explain::render(
            &p.path, &jobs, &masker, paint,
        ));
    }
    output::print(&text)
}

/// Runs every planned workflow in turn under one Ctrl-C watcher.
async fn run_all(
    planned: Vec<Planned>,
    context: &Context,
    services: Option<&RunServices>,
) -> Result<Outcome, CliError> {
    // Without an engine, host jobs still run; container jobs fail with the reason.
    // Labelled with the repository, so `gantry clean` there removes what this run leaves.
    let scope = engine::job_scope(&context.root);
    let docker = engine::connect_docker()
        .await
        .ok()
        .map(|d| d.with_scope(scope));
    let cancel = context.attempt.child_token();
    let run_ids = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(watch_signals(
        cancel.clone(),
        docker.clone(),
        run_ids.clone(),
    ));
    // One base per user: the host executor refuses a base another user owns.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let host_dir = std::env::temp_dir().join(format!("gantry-host-{}", unsafe { libc::geteuid() }));
    let executor = engine::executor(docker, &host_dir);
    let debug = debug_options(context, &cancel);
    let mut outcome = Outcome::Clean;
    for p in planned {
        if cancel.is_cancelled() {
            break;
        }
        let conclusion = run_one(
            p,
            context,
            services,
            executor.clone(),
            &cancel,
            &run_ids,
            debug.clone(),
        )
        .await?;
        outcome = worst(outcome, conclusion_outcome(conclusion));
    }
    watcher.abort();
    Ok(outcome)
}

fn conclusion_outcome(conclusion: Conclusion) -> Outcome {
    match conclusion {
        Conclusion::Success | Conclusion::Skipped => Outcome::Clean,
        Conclusion::Failure => Outcome::Problems,
        Conclusion::Cancelled => Outcome::Cancelled,
    }
}

/// Ctrl-C, or the terminal closing (SIGHUP) or a polite kill (SIGTERM): all cancel the run, so
/// its containers are removed either way.
pub(super) async fn first_stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = hangup.recv() => Ok(()),
        _ = terminate.recv() => Ok(()),
    }
}

/// First Ctrl-C: cancel. Second: remove what the runs left and exit now.
async fn watch_signals(
    cancel: CancellationToken,
    docker: Option<DockerExecutor>,
    run_ids: Arc<Mutex<Vec<String>>>,
) {
    if first_stop_signal().await.is_err() {
        return;
    }
    output::note("\ngantry: cancelling the run (press Ctrl-C again to stop at once)\n");
    cancel.cancel();
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    output::note("gantry: stopping now; removing the run's containers\n");
    let ids: Vec<String> = run_ids.lock().map(|ids| ids.clone()).unwrap_or_default();
    if let Some(docker) = docker {
        for id in ids {
            // Best effort: the process exits whatever the engine answers.
            let _ =
                tokio::time::timeout(FORCED_CLEANUP_TIMEOUT, engine::clean_run(&docker, &id)).await;
        }
    }
    std::process::exit(i32::from(exit::CANCELLED));
}

/// Runs one workflow: its own run id and run directory, events rendered and stored as they
/// arrive.
async fn run_one(
    p: Planned,
    context: &Context,
    services: Option<&RunServices>,
    executor: Arc<dyn engine::Executor>,
    cancel: &CancellationToken,
    run_ids: &Arc<Mutex<Vec<String>>>,
    debug: Option<engine::DebugOptions>,
) -> Result<Conclusion, CliError> {
    let runs = context.root.join(".gantry").join("runs");
    let dir = engine::next_run_dir(&runs).map_err(|source| RunError::RunDir {
        path: runs.clone(),
        source,
    })?;
    let number = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(1);
    let run_id = run_id();
    if let Ok(mut ids) = run_ids.lock() {
        ids.push(run_id.clone());
    }
    let mut options = run_options(&p, context, &run_id, number, cancel.clone());
    if let Some(services) = services {
        // As GitHub's runner: every step's process (called workflows' too), not `env.*`; the
        // token masked like a secret.
        let scope = run_scope(context, &run_id);
        let env = services.env_for_run(&scope);
        options
            .masked_values
            .extend(env.get(RUNTIME_TOKEN).cloned());
        options.runner_env.extend(env);
        // download-artifact's `run-id` reads other runs through the REST API with the run's
        // GITHUB_TOKEN; any other API call gets a 404 there instead of an unreachable host.
        let api = services.api_url_for(&options.github.token, &scope);
        options.github.graphql_url = format!("{api}/graphql");
        options.github.api_url = api;
    }
    options.debug = debug;
    let mut writer = LogWriter::new(&dir).map_err(|source| RunError::RunDir {
        path: dir.clone(),
        source,
    })?;
    let shown_dir = shown_path(&dir);
    let mut text = TextRun::new(context.paint, context.verbose);
    if !context.args_json {
        let name = p.workflow.name.as_ref().map(|n| n.value.as_str());
        print_live(&text.header(&p.path, name, &context.github.event_name, number));
    }
    let workflow = Arc::new(p.workflow);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut from = context.from.clone();
    if let Some(from) = &from {
        output::note(&from.announce());
    }
    let consume = async {
        let mut log_failed = false;
        while let Some(event) = rx.recv().await {
            if let Err(e) = writer.handle(&event)
                && !std::mem::replace(&mut log_failed, true)
            {
                output::note(&format!("gantry: cannot write the run log: {e}\n"));
            }
            if from.as_mut().is_some_and(|f| f.quiet(&event)) {
                continue;
            }
            print_live(&if context.args_json {
                run_json::event_line(&event)
            } else {
                text.event(&event)
            });
        }
    };
    let (result, ()) = tokio::join!(
        engine::execute(workflow, &p.plan, options, executor, tx),
        consume
    );
    if let Err(e) = writer.finish(&result) {
        output::note(&format!("gantry: cannot write the run log: {e}\n"));
    }
    print_live(&if context.args_json {
        run_json::result_line(&p.path, &shown_dir, &result)
    } else {
        text.summary(&result, &shown_dir)
    });
    Ok(result.conclusion)
}

/// The `--pause-*` breakpoints, checked against the jobs that run: a step name that matches
/// nothing is a typo, and a pause nobody can answer must not start.
fn breakpoints(args: &RunArgs, planned: &[Planned]) -> Result<engine::Breakpoints, CliError> {
    let breakpoints = engine::Breakpoints {
        before: args.debug.pause_before.clone(),
        after: args.debug.pause_after.clone(),
        on_failure: args.debug.pause_on_failure,
    };
    let mut unmatched: Option<Vec<String>> = None;
    for p in planned {
        let jobs: Vec<String> = p.plan.jobs.iter().map(|j| j.id.clone()).collect();
        let here: Vec<String> = breakpoints
            .unmatched(&p.workflow, &jobs)
            .into_iter()
            .map(str::to_owned)
            .collect();
        unmatched = Some(match unmatched {
            None => here,
            Some(before) => before.into_iter().filter(|s| here.contains(s)).collect(),
        });
    }
    if let Some(unmatched) = unmatched.filter(|u| !u.is_empty()) {
        return Err(RunError::UnknownSteps(unmatched).into());
    }
    if !breakpoints.is_empty()
        && args.debug.pause_timeout.is_none()
        && !crate::terminal::is_interactive()
    {
        return Err(RunError::PauseNeedsTerminal.into());
    }
    Ok(breakpoints)
}

fn debug_options(context: &Context, cancel: &CancellationToken) -> Option<engine::DebugOptions> {
    if context.breakpoints.is_empty() {
        return None;
    }
    let debugger = debug::TerminalDebugger::new(
        context.keyboard.clone(),
        context.pause_timeout,
        context.args_json,
        context.paint,
        cancel.clone(),
    );
    Some(engine::DebugOptions {
        breakpoints: context.breakpoints.clone(),
        debugger: Arc::new(debugger),
    })
}

/// Live output goes out line by line; a closed stdout must not stop the run (its logs are
/// still stored), so write errors are dropped here.
fn print_live(text: &str) {
    if !text.is_empty() {
        let _ = output::print(text);
    }
}

/// The run directory relative to the current directory when it is below it.
fn shown_path(dir: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    dir.strip_prefix(&cwd).unwrap_or(dir).display().to_string()
}

/// Numeric like GitHub's run ids, random so runs from several checkouts never share labels.
fn run_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 9_000_000_000;
    (1_000_000_000 + n).to_string()
}

fn run_options(
    p: &Planned,
    context: &Context,
    run_id: &str,
    number: u64,
    cancel: CancellationToken,
) -> RunOptions {
    let mut github = context.github.clone();
    github.run_id = run_id.to_owned();
    github.run_number = number;
    github.set_workflow(p.workflow.name.as_ref().map(|n| n.value.as_str()), &p.path);
    let crons = p.workflow.on.events.get("schedule");
    let crons = crons.iter().flat_map(|c| c.value.crons.iter());
    payload::name_schedule(
        &github.event_name,
        &mut github.event,
        crons.map(|c| c.value.as_str()),
    );
    // A given GITHUB_TOKEN secret is the token; otherwise every run gets a fresh random one.
    github.token = context
        .settings
        .secrets
        .get("GITHUB_TOKEN")
        .cloned()
        .unwrap_or_else(random_token);
    let mut options = RunOptions::new(run_id);
    options.secrets = context.settings.secrets.clone();
    options
        .secrets
        .insert("GITHUB_TOKEN".to_owned(), github.token.clone());
    options.github = github;
    options.vars = context.settings.vars.clone();
    options.platforms = context.settings.platforms.clone();
    // In a repository the workspace starts empty, as on GitHub (actions/checkout fills it
    // from a snapshot of the commit); elsewhere the directory itself is the checkout.
    options.workspace_source = context.repo.is_none().then(|| context.root.clone());
    options.max_jobs = context.options.max_jobs;
    options.step_debug = context.options.step_debug;
    options.docker_socket = context.options.docker_socket;
    options.keep_containers = context.options.keep_containers;
    options.strict_platforms = context.options.strict_platforms;
    options.cancel = cancel;
    options.actions = context.actions.apply(engine::actions_for(
        context.repo.as_ref().map(|r| r.root.as_path()),
    ));
    options
}
