//! The store on disk:
//!
//! ```text
//! <data_dir>/actions/
//!   index.json        owner/repo@ref → commit, source, time (replaced atomically)
//!   trees/<commit>/   one repository tree per commit, read-only, shared by every ref naming it
//!   tmp/              scratch space for adds in progress (same file system, so renames are atomic)
//!   .lock             held by writers
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use git2::{Oid, Repository};

use crate::error::{StoreError, git, io};
use crate::git::{export, fetch, is_full_sha, resolve_in, snapshot};
use crate::index::{Entry, Index, WriteLock};
use crate::reference::ActionRef;

/// An action resolved to a tree on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit (40 lower-case hex digits) the ref resolved to.
    pub commit: String,
    /// The repository tree at that commit (read-only).
    pub root: PathBuf,
    /// `root` joined with the reference's path: the folder holding `action.yml`.
    pub dir: PathBuf,
}

/// The content-addressed action store shared by `gantry run` and `gantry daemon`.
#[derive(Debug, Clone)]
pub struct ActionStore {
    dir: PathBuf,
}

impl ActionStore {
    /// Opens (creating if needed) the store under `<data_dir>/actions/`.
    pub fn open(data_dir: &Path) -> Result<ActionStore, StoreError> {
        let dir = data_dir.join("actions");
        for sub in ["trees", "tmp"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(io(&path))?;
        }
        Ok(ActionStore { dir })
    }

