//! `actions/checkout` offline: builds a snapshot of the local repository at the wanted commit on
//! this machine (a fresh repository, shallow by default as `fetch-depth: 1` makes it) and copies
//! it into the job. Snapshots are kept by the action itself, which the registry holds for the
//! run's life, so every job of a run that checks out the same commit reuses one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use tokio::sync::Mutex;

use super::{BuiltinError, bool_input, input, run_sh, warn};
use crate::actions::{ActionCall, ActionError, BuiltinAction};
use crate::{git, git_direct};

/// Removes everything inside `$1` (dot files too) and makes sure it exists.
const CLEAN_SCRIPT: &str = r#"mkdir -p "$1" && cd "$1" && rm -rf ./* ./.[!.]* ./..?*"#;

/// `actions/checkout`.
#[derive(Debug, Default)]
pub struct Checkout {
    /// The repository (any directory inside it); `None`: the process's current directory.
    source: Option<PathBuf>,
    snapshots: Mutex<HashMap<SnapshotKey, Arc<tempfile::TempDir>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SnapshotKey {
    sha: String,
    git_ref: Option<String>,
    depth: u32,
}

/// What to check out, from the inputs and the run's `github` context.
#[derive(Debug, Clone)]
struct Target {
    key: SnapshotKey,
    /// The `ref` output: the ref when there is one, else the sha.
    shown: String,
}

impl Checkout {
    /// Checks out the repository containing the current directory (found when the action
    /// first runs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks out the repository containing `dir` (the CLI passes the repository it runs).
    pub fn for_repository(dir: impl Into<PathBuf>) -> Self {
        Self {
            source: Some(dir.into()),
            snapshots: Mutex::default(),
        }
    }

    fn source(&self) -> Result<PathBuf, BuiltinError> {
        match &self.source {
            Some(dir) => Ok(dir.clone()),
            None => std::env::current_dir()
                .map_err(|e| BuiltinError::Task(format!("reading the current directory: {e}"))),
        }
    }

    /// The host directory holding the snapshot for `key`, made on first use.
    async fn snapshot(&self, key: &SnapshotKey) -> Result<Arc<tempfile::TempDir>, BuiltinError> {
        // Held while a snapshot is made, so two jobs asking for the same one make it once.
        let mut snapshots = self.snapshots.lock().await;
        if let Some(dir) = snapshots.get(key) {
            return Ok(dir.clone());
        }
        let source = self.source()?;
        let owned = key.clone();
        let dir = tokio::task::spawn_blocking(move || make_snapshot(&source, &owned))
            .await
            .map_err(|e| BuiltinError::Task(e.to_string()))??;
        let dir = Arc::new(dir);
        snapshots.insert(key.clone(), dir.clone());
        Ok(dir)
    }

