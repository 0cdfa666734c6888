//! `gantry run --dry-run --explain`: what each job and step would do, worked out with the same
//! contexts and rules the run uses, without creating anything.
//!
//! Values only a run knows are assumed the way a first, successful run has them: every needed
//! job succeeded with no outputs, no step has outputs yet, status functions answer for a job
//! where nothing failed. Paths are the ones a container job sees. The result is data; the CLI
//! renders it.

use std::sync::Arc;

use gantry_plan::{MatrixPlan, WorkflowPlan};
use gantry_workflow::{Job, Step, StepKind, UsesRef, Workflow};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::calls::CallScope;
use crate::context::{NeedRecord, Scope, Status, StepGithub, StepVars, string_map};
use crate::dispatcher::RunOptions;
use crate::event::Conclusion;
use crate::executor::{Executor, ExecutorError, JobEnvironment, JobSpec, Platform};
use crate::job::{JobInstance, RunShared, job_scope};
use crate::shell::{ShellTemplate, most_specific, working_directory};

/// The workspace path a container job sees (`/__w/<repo>/<repo>`), for `working-directory`.
const WORK_ROOT: &str = "/__w";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobExplanation {
    pub job_id: String,
    /// The matrix row, when the job has one.
    pub matrix: Option<Json>,
    pub condition: Condition,
    /// Where it would run (`gantry/runner:bookworm`, `host`), or why it cannot.
    pub platform: Result<String, String>,
    /// Why the job would not run (`None`: it runs).
    pub skipped: Option<String>,
    /// `env` as its steps start from (workflow < job).
    pub env: IndexMap<String, String>,
    pub steps: Vec<StepExplanation>,
}

/// An `if:` (absent is `success()`), its value, and the values of the contexts it read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub source: String,
    pub result: Result<bool, String>,
    pub reads: Vec<(String, Json)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepExplanation {
    /// 1-based, as `--pause-before N` names it.
    pub number: usize,
    pub id: Option<String>,
    pub name: String,
    pub condition: Condition,
    /// The step's final `env` (workflow < job < step).
    pub env: IndexMap<String, String>,
    pub action: StepAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepAction {
    Run {
        /// The shell template (`bash -e {0}`); `{0}` is the script file.
        shell: String,
        working_directory: String,
        /// The script with its expressions evaluated (or the error).
        script: Result<String, String>,
    },
    Uses {
        uses: String,
        /// What runs: `built-in`, `local action`, `docker image`, `action from the store`.
        resolved: String,
        inputs: IndexMap<String, Result<String, String>>,
    },
}

/// Explains every planned job (each matrix row) of `workflow`.
pub fn explain(
    workflow: Arc<Workflow>,
    plan: &WorkflowPlan,
    options: RunOptions,
) -> Vec<JobExplanation> {
    let scope = Arc::new(CallScope {
        workflow,
        inputs: plan.inputs.clone(),
        secrets: options.secrets.clone(),
        key_prefix: String::new(),
        name_prefix: String::new(),
    });
    let shared = RunShared {
        masker: RunShared::masker_for(&options),
        options,
        executor: Arc::new(NothingRuns),
    };
    let mut explained = Vec::new();
    for planned in &plan.jobs {
        let Some(job) = scope.job(&planned.id) else {
            continue;
        };
        let needs: IndexMap<String, NeedRecord> = planned
            .needs
            .iter()
            .map(|n| {
                let record = NeedRecord {
                    result: Conclusion::Success,
                    outputs: Map::new(),
                };
                (n.clone(), record)
            })
            .collect();
        let rows: Vec<Option<Map<String, Json>>> = match &planned.matrix {
            MatrixPlan::Rows(rows) => rows.iter().cloned().map(Some).collect(),
            MatrixPlan::None | MatrixPlan::Deferred { .. } => vec![None],
        };
        for row in rows {
            let inst = JobInstance {
                scope: scope.clone(),
                key: planned.id.clone(),
                id: planned.id.clone(),
                name: planned.id.clone(),
                matrix: row,
                strategy: Json::Null,
                needs: needs.clone(),
                cancel: shared.options.cancel.clone(),
            };
            explained.push(explain_job(&shared, &inst, job));
        }
    }
    explained
}

fn explain_job(shared: &RunShared, inst: &JobInstance, job: &Job) -> JobExplanation {
    let mut scope = job_scope(shared, inst);
    scope.set_status(Status::Job {
        all_needs_succeeded: true,
        any_need_failed: false,
        cancelled: false,
    });
    let condition = condition(&scope, job.if_.as_ref().map(|c| c.value.as_str()));
    let platform = match &job.uses {
        // A call runs the called workflow's jobs, each on its own platform.
        Some(uses) => Ok(format!("the jobs of `{}`", uses.value)),
        None => crate::job::platform(shared, job, &scope)
            .map(|p| match p {
                Platform::Image(image) => image,
                Platform::Host => "host".to_owned(),
            })
            .map_err(|e| e.explain(shared.options.strict_platforms)),
    };
    let skipped = match (&condition.result, &platform) {
        (Ok(false), _) => Some(format!("its `if: {}` is false", condition.source)),
        (Err(e), _) => Some(format!("its condition is invalid: {e}")),
        (_, Err(e)) => Some(e.clone()),
        (Ok(true), Ok(_)) => None,
    };
    let mut env = IndexMap::new();
    for level in [&inst.scope.workflow.env, &job.env] {
        for (name, value) in level {
            let value = step_scope(shared, inst, &env)
                .eval_string(&value.value)
                .unwrap_or_else(|e| format!("<error: {e}>"));
            env.insert(name.clone(), value);
        }
    }
    let steps = job
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| explain_step(shared, inst, job, &env, i, step))
        .collect();
    JobExplanation {
        job_id: inst.id.clone(),
        matrix: inst.matrix.clone().map(Json::Object),
        condition,
        platform,
        skipped,
        env,
        steps,
    }
}

