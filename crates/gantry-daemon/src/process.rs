//! [`ProcessLauncher`]: a real, small [`RunLauncher`] that runs each job's `run:` steps as
//! host shell processes in the run's workspace. It is what the tests use and a fallback
//! until the container engine is plugged in.
//!
//! What it does: jobs in the planned order, a job whose needs did not succeed is skipped,
//! `${{ }}` in scripts and `env:` values evaluated against `github`, `inputs`, `vars` and
//! `secrets`, `shell: bash` or `sh -e`, output streamed line by line, `::error::`/`::warning::`/
//! `::notice::` lines become annotations, `$GITHUB_STEP_SUMMARY` becomes the job summary, and
//! cancellation kills the step's whole process group. What it does not: `uses:` steps (they
//! are reported as skipped), `if:`, matrices, containers, outputs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gantry_expr::{EvalContext, ParseOptions, Value as ExprValue, parse_template};
use gantry_runner::mask::Masker;
use gantry_workflow::{Job, Step, StepKind, Workflow, parse_workflow};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::launcher::{
    AnnotationLevel, Conclusion, QueuedRun, RunEvent, RunLauncher, RunOutcome, ServicesAccess,
};

/// Runs `run:` steps as host processes.
#[derive(Debug, Clone, Default)]
pub struct ProcessLauncher {
    /// Where the process group of each running step is recorded, so [`RunLauncher::reap`]
    /// can kill what a crashed daemon left running.
    pid_dir: Option<PathBuf>,
}

impl ProcessLauncher {
    pub fn new() -> ProcessLauncher {
        ProcessLauncher::default()
    }

    /// Records running steps' process groups in `dir` so a restart can reap them.
    pub fn with_pid_dir(dir: impl Into<PathBuf>) -> ProcessLauncher {
        ProcessLauncher {
            pid_dir: Some(dir.into()),
        }
    }
}

/// Identifies this boot, so a pid recorded before a reboot is never signalled.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

#[async_trait::async_trait]
impl RunLauncher for ProcessLauncher {
    async fn run(
        &self,
        run: QueuedRun,
        events: mpsc::Sender<RunEvent>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let parsed = parse_workflow(&run.workflow_path, &run.workflow_source);
        let Some(workflow) = parsed.value else {
            return RunOutcome::with_reason(Conclusion::Failure, "the workflow does not parse");
        };
        if let Err(e) = tokio::fs::create_dir_all(&run.workspace).await {
            return RunOutcome::with_reason(
                Conclusion::Failure,
                format!("cannot create the workspace: {e}"),
            );
        }
        let mut masker = Masker::new();
        for secret in run.secrets.values() {
            masker.add(secret);
        }
        if let Some(packages) = &run.packages {
            masker.add(&packages.token);
        }
        if let Some(services) = &run.services {
            masker.add(&services.token);
        }
        let runner = JobRunner {
            masker,
            pid_dir: self.pid_dir.as_deref(),
            run: &run,
            workflow: &workflow,
            events: &events,
            cancel: &cancel,
        };
        runner.run_all().await
    }

    async fn reap(&self) {
        let Some(dir) = &self.pid_dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let boot = boot_id();
        for entry in entries.flatten() {
            let path = entry.path();
            let recorded = std::fs::read_to_string(&path).unwrap_or_default();
            let pgid = entry.file_name().to_string_lossy().parse::<u32>().ok();
            if recorded == boot {
                kill_group(pgid);
            }
            let _ = std::fs::remove_file(&path);
        }
    }
}

struct JobRunner<'a> {
    /// The run's secrets and token: every event is masked with it in [`JobRunner::send`].
    masker: Masker,
    pid_dir: Option<&'a Path>,
    run: &'a QueuedRun,
    workflow: &'a Workflow,
    events: &'a mpsc::Sender<RunEvent>,
    cancel: &'a CancellationToken,
}

