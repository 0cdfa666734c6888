//! Reusable-workflow calls (`jobs.<id>.uses`): which file a call names, GitHub's nesting limits,
//! and the plan of each called workflow, attached to the calling job.
//!
//! The caller hands in a resolver (call target → parsed workflow), so planning stays free of
//! I/O: the CLI and the daemon read local files and the action store.

use std::collections::HashSet;
use std::sync::Arc;

use gantry_workflow::uses::{WorkflowRefError, parse_workflow_ref};
use gantry_workflow::{JobSecrets, UsesRef, Workflow};
use indexmap::IndexMap;
use thiserror::Error;

use crate::inputs::InputSpec;
use crate::job_matrix::MatrixContexts;
use crate::plan::{PlanError, PlannedJob, input_spec, job_graph, plan_job};

/// GitHub connects at most ten levels of workflows: the top-level caller and nine called ones.
pub const MAX_CALL_DEPTH: usize = gantry_workflow::calls::MAX_NESTING;

/// GitHub allows at most this many unique reusable workflows in the tree one workflow calls.
pub const MAX_CALLED_WORKFLOWS: usize = gantry_workflow::calls::MAX_CALLED_WORKFLOWS;

/// The repository a workflow file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Origin {
    /// The repository being run.
    #[default]
    Local,
    /// A stored repository at a ref (`owner/repo/...@ref`).
    Remote {
        owner: String,
        repo: String,
        git_ref: String,
    },
}

/// The workflow file a call names, with local references made absolute: `./x` inside a remote
/// workflow is the same file of that repository at the same ref, as on GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallTarget {
    pub origin: Origin,
    /// `.github/workflows/<file>`.
    pub path: String,
}

impl std::fmt::Display for CallTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Origin::Local => write!(f, "./{}", self.path),
            Origin::Remote {
                owner,
                repo,
                git_ref,
            } => write!(f, "{owner}/{repo}/{}@{git_ref}", self.path),
        }
    }
}

/// What a call names, read in the workflow it is written in.
pub fn call_target(caller: &Origin, uses: &str) -> Result<CallTarget, WorkflowRefError> {
    Ok(match parse_workflow_ref(uses)? {
        UsesRef::Local(path) => CallTarget {
            origin: caller.clone(),
            path: path.trim_start_matches("./").replace('\\', "/"),
        },
        UsesRef::Repo {
            owner,
            repo,
            path,
            git_ref,
        } => CallTarget {
            origin: Origin::Remote {
                owner,
                repo,
                git_ref,
            },
            path: path.unwrap_or_default(),
        },
        // `parse_workflow_ref` refuses images.
        UsesRef::Docker(image) => CallTarget {
            origin: caller.clone(),
            path: image,
        },
    })
}

/// Rewrites the calls a workflow loaded from `origin` makes so each names its file absolutely:
/// inside a remote workflow, `./.github/workflows/Y.yml` is that repository's file at the same
/// ref (as on GitHub), so every later reader (the planner, the call checks, the runner) sees
/// where it points. A resolver applies it to each remote workflow it loads.
pub fn anchor_calls(workflow: &mut Workflow, origin: &Origin) {
    if *origin == Origin::Local {
        return;
    }
    for job in workflow.jobs.values_mut() {
        let Some(uses) = &mut job.uses else { continue };
        if let Ok(target) = call_target(origin, &uses.value) {
            uses.value = target.to_string();
        }
    }
}

/// Why the resolver could not provide a called workflow (missing file, not in the store,
/// invalid file): the loader's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Unresolved(pub String);

/// Call target → parsed workflow.
pub type Resolve<'a> = &'a dyn Fn(&CallTarget) -> Result<Arc<Workflow>, Unresolved>;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CallError {
    #[error("invalid reusable workflow reference '{uses}': {error}")]
    Reference {
        uses: String,
        error: WorkflowRefError,
    },
    #[error("cannot load called workflow '{uses}': {reason}")]
    Unresolved { uses: String, reason: Unresolved },
    #[error(
        "error parsing called workflow \"{uses}\": workflow is not reusable as it is missing a `on.workflow_call` trigger"
    )]
    NotReusable { uses: String },
    #[error(
        "error parsing called workflow \"{within}\": job \"{job}\" calls workflow \"{uses}\", but doing so would exceed the limit on called workflow depth of {MAX_CALL_DEPTH}"
    )]
    TooDeep {
        /// The called workflow the too-deep call is written in.
        within: String,
        job: String,
        uses: String,
    },
    #[error("too many workflows are referenced, total: {total}, limit: {MAX_CALLED_WORKFLOWS}")]
    TooMany { total: usize },
    #[error("in called workflow '{uses}': {error}")]
    Plan { uses: String, error: Box<PlanError> },
}

