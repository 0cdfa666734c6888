//! Which workflows and jobs run for an event: adapters from the workflow model to the plain-data
//! algorithms, and the plan itself.

use std::sync::Arc;

use gantry_workflow::{Job, Workflow};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use thiserror::Error;

use std::collections::HashSet;

use crate::calls::{CallError, CallPlanner, CalledWorkflow, Origin, Resolve};
use crate::dag::{DagError, JobGraph, UnknownJob};
use crate::event::{Event, SkipReason, Trigger, TriggerError, TriggerSpec, Triggers};
use crate::inputs::{InputError, InputKind, InputSpec, resolve_inputs};
use crate::job_matrix::{JobMatrixError, MatrixContexts, MatrixPlan, job_matrix_with};
use crate::template_value::yaml_to_json;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("invalid triggers: {}", join(.0))]
    Triggers(Vec<TriggerError>),
    #[error("invalid job dependencies: {}", join(.0))]
    Dag(Vec<DagError>),
    #[error(transparent)]
    UnknownJob(#[from] UnknownJob),
    #[error("job '{job}': {error}")]
    Matrix { job: String, error: JobMatrixError },
    #[error("invalid inputs: {}", join(.0))]
    Inputs(Vec<InputError>),
    #[error("job '{job}': {error}")]
    Call { job: String, error: CallError },
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub id: String,
    /// Direct needs, in source order.
    pub needs: Vec<String>,
    pub matrix: MatrixPlan,
    /// A reusable-workflow call (`uses:`), which the runner expands into the called jobs.
    pub uses: Option<String>,
    /// The called workflow's plan, when the call was resolved ([`plan_workflow_resolving`]).
    pub call: Option<Arc<CalledWorkflow>>,
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

/// Contexts known when a run starts, besides the event and `inputs` (which the planner
/// derives itself). A matrix that reads an unknown context is deferred.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanContext {
    /// The full `github` context, as the runner builds it.
    pub github: Option<Value>,
    /// `vars`: configuration variables.
    pub vars: Option<Value>,
}

/// Plans every workflow for `event`. `jobs` selects jobs by id (each with everything it needs);
/// empty selects all jobs. Workflows that define none of the selected jobs are skipped; one
/// that defines only some of them is an error when it would run.
pub fn plan<'a, I>(workflows: I, event: &Event, jobs: &[String], context: &PlanContext) -> Plan
where
    I: IntoIterator<Item = (&'a str, &'a Workflow)>,
{
    let mut plan = Plan::default();
    for (name, workflow) in workflows {
        if !jobs.is_empty() && !jobs.iter().any(|j| workflow.jobs.contains_key(j)) {
            plan.skipped
                .push((name.to_owned(), SkipReason::NoSelectedJob));
            continue;
        }
        match plan_workflow_with(workflow, event, jobs, context) {
            Ok(WorkflowOutcome::Run(p)) => plan.runs.push((name.to_owned(), p)),
            Ok(WorkflowOutcome::Skipped(reason)) => plan.skipped.push((name.to_owned(), reason)),
            Err(error) => plan.errors.push((name.to_owned(), error)),
        }
    }
    plan
}

/// [`plan_workflow_with`] without `github` or `vars`: only literal matrices and matrices that
/// read `inputs` are expanded.
pub fn plan_workflow(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
) -> Result<WorkflowOutcome, PlanError> {
    plan_workflow_with(workflow, event, jobs, &PlanContext::default())
}

/// Plans one workflow for `event`, leaving its reusable-workflow calls unresolved (the runner
/// fails such jobs).
pub fn plan_workflow_with(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
    context: &PlanContext,
) -> Result<WorkflowOutcome, PlanError> {
    plan_workflow_inner(workflow, event, jobs, context, None)
}

/// Plans one workflow for `event` with every reusable workflow it calls, as deep as GitHub
/// allows: `resolve` provides the called files (read in the calling workflow's [`Origin`]).
pub fn plan_workflow_resolving(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
    context: &PlanContext,
    resolve: Resolve<'_>,
) -> Result<WorkflowOutcome, PlanError> {
    plan_workflow_inner(workflow, event, jobs, context, Some(resolve))
}

fn plan_workflow_inner(
    workflow: &Workflow,
    event: &Event,
    jobs: &[String],
    context: &PlanContext,
    resolve: Option<Resolve<'_>>,
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
    let contexts = MatrixContexts {
        github: context.github.clone(),
        // Events other than workflow_dispatch and workflow_call have an empty `inputs`.
        inputs: Some(Value::Object(inputs.clone().unwrap_or_default())),
        vars: context.vars.clone(),
        needs: None,
    };
    let mut planned = selected
        .into_iter()
        .filter_map(|id| {
            workflow
                .jobs
                .get(id)
                .map(|job| plan_job(id, job, &contexts))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(resolve) = resolve {
        plan_calls(resolve, contexts, &mut planned)?;
    }
    Ok(WorkflowOutcome::Run(WorkflowPlan {
        event: event.name.clone(),
        jobs: planned,
        graph,
        inputs,
    }))
}

/// Attaches the plan of every workflow the jobs call, one job at a time so an error names the
/// top-level calling job.
fn plan_calls(
    resolve: Resolve<'_>,
    contexts: MatrixContexts,
    planned: &mut [PlannedJob],
) -> Result<(), PlanError> {
    let mut planner = CallPlanner {
        resolve,
        contexts,
        seen: HashSet::new(),
    };
    for job in planned.iter_mut() {
        let id = job.id.clone();
        planner
            .plan_calls(&Origin::Local, "", 0, std::slice::from_mut(job))
            .map_err(|error| PlanError::Call { job: id, error })?;
    }
    Ok(())
}

pub(crate) fn plan_job(
    id: &str,
    job: &Job,
    contexts: &MatrixContexts,
) -> Result<PlannedJob, PlanError> {
    let matrix = job_matrix_with(job, contexts).map_err(|error| PlanError::Matrix {
        job: id.to_owned(),
        error,
    })?;
    let uses = job.uses.as_ref().map(|u| u.value.clone());
    Ok(PlannedJob {
        id: id.to_owned(),
        needs: job.needs.iter().map(|n| n.value.clone()).collect(),
        matrix,
        uses,
        call: None,
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

pub(crate) fn input_spec(input: &gantry_workflow::Input) -> InputSpec {
    let kind = match input.kind {
        gantry_workflow::InputType::String => InputKind::String,
        gantry_workflow::InputType::Boolean => InputKind::Boolean,
        gantry_workflow::InputType::Number => InputKind::Number,
        gantry_workflow::InputType::Choice => InputKind::Choice,
        gantry_workflow::InputType::Environment => InputKind::Environment,
    };
    let no_eval = &mut |s: &str| -> Result<Value, std::convert::Infallible> {
        Ok(Value::String(s.to_owned()))
    };
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