fn workspace(shared: &RunShared) -> String {
    let name = shared
        .options
        .github
        .repository
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("repository");
    format!("{WORK_ROOT}/{name}/{name}")
}

/// The scope a step's expressions see in a job where nothing failed yet.
fn step_scope<'s>(
    shared: &'s RunShared,
    inst: &'s JobInstance,
    env: &IndexMap<String, String>,
) -> Scope<'s> {
    let mut scope = job_scope(shared, inst);
    let vars = StepVars {
        job: inst.id.clone(),
        workspace: workspace(shared),
        ..StepVars::default()
    };
    scope.set("github", shared.options.github.step_context(&vars));
    scope.set("env", string_map(env));
    scope.set("steps", Json::Object(Map::new()));
    scope.set("job", serde_json::json!({ "status": "success" }));
    scope
}

fn explain_step(
    shared: &RunShared,
    inst: &JobInstance,
    job: &Job,
    job_env: &IndexMap<String, String>,
    index: usize,
    step: &Step,
) -> StepExplanation {
    let mut env = job_env.clone();
    for (name, value) in &step.env {
        let value = step_scope(shared, inst, &env)
            .eval_string(&value.value)
            .unwrap_or_else(|e| format!("<error: {e}>"));
        env.insert(name.clone(), value);
    }
    let scope = step_scope(shared, inst, &env);
    let name = match &step.name {
        Some(n) => scope
            .eval_string(&n.value)
            .unwrap_or_else(|_| n.value.clone()),
        None => crate::debugger::static_name(step),
    };
    let action = match &step.kind {
        StepKind::Run {
            run,
            shell,
            working_directory: wd,
        } => {
            let defaults = |f: fn(&gantry_workflow::Defaults) -> Option<&str>| {
                [f(&job.defaults), f(&inst.scope.workflow.defaults)]
            };
            let [job_shell, wf_shell] = defaults(|d| d.shell.as_ref().map(|s| s.value.as_str()));
            let [job_wd, wf_wd] =
                defaults(|d| d.working_directory.as_ref().map(|s| s.value.as_str()));
            let shell = most_specific(&[
                shell.as_ref().map(|s| s.value.as_str()),
                job_shell,
                wf_shell,
            ]);
            let wd = most_specific(&[wd.as_ref().map(|s| s.value.as_str()), job_wd, wf_wd])
                .map(|w| scope.eval_string(w).unwrap_or_else(|_| w.to_owned()));
            StepAction::Run {
                shell: match ShellTemplate::resolve(shell, true) {
                    Ok(t) if shell.is_none() => {
                        format!("{} (sh -e {{0}} without bash)", t.template)
                    }
                    Ok(t) => t.template,
                    Err(e) => format!("<error: {e}>"),
                },
                working_directory: working_directory(&workspace(shared), wd.as_deref()),
                script: scope.eval_string(&run.value).map_err(|e| e.to_string()),
            }
        }
        StepKind::Uses { uses, with } => {
            let inputs = with
                .iter()
                .map(|(k, v)| {
                    let value =
                        crate::step::yaml_string(&v.value, &scope).map_err(|e| e.to_string());
                    (k.clone(), value)
                })
                .collect();
            StepAction::Uses {
                uses: uses.value.clone(),
                resolved: resolve(shared, &uses.value),
                inputs,
            }
        }
    };
    StepExplanation {
        number: index + 1,
        id: step.id.as_ref().map(|i| i.value.clone()),
        name,
        condition: condition(&scope, step.if_.as_ref().map(|c| c.value.as_str())),
        env,
        action,
    }
}

