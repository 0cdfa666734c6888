//! Loading the workflows that `jobs.<id>.uses` calls, for planning runs and for validation:
//! `./.github/workflows/X.yml` from the repository the calling file is in, and
//! `OWNER/REPO/.github/workflows/X.yml@REF` (and the local calls inside it) from the action
//! store. Each file is read and parsed once per command.
//!
//! A remote workflow's own local calls (`./.github/workflows/Y.yml`) name files of that
//! repository at the same ref, as on GitHub: they are rewritten to `OWNER/REPO/...@REF` when the
//! file is loaded, so every later reader (the planner, the call checks) sees where they point.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{CallTarget, Origin, Severity, Unresolved, Workflow};

/// Reads called workflows below `root` (the repository of the workflows being run or checked)
/// and from the action store.
pub struct Callees {
    root: PathBuf,
    store: Store,
    loaded: RefCell<HashMap<CallTarget, Result<Arc<Workflow>, Unresolved>>>,
}

/// The action store remote calls come from, or why there is none.
#[derive(Clone)]
pub enum Store {
    Open(gantry_actions::ActionStore),
    /// Opened (and created when missing) at the first remote call: runs without one touch
    /// nothing.
    OnDemand(Option<PathBuf>),
    Unavailable(String),
}

impl Store {
    /// The store in `data_dir` (`--data-dir`, `GANTRY_DATA_DIR`, the default).
    pub fn open(data_dir: Option<&Path>) -> Store {
        Store::OnDemand(data_dir.map(Path::to_path_buf))
    }

    fn get(&self) -> Result<gantry_actions::ActionStore, Unresolved> {
        match self {
            Store::Open(store) => Ok(store.clone()),
            Store::OnDemand(dir) => crate::commands::actions::open_store(dir.as_deref())
                .map_err(|e| Unresolved(e.to_string())),
            Store::Unavailable(reason) => Err(Unresolved(reason.clone())),
        }
    }

    /// Whether the store holds the action `uses` names (`OWNER/REPO[/PATH]@REF`); `false` when
    /// there is no store or the reference is not one.
    pub fn has_action(&self, uses: &str) -> bool {
        let Ok(reference) = gantry_actions::ActionRef::parse(uses) else {
            return false;
        };
        let store = match self {
            Store::Open(store) => store.clone(),
            // Asking must not create a store.
            Store::OnDemand(dir) => match crate::registry::data_dir(dir.as_deref()) {
                Ok(dir) if dir.join("actions").is_dir() => {
                    match crate::commands::actions::open_store(Some(&dir)) {
                        Ok(store) => store,
                        Err(_) => return false,
                    }
                }
                _ => return false,
            },
            Store::Unavailable(_) => return false,
        };
        store.resolve(&reference).is_ok()
    }

    /// The store in `data_dir` when it exists; `validate` creates nothing.
    pub fn existing(data_dir: Option<&Path>) -> Store {
        match crate::registry::data_dir(data_dir) {
            Ok(dir) if dir.join("actions").is_dir() => {
                match crate::commands::actions::open_store(Some(&dir)) {
                    Ok(store) => Store::Open(store),
                    Err(e) => Store::Unavailable(e.to_string()),
                }
            }
            Ok(dir) => Store::Unavailable(format!(
                "there is no action store in `{}` (add the workflow's repository with `gantry actions add` or `gantry actions pull`)",
                dir.display()
            )),
            Err(e) => Store::Unavailable(e.to_string()),
        }
    }
}

impl Callees {
    pub fn new(root: PathBuf, store: Store) -> Self {
        Self {
            root,
            store,
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
        let (path, shown) = match &target.origin {
            Origin::Local => (self.root.join(&target.path), target.path.clone()),
            Origin::Remote {
                owner,
                repo,
                git_ref,
            } => {
                let root = self.stored_repository(owner, repo, git_ref)?;
                (root.join(&target.path), target.to_string())
            }
        };
        let text = gantry_files::read_workflow(&path)
            .map_err(|e| Unresolved(format!("cannot read `{shown}`: {e}")))?;
        let mut workflow = parse(&shown, &text)?;
        crate::engine::anchor_calls(Arc::make_mut(&mut workflow), &target.origin);
        Ok(workflow)
    }

    /// The stored tree of `owner/repo@git_ref`.
    fn stored_repository(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
    ) -> Result<PathBuf, Unresolved> {
        let store = self.store.get()?;
        let action = gantry_actions::ActionRef::parse(&format!("{owner}/{repo}@{git_ref}"))
            .map_err(|e| Unresolved(e.to_string()))?;
        store
            .resolve(&action)
            .map(|resolved| resolved.root)
            .map_err(|e| Unresolved(e.to_string()))
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
