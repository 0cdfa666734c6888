//! Which workflows and jobs run for an event: adapters from the workflow model to the plain-data
//! algorithms, and the plan itself.

use gantry_workflow::{Job, Matrix, Workflow, Yaml};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::dag::{DagError, JobGraph, UnknownJob};
use crate::event::{Event, SkipReason, Trigger, TriggerError, TriggerSpec, Triggers};
use crate::inputs::{InputError, InputKind, InputSpec, resolve_inputs};
use crate::matrix::{MatrixError, MatrixRow, expand};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("invalid triggers: {}", join(.0))]
    Triggers(Vec<TriggerError>),
    #[error("invalid job dependencies: {}", join(.0))]
    Dag(Vec<DagError>),
    #[error(transparent)]
    UnknownJob(#[from] UnknownJob),
    #[error("job '{job}': {error}")]
    Matrix { job: String, error: MatrixError },
    #[error("invalid inputs: {}", join(.0))]
    Inputs(Vec<InputError>),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A matrix expanded with the caller's expression evaluator, or why not.
#[derive(Debug, Error)]
pub enum MatrixResolveError<E: std::error::Error + 'static> {
    #[error("cannot evaluate matrix expression '{expression}': {error}")]
    Eval { expression: String, error: E },
    #[error(transparent)]
    Matrix(#[from] MatrixError),
}

/// A job's matrix as far as the plan knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixPlan {
    /// No `strategy.matrix`: one run.
    None,
    /// Expanded at plan time.
    Rows(Vec<MatrixRow>),
    /// Contains expressions; the runner expands it at run time with [`resolve_matrix`].
    /// `needs_outputs` tells whether it reads `needs` (and so must wait for those jobs).
    Deferred { needs_outputs: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub id: String,
    /// Direct needs, in source order.
    pub needs: Vec<String>,
    pub matrix: MatrixPlan,
}

/// One workflow that runs: its jobs in topological order.
#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    /// The event that triggered it (`workflow_dispatch`...).
    pub event: String,
    pub jobs: Vec<PlannedJob>,
    pub graph: JobGraph,
    /// The `inputs` context for `workflow_dispatch` and `workflow_call`.
    pub inputs: Option<Map<String, Value>>,
}

/// The outcome for one workflow.
#[derive(Debug, Clone)]
pub enum WorkflowOutcome {
    Run(WorkflowPlan),
    Skipped(SkipReason),
}

/// The plan for an event over several workflows, keyed by the caller's workflow names.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub runs: Vec<(String, WorkflowPlan)>,
    pub skipped: Vec<(String, SkipReason)>,
    pub errors: Vec<(String, PlanError)>,
}

/// Plans every workflow for `event`. `jobs` selects jobs by id (each with everything it needs);
/// empty selects all jobs. A workflow that does not define a selected job is an error only
/// when it would run.
pub fn plan<'a, I>(workflows: I, event: &Event, jobs: &[String]) -> Plan
where
    I: IntoIterator<Item = (&'a str, &'a Workflow)>,
{
    let mut plan = Plan::default();
    for (name, workflow) in workflows {
        match plan_workflow(workflow, event, jobs) {
            Ok(WorkflowOutcome::Run(p)) => plan.runs.push((name.to_owned(), p)),
            Ok(WorkflowOutcome::Skipped(reason)) => plan.skipped.push((name.to_owned(), reason)),
            Err(error) => plan.errors.push((name.to_owned(), error)),
        }
    }
    plan
}

