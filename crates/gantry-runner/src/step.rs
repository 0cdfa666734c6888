//! The step engine: conditions, environment, `run:` scripts, `uses:` (local composite actions,
//! built-in actions), output processing, environment files and step results.

mod actions_run;
mod debug;
mod remote;

pub(crate) use actions_run::PostStep;
pub(crate) use remote::{ActionSite, RemoteActions};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gantry_workflow::{ActionRuns, OrExpr, Step, StepKind, UsesRef, Yaml};
use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actions::ActionCall;
use crate::commands::{CommandProcessor, Effect};
use crate::context::{Scope, StepRecord};
use crate::event::{Conclusion, LogStream, RunEvent, StepRef};
use crate::executor::{ExecRequest, ExecutorError, ExitStatus, OutputChunk, Stream};
use crate::file_commands::{self, FileCommand};
use crate::hints::OutputClues;
use crate::job::{Frame, JobRunner, millis, minutes};
use crate::shell::{ShellTemplate, most_specific, working_directory};

/// `PATH` used when the workflow sets none and `GITHUB_PATH` added directories (the executor
/// only fills in `PATH` when it is absent).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

/// Per-step output processing state.
struct StepIo {
    step: StepRef,
    processor: CommandProcessor,
    outputs: IndexMap<String, String>,
    failed: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

type StepsFuture<'s> = Pin<Box<dyn Future<Output = ()> + Send + 's>>;

impl<'a> JobRunner<'a> {
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
                self.error(Some(sref), format!("The step's condition is invalid: {e}"));
                return Ran::failed();
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
                    self.error(Some(sref), format!("env.{name}: {e}"));
                    return Ran::failed();
                }
            }
        }
        let (cancel, timed_out) = self.step_token(&frame.cancel, timeout);
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
            let m = timeout.unwrap_or_default();
            self.error(
                Some(sref),
                format!(
                    "The action '{}' has timed out after {m} minutes.",
                    sref.name
                ),
            );
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
        timeout: Option<f64>,
    ) -> (CancellationToken, Arc<AtomicBool>) {
        let (token, limit) = if parent.is_cancelled() {
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

    #[allow(clippy::too_many_arguments)]
    async fn run_script(
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
                self.error(Some(sref), e.to_string());
                return Ran::failed();
            }
        };
        let wd = match wd.map(|w| scope.eval_string(w)).transpose() {
            Ok(w) => w,
            Err(e) => {
                drop(scope);
                self.error(Some(sref), format!("working-directory: {e}"));
                return Ran::failed();
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
            Err(e) => {
                self.error(Some(sref), e.to_string());
                return Ran::failed();
            }
        };
        let number = self.next_step_number();
        let paths = self.env.paths().clone();
        let script_path = format!("{}/gantry-step-{number}{}", paths.temp, template.extension);
        if let Err(e) = self
            .env
            .write_file(&script_path, template.script(&script).as_bytes())
            .await
        {
            self.error(Some(sref), format!("cannot write the step script: {e}"));
            return Ran::failed();
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
    async fn explain_failure(&mut self, sref: &StepRef, inputs: &crate::hints::HintInputs) {
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
    async fn exec_program(
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
    fn run_header(
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

    async fn run_uses(
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
            Err(e) => {
                self.error(Some(sref), format!("invalid `uses: {uses}`: {e}"));
                return Ran::failed();
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
                    Err(message) => {
                        self.error(Some(sref), message);
                        return Ran::failed();
                    }
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
                                Err(e) => Err(ExecutorError::Other(e.to_string())),
                            }
                        })
                    },
                )
                .await
            }
        }
    }

    /// `with:` values evaluated to strings.
    fn with_inputs(
        &self,
        frame: &Frame,
        env: &IndexMap<String, String>,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
    ) -> Result<IndexMap<String, String>, String> {
        let scope = self.scope(frame, env);
        let mut inputs = IndexMap::new();
        for (name, value) in with {
            let text =
                yaml_string(&value.value, &scope).map_err(|e| format!("with.{name}: {e}"))?;
            inputs.insert(name.to_ascii_lowercase(), text);
        }
        Ok(inputs)
    }

    async fn run_local_action(
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
            Err(message) => {
                self.error(Some(sref), message);
                return Ran::failed();
            }
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
    async fn run_action(
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
            self.error(
                Some(sref),
                format!("composite actions are nested more than {MAX_DEPTH} levels deep"),
            );
            return Ran::failed();
        }
        let inputs = match self.action_inputs(sref, frame, &env, action, with) {
            Ok(i) => i,
            Err(message) => {
                self.error(Some(sref), message);
                return Ran::failed();
            }
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
                Err(e) => errors.push(format!("outputs.{name}: {e}")),
            }
        }
        drop(scope);
        for e in &errors {
            self.error(Some(sref), e.clone());
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

    async fn read_action(&self, dir: &str) -> Result<gantry_workflow::Action, String> {
        for file in ["action.yml", "action.yaml"] {
            let path = format!("{dir}/{file}");
            let bytes = match self.env.read_file(&path).await {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => return Err(format!("cannot read {path}: {e}")),
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
                _ => Err(errors.join("\n")),
            };
        }
        Err(format!(
            "Can't find 'action.yml' or 'action.yaml' under '{dir}'. Did you forget to run actions/checkout before running your local action?"
        ))
    }

    fn action_inputs(
        &self,
        sref: &StepRef,
        frame: &Frame,
        env: &IndexMap<String, String>,
        action: &gantry_workflow::Action,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
    ) -> Result<serde_json::Map<String, Json>, String> {
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
                        .map_err(|e| format!("inputs.{name}.default: {e}"))?,
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

    /// Runs a process-like body (a script or a built-in action) with the step's environment
    /// files, streams its output through the command parser and masker, and applies the
    /// environment files afterwards.
    #[allow(clippy::too_many_arguments)]
    async fn execute<F>(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        action: &str,
        number: usize,
        cancel: CancellationToken,
        body: F,
    ) -> Ran
    where
        F: FnOnce(
            &'a dyn crate::executor::JobEnvironment,
            IndexMap<String, String>,
            mpsc::Sender<OutputChunk>,
            CancellationToken,
        ) -> BodyFuture<'a>,
    {
        let files = match self.prepare_files(number).await {
            Ok(f) => f,
            Err(e) => {
                self.error(
                    Some(sref),
                    format!("cannot create the environment files: {e}"),
                );
                return Ran::failed();
            }
        };
        let process_env = self.process_env(frame, &env, action, &files);
        let allow_unsecure = process_env
            .get("ACTIONS_ALLOW_UNSECURE_COMMANDS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut io = StepIo {
            step: sref.clone(),
            processor: CommandProcessor::new(allow_unsecure),
            outputs: IndexMap::new(),
            failed: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let (tx, mut rx) = mpsc::channel::<OutputChunk>(64);
        let job = self.env;
        let run = body(job, process_env, tx, cancel.clone());
        let consume = async {
            while let Some(chunk) = rx.recv().await {
                self.on_chunk(&mut io, chunk);
            }
            self.flush(&mut io);
        };
        let (status, ()) = tokio::join!(run, consume);
        let mut outcome = match status {
            Ok((ExitStatus::Code(0), outputs)) => {
                io.outputs.extend(outputs);
                Conclusion::Success
            }
            Ok((ExitStatus::Code(code), _)) => {
                self.error(
                    Some(sref),
                    format!("Process completed with exit code {code}."),
                );
                Conclusion::Failure
            }
            Ok((ExitStatus::Cancelled, _)) => Conclusion::Cancelled,
            Err(e) => {
                self.error(Some(sref), e.to_string());
                Conclusion::Failure
            }
        };
        let files_ok = self.apply_files(sref, &files, &mut io).await;
        if (!files_ok || io.failed) && outcome == Conclusion::Success {
            outcome = Conclusion::Failure;
        }
        Ran {
            outcome,
            outputs: io.outputs,
        }
    }

    async fn prepare_files(
        &self,
        number: usize,
    ) -> Result<Vec<(FileCommand, String)>, ExecutorError> {
        let dir = format!("{}/_runner_file_commands", self.env.paths().temp);
        let mut files = Vec::new();
        for command in FileCommand::ALL {
            let path = format!("{dir}/{}{number}", command.file_prefix());
            self.env.write_file(&path, b"").await?;
            files.push((command, path));
        }
        Ok(files)
    }

    /// The process environment: defaults and the runner's variables, then `env` (workflow <
    /// job < `GITHUB_ENV` < step), then the step's own file paths; `PATH` with `GITHUB_PATH`
    /// directories first.
    fn process_env(
        &self,
        frame: &Frame,
        env: &IndexMap<String, String>,
        action: &str,
        files: &[(FileCommand, String)],
    ) -> IndexMap<String, String> {
        let vars = self.step_vars(frame, action);
        let mut process = self.github().default_env(&vars, &self.runner);
        let runner_env = &self.shared.options.runner_env;
        process.extend(runner_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        process.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (command, path) in files {
            process.insert(command.env_var().to_owned(), path.clone());
        }
        if !self.prepend_path.is_empty() {
            let base = env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
            process.insert("PATH".to_owned(), self.prepend_path.apply(base));
        }
        if self.runner.debug {
            process.insert("RUNNER_DEBUG".to_owned(), "1".to_owned());
        }
        process
    }

    fn on_chunk(&mut self, io: &mut StepIo, chunk: OutputChunk) {
        let stream = chunk.stream;
        let buffer = match stream {
            Stream::Stdout => &mut io.stdout,
            Stream::Stderr => &mut io.stderr,
        };
        buffer.extend_from_slice(&chunk.bytes);
        let mut lines = Vec::new();
        while let Some(at) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=at).collect();
            lines.push(line);
        }
        for line in lines {
            self.on_line(io, stream, &line);
        }
    }

    fn flush(&mut self, io: &mut StepIo) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = match stream {
                Stream::Stdout => std::mem::take(&mut io.stdout),
                Stream::Stderr => std::mem::take(&mut io.stderr),
            };
            if !rest.is_empty() {
                self.on_line(io, stream, &rest);
            }
        }
    }

    fn on_line(&mut self, io: &mut StepIo, stream: Stream, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_end_matches('\n').trim_end_matches('\r');
        self.clues.observe(line);
        let log_stream = match stream {
            Stream::Stdout => LogStream::Stdout,
            Stream::Stderr => LogStream::Stderr,
        };
        for effect in io.processor.process_line(line) {
            self.apply_effect(io, log_stream, effect);
        }
    }

    fn apply_effect(&mut self, io: &mut StepIo, stream: LogStream, effect: Effect) {
        let step = Some(&io.step);
        match effect {
            Effect::Output(line) => self.log(step, stream, &line),
            Effect::Debug(message) => {
                if self.runner.debug {
                    self.log(step, LogStream::Debug, &message);
                }
            }
            Effect::Annotation(a) => self.annotate(step, a),
            Effect::Group(title) => self.emit(RunEvent::GroupStarted {
                job: self.inst.key.clone(),
                step: step.cloned(),
                title,
            }),
            Effect::EndGroup => self.emit(RunEvent::GroupEnded {
                job: self.inst.key.clone(),
                step: step.cloned(),
            }),
            Effect::AddMask(value) => self.masker.add(&value),
            Effect::SetOutput { name, value } => {
                io.outputs.insert(name, value);
            }
            Effect::SaveState { name, value } => {
                self.state.insert(name, value);
            }
            Effect::SetEnv { name, value } => {
                self.env_file.insert(name, value);
            }
            Effect::AddPath(dir) => self.prepend_path.add(dir),
            Effect::FailStep => io.failed = true,
        }
    }

    /// Reads and applies the environment files; `false` when one of them is invalid.
    async fn apply_files(
        &mut self,
        sref: &StepRef,
        files: &[(FileCommand, String)],
        io: &mut StepIo,
    ) -> bool {
        let mut ok = true;
        for (command, path) in files {
            let contents = match self.env.read_file(path).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    self.file_error(sref, *command, &e.to_string());
                    ok = false;
                    continue;
                }
            };
            if let Err(message) = self.apply_file(sref, *command, &contents, io) {
                self.file_error(sref, *command, &message);
                ok = false;
            }
        }
        ok
    }

    fn file_error(&self, sref: &StepRef, command: FileCommand, message: &str) {
        self.error(
            Some(sref),
            format!(
                "Unable to process file command '{}' successfully.",
                command.context_name()
            ),
        );
        self.error(Some(sref), message.to_owned());
    }

    fn apply_file(
        &mut self,
        sref: &StepRef,
        command: FileCommand,
        contents: &[u8],
        io: &mut StepIo,
    ) -> Result<(), String> {
        let text = String::from_utf8_lossy(contents);
        match command {
            FileCommand::Env | FileCommand::Output | FileCommand::State => {
                let pairs = file_commands::parse_key_values(&text).map_err(|e| e.to_string())?;
                let target = match command {
                    FileCommand::Env => &mut self.env_file,
                    FileCommand::Output => &mut io.outputs,
                    _ => &mut self.state,
                };
                file_commands::merge_pairs(target, pairs);
            }
            FileCommand::Path => {
                for dir in file_commands::parse_path_file(&text) {
                    self.prepend_path.add(dir);
                }
            }
            FileCommand::StepSummary => {
                // Too large: the runner reports an error and drops the summary, the step passes.
                match file_commands::check_step_summary(contents) {
                    Ok(Some(markdown)) => self.emit(RunEvent::StepSummary {
                        job: self.inst.key.clone(),
                        step: sref.clone(),
                        markdown,
                    }),
                    Ok(None) => {}
                    Err(message) => self.error(Some(sref), message),
                }
            }
        }
        Ok(())
    }
}

pub(crate) type BodyFuture<'j> = Pin<
    Box<
        dyn Future<Output = Result<(ExitStatus, IndexMap<String, String>), ExecutorError>>
            + Send
            + 'j,
    >,
>;

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
