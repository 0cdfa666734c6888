//! The one module that calls into the library crates (parsing, evaluation, planning). The rest
//! of the CLI sees only these functions, so an upstream API change is a change here.

use indexmap::IndexMap;
use serde_json::Value as Json;

pub use gantry_plan::{CallTarget, Origin, Unresolved, anchor_calls, call_target};
pub use gantry_workflow::{Action, Diagnostic, Job, Parsed, Severity, Span, Workflow};

use gantry_expr::{ErrorKind, EvalContext, ExprError, ParseOptions, Reason, Value};
use gantry_plan::{MatrixPlan, PlanError};

use crate::discover::{FileKind, SourceFile};

pub use gantry_lint::{Linter, Script};

/// The reader's diagnostics of one file, whatever its kind, and the linter's for workflows,
/// with the scripts it leaves for the external tools ([`lint_scripts`]). `index` tags the
/// scripts with the file they came from.
/// A workflow's calls of reusable workflows are checked against the files `callees` reads, and
/// what will not work offline against `readiness` ([`crate::preflight`]).
pub fn check(
    file: &SourceFile,
    linter: &Linter,
    index: usize,
    callees: &crate::callees::Callees,
    readiness: &crate::preflight::Readiness<'_>,
) -> (Vec<Diagnostic>, Vec<Script>) {
    let name = file.display_path();
    match file.kind {
        FileKind::Workflow => {
            let parsed = parse_workflow(&name, &file.text);
            let mut diagnostics = parsed.diagnostics;
            let mut scripts = Vec::new();
            if let Some(workflow) = &parsed.value {
                diagnostics.extend(check_calls(workflow, callees));
                diagnostics.extend(crate::preflight::check(workflow, readiness));
                let input = gantry_lint::Input {
                    path: &name,
                    source: &file.text,
                    root: gantry_lint::repository_root(&file.path),
                };
                let (found, found_scripts) = linter.lint(&input, workflow, index);
                diagnostics.extend(found);
                scripts = found_scripts;
            }
            (diagnostics, scripts)
        }
        FileKind::Action => (parse_action(&name, &file.text).diagnostics, Vec::new()),
    }
}

/// Runs shellcheck and Python over every file's scripts: the diagnostics by file index, and
/// notices about tools that could not run.
pub fn lint_scripts(
    linter: &Linter,
    scripts: &[Script],
    jobs: usize,
) -> (Vec<(usize, Diagnostic)>, Vec<String>) {
    let outcome = linter.run_tools(scripts, jobs);
    (outcome.diagnostics, outcome.notices)
}

/// Applies the linter's configuration and ignore comments, then sorts by position.
pub fn finish(linter: &Linter, file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) {
    linter.filter(&file.display_path(), &file.text, diagnostics);
    diagnostics.sort_by_key(|d| (d.span.start.offset, d.span.end.offset));
    // The reader's call checks and the linter's may report one problem twice, and not next to
    // each other (two problems at one span interleave): keep each first report only.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| {
        seen.insert((
            d.span.start.offset,
            d.span.end.offset,
            d.rule,
            d.message.clone(),
        ))
    });
}

/// The linter with the configuration at `path`, or with `.github/gantry.toml` when no path is
/// given and that file exists, or with every rule on; remote actions are read from the action
/// store in `data_dir` when there is one.
pub fn linter(
    path: Option<&std::path::Path>,
    data_dir: Option<&std::path::Path>,
) -> Result<Linter, crate::error::CliError> {
    use crate::error::CliError;
    let default = std::path::Path::new(".github/gantry.toml");
    let path = match path {
        Some(p) => Some(p),
        None => default.is_file().then_some(default),
    };
    let config = match path {
        None => gantry_lint::Config::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            gantry_lint::Config::parse(&text).map_err(|source| CliError::LintConfig {
                path: path.to_path_buf(),
                source,
            })?
        }
    };
    let linter = Linter::new(config)?;
    Ok(match StoreActions::existing(data_dir) {
        Some(store) => linter.with_actions(Box::new(store)),
        None => linter,
    })
}

