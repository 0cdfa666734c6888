//! Remote actions and reusable workflows for the daemon's runs: the action store `[actions]`
//! names (`gantry-actions`), pulling what it lacks from the forge when `pull = true`, and the
//! called workflows a run reads from its checkout or from the store.

use std::path::Path;
use std::sync::Arc;

use gantry_actions::{ActionRef, ActionStore, StoreError};
use gantry_plan::{CallTarget, Origin, Unresolved};
use gantry_runner::{ActionSource, StoreSource};

use crate::config::Config;

/// The store in `[actions] data_dir` (default: the daemon's `data_dir`), created when missing;
/// with `pull = true` it fetches missing actions from `forge` (default GitHub).
pub fn action_source(config: &Config) -> Result<Arc<dyn ActionSource>, StoreError> {
    let settings = &config.actions;
    let store = ActionStore::open(settings.data_dir.as_ref().unwrap_or(&config.data_dir))?;
    let forge = settings
        .forge
        .clone()
        .unwrap_or_else(|| gantry_actions::DEFAULT_FORGE.to_owned());
    Ok(Arc::new(StoreSource::new(
        store,
        settings.pull.then_some(forge),
    )))
}

/// A reusable workflow a run calls: `./...` from the run's checkout (the same commit, as on
/// GitHub), `OWNER/REPO/...@REF` from the action store, its own `./` calls anchored to that
/// repository and ref.
pub(crate) fn read_callee(
    workspace: &Path,
    source: Option<&dyn ActionSource>,
    target: &CallTarget,
) -> Result<Arc<gantry_workflow::Workflow>, Unresolved> {
    let (path, shown) = match &target.origin {
        Origin::Local => (workspace.join(&target.path), target.path.clone()),
        Origin::Remote {
            owner,
            repo,
            git_ref,
        } => {
            let source = source.ok_or_else(|| {
                Unresolved(format!(
                    "`{target}`: this daemon has no action store (see [actions] in gantry.toml)"
                ))
            })?;
            let action = ActionRef::parse(&format!("{owner}/{repo}@{git_ref}"))
                .map_err(|e| Unresolved(e.to_string()))?;
            let resolved = source
                .resolve(&action)
                .map_err(|e| Unresolved(e.to_string()))?;
            (resolved.root.join(&target.path), target.to_string())
        }
    };
    let text = gantry_files::read_workflow(&path)
        .map_err(|e| Unresolved(format!("cannot read `{shown}`: {e}")))?;
    let parsed = gantry_workflow::parse_workflow(&shown, &text);
    match parsed.value {
        Some(mut workflow) if !parsed.has_errors() => {
            gantry_plan::anchor_calls(&mut workflow, &target.origin);
            Ok(Arc::new(workflow))
        }
        _ => Err(Unresolved(format!("`{shown}` has errors"))),
    }
}
