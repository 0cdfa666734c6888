//! `uses:` steps: which kind of action a reference names, `with:` inputs, local and remote
//! actions read from `action.yml` with their inputs' defaults, composite actions' steps and
//! outputs, and built-in actions run as a process-like body.

use gantry_workflow::{ActionRuns, UsesRef, Yaml};
use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::{ActionSite, MAX_DEPTH, Ran, StepError};
use crate::actions::ActionCall;
use crate::context::Scope;
use crate::event::{Conclusion, StepRef};
use crate::executor::{ExecutorError, ExitStatus};
use crate::job::{Frame, JobRunner};
use crate::shell::working_directory;

impl JobRunner<'_> {
    pub(super) async fn run_uses(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        uses: &str,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
        cancel: CancellationToken,
    ) -> Ran {
        let reference = match gantry_workflow::uses::parse_uses(uses) {
            Ok(r) => r,
            Err(source) => {
                let uses = uses.to_owned();
                return self.fail(sref, StepError::InvalidUses { uses, source });
            }
        };
        match reference {
            UsesRef::Local(path) => {
                self.run_local_action(sref, frame, env, &path, with, cancel)
                    .await
            }
            UsesRef::Docker(image) => {
                self.run_docker_uses(sref, frame, env, &image, with, cancel)
                    .await
            }
            UsesRef::Repo {
                owner, repo, path, ..
            } => {
                let builtin = path
                    .is_none()
                    .then(|| self.shared.options.actions.get(&owner, &repo))
                    .flatten();
                let Some(action) = builtin else {
                    return self
                        .run_remote_action(sref, frame, env, uses, with, cancel)
                        .await;
                };
                let inputs = match self.with_inputs(frame, &env, with) {
                    Ok(i) => i,
                    Err(e) => return self.fail(sref, e),
                };
                let number = self.next_step_number();
                let action_name = format!("{owner}/{repo}");
                let workspace = self.env.paths().workspace.clone();
                self.execute(
                    sref,
                    frame,
                    env,
                    &action_name,
                    number,
                    cancel,
                    |job, env, tx, cancel| {
                        Box::pin(async move {
                            let call = ActionCall {
                                job,
                                inputs,
                                env,
                                workspace,
                                cancel,
                                output: tx,
                            };
                            match action.run(call).await {
                                Ok(outputs) => Ok((ExitStatus::Code(0), outputs)),
                                Err(crate::actions::ActionError::Executor(e)) => Err(e),
                                Err(e) => Err(ExecutorError::Passed(Box::new(e))),
                            }
                        })
                    },
                )
                .await
            }
        }
    }

    /// `with:` values evaluated to strings.
    pub(super) fn with_inputs(
        &self,
        frame: &Frame,
        env: &IndexMap<String, String>,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
    ) -> Result<IndexMap<String, String>, StepError> {
        let scope = self.scope(frame, env);
        let mut inputs = IndexMap::new();
        for (name, value) in with {
            let text = yaml_string(&value.value, &scope)
                .map_err(|e| StepError::at(format!("with.{name}"), e))?;
            inputs.insert(name.to_ascii_lowercase(), text);
        }
        Ok(inputs)
    }

    pub(super) async fn run_local_action(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        path: &str,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
        cancel: CancellationToken,
    ) -> Ran {
        let workspace = self.env.paths().workspace.clone();
        let dir = working_directory(&workspace, Some(path.trim_end_matches('/')));
        let action = match self.read_action(&dir).await {
            Ok(a) => a,
            Err(e) => return self.fail(sref, e),
        };
        let site = ActionSite {
            dir,
            uses: format!("./{}", path.trim_start_matches("./")),
            remote: None,
        };
        self.run_action(sref, frame, env, &site, &action, with, cancel)
            .await
    }

    /// Runs an action whose files are at `site.dir` in the job environment (a local action, or
    /// a remote one downloaded from the store): node, docker or composite.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_action(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        site: &ActionSite,
        action: &gantry_workflow::Action,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
        cancel: CancellationToken,
    ) -> Ran {
        if frame.depth >= MAX_DEPTH {
            return self.fail(sref, StepError::TooDeep);
        }
        let inputs = match self.action_inputs(sref, frame, &env, action, with) {
            Ok(i) => i,
            Err(e) => return self.fail(sref, e),
        };
        let (action_repository, action_ref) = match &site.remote {
            Some(r) => (r.repository(), r.git_ref.clone()),
            None => (String::new(), String::new()),
        };
        let mut inner = Frame {
            steps: IndexMap::new(),
            failed: false,
            inputs: Some(Json::Object(inputs)),
            action_path: site.dir.clone(),
            action_repository,
            action_ref,
            env: env.clone(),
            depth: frame.depth + 1,
            cancel: cancel.clone(),
        };
        let steps = match &action.runs.value {
            ActionRuns::Composite { steps } => steps,
            runs @ ActionRuns::Node { .. } => {
                return self
                    .run_node_action(sref, &inner, env, runs, site, cancel)
                    .await;
            }
            runs @ ActionRuns::Docker { .. } => {
                return self
                    .run_docker_action(sref, &inner, env, runs, site, cancel)
                    .await;
            }
        };
        self.run_steps(steps, &mut inner, &sref.path).await;
        let env = self.env_context(&inner);
        let scope = self.scope(&inner, &env);
        let mut outputs = IndexMap::new();
        let mut errors = Vec::new();
        for (name, output) in &action.outputs {
            let Some(value) = &output.value.value else {
                continue;
            };
            match scope.eval_string(&value.value) {
                Ok(v) => {
                    outputs.insert(name.clone(), v);
                }
                Err(e) => errors.push(StepError::at(format!("outputs.{name}"), e)),
            }
        }
        drop(scope);
        // Each bad output is its own annotation, as the runner reports them.
        for e in &errors {
            self.report(sref, e);
        }
        let outcome = if inner.failed || !errors.is_empty() {
            Conclusion::Failure
        } else if inner.cancel.is_cancelled() {
            Conclusion::Cancelled
        } else {
            Conclusion::Success
        };
        Ran { outcome, outputs }
    }

    pub(super) async fn read_action(
        &self,
        dir: &str,
    ) -> Result<gantry_workflow::Action, StepError> {
        for file in ["action.yml", "action.yaml"] {
            let path = format!("{dir}/{file}");
            // The repository chose this file: refused by its size, never read whole.
            let bytes = match self
                .env
                .read_file_within(&path, gantry_files::MAX_WORKFLOW_BYTES)
                .await
            {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(source) => return Err(StepError::ReadAction { path, source }),
            };
            let text = String::from_utf8_lossy(&bytes);
            let parsed = gantry_workflow::parse_action(&path, &text);
            let errors: Vec<String> = parsed
                .diagnostics
                .iter()
                .filter(|d| d.severity == gantry_workflow::Severity::Error)
                .map(|d| {
                    format!(
                        "{path} (Line: {}, Col: {}): {}",
                        d.span.start.line, d.span.start.col, d.message
                    )
                })
                .collect();
            return match parsed.value {
                Some(action) if errors.is_empty() => Ok(action),
                _ => Err(StepError::InvalidAction(errors)),
            };
        }
        Err(StepError::NoActionFile(dir.to_owned()))
    }

    pub(super) fn action_inputs(
        &self,
        sref: &StepRef,
        frame: &Frame,
        env: &IndexMap<String, String>,
        action: &gantry_workflow::Action,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
    ) -> Result<serde_json::Map<String, Json>, StepError> {
        let provided = self.with_inputs(frame, env, with)?;
        let scope = self.scope(frame, env);
        let mut inputs = serde_json::Map::new();
        for (name, input) in &action.inputs {
            let key = name.to_ascii_lowercase();
            let value = match provided.get(&key) {
                Some(v) => v.clone(),
                None => match &input.value.default {
                    Some(d) => scope
                        .eval_string(&d.value)
                        .map_err(|e| StepError::at(format!("inputs.{name}.default"), e))?,
                    None => {
                        if input.value.required {
                            self.warning(
                                Some(sref),
                                format!("Input required and not supplied: {name}"),
                            );
                        }
                        String::new()
                    }
                },
            };
            inputs.insert(name.clone(), Json::String(value));
        }
        let unexpected: Vec<&String> = provided
            .keys()
            .filter(|k| !action.inputs.keys().any(|n| n.eq_ignore_ascii_case(k)))
            .collect();
        // Warned about, and still passed (`INPUT_*`), as GitHub's runner does.
        for name in &unexpected {
            inputs.insert((*name).clone(), Json::String(provided[*name].clone()));
        }
        if !unexpected.is_empty() {
            let valid: Vec<&String> = action.inputs.keys().collect();
            self.warning(
                Some(sref),
                format!(
                    "Unexpected input(s) '{}', valid inputs are ['{}']",
                    join(&unexpected),
                    join(&valid)
                ),
            );
        }
        Ok(inputs)
    }
}

/// The runner's list inside quotes: `a', 'b` (the caller adds the outer quotes).
fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("', '")
}

/// A `with:` value as the string an action sees (`true`, `3`, templates evaluated).
pub(crate) fn yaml_string(
    yaml: &Yaml,
    scope: &Scope<'_>,
) -> Result<String, gantry_expr::ExprError> {
    Ok(match yaml {
        Yaml::Null => String::new(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => gantry_expr::format_number(*n),
        Yaml::String(s) => scope.eval_string(s)?,
        other => {
            let json = gantry_plan::yaml_to_json(other, &mut |s: &str| {
                scope.eval_value(s).map(|v| v.to_json())
            })?;
            json.to_string()
        }
    })
}