/// The plan of one call: the called workflow, what it accepts, and its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct CalledWorkflow {
    pub target: CallTarget,
    pub workflow: Arc<Workflow>,
    /// `on.workflow_call.inputs`.
    pub inputs: IndexMap<String, InputSpec>,
    /// `on.workflow_call.secrets`: name → required.
    pub secrets: IndexMap<String, bool>,
    /// Its jobs in topological order (calls in it planned in turn).
    pub jobs: Vec<PlannedJob>,
}

/// The secrets a call passes, as written: `inherit`, or name → template.
pub fn passed_secrets(secrets: Option<&JobSecrets>) -> Option<IndexMap<String, String>> {
    match secrets {
        Some(JobSecrets::Inherit) => None,
        Some(JobSecrets::Map(map)) => Some(
            map.iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
        ),
        None => Some(IndexMap::new()),
    }
}

/// Walks the calls of a workflow's planned jobs, attaching each callee's plan.
pub(crate) struct CallPlanner<'a> {
    pub resolve: Resolve<'a>,
    pub contexts: MatrixContexts,
    pub seen: HashSet<String>,
}

impl CallPlanner<'_> {
    /// Plans the calls among `jobs` of a workflow from `origin`, itself called as `within` at
    /// `depth` (0 for the top-level workflow).
    pub fn plan_calls(
        &mut self,
        origin: &Origin,
        within: &str,
        depth: usize,
        jobs: &mut [PlannedJob],
    ) -> Result<(), CallError> {
        for planned in jobs.iter_mut() {
            let Some(uses) = planned.uses.clone() else {
                continue;
            };
            if depth >= MAX_CALL_DEPTH {
                return Err(CallError::TooDeep {
                    within: within.to_owned(),
                    job: planned.id.clone(),
                    uses,
                });
            }
            let target = call_target(origin, &uses).map_err(|error| CallError::Reference {
                uses: uses.clone(),
                error,
            })?;
            self.seen.insert(target.to_string());
            if self.seen.len() > MAX_CALLED_WORKFLOWS {
                return Err(CallError::TooMany {
                    total: self.seen.len(),
                });
            }
            let callee = (self.resolve)(&target).map_err(|reason| CallError::Unresolved {
                uses: uses.clone(),
                reason,
            })?;
            let called = self.plan_callee(&uses, target, callee, depth + 1)?;
            planned.call = Some(Arc::new(called));
        }
        Ok(())
    }

    fn plan_callee(
        &mut self,
        uses: &str,
        target: CallTarget,
        workflow: Arc<Workflow>,
        depth: usize,
    ) -> Result<CalledWorkflow, CallError> {
        let Some(call) = workflow.on.events.get("workflow_call") else {
            return Err(CallError::NotReusable {
                uses: uses.to_owned(),
            });
        };
        let inputs = call
            .value
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), input_spec(&v.value)))
            .collect();
        let secrets = call
            .value
            .secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.value.required))
            .collect();
        let in_callee = |error: PlanError| CallError::Plan {
            uses: uses.to_owned(),
            error: Box::new(error),
        };
        let graph = job_graph(&workflow).map_err(in_callee)?;
        // A callee's matrices may read its inputs, known only when the call runs.
        let contexts = MatrixContexts {
            inputs: None,
            ..self.contexts.clone()
        };
        let mut jobs = graph
            .topological_order()
            .into_iter()
            .filter_map(|id| {
                workflow
                    .jobs
                    .get(id)
                    .map(|job| plan_job(id, job, &contexts))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(in_callee)?;
        self.plan_calls(&target.origin, uses, depth, &mut jobs)?;
        Ok(CalledWorkflow {
            target,
            workflow,
            inputs,
            secrets,
            jobs,
        })
    }
}