/// The action store as the linter's source of remote actions' files. Each `uses:` value is
/// resolved once (resolving reads the store's index).
struct StoreActions {
    store: gantry_actions::ActionStore,
    resolved: std::sync::Mutex<std::collections::HashMap<String, Option<std::path::PathBuf>>>,
}

impl StoreActions {
    /// The store in `data_dir` if one was ever created there: validating creates nothing.
    fn existing(data_dir: Option<&std::path::Path>) -> Option<StoreActions> {
        let dir = crate::registry::data_dir(data_dir).ok()?;
        if !dir.join("actions").is_dir() {
            return None;
        }
        let store = gantry_actions::ActionStore::open(&dir).ok()?;
        Some(StoreActions {
            store,
            resolved: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }
}

impl gantry_lint::ActionSource for StoreActions {
    fn dir(&self, uses: &str) -> Option<std::path::PathBuf> {
        if let Some(found) = self.resolved.lock().ok()?.get(uses) {
            return found.clone();
        }
        // Not stored (or not a valid reference): the linter falls back to its table.
        let found = gantry_actions::ActionRef::parse(uses)
            .ok()
            .and_then(|r| self.store.resolve(&r).ok())
            .map(|r| r.dir);
        self.resolved
            .lock()
            .ok()?
            .insert(uses.to_owned(), found.clone());
        found
    }
}

/// Problems with `workflow`'s calls of reusable workflows (inputs, secrets, permissions,
/// nesting limits), as GitHub checks them when a run starts. Calls whose file cannot be read
/// are not checked here; planning the run reports them.
pub fn check_calls(workflow: &Workflow, callees: &crate::callees::Callees) -> Vec<Diagnostic> {
    let resolve = |uses: &str| {
        let target = call_target(&Origin::Local, uses).ok()?;
        callees.resolve(&target).ok().map(|w| (*w).clone())
    };
    gantry_workflow::check_calls(workflow, &resolve, &gantry_workflow::CallOptions::default())
}

pub fn parse_workflow(file: &str, src: &str) -> Parsed<Workflow> {
    gantry_workflow::parse_workflow(file, src)
}

pub fn parse_action(file: &str, src: &str) -> Parsed<Action> {
    gantry_workflow::parse_action(file, src)
}

/// Why an expression could not be evaluated: upstream's message and the byte offset in the
/// expression it points at (`None` when it concerns the whole expression).
#[derive(Debug, Clone, PartialEq)]
pub struct ExprFailure {
    pub message: String,
    pub offset: Option<usize>,
    /// The expression names a context that was not given.
    pub unknown_named_value: bool,
}

/// Parses and evaluates `src` with `contexts` as the only named values (matched
/// case-insensitively, as GitHub does).
pub fn evaluate(src: &str, contexts: &IndexMap<String, Json>) -> Result<Json, ExprFailure> {
    let options = contexts.keys().fold(ParseOptions::new(), |options, name| {
        options.named_value(name)
    });
    let failure = |err: ExprError| ExprFailure {
        unknown_named_value: err.reason == Reason::UnrecognizedNamedValue,
        // Upstream says 0 for an evaluation error about the whole expression.
        offset: (err.kind != ErrorKind::Evaluation || err.offset > 0).then_some(err.offset),
        message: err.message,
    };
    let expr = gantry_expr::parse(src, &options).map_err(failure)?;
    let value = gantry_expr::evaluate(&expr, &JsonContexts(contexts)).map_err(failure)?;
    Ok(value.to_json())
}

struct JsonContexts<'a>(&'a IndexMap<String, Json>);

impl EvalContext for JsonContexts<'_> {
    fn named_value(&self, name: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| Value::from(value))
    }
}

/// How many jobs a job's matrix expands to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixSize {
    /// No matrix: the job runs once.
    None,
    Fixed(usize),
    /// `${{ fromJSON(...) }}` and friends: known only at run time.
    Dynamic,
    /// The matrix cannot be expanded (`gantry validate` says why).
    Invalid,
}

pub fn matrix_size(job: &Job) -> MatrixSize {
    match gantry_plan::job_matrix(job) {
        Ok(MatrixPlan::None) => MatrixSize::None,
        Ok(MatrixPlan::Rows(rows)) => MatrixSize::Fixed(rows.len()),
        Ok(MatrixPlan::Deferred { .. }) => MatrixSize::Dynamic,
        Err(_) => MatrixSize::Invalid,
    }
}

