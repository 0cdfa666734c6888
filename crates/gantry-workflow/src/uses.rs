//! The `uses:` reference of a step (an action) or of a job (a reusable workflow).
//!
//! GitHub's rules, as the runner applies them:
//! - `./path` (or `.\path`) is an action in the workspace;
//! - `docker://image` is a container image;
//! - anything else must be `owner/repo[/path]@ref`: exactly one `@`, at least two non-empty
//!   path segments before it (separated by `/` or `\`), and a non-empty ref.

use thiserror::Error;

use crate::model::UsesRef;

/// Why a `uses:` value is not a valid reference.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsesError {
    #[error("'uses' cannot be empty")]
    Empty,
    #[error("'docker://' must be followed by an image")]
    EmptyImage,
    #[error("missing '@ref' in '{0}'")]
    MissingRef(String),
    #[error("more than one '@' in '{0}'")]
    ExtraAt(String),
    #[error("the ref after '@' is empty in '{0}'")]
    EmptyRef(String),
    #[error("'{0}' must name both an owner and a repository before '@'")]
    MissingRepo(String),
}

/// Parses a step's `uses:` value.
pub fn parse_uses(s: &str) -> Result<UsesRef, UsesError> {
    if s.is_empty() {
        return Err(UsesError::Empty);
    }
    if let Some(image) = s.strip_prefix("docker://") {
        if image.is_empty() {
            return Err(UsesError::EmptyImage);
        }
        return Ok(UsesRef::Docker(image.to_owned()));
    }
    if s.starts_with("./") || s.starts_with(".\\") {
        return Ok(UsesRef::Local(s.to_owned()));
    }
    parse_repo(s)
}

fn parse_repo(s: &str) -> Result<UsesRef, UsesError> {
    let mut parts = s.split('@');
    let (path, git_ref) = match (parts.next(), parts.next(), parts.next()) {
        (Some(path), Some(git_ref), None) => (path, git_ref),
        (_, None, _) => return Err(UsesError::MissingRef(s.to_owned())),
        _ => return Err(UsesError::ExtraAt(s.to_owned())),
    };
    let mut segments = path.split(['/', '\\']).filter(|seg| !seg.is_empty());
    let (Some(owner), Some(repo)) = (segments.next(), segments.next()) else {
        return Err(UsesError::MissingRepo(s.to_owned()));
    };
    if git_ref.is_empty() {
        return Err(UsesError::EmptyRef(s.to_owned()));
    }
    let rest: Vec<&str> = segments.collect();
    Ok(UsesRef::Repo {
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        path: (!rest.is_empty()).then(|| rest.join("/")),
        git_ref: git_ref.to_owned(),
    })
}

/// Why a job's `uses:` is not a valid reusable-workflow reference.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorkflowRefError {
    #[error(transparent)]
    Syntax(#[from] UsesError),
    #[error("a reusable workflow cannot be a container image")]
    Docker,
    #[error("a local reusable workflow takes no '@ref' (it comes from the same commit)")]
    LocalWithRef,
    #[error("the workflow must be a '.yml' or '.yaml' file directly inside '.github/workflows/'")]
    NotInWorkflowsDir,
}

/// Parses a job's `uses:`: `owner/repo/.github/workflows/file.yml@ref` or
/// `./.github/workflows/file.yml`.
pub fn parse_workflow_ref(s: &str) -> Result<UsesRef, WorkflowRefError> {
    let parsed = parse_uses(s)?;
    let path = match &parsed {
        UsesRef::Docker(_) => return Err(WorkflowRefError::Docker),
        UsesRef::Local(local) if local.contains('@') => return Err(WorkflowRefError::LocalWithRef),
        UsesRef::Local(local) => local.trim_start_matches("./"),
        UsesRef::Repo { path, .. } => path.as_deref().unwrap_or(""),
    };
    if !is_workflow_file(path) {
        return Err(WorkflowRefError::NotInWorkflowsDir);
    }
    Ok(parsed)
}

