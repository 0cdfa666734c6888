//! Built-in implementations of well-known actions (`actions/checkout`, ...), which gantry runs
//! without fetching them. Anything not registered here and not local fails its step with a
//! message naming the action.

use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::executor::{ExecutorError, JobEnvironment, OutputChunk, Stream};

/// What a built-in action gets to work with.
pub struct ActionCall<'a> {
    pub job: &'a dyn JobEnvironment,
    /// `with:` values (evaluated) with the action's defaults applied, keyed by input name.
    pub inputs: IndexMap<String, String>,
    /// The step's complete process environment (what a `run:` step would get).
    pub env: IndexMap<String, String>,
    pub workspace: String,
    pub cancel: CancellationToken,
    /// Output sent here is treated exactly like a `run:` step's: workflow commands work and
    /// everything is masked.
    pub output: mpsc::Sender<OutputChunk>,
}

impl ActionCall<'_> {
    /// Writes one line to the step log (through the command parser and masker).
    pub async fn log(&self, line: &str) {
        let chunk = OutputChunk {
            stream: Stream::Stdout,
            bytes: format!("{line}\n").into_bytes(),
        };
        // The receiver lives as long as the step; a closed channel only loses a log line.
        let _ = self.output.send(chunk).await;
    }
}

/// Why a built-in action failed; shown as an error annotation on the step.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

#[async_trait]
pub trait BuiltinAction: Send + Sync {
    /// Runs the action; returns its outputs.
    async fn run(&self, call: ActionCall<'_>) -> Result<IndexMap<String, String>, ActionError>;
}

/// Built-in actions by `owner/repo` (lower-case; any ref matches), and where every other remote
/// action comes from.
#[derive(Clone, Default)]
pub struct ActionRegistry {
    actions: IndexMap<String, Arc<dyn BuiltinAction>>,
    /// The action store (or another source); without one, remote actions fail their job.
    source: Option<Arc<dyn crate::ActionSource>>,
    /// Built-ins the user wants run from the source instead (`--real-action actions/setup-node`).
    real: Vec<String>,
}

impl std::fmt::Debug for ActionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionRegistry")
            .field("builtin", &self.actions.keys().collect::<Vec<_>>())
            .field("source", &self.source.is_some())
            .field("real", &self.real)
            .finish()
    }
}

impl ActionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The actions gantry ships with.
    pub fn with_defaults() -> Self {
        let mut registry = Self::new();
        registry.register(
            "actions/checkout",
            Arc::new(crate::builtin::Checkout::new()),
        );
        registry.register(
            "actions/setup-node",
            Arc::new(crate::builtin::SetupNode::new()),
        );
        registry
    }

    pub fn register(&mut self, name: &str, action: Arc<dyn BuiltinAction>) {
        self.actions.insert(name.to_ascii_lowercase(), action);
    }

    /// The built-in for `owner/repo`, unless the user asked for the real one.
    pub fn get(&self, owner: &str, repo: &str) -> Option<Arc<dyn BuiltinAction>> {
        let name = format!("{owner}/{repo}").to_ascii_lowercase();
        if self.real.contains(&name) {
            return None;
        }
        self.actions.get(&name).cloned()
    }

    /// Remote actions resolve through `source` (the action store).
    pub fn with_source(mut self, source: Arc<dyn crate::ActionSource>) -> Self {
        self.source = Some(source);
        self
    }

    pub fn source(&self) -> Option<&Arc<dyn crate::ActionSource>> {
        self.source.as_ref()
    }

    /// Runs `owner/repo` from the source even though gantry has it built in (so the real
    /// `actions/setup-node` runs when the store has it).
    pub fn prefer_real(&mut self, name: &str) {
        self.real.push(name.to_ascii_lowercase());
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.actions.keys().map(String::as_str)
    }
}
