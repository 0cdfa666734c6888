//! A step's process: its environment files created, its process environment assembled, its
//! output streamed line by line through the workflow-command parser and the masker, and the
//! environment files applied when it ends.

use std::future::Future;
use std::pin::Pin;

use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Ran, StepError};
use crate::context::StepGithub;
use crate::event::{Conclusion, LogStream, RunEvent, StepRef};
use crate::executor::{ExecutorError, ExitStatus, OutputChunk, Stream};
use crate::file_commands::FileCommand;
use crate::job::{Frame, JobRunner};
use crate::workflow_commands::{CommandProcessor, Effect};

/// `PATH` used when the workflow sets none and `GITHUB_PATH` added directories (the executor
/// only fills in `PATH` when it is absent).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A process-like body: the step's exit status and (for built-in actions) its outputs.
pub(super) type BodyFuture<'j> = Pin<
    Box<
        dyn Future<Output = Result<(ExitStatus, IndexMap<String, String>), ExecutorError>>
            + Send
            + 'j,
    >,
>;

/// Per-step output processing state.
pub(super) struct StepIo {
    pub(super) step: StepRef,
    pub(super) processor: CommandProcessor,
    pub(super) outputs: IndexMap<String, String>,
    pub(super) failed: bool,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

impl<'a> JobRunner<'a> {
    /// Runs a process-like body (a script or a built-in action) with the step's environment
    /// files, streams its output through the command parser and masker, and applies the
    /// environment files afterwards.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn execute<F>(
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
            Err(e) => return self.fail(sref, StepError::FileCommandFiles(e)),
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
                self.report(sref, &StepError::ExitCode(code));
                Conclusion::Failure
            }
            Ok((ExitStatus::Cancelled, _)) => Conclusion::Cancelled,
            Err(e) => {
                self.report(sref, &StepError::Executor(e));
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

    pub(super) async fn prepare_files(
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
    pub(super) fn process_env(
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

    pub(super) fn on_chunk(&mut self, io: &mut StepIo, chunk: OutputChunk) {
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

    pub(super) fn flush(&mut self, io: &mut StepIo) {
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

    pub(super) fn on_line(&mut self, io: &mut StepIo, stream: Stream, raw: &[u8]) {
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

    pub(super) fn apply_effect(&mut self, io: &mut StepIo, stream: LogStream, effect: Effect) {
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
}
