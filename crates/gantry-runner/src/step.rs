//! The step engine's dispatch: a step's condition, `env`, timeout and cancellation, its
//! result record; the kinds of step live in the modules below.

mod action;
mod actions_run;
mod debug;
mod env_files;
mod error;
mod process;
mod remote;
mod script;

pub(crate) use action::yaml_string;
pub(crate) use actions_run::PostStep;
pub(crate) use error::StepError;
pub(crate) use remote::{ActionSite, RemoteActions};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gantry_workflow::{OrExpr, Step, StepKind};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::context::{Scope, StepRecord};
use crate::event::{Conclusion, RunEvent, StepRef};
use crate::job::{Frame, JobRunner, millis, minutes};

/// How long steps that run after a cancellation (`if: always()`) may take (GitHub's default
/// `cancel-timeout-minutes`).
const CANCEL_TIMEOUT_MINUTES: f64 = 5.0;

/// Composite actions may nest; GitHub stops at this depth.
const MAX_DEPTH: usize = 9;

/// How one step's body ended.
struct Ran {
    outcome: Conclusion,
    outputs: IndexMap<String, String>,
}

impl Ran {
    fn failed() -> Self {
        Ran {
            outcome: Conclusion::Failure,
            outputs: IndexMap::new(),
        }
    }
}

type StepsFuture<'s> = Pin<Box<dyn Future<Output = ()> + Send + 's>>;