impl JobRunner<'_> {
    /// The one way out for this launcher's events, so every string they carry is masked.
    async fn send(&self, event: RunEvent) {
        // A closed channel means nobody records progress any more; the run still finishes.
        let _ = self.events.send(masked(event, &self.masker)).await;
    }

    async fn run_all(&self) -> RunOutcome {
        let mut results: HashMap<&str, Conclusion> = HashMap::new();
        for info in &self.run.jobs {
            let blocked = info.needs.iter().any(|n| {
                // Needs outside this attempt were carried from an earlier, successful attempt.
                results
                    .get(n.as_str())
                    .is_some_and(|c| *c != Conclusion::Success)
            });
            let conclusion = match self.workflow.jobs.get(&info.key) {
                _ if self.cancel.is_cancelled() => Conclusion::Cancelled,
                _ if blocked => Conclusion::Skipped,
                Some(job) => self.run_job(&info.key, &info.name, job).await,
                None => Conclusion::Failure,
            };
            if conclusion != Conclusion::Success && !results.contains_key(info.key.as_str()) {
                self.send(RunEvent::JobFinished {
                    job: info.key.clone(),
                    conclusion,
                })
                .await;
            }
            results.insert(&info.key, conclusion);
        }
        overall(results.values().copied(), self.cancel.is_cancelled())
    }

    async fn run_job(&self, key: &str, name: &str, job: &Job) -> Conclusion {
        self.send(RunEvent::JobStarted {
            job: key.to_owned(),
            name: name.to_owned(),
        })
        .await;
        let mut conclusion = Conclusion::Success;
        for (i, step) in job.steps.iter().enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let result = if conclusion == Conclusion::Success {
                self.run_step(key, job, number, step).await
            } else {
                self.start_step(key, number, step).await;
                Conclusion::Skipped
            };
            self.send(RunEvent::StepFinished {
                job: key.to_owned(),
                number,
                conclusion: result,
            })
            .await;
            if matches!(result, Conclusion::Failure | Conclusion::Cancelled) {
                conclusion = result;
            }
        }
        self.send(RunEvent::JobFinished {
            job: key.to_owned(),
            conclusion,
        })
        .await;
        conclusion
    }

    async fn start_step(&self, key: &str, number: u32, step: &Step) {
        self.send(RunEvent::StepStarted {
            job: key.to_owned(),
            number,
            name: step_name(step),
        })
        .await;
    }

    async fn log(&self, key: &str, number: u32, text: String) {
        self.send(RunEvent::Log {
            job: key.to_owned(),
            step: Some(number),
            text,
        })
        .await;
    }

    async fn run_step(&self, key: &str, job: &Job, number: u32, step: &Step) -> Conclusion {
        self.start_step(key, number, step).await;
        let StepKind::Run { run, shell, .. } = &step.kind else {
            let note = "the process launcher does not run actions (uses:); skipped";
            self.log(key, number, note.to_owned()).await;
            return Conclusion::Skipped;
        };
        let contexts = self.contexts();
        let script = match expand(&run.value, &contexts) {
            Ok(script) => script,
            Err(e) => {
                self.log(key, number, format!("error: {e}")).await;
                return Conclusion::Failure;
            }
        };
        let mut env = self.base_env(key, number);
        for (name, value) in self.workflow.env.iter().chain(&job.env).chain(&step.env) {
            env.insert(
                name.clone(),
                expand(&value.value, &contexts).unwrap_or_default(),
            );
        }
        let shell = shell.as_ref().map(|s| s.value.as_str());
        let conclusion = self.spawn(key, number, &script, shell, &env).await;
        self.report_summary(key, &env).await;
        conclusion
    }

    fn base_env(&self, key: &str, number: u32) -> BTreeMap<String, String> {
        let run = self.run;
        let summary = run.workspace.join(format!(".summary-{key}-{number}.md"));
        let services = run.services.iter().flat_map(ServicesAccess::env);
        let mut env = BTreeMap::from_iter(services);
        env.extend([
            ("CI".to_owned(), "true".to_owned()),
            ("GITHUB_ACTIONS".to_owned(), "true".to_owned()),
            ("GITHUB_REPOSITORY".to_owned(), run.repo.clone()),
            ("GITHUB_EVENT_NAME".to_owned(), run.event.clone()),
            ("GITHUB_REF".to_owned(), run.git_ref.clone()),
            ("GITHUB_SHA".to_owned(), run.sha.clone()),
            ("GITHUB_RUN_ID".to_owned(), run.run_id.to_string()),
            ("GITHUB_RUN_ATTEMPT".to_owned(), run.attempt.to_string()),
            ("GITHUB_JOB".to_owned(), key.to_owned()),
            (
                "GITHUB_WORKSPACE".to_owned(),
                run.workspace.display().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY".to_owned(),
                summary.display().to_string(),
            ),
        ]);
        env
    }

    fn contexts(&self) -> Contexts {
        let run = self.run;
        // As on GitHub, the run's token is `secrets.GITHUB_TOKEN` and `github.token`.
        let token = run.packages.as_ref().map(|p| p.token.clone());
        let mut secrets = json!(run.secrets);
        if let Some(token) = &token {
            secrets["GITHUB_TOKEN"] = json!(token);
        }
        Contexts {
            github: json!({
                "event_name": run.event, "event": run.payload, "ref": run.git_ref,
                "sha": run.sha, "repository": run.repo, "run_id": run.run_id.to_string(),
                "run_attempt": run.attempt.to_string(), "workflow": run.workflow_path,
                "token": token,
            }),
            inputs: run.inputs.clone().unwrap_or_else(|| json!({})),
            vars: json!(run.variables),
            secrets,
        }
    }

    async fn spawn(
        &self,
        key: &str,
        number: u32,
        script: &str,
        shell: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Conclusion {
        let mut command = shell_command(shell, script);
        command
            .current_dir(&self.run.workspace)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.log(key, number, format!("error: cannot start the shell: {e}"))
                    .await;
                return Conclusion::Failure;
            }
        };
        let (tx, mut lines) = mpsc::channel::<String>(256);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, tx));
        }
        let pgid = child.id();
        let pid_file = self.record_pid(pgid);
        let status = self
            .wait_step(key, number, &mut child, &mut lines, pgid)
            .await;
        if let Some(file) = pid_file {
            let _ = std::fs::remove_file(file);
        }
        status
    }

    fn record_pid(&self, pgid: Option<u32>) -> Option<PathBuf> {
        let (dir, pgid) = (self.pid_dir?, pgid?);
        std::fs::create_dir_all(dir).ok()?;
        let file = dir.join(pgid.to_string());
        std::fs::write(&file, boot_id()).ok()?;
        Some(file)
    }

    async fn wait_step(
        &self,
        key: &str,
        number: u32,
        child: &mut tokio::process::Child,
        lines: &mut mpsc::Receiver<String>,
        pgid: Option<u32>,
    ) -> Conclusion {
        let status = loop {
            tokio::select! {
                Some(line) = lines.recv() => self.output_line(key, number, line).await,
                status = child.wait() => break status,
                () = self.cancel.cancelled() => {
                    kill_group(pgid);
                    let _ = child.wait().await;
                    self.log(key, number, "the run was cancelled".to_owned()).await;
                    return Conclusion::Cancelled;
                }
            }
        };
        // Background processes the step left behind would hold the pipes open.
        kill_group(pgid);
        while let Some(line) = lines.recv().await {
            self.output_line(key, number, line).await;
        }
        match status {
            Ok(s) if s.success() => Conclusion::Success,
            Ok(s) => {
                let code = s
                    .code()
                    .map_or("a signal".to_owned(), |c| format!("code {c}"));
                self.log(key, number, format!("Process completed with exit {code}"))
                    .await;
                Conclusion::Failure
            }
            Err(_) => Conclusion::Failure,
        }
    }

    async fn output_line(&self, key: &str, number: u32, line: String) {
        if let Some((level, message, file, line_no)) = parse_annotation(&line) {
            self.send(RunEvent::Annotation {
                job: key.to_owned(),
                level,
                message,
                file,
                line: line_no,
            })
            .await;
        }
        self.log(key, number, line).await;
    }

    async fn report_summary(&self, key: &str, env: &BTreeMap<String, String>) {
        let Some(path) = env.get("GITHUB_STEP_SUMMARY") else {
            return;
        };
        if let Ok(markdown) = tokio::fs::read_to_string(Path::new(path)).await
            && !markdown.is_empty()
        {
            self.send(RunEvent::Summary {
                job: key.to_owned(),
                markdown,
            })
            .await;
        }
    }
}

