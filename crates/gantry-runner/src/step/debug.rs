//! Breakpoints around top-level steps ([`crate::debugger`]): pause before a step, after it, or
//! when it fails, and carry out what the front end answers (continue, retry, skip, abort).

use gantry_workflow::Step;
use indexmap::IndexMap;

use super::Ran;
use crate::debugger::{DebugOptions, Pause, PauseReason, Resume, ShellRequest, StepAt};
use crate::event::{Conclusion, LogStream, StepRef};
use crate::job::{Frame, JobRunner};

impl JobRunner<'_> {
    /// Runs a step's body under the run's breakpoints (composite actions' inner steps are not
    /// breakpoints: they are the action's business, and retrying half an action is unsound).
    pub(super) async fn debugged_body(
        &mut self,
        step: &Step,
        sref: &StepRef,
        frame: &mut Frame,
        env: IndexMap<String, String>,
    ) -> Ran {
        let debug = match &self.shared.options.debug {
            Some(debug) if frame.depth == 0 && !debug.breakpoints.is_empty() => debug.clone(),
            _ => return self.run_step_body(step, sref, frame, env).await,
        };
        let step_id = step.id.as_ref().map(|i| i.value.clone());
        let at = StepAt {
            job_id: &self.inst.id,
            index: sref.path.parse().unwrap_or(usize::MAX),
            step_id: step_id.as_deref(),
            name: &sref.name,
        };
        let (before, after) = (
            debug.breakpoints.pauses_before(&at),
            debug.breakpoints.pauses_after(&at),
        );
        if before && !frame.cancel.is_cancelled() {
            let shell = self.shell_request(step, frame).await;
            let point = (sref, step_id.as_deref(), PauseReason::Before, None);
            match self.pause(&debug, point, shell).await {
                Resume::Continue | Resume::Retry => {}
                Resume::Skip => return skipped(),
                Resume::Abort => return self.abort(sref),
            }
        }
        loop {
            let ran = self.run_step_body(step, sref, frame, env.clone()).await;
            let reason = if ran.outcome == Conclusion::Failure && debug.breakpoints.on_failure {
                PauseReason::Failed
            } else if after {
                PauseReason::After
            } else {
                return ran;
            };
            if frame.cancel.is_cancelled() {
                return ran;
            }
            let shell = self.shell_request(step, frame).await;
            let point = (sref, step_id.as_deref(), reason, Some(ran.outcome));
            match self.pause(&debug, point, shell).await {
                Resume::Continue => return ran,
                Resume::Retry => {
                    self.log(Some(sref), LogStream::Runner, "gantry: retrying the step");
                }
                Resume::Skip => return skipped(),
                Resume::Abort => {
                    self.abort(sref);
                    return ran;
                }
            }
        }
    }

    async fn pause(
        &self,
        debug: &DebugOptions,
        (step, step_id, reason, outcome): (&StepRef, Option<&str>, PauseReason, Option<Conclusion>),
        shell: ShellRequest,
    ) -> Resume {
        self.log(
            Some(step),
            LogStream::Runner,
            &format!("gantry: paused ({})", reason.as_str()),
        );
        // A snapshot: the lock is not held across the pause.
        let masker = self.masker.read().clone();
        let resume = debug
            .debugger
            .pause(Pause {
                job: &self.inst.key,
                job_id: &self.inst.id,
                step,
                step_id,
                reason,
                outcome,
                environment: self.env,
                shell,
                masker: &masker,
            })
            .await;
        self.log(
            Some(step),
            LogStream::Runner,
            &format!("gantry: resumed ({})", resume_name(resume)),
        );
        resume
    }

    /// The process a shell at this pause starts as: the environment the step (run now or
    /// again) gets, in the workspace.
    async fn shell_request(&self, step: &Step, frame: &Frame) -> ShellRequest {
        let mut env = self.env_context(frame);
        // The step's own `env:` as it would be evaluated; a value that does not evaluate now is
        // left out (the step itself reports it when it runs).
        for (name, value) in &step.env {
            if let Ok(v) = self.scope(frame, &env).eval_string(&value.value) {
                env.insert(name.clone(), v);
            }
        }
        let env = self.process_env(frame, &env, "__debug", &[]);
        let bash = self.env.has_program("bash").await.unwrap_or(false);
        let argv = if bash {
            vec![
                "bash".to_owned(),
                "--noprofile".to_owned(),
                "--norc".to_owned(),
            ]
        } else {
            vec!["sh".to_owned()]
        };
        ShellRequest {
            argv,
            env,
            workdir: self.env.paths().workspace.clone(),
        }
    }

    /// Cancels the whole run: the remaining steps do not run and every environment is cleaned
    /// up (the job's `always()` steps still run, as on a cancellation).
    fn abort(&self, step: &StepRef) -> Ran {
        self.log(Some(step), LogStream::Runner, "gantry: aborting the run");
        self.shared.options.cancel.cancel();
        Ran {
            outcome: Conclusion::Cancelled,
            outputs: IndexMap::new(),
        }
    }
}

fn skipped() -> Ran {
    Ran {
        outcome: Conclusion::Skipped,
        outputs: IndexMap::new(),
    }
}

fn resume_name(resume: Resume) -> &'static str {
    match resume {
        Resume::Continue => "continue",
        Resume::Retry => "retry",
        Resume::Skip => "skip",
        Resume::Abort => "abort",
    }
}
