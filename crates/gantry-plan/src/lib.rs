//! Event matching, the job DAG and matrix expansion. No I/O.
//!
//! The algorithms work on plain data ([`dag::JobGraph`], [`matrix::expand`], [`event::Trigger`],
//! [`inputs::resolve_inputs`]); [`job_matrix`] and [`plan`] adapt the `gantry-workflow` model to
//! them.

pub mod calls;
pub mod dag;
pub mod event;
pub mod event_ref;
pub mod github;
pub mod inputs;
pub mod job_matrix;
pub mod matrix;
pub mod plan;
pub mod template_value;

pub use calls::{
    CallError, CallTarget, CalledWorkflow, MAX_CALL_DEPTH, MAX_CALLED_WORKFLOWS, Origin, Resolve,
    Unresolved, anchor_calls, call_target, passed_secrets,
};
pub use dag::{DagError, JobGraph, UnknownJob};
pub use event::{ChangedFiles, Event, SkipReason, Trigger, TriggerError, TriggerSpec, Triggers};
pub use event_ref::{EventRef, EventRefError, event_ref, is_zero_sha, pull_request_refs};
pub use github::{EventFacts, GithubInfo, RUN_FIELDS, STEP_FIELDS};
pub use inputs::{InputError, InputKind, InputSpec, resolve_inputs};
pub use job_matrix::{
    JobMatrixError, MATRIX_CONTEXTS, MatrixContexts, MatrixPlan, job_matrix, job_matrix_with,
    resolve_matrix,
};
pub use matrix::{MAX_MATRIX_JOBS, MatrixError, MatrixRow, expand};
pub use plan::{
    Plan, PlanContext, PlanError, PlannedJob, WorkflowOutcome, WorkflowPlan, job_graph, plan,
    plan_workflow, plan_workflow_resolving, plan_workflow_with, trigger_specs,
};
pub use template_value::{TemplateValueError, ValueShapeError, yaml_to_json};