/// Plans one workflow for `event`.
pub fn plan_workflow(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
) -> Result<WorkflowOutcome, PlanError> {
    let triggers = Triggers::compile(&trigger_specs(workflow)).map_err(PlanError::Triggers)?;
    let trigger = match triggers.check(event) {
        Ok(trigger) => trigger,
        Err(reason) => return Ok(WorkflowOutcome::Skipped(reason)),
    };
    let inputs = event_inputs(trigger, event)?;
    let graph = job_graph(workflow)?;
    let selected = if jobs.is_empty() {
        graph.topological_order()
    } else {
        graph.closure(jobs)?
    };
    let planned = selected
        .into_iter()
        .filter_map(|id| workflow.jobs.get(id).map(|job| plan_job(id, job)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WorkflowOutcome::Run(WorkflowPlan {
        event: event.name.clone(),
        jobs: planned,
        graph,
        inputs,
    }))
}

fn plan_job(id: &str, job: &Job) -> Result<PlannedJob, PlanError> {
    let matrix = job_matrix(job).map_err(|error| PlanError::Matrix {
        job: id.to_owned(),
        error,
    })?;
    Ok(PlannedJob {
        id: id.to_owned(),
        needs: job.needs.iter().map(|n| n.value.clone()).collect(),
        matrix,
    })
}

/// The job graph of a workflow.
pub fn job_graph(workflow: &Workflow) -> Result<JobGraph, PlanError> {
    let jobs = workflow
        .jobs
        .iter()
        .map(|(id, job)| (id.as_str(), job.needs.iter().map(|n| n.value.as_str())));
    JobGraph::build(jobs).map_err(PlanError::Dag)
}

/// Inputs for `workflow_dispatch` (from `payload.inputs`) and `workflow_call` (from the caller's
/// `with`, also passed as `payload.inputs`).
fn event_inputs(trigger: &Trigger, event: &Event) -> Result<Option<Map<String, Value>>, PlanError> {
    if !matches!(
        trigger.event.as_str(),
        "workflow_dispatch" | "workflow_call"
    ) {
        return Ok(None);
    }
    let empty = Map::new();
    let provided = event
        .payload
        .get("inputs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    resolve_inputs(&trigger.inputs, provided)
        .map(Some)
        .map_err(PlanError::Inputs)
}

/// The job's matrix: expanded when it holds no expression, deferred otherwise.
pub fn job_matrix(job: &Job) -> Result<MatrixPlan, MatrixError> {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.value.matrix.as_ref()) else {
        return Ok(MatrixPlan::None);
    };
    let expressions = matrix_expressions(&matrix.value);
    if !expressions.is_empty() {
        let needs_outputs = expressions.iter().any(|e| e.contains("needs."));
        return Ok(MatrixPlan::Deferred { needs_outputs });
    }
    let literal =
        resolve_matrix(&matrix.value, &mut |_| Err(NoExpressions)).map_err(|e| match e {
            MatrixResolveError::Matrix(m) => m,
            // Unreachable: the matrix has no expression to evaluate.
            MatrixResolveError::Eval { .. } => MatrixError::NoVectors,
        })?;
    Ok(MatrixPlan::Rows(literal))
}

#[derive(Debug, Error)]
#[error("expressions are not evaluated at plan time")]
struct NoExpressions;

/// Evaluates every expression in a matrix with `evaluate` (given the source text, `${{ }}`
/// included) and expands it. The runner calls this for deferred matrices once `needs` outputs
/// are known.
pub fn resolve_matrix<E, F>(
    matrix: &Matrix,
    evaluate: &mut F,
) -> Result<Vec<MatrixRow>, MatrixResolveError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut(&str) -> Result<Value, E>,
{
    let mut eval = |text: &str| {
        evaluate(text).map_err(|error| MatrixResolveError::Eval {
            expression: text.to_owned(),
            error,
        })
    };
    let value = match matrix {
        Matrix::Expr(text) => eval(text)?,
        Matrix::Map {
            dimensions,
            include,
            exclude,
        } => {
            let mut map = Map::new();
            for (key, value) in dimensions {
                map.insert(key.value.clone(), yaml_to_json(&value.value, &mut eval)?);
            }
            for (key, list) in [("include", include), ("exclude", exclude)] {
                if let Some(list) = list {
                    map.insert(key.to_owned(), yaml_to_json(&list.value, &mut eval)?);
                }
            }
            Value::Object(map)
        }
    };
    Ok(expand(&value)?)
}

/// Converts free-form YAML to JSON; strings holding `${{` go through `eval`.
pub fn yaml_to_json<E, F>(yaml: &Yaml, eval: &mut F) -> Result<Value, E>
where
    F: FnMut(&str) -> Result<Value, E>,
{
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => number(*n),
        Yaml::String(s) if s.contains("${{") => eval(s)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Seq(items) => Value::Array(
            items
                .iter()
                .map(|i| yaml_to_json(&i.value, eval))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.value.clone(), yaml_to_json(&v.value, eval)?);
            }
            Value::Object(map)
        }
    })
}

/// Whole numbers become JSON integers so that `matrix.version` renders as `14`, not `14.0`.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// The expression strings in a matrix, in source order.
fn matrix_expressions(matrix: &Matrix) -> Vec<String> {
    let mut found = Vec::new();
    match matrix {
        Matrix::Expr(text) => found.push(text.clone()),
        Matrix::Map {
            dimensions,
            include,
            exclude,
        } => {
            let lists = include.iter().chain(exclude).map(|l| &l.value);
            for yaml in dimensions.iter().map(|(_, v)| &v.value).chain(lists) {
                let _ = yaml_to_json(yaml, &mut |s: &str| -> Result<Value, NoExpressions> {
                    found.push(s.to_owned());
                    Ok(Value::Null)
                });
            }
        }
    }
    found
}

/// The workflow's `on:` as plain trigger specs.
pub fn trigger_specs(workflow: &Workflow) -> Vec<TriggerSpec> {
    workflow
        .on
        .events
        .iter()
        .map(|(event, config)| {
            let c = &config.value;
            let list = |l: &Option<gantry_workflow::Spanned<gantry_workflow::StringList>>| {
                l.as_ref()
                    .map(|l| l.value.iter().map(|s| s.value.clone()).collect::<Vec<_>>())
            };
            TriggerSpec {
                event: event.clone(),
                types: list(&c.types),
                branches: list(&c.branches),
                branches_ignore: list(&c.branches_ignore),
                tags: list(&c.tags),
                tags_ignore: list(&c.tags_ignore),
                paths: list(&c.paths),
                paths_ignore: list(&c.paths_ignore),
                workflows: list(&c.workflows),
                crons: c.crons.iter().map(|s| s.value.clone()).collect(),
                inputs: c
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), input_spec(&v.value)))
                    .collect::<IndexMap<_, _>>(),
            }
        })
        .collect()
}

fn input_spec(input: &gantry_workflow::Input) -> InputSpec {
    let kind = match input.kind {
        gantry_workflow::InputType::String => InputKind::String,
        gantry_workflow::InputType::Boolean => InputKind::Boolean,
        gantry_workflow::InputType::Number => InputKind::Number,
        gantry_workflow::InputType::Choice => InputKind::Choice,
        gantry_workflow::InputType::Environment => InputKind::Environment,
    };
    let no_eval =
        &mut |s: &str| -> Result<Value, NoExpressions> { Ok(Value::String(s.to_owned())) };
    InputSpec {
        kind,
        required: input.required,
        default: input
            .default
            .as_ref()
            .and_then(|d| yaml_to_json(&d.value, no_eval).ok()),
        options: input.options.iter().map(|o| o.value.clone()).collect(),
    }
}