fn resolve(shared: &RunShared, uses: &str) -> String {
    match gantry_workflow::uses::parse_uses(uses) {
        Err(e) => format!("invalid: {e}"),
        Ok(UsesRef::Local(path)) => {
            format!(
                "local action `{path}` (its action.yml is read from the workspace when the step runs)"
            )
        }
        Ok(UsesRef::Docker(image)) => format!("docker image `{image}` (never pulled)"),
        Ok(UsesRef::Repo {
            owner,
            repo,
            path,
            git_ref,
        }) => {
            if path.is_none() && shared.options.actions.get(&owner, &repo).is_some() {
                format!("gantry's built-in {owner}/{repo} (any ref; `{git_ref}` asked)")
            } else {
                let path = path.map(|p| format!("/{p}")).unwrap_or_default();
                format!("{owner}/{repo}{path}@{git_ref} from the action store")
            }
        }
    }
}

/// Evaluates an `if:` and the value of every context reference in it.
fn condition(scope: &Scope<'_>, source: Option<&str>) -> Condition {
    let text = source.unwrap_or("").trim();
    let shown = if text.is_empty() { "success()" } else { text };
    let result = scope.eval_condition(source).map_err(|e| e.to_string());
    let reads = gantry_expr::parse_condition(text, &crate::context::parse_options())
        .map(|expr| {
            let mut reads: Vec<(String, Json)> = Vec::new();
            for reference in expr.references() {
                let path = reference_text(&reference);
                if reads.iter().any(|(p, _)| *p == path) {
                    continue;
                }
                let value = scope
                    .eval_value(&format!("${{{{ {path} }}}}"))
                    .map_or(Json::Null, |v| v.to_json());
                reads.push((path, value));
            }
            reads
        })
        .unwrap_or_default();
    Condition {
        source: shown.to_owned(),
        result,
        reads,
    }
}

/// `github.event.pull_request['head']` as `github.event.pull_request.head`; a computed index
/// ends the path (its value depends on the evaluation).
fn reference_text(reference: &gantry_expr::Reference<'_>) -> String {
    let mut text = reference.name.to_owned();
    for part in &reference.path {
        match part {
            gantry_expr::PathPart::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            gantry_expr::PathPart::Star | gantry_expr::PathPart::Dynamic => break,
        }
    }
    text
}

/// A dry run creates nothing: the explanation never starts a job.
struct NothingRuns;

#[async_trait::async_trait]
impl Executor for NothingRuns {
    async fn start_job(&self, _spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        Err(ExecutorError::Unsupported(
            "a dry run starts no job".to_owned(),
        ))
    }
}
