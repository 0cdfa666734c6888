//! Which workflows run for a delivery: fetch the repository at the event's ref (git2, local
//! paths and `file://` URLs), read `.github/workflows/*.yml` there and plan them with
//! `gantry-plan`'s event matching (activity types from the payload's `action`, the draft
//! release rule, branch/tag filters).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gantry_expr::{EvalContext, ParseOptions, Value as ExprValue, parse_template};
use gantry_plan::{ChangedFiles, Event, PlanContext, WorkflowOutcome, plan_workflow_with};
use gantry_workflow::{OrExpr, Workflow, parse_workflow};
use serde_json::{Value, json};
use thiserror::Error;

use crate::config::RepoConfig;
use crate::launcher::PlannedJobInfo;
use crate::store::{ConcurrencySpec, NewRun, RunSpec};

#[derive(Debug, Error)]
pub enum PlanFailure {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("cannot create the mirror directory: {0}")]
    Mirror(std::io::Error),
    #[error("the payload does not say which commit to run ({0})")]
    NoTarget(&'static str),
    #[error("'{0}' is not in the repository")]
    RefNotFound(String),
    #[error(
        "the pushed commit {0} is not in the mirror after a fetch (the branch head is not run instead)"
    )]
    PushedCommitMissing(String),
    #[error("the event deleted '{0}': nothing to run")]
    Deleted(String),
    #[error("repository '{0}' is not configured")]
    NotConfigured(String),
    #[error("planning took longer than {0:?}")]
    TimedOut(std::time::Duration),
    #[error("the planning task failed: {0}")]
    Task(String),
}

impl PlanFailure {
    /// Failures a redelivery may not meet again (the repository was unreachable, planning
    /// was slow): the delivery is not recorded, so GitHub's redelivery is processed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PlanFailure::Git(_)
                | PlanFailure::Mirror(_)
                // The repository gantry fetches from may lag behind GitHub: a redelivery
                // once it caught up runs the pushed commit.
                | PlanFailure::PushedCommitMissing(_)
                | PlanFailure::TimedOut(_)
                | PlanFailure::Task(_)
        )
    }
}

/// The ref and commit an event runs at (`github.ref`, `github.sha`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub git_ref: String,
    /// A revision to resolve: a sha, or a ref name when the payload has no sha.
    pub rev: String,
    /// Tried when `rev` does not resolve (a release whose tag is gone).
    pub fallback: Option<String>,
}

/// The outcome of planning one delivery.
#[derive(Debug, Default)]
pub struct Planned {
    pub runs: Vec<NewRun>,
    /// (workflow path, why it does not run)
    pub skipped: Vec<(String, String)>,
}

fn str_at<'a>(payload: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(payload, |v, k| v.get(k))?.as_str()
}

/// GitHub's `GITHUB_REF`/`GITHUB_SHA` per event, from the one table in `gantry-plan` that
/// `gantry run` reads too.
pub fn target(event: &str, payload: &Value) -> Result<Target, PlanFailure> {
    let r = gantry_plan::event_ref(event, payload).map_err(|e| match e {
        gantry_plan::EventRefError::Missing { field, .. } => PlanFailure::NoTarget(field),
        gantry_plan::EventRefError::Deleted(git_ref) => PlanFailure::Deleted(git_ref),
    })?;
    // A push that names its commit runs that commit or nothing: the branch head may be a later
    // push's commit (or anything, when `after` names a commit the mirror never got).
    let fallback = if event == "push" && r.sha.is_some() {
        None
    } else {
        r.fallback
    };
    Ok(Target {
        rev: r.sha.unwrap_or_else(|| r.git_ref.clone()),
        git_ref: r.git_ref,
        fallback,
    })
}

/// Where the repository's mirror lives.
pub fn mirror_dir(data_dir: &Path, repo_name: &str) -> PathBuf {
    data_dir
        .join("mirrors")
        .join(format!("{}.git", repo_name.replace('/', "__")))
}

/// Writes the files of commit `sha` from the repository's mirror into `dir` (created), so a
/// run starts with the repository's files like act does.
pub fn check_out(
    data_dir: &Path,
    repo_name: &str,
    sha: &str,
    dir: &Path,
) -> Result<(), PlanFailure> {
    std::fs::create_dir_all(dir).map_err(PlanFailure::Mirror)?;
    let repo = git2::Repository::open_bare(mirror_dir(data_dir, repo_name))?;
    let commit = repo.revparse_single(sha)?.peel_to_commit()?;
    let mut options = git2::build::CheckoutBuilder::new();
    // Runs check out concurrently from one mirror: leave its index alone (no index.lock).
    options
        .target_dir(dir)
        .force()
        .recreate_missing(true)
        .update_index(false);
    repo.checkout_tree(commit.as_object(), Some(&mut options))?;
    Ok(())
}

