//! Importing act's action cache (`~/.cache/act`, act's `--action-cache-path`).
//!
//! act clones each remote action into `<cache>/<uses with '/' replaced by '-'>`, e.g.
//! `actions-checkout@v4` or `actions-cache-restore@v4`: a git clone of the whole repository,
//! checked out at the resolved commit, with `origin` pointing at the forge. The clone's remote
//! names the repository exactly (the folder name alone is ambiguous, as owners and repositories
//! may contain `-`), its `HEAD` the commit, the folder name after the last `@` the ref.
//!
//! act's newer cache (`--use-new-action-cache`) keeps bare `OWNER-REPO.git` repositories whose
//! fetched refs are temporary and deleted after each fetch, so they record neither the
//! repository nor which ref resolved to which commit: they are reported as skipped.

use std::fs;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::error::{StoreError, io};
use crate::index::Entry;
use crate::reference::ActionRef;
use crate::store::ActionStore;

/// What `import_act` did.
#[derive(Debug, Default)]
pub struct ActImport {
    pub imported: Vec<Entry>,
    /// Folders that were not imported, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl ActionStore {
    /// Imports every action act has cached in `dir`.
    pub fn import_act(&self, dir: &Path) -> Result<ActImport, StoreError> {
        let mut report = ActImport::default();
        let mut seen_any = false;
        let mut folders: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        folders.sort();
        for folder in folders {
            let name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".git") {
                seen_any = true;
                let why = "act's new action cache does not record the repository or its refs";
                report.skipped.push((folder, why.to_string()));
                continue;
            }
            let Some((_, git_ref)) = name.rsplit_once('@') else {
                continue;
            };
            let Ok(repo) = Repository::open(&folder) else {
                continue;
            };
            seen_any = true;
            match self.import_clone(&repo, &folder, git_ref) {
                Ok(entry) => report.imported.push(entry),
                Err(why) => report.skipped.push((folder, why)),
            }
        }
        if !seen_any {
            return Err(StoreError::NotActCache(dir.to_path_buf()));
        }
        Ok(report)
    }

    /// One old-style clone; a reason string when it cannot be imported (the rest still are).
    fn import_clone(
        &self,
        repo: &Repository,
        folder: &Path,
        git_ref: &str,
    ) -> Result<Entry, String> {
        let remote = repo
            .find_remote("origin")
            .map_err(|_| "the clone has no `origin` remote".to_string())?;
        let url = remote.url().unwrap_or_default().to_string();
        let (owner, name) = owner_repo_from_url(&url)
            .ok_or_else(|| format!("cannot tell the repository from its remote `{url}`"))?;
        let action =
            ActionRef::parse(&format!("{owner}/{name}@{git_ref}")).map_err(|e| e.to_string())?;
        let head = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(|e| format!("no checked-out commit: {}", e.message()))?;
        self.record(
            &action,
            repo,
            head.id(),
            format!("act {}", folder.display()),
        )
        .map_err(|e| e.to_string())
    }
}

/// `https://github.com/OWNER/REPO(.git)` (any forge, any scheme) → (`OWNER`, `REPO`).
fn owner_repo_from_url(url: &str) -> Option<(String, String)> {
    let trimmed = url.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let mut parts = trimmed.rsplit(['/', ':']);
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let owner = parts.next().filter(|s| !s.is_empty())?;
    Some((owner.to_string(), repo.to_string()))
}

#[cfg(test)]
mod tests {
    use super::owner_repo_from_url;

    #[test]
    fn remote_urls_name_the_repository() {
        let cases = [
            (
                "https://github.com/actions/checkout",
                ("actions", "checkout"),
            ),
            (
                "https://github.com/my-org/setup-x.git",
                ("my-org", "setup-x"),
            ),
            ("git@github.com:a/b.git", ("a", "b")),
        ];
        for (url, (owner, repo)) in cases {
            let parsed = owner_repo_from_url(url).unwrap();
            assert_eq!(
                (parsed.0.as_str(), parsed.1.as_str()),
                (owner, repo),
                "{url}"
            );
        }
        assert!(owner_repo_from_url("nothing").is_none());
    }
}
