//! `gantry run --pause-*`: the terminal side of a paused run.
//!
//! At a pause the user gets a shell inside the job's environment (a real TTY: raw mode, resize,
//! Ctrl-C reaching the shell), and when it exits a menu: continue, retry, skip, abort. Without a
//! terminal a pause waits `--pause-timeout` seconds and continues. Everything gantry prints
//! about a pause, and the shell's screen, go through the job's masker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::{Debugger, Pause, PauseReason, Resume, StreamMasker};
use crate::output::{self, Paint};
use crate::terminal::{self, Keyboard, RawMode};

/// How long the shell's screen may hold back a possible start of a secret before it is shown
/// (a prompt must not wait for more output that never comes).
const MASK_IDLE: Duration = Duration::from_millis(100);

/// Lets output the job sent just before pausing reach the screen before the pause banner.
const SETTLE: Duration = Duration::from_millis(150);

pub struct TerminalDebugger {
    /// `None` without a terminal.
    keyboard: Option<Arc<Keyboard>>,
    timeout: Option<Duration>,
    json: bool,
    paint: Paint,
    /// The run's token: a cancelled run (Ctrl-C at the menu, a closed terminal) ends a pause.
    cancel: CancellationToken,
    /// Parallel jobs pause one at a time: there is one keyboard.
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// How a shell session ended.
enum ShellEnd {
    Exited,
    /// stdin ended: the terminal is gone, nobody can answer.
    TerminalGone,
    Cancelled,
}

impl TerminalDebugger {
    pub fn new(
        keyboard: Option<Arc<Keyboard>>,
        timeout: Option<Duration>,
        json: bool,
        paint: Paint,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            keyboard,
            timeout,
            json,
            paint,
            cancel,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    fn announce(&self, pause: &Pause<'_>) {
        let container = pause.environment.containers().container.map(|c| c.id);
        if self.json {
            let event = json!({
                "type": "paused",
                "job": pause.job,
                "job_id": pause.job_id,
                "step": pause.step,
                "step_id": pause.step_id,
                "reason": pause.reason.as_str(),
                "outcome": pause.outcome.map(|o| o.as_str()),
                "container": container,
                "timeout_secs": self.timeout.map(|t| t.as_secs()),
            });
            let _ = output::print(&format!("{event}\n"));
            return;
        }
        let what = match pause.reason {
            PauseReason::Before => "before",
            PauseReason::After => "after",
            PauseReason::Failed => "after the failure of",
        };
        let mut text = format!(
            "\n{} {what} step {} `{}` of job `{}`",
            self.paint.warning("gantry: paused"),
            usize_from(&pause.step.path) + 1,
            pause.masker.mask(&pause.step.name),
            pause.job,
        );
        if let Some(id) = container {
            text.push_str(&format!(" (container {})", short(&id)));
        }
        text.push('\n');
        output::note(&text);
    }

    fn report(&self, pause: &Pause<'_>, resume: Resume) {
        if self.json {
            let event = json!({
                "type": "resumed",
                "job": pause.job,
                "step": pause.step,
                "action": resume_name(resume),
            });
            let _ = output::print(&format!("{event}\n"));
        } else {
            output::note(&format!("gantry: {}\n", resume_name(resume)));
        }
    }

    /// Without a terminal: hold the job for the timeout, then continue.
    async fn wait_unattended(&self, timeout: Option<Duration>) -> Resume {
        let Some(timeout) = timeout else {
            output::note("gantry: no terminal to pause at; aborting the run\n");
            return Resume::Abort;
        };
        if !self.json {
            output::note(&format!(
                "gantry: no terminal; the job's environment stays as it is for {}s, then the run continues\n",
                timeout.as_secs()
            ));
        }
        tokio::select! {
            () = tokio::time::sleep(timeout) => Resume::Continue,
            () = self.cancel.cancelled() => Resume::Abort,
        }
    }

    async fn interact(&self, keyboard: &Keyboard, pause: &Pause<'_>) -> Resume {
        // With a timeout nobody may be watching: offer the shell instead of opening it.
        if self.timeout.is_none() {
            match self.shell(keyboard, pause).await {
                ShellEnd::Exited => {}
                ShellEnd::TerminalGone | ShellEnd::Cancelled => return Resume::Abort,
            }
        }
        loop {
            output::note(&self.menu(pause.reason));
            let answer = tokio::select! {
                line = keyboard.line() => line,
                () = sleep_or_forever(self.timeout) => {
                    output::note("\n");
                    return Resume::Continue;
                }
                () = self.cancel.cancelled() => return Resume::Abort,
            };
            let Some(answer) = answer else {
                return Resume::Abort;
            };
            match answer.trim().to_ascii_lowercase().as_str() {
                "c" | "continue" => return Resume::Continue,
                "r" | "retry" => return Resume::Retry,
                "s" | "skip" => return Resume::Skip,
                "a" | "abort" | "q" | "quit" => return Resume::Abort,
                "" | "h" | "shell" => match self.shell(keyboard, pause).await {
                    ShellEnd::Exited => {}
                    ShellEnd::TerminalGone | ShellEnd::Cancelled => return Resume::Abort,
                },
                other => output::note(&format!("gantry: `{other}` is not a choice\n")),
            }
        }
    }

    fn menu(&self, reason: PauseReason) -> String {
        let key = |k: &str, rest: &str| format!("[{}]{rest}", self.paint.bold(k));
        let mut choices = vec![key("c", "ontinue")];
        if reason != PauseReason::Before {
            choices.push(key("r", "etry the step"));
        }
        choices.extend([
            key("s", "kip the step"),
            key("a", "bort the run"),
            format!("{} for a shell", self.paint.bold("Enter")),
        ]);
        let timeout = self
            .timeout
            .map(|t| format!(" (continuing in {}s)", t.as_secs()))
            .unwrap_or_default();
        format!("gantry: {}{timeout}? ", choices.join(", "))
    }

    /// An interactive shell in the job's environment until it exits (or the terminal goes).
    async fn shell(&self, keyboard: &Keyboard, pause: &Pause<'_>) -> ShellEnd {
        keyboard.discard_typeahead().await;
        let program = pause.shell.argv.first().map_or("sh", String::as_str);
        let mut session = match pause
            .environment
            .interactive_shell(&pause.shell, terminal::size())
            .await
        {
            Ok(session) => session,
            Err(e) => {
                output::note(&format!(
                    "{}: cannot open a shell: {}\n",
                    self.paint.error("error"),
                    pause.masker.mask(&e.to_string())
                ));
                return ShellEnd::Exited;
            }
        };
        output::note(&format!(
            "gantry: {program} in `{}`, with the environment the step gets; exit it (Ctrl-D) to choose how to go on\n",
            pause.shell.workdir
        ));
        let raw = RawMode::enable();
        let mut resized =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
        let mut masker = StreamMasker::new();
        let mut flush_at: Option<Instant> = None;
        let end = loop {
            tokio::select! {
                chunk = session.output.recv() => match chunk {
                    Some(bytes) => {
                        output::raw(&masker.push(pause.masker, &bytes));
                        flush_at = Some(Instant::now() + MASK_IDLE);
                    }
                    None => break ShellEnd::Exited,
                },
                keys = keyboard.next() => match keys {
                    Some(bytes) => {
                        if session.input.send(bytes).await.is_err() {
                            break ShellEnd::Exited;
                        }
                    }
                    None => break ShellEnd::TerminalGone,
                },
                Some(()) = recv_signal(&mut resized) => {
                    // A failed resize only leaves the old size.
                    let _ = session.control.resize(terminal::size()).await;
                }
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    output::raw(&masker.finish(pause.masker));
                    flush_at = None;
                }
                () = self.cancel.cancelled() => break ShellEnd::Cancelled,
            }
        };
        output::raw(&masker.finish(pause.masker));
        drop(raw);
        match end {
            ShellEnd::Exited => {
                let _ = tokio::time::timeout(Duration::from_secs(5), session.control.wait()).await;
            }
            ShellEnd::TerminalGone | ShellEnd::Cancelled => {
                let _ = session.control.kill().await;
            }
        }
        output::note("\n");
        end
    }
}

#[async_trait]
impl Debugger for TerminalDebugger {
    async fn pause(&self, pause: Pause<'_>) -> Resume {
        let _one = self.one_at_a_time.lock().await;
        if self.cancel.is_cancelled() {
            return Resume::Abort;
        }
        tokio::time::sleep(SETTLE).await;
        self.announce(&pause);
        let resume = match &self.keyboard {
            Some(keyboard) => self.interact(keyboard, &pause).await,
            None => self.wait_unattended(self.timeout).await,
        };
        self.report(&pause, resume);
        resume
    }
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn sleep_or_forever(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

fn usize_from(path: &str) -> usize {
    path.split('.')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn resume_name(resume: Resume) -> &'static str {
    match resume {
        Resume::Continue => "continuing",
        Resume::Retry => "retrying the step",
        Resume::Skip => "skipping the step",
        Resume::Abort => "aborting the run",
    }
}
