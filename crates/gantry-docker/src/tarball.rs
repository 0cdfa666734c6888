//! Tar archives for the engine's archive API: the workspace copy, single files, and reading one
//! file back.

use std::io::Read;
use std::path::Path;

use gantry_runner::executor::ExecutorError;

use crate::io_error;

/// An archive to extract at `/`: the given (absolute) directories, then `source`'s contents
/// under `workspace`. Symlinks are kept as symlinks: a checkout's links must not be followed out
/// of it.
pub(crate) fn job_tree(
    dirs: &[&str],
    workspace: &str,
    source: Option<&Path>,
) -> Result<Vec<u8>, ExecutorError> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for dir in dirs {
        append_dir(&mut builder, dir).map_err(|e| io_error("archiving job directories", e))?;
    }
    if let Some(src) = source {
        builder
            .append_dir_all(workspace.trim_start_matches('/'), src)
            .map_err(|e| io_error(format!("archiving workspace {}", src.display()), e))?;
    }
    builder
        .into_inner()
        .map_err(|e| io_error("archiving workspace", e))
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, dir: &str) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    header.set_mtime(0);
    builder.append_data(&mut header, dir.trim_start_matches('/'), std::io::empty())
}

/// An archive holding one file at `path` (absolute, as steps see it), to extract at `/`.
pub(crate) fn single_file(path: &str, contents: &[u8]) -> Result<Vec<u8>, ExecutorError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(contents.len() as u64);
    header.set_mtime(0);
    builder
        .append_data(&mut header, path.trim_start_matches('/'), contents)
        .map_err(|e| io_error(format!("archiving {path}"), e))?;
    builder
        .into_inner()
        .map_err(|e| io_error(format!("archiving {path}"), e))
}

/// The contents of the first regular file in an archive (the engine's `GET archive` of a file).
pub(crate) fn first_file(archive: &[u8], path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
    let ctx = |e| io_error(format!("reading archive of {path}"), e);
    let mut ar = tar::Archive::new(archive);
    for entry in ar.entries().map_err(ctx)? {
        let mut entry = entry.map_err(ctx)?;
        if entry.header().entry_type().is_file() {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(ctx)?;
            return Ok(Some(buf));
        }
    }
    Ok(None)
}

/// Rejects relative paths and `..`, so a path "as steps see it" cannot point outside the tree
/// the executor maps it into.
pub(crate) fn check_step_path(path: &str) -> Result<(), ExecutorError> {
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(ExecutorError::Other(format!(
            "path `{path}` must be absolute and free of `..`"
        )));
    }
    Ok(())
}
