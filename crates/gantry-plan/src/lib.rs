//! Event matching, the job DAG and matrix expansion. No I/O.
//!
//! The algorithms work on plain data ([`dag::JobGraph`], [`matrix::expand`], [`event::Trigger`],
//! [`inputs::resolve_inputs`]); [`plan`] adapts the `gantry-workflow` model to them.

pub mod dag;
pub mod event;
pub mod inputs;
pub mod matrix;
pub mod plan;

pub use dag::{DagError, JobGraph, UnknownJob};
pub use event::{ChangedFiles, Event, SkipReason, Trigger, TriggerError, TriggerSpec, Triggers};
pub use inputs::{InputError, InputKind, InputSpec, resolve_inputs};
pub use matrix::{MAX_MATRIX_JOBS, MatrixError, MatrixRow, expand};
pub use plan::{
    MatrixPlan, MatrixResolveError, Plan, PlanError, PlannedJob, WorkflowOutcome, WorkflowPlan,
    job_graph, job_matrix, plan, plan_workflow, resolve_matrix, trigger_specs, yaml_to_json,
};