/// Whether `event` is one of the workflow's triggers. Filters (`branches:`, `paths:`) are not
/// applied: without a ref or a change set every filtered trigger might fire.
pub fn triggered_by(workflow: &Workflow, event: &str) -> bool {
    workflow.on.events.contains_key(event)
}

/// Jobs grouped for display: each job is one stage after the latest of its needs. (Jobs still
/// start as soon as their own needs finish; stages only make the graph readable as text.)
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stages {
    pub stages: Vec<Vec<String>>,
}

/// The stages, or the problems in `needs` (unknown jobs, cycles) that leave no graph to draw.
pub fn stages(workflow: &Workflow) -> Result<Stages, Vec<String>> {
    let graph = match gantry_plan::job_graph(workflow) {
        Ok(graph) => graph,
        Err(PlanError::Dag(errors)) => return Err(errors.iter().map(|e| e.to_string()).collect()),
        Err(other) => return Err(vec![other.to_string()]),
    };
    let mut level: IndexMap<&str, usize> = IndexMap::new();
    for id in graph.topological_order() {
        let after = graph
            .needs(id)
            .iter()
            .filter_map(|n| level.get(n))
            .max()
            .copied();
        level.insert(id, after.map_or(0, |l| l + 1));
    }
    let mut stages = Stages::default();
    // Source order within a stage reads better than topological order.
    for id in graph.ids() {
        let l = level.get(id.as_str()).copied().unwrap_or(0);
        if stages.stages.len() <= l {
            stages.stages.resize(l + 1, Vec::new());
        }
        stages.stages[l].push(id.clone());
    }
    Ok(stages)
}

// ---------------------------------------------------------------------------------------------
// `gantry run` and `gantry clean`: the runner, the executors and the local repository.

pub use gantry_docker::{CleanReport, DockerExecutor, ManagedObjects};
pub use gantry_plan::{Event, PlanError as RunPlanError, WorkflowOutcome, WorkflowPlan};
pub use gantry_runner::debugger::{
    Breakpoints, DebugOptions, Debugger, Pause, PauseReason, Resume, StepAt, static_name,
};
pub use gantry_runner::executor::{Executor, ExecutorError, Platform};
pub use gantry_runner::explain::{Condition, JobExplanation, StepAction, StepExplanation};
pub use gantry_runner::mask::{Masker, StreamMasker};
pub use gantry_runner::{
    Annotation, AnnotationLevel, Conclusion, GithubInfo, LogStream, LogWriter, RunEvent,
    RunOptions, RunResult, StepRef, next_run_dir,
};

/// The facts of the local git repository a run reports as `github.*`.
#[derive(Debug, Clone, Default)]
pub struct RepoInfo {
    pub root: std::path::PathBuf,
    pub sha: String,
    /// The ref of HEAD (a tag at HEAD when the event prefers tags).
    pub git_ref: String,
    pub branch: Option<String>,
    pub repository: String,
    pub actor: String,
    /// The nearest tag reachable from HEAD, else `v0.0.0`.
    pub release_tag: String,
    pub head_commit: Option<CommitInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    pub tree: String,
    pub parent: Option<String>,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    /// Seconds since the epoch.
    pub time: i64,
}

/// The repository containing `dir`, or `None` when there is none (or it has no commit yet).
pub fn repo_info(dir: &std::path::Path, prefer_tag: bool) -> Option<RepoInfo> {
    use gantry_runner::git;
    let repo = git::discover(dir).ok()?;
    let facts = git::describe(&repo, prefer_tag).ok()?;
    let branch = repo
        .head()
        .ok()
        .filter(|h| h.is_branch())
        .and_then(|h| h.name().ok().map(str::to_owned));
    let head_commit = repo.head().and_then(|h| h.peel_to_commit()).ok().map(|c| {
        let author = c.author();
        CommitInfo {
            tree: c.tree_id().to_string(),
            parent: c.parent_ids().next().map(|p| p.to_string()),
            message: c.message().unwrap_or_default().trim_end().to_owned(),
            author_name: author.name().unwrap_or_default().to_owned(),
            author_email: author.email().unwrap_or_default().to_owned(),
            time: c.time().seconds(),
        }
    });
    Some(RepoInfo {
        root: facts.root,
        sha: facts.sha,
        git_ref: facts.git_ref,
        branch,
        repository: facts.repository,
        actor: facts.actor,
        release_tag: git::release_tag(&repo).unwrap_or_else(|_| git::DEFAULT_RELEASE_TAG.into()),
        head_commit,
    })
}

