//! The files an event changed, from the local repository, for `paths` / `paths-ignore`: what
//! GitHub diffs, as the daemon does. A push compares its `before` with its `after` (the last
//! commit alone when `before` is missing, all zeros or not in the repository); a pull request
//! compares its head with the merge base of its base branch. When the commits are not there,
//! the files are unknown and path filters pass, as GitHub runs a workflow whose diff failed.

use std::path::Path;

use gantry_runner::git;
use serde_json::Value as Json;

use crate::engine::ChangedFiles;

/// The changed files and, for `--dry-run`, what they were computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    pub files: ChangedFiles,
    /// `a1b2c3d..e4f5a6b, the push's before..after`, or why the files are unknown.
    pub basis: String,
}

/// The changes of `event` (with its `payload`) whose head is `head_sha`, in the repository at
/// or above `dir`. Events without path filters get no diff.
pub fn changes(dir: &Path, event: &str, payload: &Json, head_sha: &str) -> Option<Changes> {
    if !matches!(event, "push" | "pull_request" | "pull_request_target") {
        return None;
    }
    let unknown = |why: String| Changes {
        files: ChangedFiles::Unknown,
        basis: format!("{why}; path filters pass"),
    };
    let repo = match git::discover(dir) {
        Ok(repo) => repo,
        Err(e) => return Some(unknown(e.to_string())),
    };
    let found = if event == "push" {
        push_changes(&repo, payload, head_sha)
    } else {
        pull_request_changes(&repo, payload, head_sha)
    };
    Some(found.unwrap_or_else(|e| unknown(e.to_string())))
}

fn push_changes(
    repo: &git2::Repository,
    payload: &Json,
    head_sha: &str,
) -> Result<Changes, git::GitError> {
    let after = commit_in(repo, str_at(payload, &["after"])).unwrap_or_else(|| head_sha.to_owned());
    if let Some(before) = commit_in(repo, str_at(payload, &["before"])) {
        return Ok(Changes {
            files: ChangedFiles::Known(git::changed_files(repo, &before, &after)?),
            basis: format!(
                "{}..{}, the push's before..after",
                short(&before),
                short(&after)
            ),
        });
    }
    Ok(Changes {
        files: ChangedFiles::Known(git::commit_files(repo, &after)?),
        basis: format!("the last commit, {}", short(&after)),
    })
}

fn pull_request_changes(
    repo: &git2::Repository,
    payload: &Json,
    head_sha: &str,
) -> Result<Changes, git::GitError> {
    let head = commit_in(repo, str_at(payload, &["pull_request", "head", "sha"]))
        .unwrap_or_else(|| head_sha.to_owned());
    // The payload's base sha when it is a commit other than the head (a synthesized payload
    // has the head there), else the base branch as the local repository knows it.
    let base_ref = str_at(payload, &["pull_request", "base", "ref"]).unwrap_or("main");
    let base = commit_in(repo, str_at(payload, &["pull_request", "base", "sha"]))
        .filter(|b| *b != head)
        .or_else(|| git::resolve_ref(repo, base_ref).ok().map(|r| r.sha))
        .ok_or_else(|| git::GitError::UnknownRef(base_ref.to_owned()))?;
    let merge_base = git::merge_base(repo, &base, &head)?;
    Ok(Changes {
        files: ChangedFiles::Known(git::changed_files(repo, &merge_base, &head)?),
        basis: format!(
            "{}..{}, the merge base with `{base_ref}`..the head",
            short(&merge_base),
            short(&head)
        ),
    })
}

/// `sha` when it names a commit of the repository (not all zeros).
fn commit_in(repo: &git2::Repository, sha: Option<&str>) -> Option<String> {
    let sha = sha.filter(|s| !s.is_empty() && !s.chars().all(|c| c == '0'))?;
    let oid = git2::Oid::from_str(sha).ok()?;
    repo.find_commit(oid).ok().map(|c| c.id().to_string())
}

fn str_at<'a>(payload: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(payload, |v, k| v.get(k))?.as_str()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