/// Mirrors the repository into `<data_dir>/mirrors/<owner>__<repo>.git` and fetches every
/// branch and tag, so each delivery sees the current state.
pub fn fetch(data_dir: &Path, repo_name: &str, url: &str) -> Result<git2::Repository, PlanFailure> {
    let dir = mirror_dir(data_dir, repo_name);
    std::fs::create_dir_all(&dir).map_err(PlanFailure::Mirror)?;
    let repo = match git2::Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => git2::Repository::init_bare(&dir)?,
    };
    {
        let mut remote = repo.remote_anonymous(url)?;
        let refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
        let mut options = git2::FetchOptions::new();
        options.download_tags(git2::AutotagOption::All);
        remote.fetch(&refspecs, Some(&mut options), None)?;
    }
    Ok(repo)
}

fn resolve<'r>(
    repo: &'r git2::Repository,
    target: &Target,
) -> Result<git2::Commit<'r>, PlanFailure> {
    let candidates = std::iter::once(&target.rev).chain(target.fallback.as_ref());
    for rev in candidates {
        if let Ok(object) = repo.revparse_single(rev)
            && let Ok(commit) = object.peel_to_commit()
        {
            return Ok(commit);
        }
    }
    Err(PlanFailure::RefNotFound(target.rev.clone()))
}

/// A workflow file too large to read: its size was read from the object header only.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the workflow file is {size} bytes, more than the {}-byte limit",
    gantry_files::MAX_WORKFLOW_BYTES
)]
pub struct Oversized {
    pub size: u64,
}

/// One workflow file of a commit: its path and its text, unless it is too large to read.
pub type WorkflowFile = (String, Result<String, Oversized>);

/// `.github/workflows/*.yml|yaml` at `commit`, as (path, text), sorted by path. A file over
/// 1 MiB is never loaded (its size comes from the object header): a push cannot make the
/// daemon allocate a huge blob, on this delivery or its redeliveries.
pub fn workflow_files(
    repo: &git2::Repository,
    commit: &git2::Commit<'_>,
) -> Result<Vec<WorkflowFile>, PlanFailure> {
    let tree = commit.tree()?;
    let Ok(entry) = tree.get_path(Path::new(".github/workflows")) else {
        return Ok(Vec::new());
    };
    let dir = entry.to_object(repo)?.peel_to_tree()?;
    let mut files = Vec::new();
    for entry in dir.iter() {
        let Ok(name) = entry.name() else { continue };
        let is_yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        if !is_yaml || entry.kind() != Some(git2::ObjectType::Blob) {
            continue;
        }
        let path = format!(".github/workflows/{name}");
        let (size, _) = repo.odb()?.read_header(entry.id())?;
        let size = size as u64;
        if size > gantry_files::MAX_WORKFLOW_BYTES {
            files.push((path, Err(Oversized { size })));
            continue;
        }
        let blob = repo.find_blob(entry.id())?;
        let text = String::from_utf8_lossy(blob.content()).into_owned();
        files.push((path, Ok(text)));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// What the planner needs to know about the delivery.
pub struct EventInput<'a> {
    pub repo_name: &'a str,
    pub repo: &'a RepoConfig,
    pub event: &'a str,
    pub payload: &'a Value,
}

/// Removes lock files a killed daemon may have left in the mirrors (git2 writes
/// `refs/heads/x.lock` while fetching). Only called at start-up, before any fetch.
pub fn clear_stale_locks(data_dir: &Path) {
    fn walk(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path);
            } else if path.extension().is_some_and(|e| e == "lock") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    walk(&data_dir.join("mirrors"));
}

/// Fetches, reads and plans every workflow for one event.
pub fn plan_event(data_dir: &Path, input: &EventInput<'_>) -> Result<Planned, PlanFailure> {
    plan_event_with(data_dir, input, true)
}

/// [`plan_event`]; `refresh = false` plans from the mirror as it is, for a caller that knows
/// a fetch started after the event arrived has already completed.
pub fn plan_event_with(
    data_dir: &Path,
    input: &EventInput<'_>,
    refresh: bool,
) -> Result<Planned, PlanFailure> {
    let target = target(input.event, input.payload)?;
    let repo = if refresh {
        fetch(data_dir, input.repo_name, &input.repo.url)?
    } else {
        git2::Repository::open_bare(mirror_dir(data_dir, input.repo_name))?
    };
    let commit = match resolve(&repo, &target) {
        Err(PlanFailure::RefNotFound(rev)) if input.event == "push" && rev != target.git_ref => {
            return Err(PlanFailure::PushedCommitMissing(rev));
        }
        resolved => resolved?,
    };
    let sha = commit.id().to_string();
    let files = workflow_files(&repo, &commit)?;
    let changed = changed_files(&repo, input, &commit);
    let mut planned = Planned::default();
    for (path, source) in files {
        let source = match source {
            Ok(source) => source,
            Err(oversized) => {
                planned.skipped.push((path, oversized.to_string()));
                continue;
            }
        };
        let at = At {
            git_ref: &target.git_ref,
            sha: &sha,
            changed: &changed,
        };
        match plan_file(input, &at, &path, &source) {
            Ok(run) => planned.runs.push(run),
            Err(reason) => planned.skipped.push((path, reason)),
        }
    }
    Ok(planned)
}