/// `.github/workflows/<name>.yml|yaml`, with no subdirectory (GitHub does not look in them).
fn is_workflow_file(path: &str) -> bool {
    let Some(file) = path.strip_prefix(".github/workflows/") else {
        return false;
    };
    // The name before the extension must not be empty; `c.yml` is as good as `ci.yml`.
    let stem = file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"));
    !file.contains('/') && stem.is_some_and(|stem| !stem.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(owner: &str, repo: &str, path: Option<&str>, git_ref: &str) -> UsesRef {
        UsesRef::Repo {
            owner: owner.into(),
            repo: repo.into(),
            path: path.map(Into::into),
            git_ref: git_ref.into(),
        }
    }

    #[test]
    fn valid_references() {
        assert_eq!(
            parse_uses("actions/checkout@v4"),
            Ok(repo("actions", "checkout", None, "v4"))
        );
        assert_eq!(
            parse_uses("actions/aws/ec2@main"),
            Ok(repo("actions", "aws", Some("ec2"), "main"))
        );
        assert_eq!(
            parse_uses("o/r/a/b@x"),
            Ok(repo("o", "r", Some("a/b"), "x"))
        );
        assert_eq!(
            parse_uses("docker://alpine:3.8"),
            Ok(UsesRef::Docker("alpine:3.8".into()))
        );
        assert_eq!(
            parse_uses("./.github/actions/x"),
            Ok(UsesRef::Local("./.github/actions/x".into()))
        );
        assert_eq!(parse_uses(".\\x"), Ok(UsesRef::Local(".\\x".into())));
    }

    #[test]
    fn invalid_references() {
        let s = |x: &str| x.to_owned();
        assert_eq!(parse_uses(""), Err(UsesError::Empty));
        assert_eq!(parse_uses("docker://"), Err(UsesError::EmptyImage));
        assert_eq!(
            parse_uses("actions/checkout"),
            Err(UsesError::MissingRef(s("actions/checkout")))
        );
        assert_eq!(
            parse_uses("$$docker://alpine:3.8"),
            Err(UsesError::MissingRef(s("$$docker://alpine:3.8")))
        );
        assert_eq!(
            parse_uses("badrepo@invalid"),
            Err(UsesError::MissingRepo(s("badrepo@invalid")))
        );
        assert_eq!(parse_uses("a/b@"), Err(UsesError::EmptyRef(s("a/b@"))));
        assert_eq!(parse_uses("a/b@c@d"), Err(UsesError::ExtraAt(s("a/b@c@d"))));
        assert_eq!(
            parse_uses("../action.yml"),
            Err(UsesError::MissingRef(s("../action.yml")))
        );
    }

    #[test]
    fn workflow_references() {
        assert!(parse_workflow_ref("./.github/workflows/ci.yml").is_ok());
        assert!(parse_workflow_ref("o/r/.github/workflows/ci.yaml@v1").is_ok());
        // One-letter owners, repositories and file names are valid names on GitHub.
        assert_eq!(
            parse_workflow_ref("a/b/.github/workflows/c.yml@v1"),
            Ok(repo("a", "b", Some(".github/workflows/c.yml"), "v1"))
        );
        assert!(parse_workflow_ref("./.github/workflows/c.yaml").is_ok());
        assert_eq!(
            parse_workflow_ref("a/b/.github/workflows/.yml@v1"),
            Err(WorkflowRefError::NotInWorkflowsDir)
        );
        assert_eq!(
            parse_workflow_ref("o/r@v1"),
            Err(WorkflowRefError::NotInWorkflowsDir)
        );
        assert_eq!(
            parse_workflow_ref("o/r/.github/workflows/a/b.yml@v1"),
            Err(WorkflowRefError::NotInWorkflowsDir)
        );
        assert_eq!(
            parse_workflow_ref("./.github/workflows/ci.json"),
            Err(WorkflowRefError::NotInWorkflowsDir)
        );
        assert_eq!(
            parse_workflow_ref("./.github/workflows/ci.yml@v1"),
            Err(WorkflowRefError::LocalWithRef)
        );
        assert_eq!(
            parse_workflow_ref("docker://x"),
            Err(WorkflowRefError::Docker)
        );
        assert!(matches!(
            parse_workflow_ref("o/r/.github/workflows/ci.yml"),
            Err(WorkflowRefError::Syntax(_))
        ));
    }
}
