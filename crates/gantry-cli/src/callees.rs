//! Loading the workflows that `jobs.<id>.uses` calls, for planning runs and for validation:
//! `./.github/workflows/X.yml` from the repository the calling file is in, and
//! `OWNER/REPO/.github/workflows/X.yml@REF` (and the local calls inside it) from the action
//! store. Each file is read and parsed once per command.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{CallTarget, Origin, Severity, Unresolved, Workflow};

/// Reads called workflows below `root` (the repository of the workflows being run or checked).
pub struct Callees {
    root: PathBuf,
    loaded: RefCell<HashMap<CallTarget, Result<Arc<Workflow>, Unresolved>>>,
}

impl Callees {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            loaded: RefCell::new(HashMap::new()),
        }
    }

    /// The repository root of a workflow file: the directory holding its `.github/workflows`,
    /// else `fallback`.
    pub fn root_of(file: &Path, fallback: &Path) -> PathBuf {
        let absolute = if file.is_absolute() {
            file.to_path_buf()
        } else {
            fallback.join(file)
        };
        absolute
            .ancestors()
            .find(|dir| {
                dir.file_name().is_some_and(|n| n == "workflows")
                    && dir
                        .parent()
                        .and_then(Path::file_name)
                        .is_some_and(|n| n == ".github")
            })
            .and_then(|workflows| workflows.parent()?.parent())
            .map_or_else(|| fallback.to_path_buf(), Path::to_path_buf)
    }

    /// The parsed workflow a call names (cached, errors too).
    pub fn resolve(&self, target: &CallTarget) -> Result<Arc<Workflow>, Unresolved> {
        if let Some(found) = self.loaded.borrow().get(target) {
            return found.clone();
        }
        let found = self.load(target);
        self.loaded
            .borrow_mut()
            .insert(target.clone(), found.clone());
        found
    }

    fn load(&self, target: &CallTarget) -> Result<Arc<Workflow>, Unresolved> {
        let path = match &target.origin {
            Origin::Local => self.root.join(&target.path),
            Origin::Remote { .. } => {
                return Err(Unresolved(format!(
                    "remote reusable workflows are read from the action store, which this build of gantry does not have (`{target}`)"
                )));
            }
        };
        let shown = target.path.clone();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Unresolved(format!("cannot read `{shown}`: {e}")))?;
        parse(&shown, &text)
    }
}

/// A called file must be valid to run, as on GitHub.
fn parse(shown: &str, text: &str) -> Result<Arc<Workflow>, Unresolved> {
    let parsed = crate::engine::parse_workflow(shown, text);
    let errors = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match parsed.value {
        Some(workflow) if errors == 0 => Ok(Arc::new(workflow)),
        _ => Err(Unresolved(format!(
            "`{shown}` is invalid ({}); see `gantry validate {shown}`",
            crate::render::plural(errors.max(1), "error")
        ))),
    }
}