/// The `github` context planning sees for one workflow: the run's facts named for the
/// workflow, as the runner will give them to its steps; the run numbers are not known yet (the
/// daemon's planner has none either).
pub fn github_context(info: &GithubInfo, workflow: &Workflow, path: &str) -> Json {
    let mut info = info.clone();
    info.set_workflow(workflow.name.as_ref().map(|n| n.value.as_str()), path);
    Json::Object(info.context_before_run())
}

/// Plans one workflow for `event` with the workflows it calls (from `callees`); `github` is the
/// context matrices may read.
pub fn plan_run(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
    github: Json,
    callees: &crate::callees::Callees,
) -> Result<WorkflowOutcome, RunPlanError> {
    let context = gantry_plan::PlanContext {
        github: Some(github),
        vars: None,
    };
    let resolve = |target: &CallTarget| callees.resolve(target);
    gantry_plan::plan_workflow_resolving(workflow, event, jobs, &context, &resolve)
}

/// Keeps only the matrix rows of each planned job that agree with every `KEY:VALUE` filter
/// whose key the job's matrix has. Deferred matrices (known only at run time) are left alone;
/// their ids are returned so the caller can say so.
pub fn filter_matrix(plan: &mut WorkflowPlan, filters: &[(String, String)]) -> Vec<String> {
    let mut deferred = Vec::new();
    for job in &mut plan.jobs {
        match &mut job.matrix {
            MatrixPlan::Rows(rows) => rows.retain(|row| {
                filters
                    .iter()
                    .all(|(key, value)| row.get(key).is_none_or(|v| display_value(v) == *value))
            }),
            MatrixPlan::Deferred { .. } if !filters.is_empty() => {
                deferred.push(job.id.clone());
            }
            _ => {}
        }
    }
    deferred
}

/// Matrix rows as the dry run shows them.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedRows {
    /// No matrix: the job runs once.
    None,
    Rows(Vec<Json>),
    /// Known only at run time (`fromJSON(needs...)`).
    Deferred,
}

pub fn planned_rows(job: &gantry_plan::PlannedJob) -> PlannedRows {
    match &job.matrix {
        MatrixPlan::None => PlannedRows::None,
        MatrixPlan::Rows(rows) => {
            PlannedRows::Rows(rows.iter().map(|r| Json::Object(r.clone())).collect())
        }
        MatrixPlan::Deferred { .. } => PlannedRows::Deferred,
    }
}

/// A value as `${{ }}` would print it (`18`, `true`, `ubuntu`).
pub fn display_value(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => Value::from(other).to_display_string(),
    }
}

/// The literal `runs-on` labels of a job (`None` when they come from an expression).
pub fn runs_on_labels(job: &Job) -> Option<Vec<String>> {
    match job.runs_on.as_ref().map(|r| &r.value) {
        None => Some(Vec::new()),
        Some(gantry_workflow::RunsOn::Labels { labels, .. }) => {
            Some(labels.iter().map(|l| l.value.clone()).collect())
        }
        Some(gantry_workflow::RunsOn::Expr(_)) => None,
    }
}

/// Adds variables from a `.env` file below the workflow's own `env` (the workflow wins).
pub fn add_env(workflow: &mut Workflow, env: &IndexMap<String, String>) {
    for (name, value) in env {
        workflow
            .env
            .entry(name.clone())
            .or_insert_with(|| gantry_workflow::Spanned::new(value.clone(), Span::default()));
    }
}

/// The registry of built-in actions, with `actions/checkout` reading the repository at `root`.
pub fn actions_for(root: Option<&std::path::Path>) -> gantry_runner::ActionRegistry {
    let mut registry = gantry_runner::ActionRegistry::with_defaults();
    if let Some(root) = root {
        registry.register(
            "actions/checkout",
            std::sync::Arc::new(gantry_runner::builtin::Checkout::for_repository(root)),
        );
    }
    registry
}

