//! The one module that calls into the library crates (parsing, evaluation, planning). The rest
//! of the CLI sees only these functions, so an upstream API change is a change here.

use indexmap::IndexMap;
use serde_json::Value as Json;

pub use gantry_workflow::{Action, Diagnostic, Job, Parsed, Severity, Span, Workflow};

use gantry_expr::{ErrorKind, EvalContext, ExprError, ParseOptions, Value};
use gantry_plan::{MatrixPlan, PlanError};

use crate::discover::{FileKind, SourceFile};

/// The diagnostics of one file, whatever its kind, sorted by position.
pub fn check(file: &SourceFile) -> Vec<Diagnostic> {
    let name = file.display_path();
    let mut diagnostics = match file.kind {
        FileKind::Workflow => parse_workflow(&name, &file.text).diagnostics,
        FileKind::Action => parse_action(&name, &file.text).diagnostics,
    };
    diagnostics.sort_by_key(|d| (d.span.start.offset, d.span.end.offset));
    diagnostics
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
        unknown_named_value: err.kind == ErrorKind::Parsing
            && err.message.starts_with("Unrecognized named-value"),
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
