//! Tar archives for the engine's archive API: the workspace copy, single files, and reading one
//! file back.

use std::io::{Read, Write};
use std::path::Path;

use gantry_runner::executor::ExecutorError;

use crate::io_error;

/// Numeric owner for archived entries (the job container's user).
pub(crate) type Owner = (u64, u64);

/// An archive to extract at `/`, written to `out`: the given (absolute) directories, then
/// `source`'s contents under `workspace`, everything owned by `owner`. Symlinks are kept as
/// symlinks: a checkout's links must not be followed out of it.
pub(crate) fn job_tree<W: Write>(
    out: W,
    dirs: &[&str],
    workspace: &str,
    source: Option<&Path>,
    owner: Owner,
) -> Result<W, ExecutorError> {
    let mut builder = tar::Builder::new(out);
    for dir in dirs {
        append_dir(&mut builder, dir, owner)
            .map_err(|e| io_error("archiving job directories", e))?;
    }
    if let Some(src) = source {
        let dst = Path::new(workspace.trim_start_matches('/'));
        append_tree(&mut builder, src, dst, owner)
            .map_err(|e| io_error(format!("archiving workspace {}", src.display()), e))?;
    }
    builder
        .into_inner()
        .map_err(|e| io_error("archiving workspace", e))
}

/// An archive to extract at `/` holding `source`'s contents at `dest` (absolute, as steps see
/// it), owned by `owner` (`copy_in`).
pub(crate) fn tree_at<W: Write>(
    out: W,
    source: &Path,
    dest: &str,
    owner: Owner,
) -> Result<W, ExecutorError> {
    let ctx = |e| io_error(format!("archiving {}", source.display()), e);
    let mut builder = tar::Builder::new(out);
    append_dir(&mut builder, dest, owner).map_err(ctx)?;
    let dst = Path::new(dest.trim_start_matches('/'));
    append_tree(&mut builder, source, dst, owner).map_err(ctx)?;
    builder.into_inner().map_err(ctx)
}

/// Archives a directory's contents with our owner instead of the host's (sockets and FIFOs are
/// skipped: they cannot be copied).
fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    src: &Path,
    dst: &Path,
    owner: Owner,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let path = entry.path();
        let name = dst.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&path)?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&meta);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        let kind = meta.file_type();
        if kind.is_dir() {
            header.set_size(0);
            builder.append_data(&mut header, &name, std::io::empty())?;
            append_tree(builder, &path, &name, owner)?;
        } else if kind.is_symlink() {
            header.set_size(0);
            builder.append_link(&mut header, &name, std::fs::read_link(&path)?)?;
        } else if kind.is_file() {
            builder.append_data(&mut header, &name, std::fs::File::open(&path)?)?;
        }
    }
    Ok(())
}

/// A `Write` that hands the archive to the upload in 256 KiB pieces, so a large workspace is
/// streamed to the engine instead of held in memory.
pub(crate) struct ChunkSender {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl ChunkSender {
    pub(crate) fn new(tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends what is buffered; the stream ends when the sender is dropped.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn append_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &str,
    owner: Owner,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_uid(owner.0);
    header.set_gid(owner.1);
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    header.set_mtime(0);
    builder.append_data(&mut header, dir.trim_start_matches('/'), std::io::empty())
}

/// An archive holding one empty directory at `path` (absolute, root-owned), to extract at `/`.
pub(crate) fn single_dir(path: &str) -> Result<Vec<u8>, ExecutorError> {
    let mut builder = tar::Builder::new(Vec::new());
    let ctx = |e| io_error(format!("archiving {path}"), e);
    append_dir(&mut builder, path, (0, 0)).map_err(ctx)?;
    builder.into_inner().map_err(ctx)
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

/// The uid and gid for a `user[:group]` spec (`--user`, image `USER`), names looked up in the
/// container's `/etc/passwd` and `/etc/group` contents. Empty means root.
pub(crate) fn resolve_owner(user: &str, passwd: &str, group: &str) -> Option<Owner> {
    if user.is_empty() {
        return Some((0, 0));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entry = |db: &str, name: &str, field: usize| {
        db.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name))
            .and_then(|f| f.get(field).and_then(|v| v.parse::<u64>().ok()))
    };
    let uid = u.parse().ok().or_else(|| entry(passwd, u, 2))?;
    let primary = || {
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.get(2).and_then(|v| v.parse::<u64>().ok()) == Some(uid))
            .and_then(|f| f.get(3).and_then(|v| v.parse().ok()))
    };
    let gid = match g {
        Some(g) => g.parse().ok().or_else(|| entry(group, g, 2))?,
        None => primary().unwrap_or(uid),
    };
    Some((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::resolve_owner;

    #[test]
    fn owners_resolve_by_number_or_name() {
        let passwd = "root:x:0:0::/root:/bin/sh\nnode:x:1000:1001::/home/node:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(resolve_owner("", passwd, group), Some((0, 0)));
        assert_eq!(resolve_owner("1000:1000", "", ""), Some((1000, 1000)));
        assert_eq!(resolve_owner("node", passwd, group), Some((1000, 1001)));
        assert_eq!(resolve_owner("node:staff", passwd, group), Some((1000, 50)));
        assert_eq!(resolve_owner("1234", passwd, group), Some((1234, 1234)));
        assert_eq!(resolve_owner("ghost", passwd, group), None);
    }
}
