//! Reusable-workflow calls at run time: the workflow a job instance belongs to ([`CallScope`]),
//! what a calling instance hands its callee (`with` as `inputs`, `secrets` or `inherit`), and the
//! callee's `on.workflow_call.outputs` once its jobs are done.
//!
//! The engine adds the called jobs to its own graph when a calling instance starts, so called jobs
//! are scheduled, limited and cancelled like any other; this module only computes values.

use std::sync::Arc;

use gantry_plan::CalledWorkflow;
use gantry_workflow::{Job, Workflow};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};

use crate::context::{NeedRecord, Scope};
use crate::event::Conclusion;

/// The workflow a job runs in: the top-level one, or a called one with the inputs and secrets
/// its caller passed.
#[derive(Debug)]
pub(crate) struct CallScope {
    pub workflow: Arc<Workflow>,
    /// The `inputs` context (`workflow_dispatch`, `workflow_call`).
    pub inputs: Option<Map<String, Json>>,
    /// The `secrets` context, `GITHUB_TOKEN` aside.
    pub secrets: IndexMap<String, String>,
    /// Prepended to the keys of its job instances (`caller/`, unique in the run).
    pub key_prefix: String,
    /// Prepended to their names (`caller / `), as GitHub shows called jobs.
    pub name_prefix: String,
}

impl CallScope {
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.workflow.jobs.get(id)
    }
}

/// Why a call could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CallStartError {
    #[error("with.{name}: {error}")]
    With {
        name: String,
        error: gantry_expr::ExprError,
    },
    #[error("secrets.{name}: {error}")]
    Secret {
        name: String,
        error: gantry_expr::ExprError,
    },
    #[error("invalid inputs for '{uses}': {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Inputs {
        uses: String,
        errors: Vec<gantry_plan::InputError>,
    },
    #[error("Secret {name} is required, but not provided while calling.")]
    MissingSecret { name: String },
}

/// The scope a calling instance's callee runs in: `with` evaluated in the caller's `scope` and
/// resolved against the callee's inputs (types, defaults, required), and its secrets.
pub(crate) fn callee_scope(
    caller: &CallScope,
    job: &Job,
    call: &CalledWorkflow,
    scope: &Scope<'_>,
    key: &str,
    name: &str,
) -> Result<CallScope, CallStartError> {
    let mut provided = Map::new();
    for (input, value) in &job.with {
        let json = gantry_plan::yaml_to_json(&value.value, &mut |text: &str| {
            scope.eval_value(text).map(|v| v.to_json())
        })
        .map_err(|error| CallStartError::With {
            name: input.clone(),
            error: error.into(),
        })?;
        provided.insert(input.clone(), json);
    }
    let inputs = gantry_plan::resolve_inputs(&call.inputs, &provided).map_err(|errors| {
        CallStartError::Inputs {
            uses: call.target.to_string(),
            errors,
        }
    })?;
    let secrets = match gantry_plan::passed_secrets(job.secrets.as_ref().map(|s| &s.value)) {
        None => caller.secrets.clone(),
        Some(passed) => {
            let mut secrets = IndexMap::new();
            for (secret, template) in passed {
                let value =
                    scope
                        .eval_string(&template)
                        .map_err(|error| CallStartError::Secret {
                            name: secret.clone(),
                            error,
                        })?;
                secrets.insert(secret, value);
            }
            if let Some((missing, _)) = call.secrets.iter().find(|(s, required)| {
                **required && !secrets.keys().any(|k| k.eq_ignore_ascii_case(s))
            }) {
                return Err(CallStartError::MissingSecret {
                    name: missing.clone(),
                });
            }
            secrets
        }
    };
    Ok(CallScope {
        workflow: call.workflow.clone(),
        inputs: Some(inputs),
        secrets,
        key_prefix: format!("{key}/"),
        name_prefix: format!("{name} / "),
    })
}

/// The `jobs` context of a called workflow's outputs: each job's result and outputs.
pub(crate) fn jobs_context(jobs: &IndexMap<String, NeedRecord>) -> Json {
    let map: Map<String, Json> = jobs
        .iter()
        .map(|(id, record)| {
            (
                id.clone(),
                json!({ "result": record.result.as_str(), "outputs": record.outputs }),
            )
        })
        .collect();
    Json::Object(map)
}

/// The called workflow's result for its caller: any failure, else any cancellation, else
/// success (skipped when every job was).
pub(crate) fn call_result(results: &[Conclusion]) -> Conclusion {
    if results.contains(&Conclusion::Failure) {
        Conclusion::Failure
    } else if results.contains(&Conclusion::Cancelled) {
        Conclusion::Cancelled
    } else if !results.is_empty() && results.iter().all(|r| *r == Conclusion::Skipped) {
        Conclusion::Skipped
    } else {
        Conclusion::Success
    }
}

/// `on.workflow_call.outputs`, evaluated with `jobs` set in `scope`; an output that cannot be
/// evaluated is left out and reported.
pub(crate) fn call_outputs(
    workflow: &Workflow,
    scope: &Scope<'_>,
) -> (Map<String, Json>, Vec<String>) {
    let mut outputs = Map::new();
    let mut errors = Vec::new();
    let Some(call) = workflow.on.events.get("workflow_call") else {
        return (outputs, errors);
    };
    for (name, output) in &call.value.outputs {
        match scope.eval_string(&output.value.value.value) {
            Ok(value) => {
                outputs.insert(name.clone(), Json::String(value));
            }
            Err(e) => errors.push(format!("on.workflow_call.outputs.{name}: {e}")),
        }
    }
    (outputs, errors)
}