/// The files a push or pull request changed, for path filters: `before..after` for a push,
/// merge base..head for a pull request. Unknown (filters pass) when the base is missing.
fn changed_files(
    repo: &git2::Repository,
    input: &EventInput<'_>,
    head: &git2::Commit<'_>,
) -> ChangedFiles {
    let payload = input.payload;
    let base = match input.event {
        "push" => str_at(payload, &["before"]),
        "pull_request" | "pull_request_target" => str_at(payload, &["pull_request", "base", "sha"]),
        _ => None,
    };
    let Some(base) = base.filter(|b| !b.chars().all(|c| c == '0')) else {
        return ChangedFiles::Unknown;
    };
    diff_paths(repo, base, head, input.event != "push").unwrap_or(ChangedFiles::Unknown)
}

fn diff_paths(
    repo: &git2::Repository,
    base: &str,
    head: &git2::Commit<'_>,
    from_merge_base: bool,
) -> Result<ChangedFiles, git2::Error> {
    let mut base = repo.revparse_single(base)?.peel_to_commit()?;
    if from_merge_base {
        base = repo.find_commit(repo.merge_base(base.id(), head.id())?)?;
    }
    let diff = repo.diff_tree_to_tree(Some(&base.tree()?), Some(&head.tree()?), None)?;
    let files = diff
        .deltas()
        .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(ChangedFiles::Known(files))
}

/// Where an event runs.
struct At<'a> {
    git_ref: &'a str,
    sha: &'a str,
    changed: &'a ChangedFiles,
}

/// Plans one workflow file: a run, or why it does not run. A file with errors is skipped
/// with that reason; a workflow that listens to the event but cannot be planned (invalid
/// dispatch inputs, a bad matrix, a concurrency group that does not evaluate) becomes a
/// failed run, so the failure is visible.
fn plan_file(
    input: &EventInput<'_>,
    at: &At<'_>,
    path: &str,
    source: &str,
) -> Result<NewRun, String> {
    let (git_ref, sha) = (at.git_ref, at.sha);
    let parsed = parse_workflow(path, source);
    let workflow = match (&parsed.value, parsed.has_errors()) {
        (Some(wf), false) => wf,
        _ => return Err("the workflow file has errors".to_owned()),
    };
    let event = Event {
        git_ref: Some(git_ref.to_owned()),
        changed_files: at.changed.clone(),
        ..Event::new(input.event, input.payload.clone())
    };
    let github = github_context(input, at, path, workflow);
    let context = PlanContext {
        github: Some(github.clone()),
        vars: Some(json!(input.repo.variables)),
    };
    let spec = |jobs, inputs| RunSpec {
        repo: input.repo_name.to_owned(),
        repo_url: input.repo.url.clone(),
        event: input.event.to_owned(),
        payload: input.payload.clone(),
        git_ref: git_ref.to_owned(),
        sha: sha.to_owned(),
        workflow_path: path.to_owned(),
        workflow_name: workflow_name(workflow, path),
        workflow_source: source.to_owned(),
        jobs,
        inputs,
    };
    match plan_workflow_with(workflow, &event, &[], &context) {
        Ok(WorkflowOutcome::Skipped(reason)) => Err(reason.to_string()),
        Ok(WorkflowOutcome::Run(plan)) => {
            let inputs = plan.inputs.map(Value::Object);
            let jobs = job_infos(workflow, &plan.jobs);
            let concurrency = concurrency(workflow, &github, inputs.as_ref(), input.repo);
            let mut run = NewRun::new(spec(jobs, inputs));
            match concurrency {
                Ok(c) => run.concurrency = c,
                Err(e) => run.failed = Some(format!("concurrency: {e}")),
            }
            Ok(run)
        }
        Err(error) => {
            let mut run = NewRun::new(spec(Vec::new(), None));
            run.failed = Some(error.to_string());
            Ok(run)
        }
    }
}

fn workflow_name(workflow: &Workflow, path: &str) -> String {
    workflow
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .unwrap_or_else(|| path.to_owned())
}

