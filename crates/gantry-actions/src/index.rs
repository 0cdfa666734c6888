//! The store's index: which `owner/repo@ref` resolved to which commit, from where. One JSON file
//! replaced atomically (temp file + rename), so readers never see half of it; writers hold the
//! store's lock file so two adds do not lose each other's entry.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, io};

/// One stored `owner/repo@ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub owner: String,
    pub repo: String,
    pub git_ref: String,
    /// The 40-hex commit the ref resolved to (for a directory or tarball, the commit gantry
    /// recorded its content as).
    pub commit: String,
    /// Where it came from, for `gantry actions list`: `git PATH`, `directory PATH`,
    /// `tarball PATH`, `pull URL`, `act PATH`.
    pub source: String,
    /// Seconds since the Unix epoch.
    pub added: u64,
}

impl Entry {
    pub(crate) fn matches(&self, owner: &str, repo: &str, git_ref: &str) -> bool {
        // GitHub's owner and repository names are case-insensitive; refs are not.
        self.owner.eq_ignore_ascii_case(owner)
            && self.repo.eq_ignore_ascii_case(repo)
            && self.git_ref == git_ref
    }

    /// `owner/repo@ref`.
    pub fn name(&self) -> String {
        format!("{}/{}@{}", self.owner, self.repo, self.git_ref)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    pub entries: Vec<Entry>,
}

impl Index {
    pub fn load(path: &Path) -> Result<Index, StoreError> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Index {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(io(path)(e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| StoreError::Index {
            path: path.to_path_buf(),
            source,
        })?;
        file.write_all(&bytes).map_err(io(file.path()))?;
        file.as_file().sync_all().map_err(io(file.path()))?;
        file.persist(path).map_err(|e| io(path)(e.error))?;
        Ok(())
    }

    /// Adds or replaces the entry for its `owner/repo@ref`.
    pub fn upsert(&mut self, entry: Entry) {
        self.entries
            .retain(|e| !e.matches(&entry.owner, &entry.repo, &entry.git_ref));
        self.entries.push(entry);
        self.entries.sort_by(|a, b| {
            (
                a.owner.to_ascii_lowercase(),
                a.repo.to_ascii_lowercase(),
                &a.git_ref,
            )
                .cmp(&(
                    b.owner.to_ascii_lowercase(),
                    b.repo.to_ascii_lowercase(),
                    &b.git_ref,
                ))
        });
    }
}

/// The store's write lock, released on drop.
pub(crate) struct WriteLock {
    _file: fs::File,
}

impl WriteLock {
    pub fn acquire(path: PathBuf) -> Result<WriteLock, StoreError> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(WriteLock { _file: file })
    }
}