/// `event` with every string masked (exhaustive, so a new field must be handled here).
fn masked(event: RunEvent, masker: &Masker) -> RunEvent {
    let m = |s: String| masker.mask(&s);
    match event {
        RunEvent::MatrixExpanded { job, legs } => RunEvent::MatrixExpanded {
            job: m(job),
            legs: legs.into_iter().map(|(k, n)| (m(k), m(n))).collect(),
        },
        RunEvent::JobStarted { job, name } => RunEvent::JobStarted {
            job: m(job),
            name: m(name),
        },
        RunEvent::StepStarted { job, number, name } => RunEvent::StepStarted {
            job: m(job),
            number,
            name: m(name),
        },
        RunEvent::Log { job, step, text } => RunEvent::Log {
            job: m(job),
            step,
            text: m(text),
        },
        RunEvent::StepFinished {
            job,
            number,
            conclusion,
        } => RunEvent::StepFinished {
            job: m(job),
            number,
            conclusion,
        },
        RunEvent::JobFinished { job, conclusion } => RunEvent::JobFinished {
            job: m(job),
            conclusion,
        },
        RunEvent::Annotation {
            job,
            level,
            message,
            file,
            line,
        } => RunEvent::Annotation {
            job: m(job),
            level,
            message: m(message),
            file: file.map(m),
            line,
        },
        RunEvent::Summary { job, markdown } => RunEvent::Summary {
            job: m(job),
            markdown: m(markdown),
        },
    }
}

