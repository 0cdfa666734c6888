//! An interactive process with a terminal inside a job environment: the shell a paused run
//! opens ([`crate::executor::JobEnvironment::interactive_shell`]).
//!
//! The session is plain byte channels plus a control handle, so the executor (a Docker exec
//! with a TTY, a pseudo-terminal on the host) and the front end (which owns the user's terminal)
//! meet without either knowing the other.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::executor::{ExecutorError, ExitStatus};

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    pub cols: u16,
    pub rows: u16,
}

impl Default for TermSize {
    fn default() -> Self {
        Self { cols: 80, rows: 24 }
    }
}

/// A running interactive process. Dropping the session does not stop the process; the
/// front end ends it by closing `input` (end of file) or through [`ShellControl::kill`].
pub struct ShellSession {
    /// What the process writes to its terminal; closed when the process has exited.
    pub output: mpsc::Receiver<Vec<u8>>,
    /// Keystrokes for the process's terminal (raw bytes: Ctrl-C is `0x03`, delivered by the
    /// terminal to the process as SIGINT).
    pub input: mpsc::Sender<Vec<u8>>,
    pub control: Box<dyn ShellControl>,
}

#[async_trait]
pub trait ShellControl: Send + Sync {
    /// Tells the process's terminal its new size (SIGWINCH inside).
    async fn resize(&self, size: TermSize) -> Result<(), ExecutorError>;
    /// Waits for the process to exit.
    async fn wait(&mut self) -> Result<ExitStatus, ExecutorError>;
    /// Stops the process (and what it started) when the front end gives up on it.
    async fn kill(&mut self) -> Result<(), ExecutorError>;
}
