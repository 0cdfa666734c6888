//! Where remote actions (`uses: OWNER/REPO[/PATH]@REF`) come from: a small trait so the runner
//! gets the store by value in its options (no global), and tests or the daemon can give it
//! another source.

use gantry_actions::{ActionRef, ActionStore, Resolved, StoreError};

/// Resolves a remote action to a repository tree on this machine.
pub trait ActionSource: Send + Sync {
    /// The tree for `action`; `StoreError::Missing` (whose text names the command that adds
    /// it) when the source does not have it.
    fn resolve(&self, action: &ActionRef) -> Result<Resolved, StoreError>;
}

/// The action store, optionally allowed to fetch what it lacks from a forge (`--pull-actions`,
/// the daemon's `actions.pull`).
#[derive(Debug, Clone)]
pub struct StoreSource {
    store: ActionStore,
    /// The forge to pull from when an action is missing; `None` keeps runs offline.
    pull_from: Option<String>,
}

impl StoreSource {
    pub fn new(store: ActionStore, pull_from: Option<String>) -> Self {
        Self { store, pull_from }
    }
}

impl ActionSource for StoreSource {
    fn resolve(&self, action: &ActionRef) -> Result<Resolved, StoreError> {
        match (self.store.resolve(action), &self.pull_from) {
            (Err(StoreError::Missing { .. }), Some(forge)) => {
                self.store.pull(&action.without_path(), forge)?;
                self.store.resolve(action)
            }
            (result, _) => result,
        }
    }
}