    /// The store's own folder (`<data_dir>/actions`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn tree_path(&self, commit: &str) -> PathBuf {
        self.dir.join("trees").join(commit)
    }

    /// Everything stored, sorted by name.
    pub fn list(&self) -> Result<Vec<Entry>, StoreError> {
        Ok(Index::load(&self.index_path())?.entries)
    }

    /// The stored tree for `action`; `Missing` (naming the command that adds it) if absent.
    pub fn resolve(&self, action: &ActionRef) -> Result<Resolved, StoreError> {
        let entries = self.list()?;
        let exact = entries
            .iter()
            .find(|e| e.matches(&action.owner, &action.repo, &action.git_ref));
        // A full SHA also resolves when the commit is stored under another ref of the same
        // repository (GitHub resolves a SHA without caring which tag pointed at it).
        let by_sha = || {
            is_full_sha(&action.git_ref)
                .then(|| {
                    entries.iter().find(|e| {
                        e.owner.eq_ignore_ascii_case(&action.owner)
                            && e.repo.eq_ignore_ascii_case(&action.repo)
                            && e.commit.eq_ignore_ascii_case(&action.git_ref)
                    })
                })
                .flatten()
        };
        let entry = exact.or_else(by_sha);
        let entry = entry.ok_or_else(|| self.missing(action))?;
        let root = self.tree_path(&entry.commit);
        if !root.is_dir() {
            return Err(self.missing(action));
        }
        let dir = match &action.path {
            Some(path) => root.join(path),
            None => root.clone(),
        };
        if !dir.is_dir() {
            return Err(StoreError::PathMissing {
                action: action.to_string(),
                commit: entry.commit.clone(),
                path: action.path.clone().unwrap_or_default(),
            });
        }
        Ok(Resolved {
            commit: entry.commit.clone(),
            root,
            dir,
        })
    }

    fn missing(&self, action: &ActionRef) -> StoreError {
        StoreError::Missing {
            action: action.repository_ref(),
            store: self.dir.clone(),
        }
    }

    /// Adds `action` from `source`: a git repository (bare or not; the ref is resolved in it as
    /// GitHub resolves it), else a plain directory, else a `.tar`/`.tar.gz` file (GitHub's
    /// tarballs, whose single top folder is dropped). The path part of `action` is ignored: the
    /// store keeps whole repositories.
    pub fn add(&self, action: &ActionRef, source: &Path) -> Result<Entry, StoreError> {
        let meta = fs::metadata(source).map_err(io(source))?;
        let shown = source.display();
        if meta.is_dir() {
            if let Ok(repo) = Repository::open(source) {
                let oid = resolve_in(&repo, &action.git_ref, &shown.to_string())?;
                return self.record(action, &repo, oid, format!("git {shown}"));
            }
            let scratch = self.scratch_repo()?;
            let oid = snapshot(&scratch.repo, source)?;
            return self.record(action, &scratch.repo, oid, format!("directory {shown}"));
        }
        if meta.is_file() {
            let unpacked = tempfile::tempdir_in(self.dir.join("tmp")).map_err(io(&self.dir))?;
            let tree = crate::tarball::unpack(source, unpacked.path())?;
            let scratch = self.scratch_repo()?;
            let oid = snapshot(&scratch.repo, &tree)?;
            return self.record(action, &scratch.repo, oid, format!("tarball {shown}"));
        }
        Err(StoreError::BadSource(source.to_path_buf()))
    }

    /// Fetches `action` from the forge at `base` (`https://github.com`, or `file:///dir` holding
    /// `OWNER/REPO[.git]` repositories) with git2.
    pub fn pull(&self, action: &ActionRef, base: &str) -> Result<Entry, StoreError> {
        let base = base.trim_end_matches('/');
        let url = format!("{base}/{}/{}", action.owner, action.repo);
        let scratch = self.scratch_repo()?;
        // Forges serve `OWNER/REPO` and `OWNER/REPO.git` alike; a directory of bare
        // repositories usually has only the second.
        let (oid, url) = match fetch(&scratch.repo, &url, &action.git_ref) {
            Ok(oid) => (oid, url),
            Err(StoreError::Git { .. }) => {
                let url = format!("{url}.git");
                (fetch(&scratch.repo, &url, &action.git_ref)?, url)
            }
            Err(e) => return Err(e),
        };
        self.record(action, &scratch.repo, oid, format!("pull {url}"))
    }

    /// Removes `owner/repo@ref`, and its tree when no other ref names the same commit.
    pub fn rm(&self, action: &ActionRef) -> Result<Entry, StoreError> {
        let _lock = self.lock()?;
        let mut index = Index::load(&self.index_path())?;
        let position = index
            .entries
            .iter()
            .position(|e| e.matches(&action.owner, &action.repo, &action.git_ref));
        let position = position.ok_or_else(|| StoreError::NotStored(action.repository_ref()))?;
        let removed = index.entries.remove(position);
        index.save(&self.index_path())?;
        if !index.entries.iter().any(|e| e.commit == removed.commit) {
            remove_tree(&self.tree_path(&removed.commit))?;
        }
        Ok(removed)
    }

    /// Stores the tree of `oid` from `repo` (unless already there) and indexes `action` as it.
    pub(crate) fn record(
        &self,
        action: &ActionRef,
        repo: &Repository,
        oid: Oid,
        source: String,
    ) -> Result<Entry, StoreError> {
        let commit = oid.to_string();
        let _lock = self.lock()?;
        let tree = self.tree_path(&commit);
        if !tree.is_dir() {
            let scratch = tempfile::tempdir_in(self.dir.join("tmp")).map_err(io(&self.dir))?;
            let staged = scratch.path().join("tree");
            export(repo, oid, &staged)?;
            fs::rename(&staged, &tree).map_err(io(&tree))?;
            make_read_only(&tree)?;
        }
        let entry = Entry {
            owner: action.owner.clone(),
            repo: action.repo.clone(),
            git_ref: action.git_ref.clone(),
            commit,
            source,
            added: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        let mut index = Index::load(&self.index_path())?;
        index.upsert(entry.clone());
        index.save(&self.index_path())?;
        Ok(entry)
    }

    fn lock(&self) -> Result<WriteLock, StoreError> {
        WriteLock::acquire(self.dir.join(".lock"))
    }

    /// An empty bare repository in `tmp/`, removed when dropped.
    pub(crate) fn scratch_repo(&self) -> Result<ScratchRepo, StoreError> {
        let dir = tempfile::tempdir_in(self.dir.join("tmp")).map_err(io(&self.dir))?;
        let repo =
            Repository::init_bare(dir.path()).map_err(git("creating a scratch repository"))?;
        Ok(ScratchRepo { repo, _dir: dir })
    }
}

pub(crate) struct ScratchRepo {
    pub repo: Repository,
    _dir: tempfile::TempDir,
}

/// Trees are shared by every run: nobody may change one in place.
#[cfg(unix)]
fn make_read_only(path: &Path) -> Result<(), StoreError> {
    set_modes(path, |mode| mode & !0o222)
}

#[cfg(unix)]
fn set_modes(path: &Path, change: fn(u32) -> u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).map_err(io(path))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        // Children first while the folder is still writable (when making it writable, the
        // folder first).
        let mode = meta.permissions().mode();
        if change(mode) & 0o200 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(change(mode)))
                .map_err(io(path))?;
        }
        for entry in fs::read_dir(path).map_err(io(path))? {
            set_modes(&entry.map_err(io(path))?.path(), change)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(change(mode))).map_err(io(path))?;
    } else {
        let mode = meta.permissions().mode();
        fs::set_permissions(path, fs::Permissions::from_mode(change(mode))).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_read_only(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn remove_tree(path: &Path) -> Result<(), StoreError> {
    if !path.exists() {
        return Ok(());
    }
    #[cfg(unix)]
    set_modes(path, |mode| mode | 0o200)?;
    fs::remove_dir_all(path).map_err(io(path))
}