    async fn resolve(&self, call: &ActionCall<'_>, depth: u32) -> Result<Target, BuiltinError> {
        let requested = input(call, "ref").to_owned();
        if requested.is_empty() {
            let sha = call
                .env
                .get("GITHUB_SHA")
                .cloned()
                .ok_or(BuiltinError::MissingVariable("GITHUB_SHA"))?;
            let git_ref = call
                .env
                .get("GITHUB_REF")
                .filter(|r| is_checkout_ref(r))
                .cloned();
            let shown = call
                .env
                .get("GITHUB_REF")
                .cloned()
                .unwrap_or_else(|| sha.clone());
            return Ok(Target {
                key: SnapshotKey {
                    sha,
                    git_ref,
                    depth,
                },
                shown,
            });
        }
        let source = self.source()?;
        let resolved = tokio::task::spawn_blocking(move || {
            let repo = git::discover(&source)?;
            git::resolve_ref(&repo, &requested)
        })
        .await
        .map_err(|e| BuiltinError::Task(e.to_string()))??;
        let shown = resolved
            .git_ref
            .clone()
            .unwrap_or_else(|| resolved.sha.clone());
        Ok(Target {
            key: SnapshotKey {
                sha: resolved.sha,
                git_ref: resolved.git_ref,
                depth,
            },
            shown,
        })
    }
}

/// Refs checkout makes local (`refs/pull/...` and others stay a detached HEAD).
fn is_checkout_ref(git_ref: &str) -> bool {
    git_ref.starts_with("refs/heads/") || git_ref.starts_with("refs/tags/")
}

fn make_snapshot(source: &Path, key: &SnapshotKey) -> Result<tempfile::TempDir, BuiltinError> {
    let dir = tempfile::Builder::new()
        .prefix("gantry-checkout-")
        .tempdir()
        .map_err(|e| BuiltinError::Task(format!("creating a snapshot directory: {e}")))?;
    let repo = git::discover(source)?;
    let snap = git::snapshot(&repo, &key.sha, dir.path(), key.depth)?;
    if let Some(git_ref) = &key.git_ref {
        git::checkout_ref(&repo, &snap, git_ref)?;
    }
    Ok(dir)
}

#[async_trait]
impl BuiltinAction for Checkout {
    async fn run(&self, call: ActionCall<'_>) -> Result<IndexMap<String, String>, ActionError> {
        Ok(self.checkout(&call).await?)
    }
}

impl Checkout {
    async fn checkout(
        &self,
        call: &ActionCall<'_>,
    ) -> Result<IndexMap<String, String>, BuiltinError> {
        check_repository(call)?;
        if let Some(reason) = self.no_repository(call).await {
            return Ok(keep_working_tree(call, &reason).await);
        }
        let dest = destination(&call.workspace, input(call, "path"))?;
        let depth = fetch_depth(call)?;
        let clean = bool_input(call, "clean", true)?;
        let target = self.resolve(call, depth).await?;
        warn_unsupported(call).await?;
        let history = if depth == 0 {
            "full history".to_owned()
        } else {
            format!("fetch-depth {depth}")
        };
        call.log(&format!(
            "Checking out {} ({}) into {dest} with {history}",
            target.shown, target.key.sha
        ))
        .await;
        if clean {
            run_sh(
                call,
                "cleaning the checkout directory",
                CLEAN_SCRIPT,
                &[&dest],
            )
            .await?;
        }
        if clean && self.place_directly(call, &target.key, &dest).await? {
            call.log("::debug::written straight from the object database")
                .await;
        } else {
            let snapshot = self.snapshot(&target.key).await?;
            call.job.copy_in(snapshot.path(), &dest).await?;
            call.log("::debug::copied in from a snapshot repository")
                .await;
        }
        if bool_input(call, "set-safe-directory", true)? {
            add_safe_directory(call, &dest).await?;
        }
        if bool_input(call, "persist-credentials", true)? {
            // Nothing to write offline; said only in debug logs, as checkout's own auth steps are.
            call.log("::debug::persist-credentials: offline there are no credentials to persist")
                .await;
        }
        let mut outputs = IndexMap::new();
        outputs.insert("ref".to_owned(), target.shown);
        outputs.insert("commit".to_owned(), target.key.sha);
        Ok(outputs)
    }
}

impl Checkout {
    /// Writes the checkout straight from the object database into `dest`, when the job's
    /// directory is one of this machine's (see [`crate::git_direct`]); `false` when it is not,
    /// or the repository needs what only the snapshot path does.
    async fn place_directly(
        &self,
        call: &ActionCall<'_>,
        key: &SnapshotKey,
        dest: &str,
    ) -> Result<bool, BuiltinError> {
        let Some(place) = call.job.host_directory(dest).await else {
            return Ok(false);
        };
        let (source, key) = (self.source()?, key.clone());
        let placed = tokio::task::spawn_blocking(move || {
            let repo = git::discover(&source)?;
            let placement = git_direct::Placement {
                sha: &key.sha,
                git_ref: key.git_ref.as_deref(),
                depth: key.depth,
                owner: place.owner,
            };
            git_direct::place(&repo, &placement, &place.path)
        })
        .await
        .map_err(|e| BuiltinError::Task(e.to_string()))??;
        Ok(placed.is_ok())
    }