impl JobRunner<'_> {
    /// Reports why a step failed, as its error annotation: the one place a [`StepError`]
    /// becomes text.
    pub(crate) fn report(&self, sref: &StepRef, error: &StepError) {
        self.error(Some(sref), error.to_string());
    }

    /// Reports `error` and gives the failed result.
    fn fail(&self, sref: &StepRef, error: StepError) -> Ran {
        self.report(sref, &error);
        Ran::failed()
    }

    /// Runs `steps` in `frame` (the job, or a composite action).
    pub(crate) fn run_steps<'s>(
        &'s mut self,
        steps: &'s [Step],
        frame: &'s mut Frame,
        prefix: &'s str,
    ) -> StepsFuture<'s> {
        Box::pin(async move {
            for (i, step) in steps.iter().enumerate() {
                let path = if prefix.is_empty() {
                    i.to_string()
                } else {
                    format!("{prefix}.{i}")
                };
                self.run_step(step, path, frame).await;
            }
        })
    }

    /// `env` as a step in `frame` sees it before its own `env`: the frame's, then `GITHUB_ENV`.
    pub(crate) fn env_context(&self, frame: &Frame) -> IndexMap<String, String> {
        let mut env = frame.env.clone();
        for (k, v) in &self.env_file {
            env.insert(k.clone(), v.clone());
        }
        env
    }

    async fn run_step(&mut self, step: &Step, path: String, frame: &mut Frame) {
        let started = Instant::now();
        let env = self.env_context(frame);
        let name = self.step_name(step, &self.scope(frame, &env));
        let sref = StepRef { path, name };
        self.emit(RunEvent::StepStarted {
            job: self.inst.key.clone(),
            step: sref.clone(),
        });
        let name = self.action_names.name(step);
        let outer = self.step_action.replace(name);
        let ran = self.debugged_body(step, &sref, frame, env).await;
        self.step_action = outer;
        let env = self.env_context(frame);
        let scope = self.scope(frame, &env);
        let continue_on_error = match step.continue_on_error.as_ref().map(|c| &c.value) {
            Some(OrExpr::Value(b)) => *b,
            Some(OrExpr::Expr(source)) => scope.eval_value(source).is_ok_and(|v| v.is_truthy()),
            None => false,
        };
        let conclusion = match ran.outcome {
            Conclusion::Failure if continue_on_error => Conclusion::Success,
            other => other,
        };
        if conclusion == Conclusion::Failure {
            frame.failed = true;
        }
        if let Some(id) = &step.id {
            frame.steps.insert(
                id.value.clone(),
                StepRecord {
                    outputs: ran.outputs,
                    outcome: ran.outcome,
                    conclusion,
                },
            );
        }
        self.emit(RunEvent::StepFinished {
            job: self.inst.key.clone(),
            step: sref,
            outcome: ran.outcome,
            conclusion,
            duration_ms: millis(started.elapsed()),
        });
    }

    fn step_name(&self, step: &Step, scope: &Scope<'_>) -> String {
        if let Some(name) = &step.name {
            return scope
                .eval_string(&name.value)
                .unwrap_or_else(|_| name.value.clone());
        }
        match &step.kind {
            StepKind::Run { run, .. } => {
                let first = run
                    .value
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!("Run {}", first.trim())
            }
            StepKind::Uses { uses, .. } => format!("Run {}", uses.value),
        }
    }

    async fn run_step_body(
        &mut self,
        step: &Step,
        sref: &StepRef,
        frame: &mut Frame,
        mut env: IndexMap<String, String>,
    ) -> Ran {
        // Whether this step runs *after* a cancellation is decided with its condition: a cancel
        // arriving between the condition and the process start must stop the step, not hand it
        // the fresh token that `if: always()` steps get.
        let runs_after_cancel = frame.cancel.is_cancelled();
        let scope = self.scope(frame, &env);
        match scope.eval_condition(step.if_.as_ref().map(|c| c.value.as_str())) {
            Ok(true) => {}
            Ok(false) => {
                return Ran {
                    outcome: Conclusion::Skipped,
                    outputs: IndexMap::new(),
                };
            }
            Err(e) => {
                drop(scope);
                return self.fail(sref, StepError::Condition(e));
            }
        }
        let timeout = minutes(step.timeout_minutes.as_ref().map(|t| &t.value), &scope);
        drop(scope);
        for (name, value) in &step.env {
            let scope = self.scope(frame, &env);
            match scope.eval_string(&value.value) {
                Ok(v) => {
                    env.insert(name.clone(), v);
                }
                Err(e) => {
                    drop(scope);
                    return self.fail(sref, StepError::at(format!("env.{name}"), e));
                }
            }
        }
        let (cancel, timed_out) = self.step_token(&frame.cancel, runs_after_cancel, timeout);
        let mut ran = match &step.kind {
            StepKind::Run {
                run,
                shell,
                working_directory,
            } => {
                let wd = working_directory.as_ref().map(|w| w.value.as_str());
                let shell = shell.as_ref().map(|s| s.value.as_str());
                self.run_script(sref, frame, env, &run.value, shell, wd, cancel.clone())
                    .await
            }
            StepKind::Uses { uses, with } => {
                self.run_uses(sref, frame, env, &uses.value, with, cancel.clone())
                    .await
            }
        };
        // Stop the timer task: it holds the token and would otherwise sleep on.
        cancel.cancel();
        if timed_out.load(Ordering::SeqCst) {
            // A timed-out step fails (and `continue-on-error` applies).
            let timed_out = StepError::TimedOut {
                name: sref.name.clone(),
                minutes: timeout.unwrap_or_default(),
            };
            self.report(sref, &timed_out);
            ran.outcome = Conclusion::Failure;
        }
        ran
    }

    /// The token a step's process stops on, and whether its own `timeout-minutes` fired. A step
    /// that runs after the job was cancelled (`if: always()`) gets a fresh token bounded by the
    /// cancel timeout, as GitHub lets such steps run.
    fn step_token(
        &self,
        parent: &CancellationToken,
        runs_after_cancel: bool,
        timeout: Option<f64>,
    ) -> (CancellationToken, Arc<AtomicBool>) {
        let (token, limit) = if runs_after_cancel {
            (
                CancellationToken::new(),
                Some(
                    timeout
                        .unwrap_or(CANCEL_TIMEOUT_MINUTES)
                        .min(CANCEL_TIMEOUT_MINUTES),
                ),
            )
        } else {
            (parent.child_token(), timeout)
        };
        let fired = Arc::new(AtomicBool::new(false));
        if let Some(m) = limit {
            let (token, fired) = (token.clone(), fired.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs_f64(m * 60.0)) => {
                        fired.store(true, Ordering::SeqCst);
                        token.cancel();
                    }
                    () = token.cancelled() => {}
                }
            });
        }
        (token, fired)
    }
}
