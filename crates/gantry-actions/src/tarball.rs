//! `.tar` and `.tar.gz` sources (GitHub's repository tarballs: one top folder
//! `OWNER-REPO-SHA/` holding the tree).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{StoreError, io};

/// Unpacks `archive` into `dest` and returns the folder holding the tree: `dest`, or its only
/// subfolder when the archive has a single top folder and nothing beside it.
pub(crate) fn unpack(archive: &Path, dest: &Path) -> Result<PathBuf, StoreError> {
    let file = fs::File::open(archive).map_err(io(archive))?;
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(io(archive))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let bad = |source| StoreError::Tarball {
        path: archive.to_path_buf(),
        source,
    };
    let mut tar = tar::Archive::new(reader);
    let mut count = 0usize;
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let name = entry.path().map_err(bad)?.display().to_string();
        // `unpack_in` refuses names that climb out of `dest` (returns false) instead of
        // writing there.
        if !entry.unpack_in(dest).map_err(bad)? {
            return Err(StoreError::UnsafeEntry {
                path: archive.to_path_buf(),
                what: "archive member",
                name,
            });
        }
        count += 1;
    }
    if count == 0 {
        return Err(bad(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the archive is empty",
        )));
    }
    let top: Vec<_> = fs::read_dir(dest)
        .map_err(io(dest))?
        .collect::<Result<_, _>>()
        .map_err(io(dest))?;
    match top.as_slice() {
        [only] if only.file_type().map_err(io(only.path()))?.is_dir() => Ok(only.path()),
        _ => Ok(dest.to_path_buf()),
    }
}