/// Which of `images` the Docker engine has (nothing is pulled); `None` when no engine answers.
pub fn images_present(images: &[String]) -> Option<std::collections::HashSet<String>> {
    if images.is_empty() {
        return Some(Default::default());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let docker = DockerExecutor::connect().await.ok()?;
        let mut present = std::collections::HashSet::new();
        for image in images {
            if docker.ensure_image(image).await.is_ok() {
                present.insert(image.clone());
            }
        }
        Some(present)
    })
}

/// What a `gantry run` in `root` labels its engine objects with (`io.gantry.scope`) and
/// `gantry clean` there selects by: the canonical path, without git's trailing `/`.
pub fn job_scope(root: &std::path::Path) -> String {
    let path = std::fs::canonicalize(root).unwrap_or_else(|_| root.components().collect());
    path.display().to_string()
}

/// Connects to the Docker engine, if one answers.
pub async fn connect_docker() -> Result<DockerExecutor, ExecutorError> {
    DockerExecutor::connect().await
}

/// Host jobs on this machine under `host_dir`, the rest in Docker (when connected).
pub fn executor(
    docker: Option<DockerExecutor>,
    host_dir: &std::path::Path,
) -> std::sync::Arc<dyn gantry_runner::executor::Executor> {
    std::sync::Arc::new(gantry_docker::RoutingExecutor::new(
        docker,
        gantry_docker::HostExecutor::new(host_dir),
    ))
}

/// Runs a planned workflow, streaming events to `events`.
pub async fn execute(
    workflow: std::sync::Arc<Workflow>,
    plan: &WorkflowPlan,
    options: RunOptions,
    executor: std::sync::Arc<dyn gantry_runner::executor::Executor>,
    events: tokio::sync::mpsc::UnboundedSender<RunEvent>,
) -> RunResult {
    gantry_runner::run(workflow, plan, options, executor, events).await
}

/// Removes what one run left in the engine.
pub async fn clean_run(
    docker: &DockerExecutor,
    run_id: &str,
) -> Result<CleanReport, ExecutorError> {
    gantry_docker::clean_run(docker.client(), run_id).await
}

/// Lists the selected objects, removes them, and counts gantry's objects left afterwards.
pub async fn clean(
    docker: &DockerExecutor,
    selection: &gantry_docker::Selection,
) -> Result<(ManagedObjects, CleanReport, ManagedObjects), ExecutorError> {
    let found = gantry_docker::list(docker.client(), selection).await?;
    let report = gantry_docker::clean(docker.client(), selection).await?;
    let kept = gantry_docker::list_managed(docker.client(), None).await?;
    Ok((found, report, kept))
}

/// `--explain`: what each planned job and step would do (nothing is created).
pub fn explain(
    workflow: &Workflow,
    plan: &WorkflowPlan,
    options: RunOptions,
) -> Vec<JobExplanation> {
    gantry_runner::explain::explain(std::sync::Arc::new(workflow.clone()), plan, options)
}

pub use gantry_plan::{ChangedFiles, SkipReason};

/// How `workflow`'s path filters for `event` see its changed files: `None` when it has none
/// for the event.
pub enum PathFilter {
    /// The changed files are unknown: the filters pass.
    Unknown,
    /// The changed files the filters let through (none: the workflow does not run).
    Matched(Vec<String>),
}

pub fn path_filter(workflow: &Workflow, event: &Event) -> Option<PathFilter> {
    let triggers = gantry_plan::Triggers::compile(&gantry_plan::trigger_specs(workflow)).ok()?;
    let trigger = triggers.get(&event.name)?;
    trigger.paths.as_ref()?;
    // Path filters do not apply to tag pushes.
    if event.name == "push"
        && event
            .git_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("refs/tags/"))
    {
        return None;
    }
    Some(match trigger.path_matches(event) {
        Some(files) => PathFilter::Matched(files.into_iter().map(str::to_owned).collect()),
        None => PathFilter::Unknown,
    })
}