fn overall(results: impl Iterator<Item = Conclusion>, cancelled: bool) -> RunOutcome {
    if cancelled {
        return RunOutcome::new(Conclusion::Cancelled);
    }
    let results: Vec<Conclusion> = results.collect();
    if results.contains(&Conclusion::Failure) {
        RunOutcome::new(Conclusion::Failure)
    } else if results.contains(&Conclusion::Cancelled) {
        RunOutcome::new(Conclusion::Cancelled)
    } else {
        RunOutcome::new(Conclusion::Success)
    }
}

fn step_name(step: &Step) -> String {
    if let Some(name) = &step.name {
        return name.value.clone();
    }
    match &step.kind {
        StepKind::Run { run, .. } => {
            format!("Run {}", run.value.lines().next().unwrap_or_default())
        }
        StepKind::Uses { uses, .. } => format!("Run {}", uses.value),
    }
}

/// GitHub's shell templates for the two shells this launcher supports.
fn shell_command(shell: Option<&str>, script: &str) -> Command {
    let mut command;
    if shell == Some("bash") {
        command = Command::new("bash");
        command.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script]);
    } else {
        command = Command::new("sh");
        command.args(["-e", "-c", script]);
    }
    command
}

fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group we created for the step
    // (`process_group(0)` made the child its leader); it touches no memory.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

async fn forward_lines(stream: impl tokio::io::AsyncRead + Unpin, tx: mpsc::Sender<String>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(line).await.is_err() {
            break;
        }
    }
}

/// `::error file=a.rs,line=3::message` and friends.
fn parse_annotation(line: &str) -> Option<(AnnotationLevel, String, Option<String>, Option<u32>)> {
    let rest = line.trim_start().strip_prefix("::")?;
    let (head, message) = rest.split_once("::")?;
    let (command, props) = head.split_once(' ').unwrap_or((head, ""));
    let level = match command {
        "error" => AnnotationLevel::Error,
        "warning" => AnnotationLevel::Warning,
        "notice" => AnnotationLevel::Notice,
        _ => return None,
    };
    let props: HashMap<&str, &str> = props
        .split(',')
        .filter_map(|p| p.trim().split_once('='))
        .collect();
    let file = props.get("file").map(|f| (*f).to_owned());
    let line_no = props.get("line").and_then(|l| l.parse().ok());
    Some((level, message.to_owned(), file, line_no))
}

struct Contexts {
    github: Value,
    inputs: Value,
    vars: Value,
    secrets: Value,
}

impl EvalContext for Contexts {
    fn named_value(&self, name: &str) -> Option<ExprValue> {
        let value = match name.to_ascii_lowercase().as_str() {
            "github" => &self.github,
            "inputs" => &self.inputs,
            "vars" => &self.vars,
            "secrets" => &self.secrets,
            _ => return None,
        };
        Some(ExprValue::from(value))
    }
}

fn expand(source: &str, contexts: &Contexts) -> Result<String, String> {
    if !source.contains("${{") {
        return Ok(source.to_owned());
    }
    let options = ParseOptions::new()
        .named_value("github")
        .named_value("inputs")
        .named_value("vars")
        .named_value("secrets");
    let template = parse_template(source, &options).map_err(|e| e.to_string())?;
    let value = template.evaluate(contexts).map_err(|e| e.to_string())?;
    Ok(value.to_display_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_parse_like_workflow_commands() {
        let cases = [
            (
                "::error file=src/a.rs,line=3::boom",
                Some((
                    AnnotationLevel::Error,
                    "boom".to_owned(),
                    Some("src/a.rs".to_owned()),
                    Some(3),
                )),
            ),
            (
                "::warning::careful",
                Some((AnnotationLevel::Warning, "careful".to_owned(), None, None)),
            ),
            (
                "::notice title=x::hi",
                Some((AnnotationLevel::Notice, "hi".to_owned(), None, None)),
            ),
            ("::set-output name=a::b", None),
            ("plain text", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_annotation(line), want, "{line}");
        }
    }
}