fn job_infos(workflow: &Workflow, jobs: &[gantry_plan::PlannedJob]) -> Vec<PlannedJobInfo> {
    jobs.iter()
        .map(|job| {
            let name = workflow
                .jobs
                .get(&job.id)
                .and_then(|j| j.name.as_ref())
                .map(|n| n.value.clone())
                .unwrap_or_else(|| job.id.clone());
            PlannedJobInfo {
                key: job.id.clone(),
                name,
                needs: job.needs.clone(),
            }
        })
        .collect()
}

/// The `github` context known before the run is stored (no run numbers yet), from the same
/// builder the runner's steps see.
fn github_context(input: &EventInput<'_>, at: &At<'_>, path: &str, workflow: &Workflow) -> Value {
    let facts = gantry_plan::EventFacts {
        event_name: input.event,
        payload: input.payload,
        repository: input.repo_name,
        sha: at.sha,
        git_ref: at.git_ref,
        workflow_path: path,
        workflow_name: workflow.name.as_ref().map(|n| n.value.as_str()),
    };
    Value::Object(gantry_plan::GithubInfo::for_event(&facts).context_before_run())
}

struct Contexts {
    github: Value,
    inputs: Value,
    vars: Value,
}

impl EvalContext for Contexts {
    fn named_value(&self, name: &str) -> Option<ExprValue> {
        match name.to_ascii_lowercase().as_str() {
            "github" => Some(ExprValue::from(&self.github)),
            "inputs" => Some(ExprValue::from(&self.inputs)),
            "vars" => Some(ExprValue::from(&self.vars)),
            _ => None,
        }
    }
}

/// Evaluates the workflow-level `concurrency:` (group and `cancel-in-progress`).
fn concurrency(
    workflow: &Workflow,
    github: &Value,
    inputs: Option<&Value>,
    repo: &RepoConfig,
) -> Result<Option<ConcurrencySpec>, String> {
    let Some(c) = &workflow.concurrency else {
        return Ok(None);
    };
    let contexts = Contexts {
        github: github.clone(),
        inputs: inputs.cloned().unwrap_or_else(|| json!({})),
        vars: json!(repo.variables),
    };
    let group = evaluate(&c.value.group.value, &contexts)?.to_display_string();
    let cancel_in_progress = match c.value.cancel_in_progress.as_ref().map(|c| &c.value) {
        None => false,
        Some(OrExpr::Value(b)) => *b,
        Some(OrExpr::Expr(source)) => evaluate(source, &contexts)?.is_truthy(),
    };
    Ok(Some(ConcurrencySpec {
        group,
        cancel_in_progress,
    }))
}

/// Each job's `concurrency.group` (job level), lower-cased since GitHub compares group names
/// case-insensitively. Groups that read contexts only known while the run executes
/// (`matrix`, `needs`) cannot be evaluated here and are returned as errors.
pub(crate) fn job_groups(
    workflow: &Workflow,
    github: &Value,
    inputs: Option<&Value>,
    vars: &Value,
) -> (BTreeMap<String, String>, Vec<String>) {
    let contexts = Contexts {
        github: github.clone(),
        inputs: inputs.cloned().unwrap_or_else(|| json!({})),
        vars: vars.clone(),
    };
    let (mut groups, mut errors) = (BTreeMap::new(), Vec::new());
    for (id, job) in &workflow.jobs {
        let Some(c) = &job.concurrency else { continue };
        match evaluate(&c.value.group.value, &contexts) {
            Ok(group) => {
                groups.insert(id.clone(), group.to_display_string().to_lowercase());
            }
            Err(e) => errors.push(format!("jobs.{id}.concurrency: {e}")),
        }
    }
    (groups, errors)
}

fn evaluate(source: &str, contexts: &Contexts) -> Result<ExprValue, String> {
    let options = ParseOptions::new()
        .named_value("github")
        .named_value("inputs")
        .named_value("vars");
    let template = parse_template(source, &options).map_err(|e| e.to_string())?;
    template.evaluate(contexts).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_githubs_table() {
        let release = json!({"release": {"tag_name": "v1", "target_commitish": "main"}});
        assert_eq!(
            target("release", &release).unwrap(),
            Target {
                git_ref: "refs/tags/v1".into(),
                rev: "refs/tags/v1".into(),
                fallback: Some("refs/heads/main".into())
            }
        );
        let push = json!({"ref": "refs/heads/dev", "after": "abc"});
        assert_eq!(target("push", &push).unwrap().rev, "abc");
        assert_eq!(target("push", &push).unwrap().fallback, None);
        let dispatch = json!({"ref": "main"});
        assert_eq!(
            target("workflow_dispatch", &dispatch).unwrap().git_ref,
            "refs/heads/main"
        );
        let issues = json!({"repository": {"default_branch": "trunk"}});
        assert_eq!(
            target("issues", &issues).unwrap().git_ref,
            "refs/heads/trunk"
        );
        assert!(matches!(
            target("issues", &json!({})),
            Err(PlanFailure::NoTarget(_))
        ));
    }
}
