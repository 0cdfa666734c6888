//! `run:` steps: the script evaluated, the shell chosen (`shell:`, `defaults.run`), the script
//! written to a file and run as a process, GitHub's collapsed header, and gantry's hint when
//! the output shows a known cause of the failure.

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::{Ran, StepError};
use crate::event::{Conclusion, LogStream, RunEvent, StepRef};
use crate::executor::ExecRequest;
use crate::hints::OutputClues;
use crate::job::{Frame, JobRunner};
use crate::shell::{ShellTemplate, most_specific, working_directory};

impl JobRunner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_script(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        run: &str,
        shell: Option<&str>,
        wd: Option<&str>,
        cancel: CancellationToken,
    ) -> Ran {
        let scope = self.scope(frame, &env);
        let script = match scope.eval_string(run) {
            Ok(s) => s,
            Err(e) => {
                drop(scope);
                return self.fail(sref, StepError::Script(e));
            }
        };
        let wd = match wd.map(|w| scope.eval_string(w)).transpose() {
            Ok(w) => w,
            Err(e) => {
                drop(scope);
                return self.fail(sref, StepError::at("working-directory", e));
            }
        };
        drop(scope);
        let job = self.inst.scope.job(&self.inst.id);
        let defaults = |f: fn(&gantry_workflow::Defaults) -> Option<&str>| {
            (
                job.and_then(|j| f(&j.defaults)),
                f(&self.inst.scope.workflow.defaults),
            )
        };
        let shell_defaults = defaults(|d| d.shell.as_ref().map(|s| s.value.as_str()));
        let wd_defaults = defaults(|d| d.working_directory.as_ref().map(|s| s.value.as_str()));
        // Composite steps do not inherit `defaults.run`.
        let (shell, wd) = if frame.depth > 0 {
            (shell, wd.as_deref())
        } else {
            (
                most_specific(&[shell, shell_defaults.0, shell_defaults.1]),
                most_specific(&[wd.as_deref(), wd_defaults.0, wd_defaults.1]),
            )
        };
        let bash = self.env.has_program("bash").await.unwrap_or(false);
        let template = match ShellTemplate::resolve(shell, bash) {
            Ok(t) => t,
            Err(e) => return self.fail(sref, e.into()),
        };
        let number = self.next_step_number();
        let paths = self.env.paths().clone();
        let script_path = format!("{}/gantry-step-{number}{}", paths.temp, template.extension);
        if let Err(e) = self
            .env
            .write_file(&script_path, template.script(&script).as_bytes())
            .await
        {
            return self.fail(sref, StepError::WriteScript(e));
        }
        self.run_header(sref, &script, &template.template, &env);
        let workdir = working_directory(&paths.workspace, wd);
        let argv = template.argv(&script_path);
        self.clues = OutputClues::default();
        // Only what a failure hint reads, not the whole environment on every step.
        let hint_files = crate::hints::HintInputs::from_env(&env, &workdir);
        let ran = self
            .exec_program(sref, frame, env, number, argv, workdir, cancel)
            .await;
        if ran.outcome == Conclusion::Failure {
            self.explain_failure(sref, &hint_files).await;
        }
        ran
    }

    /// Adds gantry's hint to a failed `run:` step when its output shows a known cause.
    pub(super) async fn explain_failure(
        &mut self,
        sref: &StepRef,
        inputs: &crate::hints::HintInputs,
    ) {
        let clues = std::mem::take(&mut self.clues);
        if let Some(registry) = clues.npm_need_auth
            && let Some(hint) =
                crate::hints::npm_scope_hint_for_step(self.env, registry.as_deref(), inputs).await
        {
            self.error(Some(sref), hint);
        }
    }

    /// Runs `argv` in the job environment as step `number` (`__run_<number>`), a step
    /// with no outputs of its own: shared by `run:` steps and node actions' scripts.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn exec_program(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        number: usize,
        argv: Vec<String>,
        workdir: String,
        cancel: CancellationToken,
    ) -> Ran {
        let action = format!("__run_{number}");
        self.execute(
            sref,
            frame,
            env,
            &action,
            number,
            cancel,
            |job, env, tx, cancel| {
                let request = ExecRequest {
                    argv,
                    env,
                    workdir,
                    cancel,
                };
                Box::pin(async move { job.exec(request, tx).await.map(|s| (s, IndexMap::new())) })
            },
        )
        .await
    }

    /// GitHub's collapsed header of a `run:` step: the script, the shell and the environment.
    pub(super) fn run_header(
        &self,
        sref: &StepRef,
        script: &str,
        shell: &str,
        env: &IndexMap<String, String>,
    ) {
        let first = script.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        self.emit(RunEvent::GroupStarted {
            job: self.inst.key.clone(),
            step: Some(sref.clone()),
            title: format!("Run {}", first.trim()),
        });
        for line in script.lines() {
            self.log(Some(sref), LogStream::Runner, line);
        }
        self.log(Some(sref), LogStream::Runner, &format!("shell: {shell}"));
        if !env.is_empty() {
            self.log(Some(sref), LogStream::Runner, "env:");
            for (k, v) in env {
                self.log(Some(sref), LogStream::Runner, &format!("  {k}: {v}"));
            }
        }
        self.emit(RunEvent::GroupEnded {
            job: self.inst.key.clone(),
            step: Some(sref.clone()),
        });
    }
}
