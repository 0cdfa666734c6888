//! Bounded reads of files that come from a repository (workflow files, `action.yml`).
//!
//! Whoever pushes to a repository chooses these files, so reading one whole before checking
//! its size lets a push make gantry allocate as much as the file holds (a sparse 1 GiB file
//! costs nothing on disk). The size is checked on the opened file before anything is read,
//! and the read itself stops one byte past the limit, so a file that grows meanwhile or a
//! device that reports no size (`/dev/zero`) is refused the same way.
//!
//! `gantry-workflow` does no I/O; its parser's `max_file_size` is the same 1 MiB limit,
//! counted in characters once the text is in memory.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes a workflow or action metadata file may have (GitHub's 1 MiB).
pub const MAX_WORKFLOW_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} is {size} bytes, more than the {limit}-byte limit for workflow files", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{} grows past the {limit}-byte limit for workflow files while it is read", path.display())]
    Grew { path: PathBuf, limit: u64 },
    #[error("{} is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ReadError {
    /// Whether the file does not exist (callers that try several names go on).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads `path` as UTF-8 text of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotText {
        path: path.to_owned(),
    })
}

/// Reads `path` (at most `limit` bytes) as [`read_text`] with [`MAX_WORKFLOW_BYTES`].
pub fn read_workflow(path: &Path) -> Result<String, ReadError> {
    read_text(path, MAX_WORKFLOW_BYTES)
}

/// Reads at most `limit` bytes of `path`; a larger file is an error, not a prefix.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Grew {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_read_and_large_ones_refused_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("ok.yml");
        std::fs::write(&small, "on: push\n").unwrap();
        assert_eq!(read_workflow(&small).unwrap(), "on: push\n");
        let exact = dir.path().join("exact.yml");
        std::fs::write(&exact, vec![b'a'; 16]).unwrap();
        assert_eq!(read_text(&exact, 16).unwrap().len(), 16);
        let err = read_text(&exact, 15).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is 16 bytes, more than the 15-byte limit for workflow files",
                exact.display()
            )
        );
        let binary = dir.path().join("bin.yml");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_workflow(&binary),
            Err(ReadError::NotText { .. })
        ));
        let missing = read_workflow(&dir.path().join("none.yml")).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
    }

    #[test]
    fn a_device_without_a_size_is_cut_at_the_limit() {
        let err = read_bytes(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(matches!(err, ReadError::Grew { limit: 1024, .. }), "{err}");
    }
}
