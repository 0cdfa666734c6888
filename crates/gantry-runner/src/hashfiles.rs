//! `hashFiles(...)`: the runner's algorithm over a local directory. Files matching the patterns
//! (globs relative to the workspace, `!` to exclude) are hashed one by one in path order, and
//! the SHA-256 of the concatenated file hashes is the result; no match gives `""`.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

/// Why `hashFiles` could not hash (the runner fails the expression with this text).
#[derive(Debug, thiserror::Error)]
pub enum HashFilesError {
    #[error("cannot read {path}: {source}", path = .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid pattern '{pattern}': {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("{0}")]
    Patterns(#[source] globset::Error),
    /// The job's files are not on this machine (no directory to hash).
    #[error("hashFiles is not available here")]
    Unavailable,
}

pub fn hash_files(root: &Path, patterns: &[String]) -> Result<String, HashFilesError> {
    let (include, exclude) = compile(patterns)?;
    let mut files = Vec::new();
    walk(root, root, &mut files).map_err(|source| HashFilesError::Read {
        path: root.to_owned(),
        source,
    })?;
    files.sort();
    let mut total = Sha256::new();
    let mut any = false;
    for (relative, path) in files {
        if !include.is_match(&relative) || exclude.is_match(&relative) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|source| HashFilesError::Read {
            path: path.clone(),
            source,
        })?;
        total.update(Sha256::digest(&bytes));
        any = true;
    }
    Ok(if any {
        hex(&total.finalize())
    } else {
        String::new()
    })
}

fn compile(patterns: &[String]) -> Result<(GlobSet, GlobSet), HashFilesError> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    for pattern in patterns
        .iter()
        .flat_map(|p| p.lines())
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (target, text) = match pattern.strip_prefix('!') {
            Some(rest) => (&mut exclude, rest),
            None => (&mut include, pattern),
        };
        let text = text.trim_start_matches("./");
        let glob = Glob::new(text).map_err(|source| HashFilesError::Pattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        target.add(glob);
        // `dir` also matches everything below it, as a directory pattern does on GitHub.
        if let Ok(below) = Glob::new(&format!("{}/**", text.trim_end_matches('/'))) {
            target.add(below);
        }
    }
    let build = |b: GlobSetBuilder| b.build().map_err(HashFilesError::Patterns);
    Ok((build(include)?, build(exclude)?))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((relative, path));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_matching_files_and_empty_when_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x.lock"), "1").unwrap();
        std::fs::write(dir.path().join("y.txt"), "2").unwrap();
        let one = hash_files(dir.path(), &["**/*.lock".into()]).unwrap();
        assert_eq!(one.len(), 64);
        let expected = hex(&Sha256::digest(Sha256::digest(b"1")));
        assert_eq!(one, expected);
        assert_eq!(hash_files(dir.path(), &["*.none".into()]).unwrap(), "");
        assert_eq!(
            hash_files(dir.path(), &["**".into(), "!y.txt".into()]).unwrap(),
            one
        );
    }
}
