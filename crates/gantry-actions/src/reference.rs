//! `OWNER/REPO[/PATH]@REF`, the form a step's `uses:` names a remote action (and a job's `uses:`
//! a remote reusable workflow) in.

use std::fmt;

/// Why a `uses:` value is not a remote action reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`{0}` is a local path, not a remote action (OWNER/REPO[/PATH]@REF)")]
    Local(String),
    #[error("`{0}` is a docker image, not a remote action (OWNER/REPO[/PATH]@REF)")]
    Docker(String),
    #[error("`{0}` has no `@REF`: expected OWNER/REPO[/PATH]@REF")]
    NoRef(String),
    #[error("`{0}` has no repository: expected OWNER/REPO[/PATH]@REF")]
    NoRepo(String),
    #[error("`{value}`: {what} `{part}` is not a valid name")]
    BadName {
        value: String,
        what: &'static str,
        part: String,
    },
    #[error("`{0}`: the path must not be empty or contain `.`, `..` or empty segments")]
    BadPath(String),
    #[error("`{0}`: the ref must not be empty or contain whitespace")]
    BadRef(String),
}

/// A parsed remote action reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActionRef {
    pub owner: String,
    pub repo: String,
    /// The action's folder inside the repository (`actions/cache/restore@v4` → `restore`).
    pub path: Option<String>,
    /// The tag, branch, full commit SHA or `refs/...` name after `@`.
    pub git_ref: String,
}

impl ActionRef {
    /// Parses `OWNER/REPO[/PATH]@REF`.
    pub fn parse(value: &str) -> Result<ActionRef, RefError> {
        let owned = || value.to_string();
        if value.starts_with("./") || value.starts_with('/') || value == "." {
            return Err(RefError::Local(owned()));
        }
        if value.starts_with("docker://") {
            return Err(RefError::Docker(owned()));
        }
        // The ref is everything after the last `@`; names and paths cannot contain one.
        let (name, git_ref) = value
            .rsplit_once('@')
            .ok_or_else(|| RefError::NoRef(owned()))?;
        if git_ref.is_empty() || git_ref.chars().any(char::is_whitespace) {
            return Err(RefError::BadRef(owned()));
        }
        let mut parts = name.splitn(3, '/');
        let owner = parts.next().unwrap_or_default();
        let repo = parts.next().ok_or_else(|| RefError::NoRepo(owned()))?;
        let path = parts.next();
        check_name(value, "owner", owner)?;
        check_name(value, "repository", repo)?;
        if let Some(path) = path {
            let bad = path.is_empty()
                || path
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..");
            if bad {
                return Err(RefError::BadPath(owned()));
            }
        }
        Ok(ActionRef {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: path.map(str::to_string),
            git_ref: git_ref.to_string(),
        })
    }

    /// `owner/repo` as written.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// `owner/repo@ref` (without the path): what the store keeps an entry for.
    pub fn repository_ref(&self) -> String {
        format!("{}/{}@{}", self.owner, self.repo, self.git_ref)
    }

    /// The same repository and ref without a path.
    pub fn without_path(&self) -> ActionRef {
        ActionRef {
            path: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for ActionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)?;
        if let Some(path) = &self.path {
            write!(f, "/{path}")?;
        }
        write!(f, "@{}", self.git_ref)
    }
}

/// GitHub's owner and repository names: letters, digits, `-`, `_`, `.` (not `.` or `..`).
fn check_name(value: &str, what: &'static str, part: &str) -> Result<(), RefError> {
    let ok = !part.is_empty()
        && part != "."
        && part != ".."
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RefError::BadName {
            value: value.to_string(),
            what,
            part: part.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_github_accepts() {
        let cases = [
            ("actions/cache@v4", "actions", "cache", None, "v4"),
            (
                "actions/cache/restore@v4",
                "actions",
                "cache",
                Some("restore"),
                "v4",
            ),
            ("o/r/a/b@feature/x", "o", "r", Some("a/b"), "feature/x"),
            ("o/r@refs/heads/main", "o", "r", None, "refs/heads/main"),
            (
                "Some.Org/my_repo-2@1.0",
                "Some.Org",
                "my_repo-2",
                None,
                "1.0",
            ),
        ];
        for (value, owner, repo, path, git_ref) in cases {
            let parsed = ActionRef::parse(value).unwrap();
            assert_eq!(parsed.owner, owner, "{value}");
            assert_eq!(parsed.repo, repo, "{value}");
            assert_eq!(parsed.path.as_deref(), path, "{value}");
            assert_eq!(parsed.git_ref, git_ref, "{value}");
            assert_eq!(parsed.to_string(), value);
        }
    }

    #[test]
    fn rejects_what_is_not_a_remote_action() {
        let cases = [
            ("./local", "local path"),
            ("docker://alpine", "docker image"),
            ("actions/cache", "no `@REF`"),
            ("actions@v1", "no repository"),
            ("actions/cache@", "the ref must not"),
            ("a b/c@v1", "owner `a b`"),
            ("a/c//x@v1", "the path must not"),
            ("a/c/../x@v1", "the path must not"),
        ];
        for (value, message) in cases {
            let error = ActionRef::parse(value).unwrap_err().to_string();
            assert!(error.contains(message), "{value}: {error}");
        }
    }
}
