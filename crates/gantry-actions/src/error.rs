use std::path::PathBuf;

/// What went wrong with the action store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The action is not in the store (and fetching was not allowed).
    #[error(
        "action `{action}` is not in the action store ({store}): add it with \
         `gantry actions pull {action}` (from the forge) or \
         `gantry actions add {action} PATH` (PATH a directory, git repository or tarball), \
         or let the run fetch it with --pull-actions"
    )]
    Missing { action: String, store: PathBuf },
    #[error("`{action}` resolves to commit {commit}, which has no folder `{path}`")]
    PathMissing {
        action: String,
        commit: String,
        path: String,
    },
    #[error("{source_name} has no tag, branch or commit `{git_ref}`")]
    UnknownRef {
        source_name: String,
        git_ref: String,
    },
    #[error(
        "`{git_ref}` looks like a shortened commit SHA, which GitHub does not resolve for actions: \
         use the full 40-character SHA"
    )]
    ShortSha { git_ref: String },
    #[error("no action `{0}` in the store (see `gantry actions list`)")]
    NotStored(String),
    #[error(
        "{0} is neither a directory nor a file (expected a directory, git repository or tarball)"
    )]
    BadSource(PathBuf),
    #[error("{path}: not a tar or tar.gz archive: {source}")]
    Tarball {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what} `{name}` would be written outside the action's folder")]
    UnsafeEntry {
        path: PathBuf,
        what: &'static str,
        name: String,
    },
    #[error("{0} is not act's action cache (no `OWNER-REPO@REF` clones or `*.git` repositories)")]
    NotActCache(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Git { what: String, source: git2::Error },
    #[error("{path}: the store's index is damaged: {source}")]
    Index {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { path, source }
}

pub(crate) fn git(what: impl std::fmt::Display) -> impl FnOnce(git2::Error) -> StoreError {
    let what = what.to_string();
    move |source| StoreError::Git { what, source }
}