    /// Why there is nothing to snapshot, if so: the run was not made from a git repository
    /// (no commit in `github.sha`, or no repository at the source).
    async fn no_repository(&self, call: &ActionCall<'_>) -> Option<String> {
        let sha = call.env.get("GITHUB_SHA").map_or("", String::as_str);
        if input(call, "ref").is_empty() && sha.chars().all(|c| c == '0') {
            return Some("the run has no commit (github.sha is not set)".to_owned());
        }
        let source = self.source().ok()?;
        let found = tokio::task::spawn_blocking(move || git::discover(&source).err())
            .await
            .ok()?;
        found.map(|e| e.to_string())
    }
}

/// Without a repository, the working tree the executor copied in is the checkout.
async fn keep_working_tree(call: &ActionCall<'_>, reason: &str) -> IndexMap<String, String> {
    call.log(&format!(
        "Using the local working tree already copied to {} ({reason})",
        call.workspace
    ))
    .await;
    let mut outputs = IndexMap::new();
    for (output, variable) in [("commit", "GITHUB_SHA"), ("ref", "GITHUB_REF")] {
        if let Some(value) = call.env.get(variable) {
            outputs.insert(output.to_owned(), value.clone());
        }
    }
    outputs
}

/// Only the run's own repository can be checked out offline.
fn check_repository(call: &ActionCall<'_>) -> Result<(), BuiltinError> {
    let requested = input(call, "repository");
    let own = call.env.get("GITHUB_REPOSITORY").map_or("", String::as_str);
    if requested.is_empty() || requested.eq_ignore_ascii_case(own) {
        return Ok(());
    }
    Err(BuiltinError::OtherRepository {
        requested: requested.to_owned(),
        own: own.to_owned(),
    })
}

fn fetch_depth(call: &ActionCall<'_>) -> Result<u32, BuiltinError> {
    match input(call, "fetch-depth") {
        "" => Ok(1),
        value => value.parse().map_err(|_| BuiltinError::NotANumber {
            name: "fetch-depth".to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// `path` under the workspace, refusing anything that leaves it.
fn destination(workspace: &str, path: &str) -> Result<String, BuiltinError> {
    let workspace = workspace.trim_end_matches('/');
    let outside = || BuiltinError::OutsideWorkspace {
        path: path.to_owned(),
        workspace: workspace.to_owned(),
    };
    let relative = if path.starts_with('/') {
        path.strip_prefix(workspace)
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or_else(outside)?
    } else {
        path
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(outside)?;
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Ok(workspace.to_owned());
    }
    Ok(format!("{workspace}/{}", parts.join("/")))
}

/// Inputs that need the network: warned about, and the checkout goes on without them.
async fn warn_unsupported(call: &ActionCall<'_>) -> Result<(), BuiltinError> {
    if bool_input(call, "lfs", false)? {
        warn(call, "lfs: Git LFS objects cannot be fetched offline; LFS pointer files are checked out as they are").await;
    }
    let submodules = input(call, "submodules");
    if !submodules.is_empty() && !submodules.eq_ignore_ascii_case("false") {
        warn(call, &format!("submodules: {submodules} is not supported offline; submodule directories stay empty")).await;
    }
    if !input(call, "sparse-checkout").is_empty() {
        warn(
            call,
            "sparse-checkout is not supported offline; the whole tree is checked out",
        )
        .await;
    }
    Ok(())
}

/// Marks `dest` safe for git in `HOME`'s global config: the files belong to whoever copied them
/// in, and a job running as another user (root in a container) would otherwise refuse them.
async fn add_safe_directory(call: &ActionCall<'_>, dest: &str) -> Result<(), BuiltinError> {
    let home = call.job.paths().home.trim_end_matches('/').to_owned();
    let file = format!("{home}/.gitconfig");
    let mut config = call
        .job
        .read_file(&file)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let entry = format!("\tdirectory = {dest}\n");
    if config.contains(&entry) {
        return Ok(());
    }
    if !config.is_empty() && !config.ends_with('\n') {
        config.push('\n');
    }
    config.push_str("[safe]\n");
    config.push_str(&entry);
    call.job.write_file(&file, config.as_bytes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_snapshot_per_commit_ref_and_depth() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let sha = repo
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .unwrap()
            .to_string();
        let checkout = Checkout::for_repository(dir.path());
        let key = |depth| SnapshotKey {
            sha: sha.clone(),
            git_ref: None,
            depth,
        };
        let first = checkout.snapshot(&key(1)).await.unwrap();
        let again = checkout.snapshot(&key(1)).await.unwrap();
        let full = checkout.snapshot(&key(0)).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same snapshot was made twice"
        );
        assert!(!Arc::ptr_eq(&first, &full));
        let path = first.path().to_path_buf();
        drop((first, again, full));
        assert!(
            path.exists(),
            "the action dropped a snapshot it still caches"
        );
        drop(checkout);
        assert!(
            !path.exists(),
            "snapshots outlive the action that made them"
        );
    }

    #[test]
    fn paths_stay_under_the_workspace() {
        let ws = "/w/repo/repo";
        let ok = [
            ("", "/w/repo/repo"),
            (".", "/w/repo/repo"),
            ("sub/dir/", "/w/repo/repo/sub/dir"),
            ("./a/../b", "/w/repo/repo/b"),
            ("/w/repo/repo/x", "/w/repo/repo/x"),
        ];
        for (path, expected) in ok {
            assert_eq!(destination(ws, path).unwrap(), expected, "{path}");
        }
        for path in ["..", "a/../../b", "/etc", "/w/repo/repository"] {
            let err = destination(ws, path).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("repository path '{path}' is not under '{ws}'")
            );
        }
    }
}
