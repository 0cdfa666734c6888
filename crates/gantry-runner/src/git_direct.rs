//! A checkout written straight from the user's object database into a directory of this
//! machine: the host executor's workspace, or the bind-mounted work root behind a job
//! container.
//!
//! Why not a snapshot repository copied in: on a repository of 20,000 files that path spent its
//! time zlib-compressing every object again into a new object database, checking the tree out
//! on disk, then archiving tree and objects for the engine to unpack. Here the source's packs and
//! loose objects are copied as they are (immutable and compressed already), the working tree is
//! written once from the objects, on several threads, and the index is built from the tree with
//! the stat data of the files just written, so `git status` in the job is clean without hashing
//! anything again.
//!
//! `fetch-depth` stays what the job can see: `.git/shallow` marks the boundary, so `git log`
//! shows `depth` generations; objects beyond it are present but unreachable through it.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use git2::{IndexEntry, IndexTime, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::git::{self, GitError, ctx};

type Result<T> = std::result::Result<T, GitError>;

/// What to place: the commit, the ref checkout makes local, and `fetch-depth` (0: everything).
#[derive(Debug, Clone)]
pub struct Placement<'a> {
    pub sha: &'a str,
    pub git_ref: Option<&'a str>,
    pub depth: u32,
    /// Owner (uid, gid) every file must get (the job container's user), if not this process's.
    pub owner: Option<(u32, u32)>,
}

/// Why the direct path declined; the caller then takes the snapshot path, which handles them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declined {
    /// The destination already holds files (`clean: false`).
    NotEmpty,
    /// The source borrows objects from another repository (`objects/info/alternates`).
    Alternates,
    /// `.gitattributes` asks for conversions (eol, filters) that only a real checkout applies.
    Attributes,
}

/// One entry of the tree to write.
struct Entry {
    path: PathBuf,
    relative: Vec<u8>,
    oid: Oid,
    mode: i32,
}

/// Writes the repository at `placement.sha` into the empty directory `dest`, with a usable
/// `.git`. `Ok(Err(_))` when this path does not apply (nothing was written).
pub fn place(
    repo: &Repository,
    placement: &Placement<'_>,
    dest: &Path,
) -> Result<std::result::Result<(), Declined>> {
    let oid = Oid::from_str(placement.sha)
        .map_err(|_| GitError::MissingCommit(placement.sha.to_owned()))?;
    let commit = repo
        .find_commit(oid)
        .map_err(|_| GitError::MissingCommit(placement.sha.to_owned()))?;
    let objects = repo.commondir().join("objects");
    if objects.join("info/alternates").exists() {
        return Ok(Err(Declined::Alternates));
    }
    if std::fs::read_dir(dest)
        .map_err(io(format!("reading {}", dest.display())))?
        .next()
        .is_some()
    {
        return Ok(Err(Declined::NotEmpty));
    }
    let tree = commit.tree().map_err(ctx("reading the commit's tree"))?;
    let entries = tree_entries(&tree, dest)?;
    if needs_conversion(repo, &entries)? {
        return Ok(Err(Declined::Attributes));
    }
    let snap = Repository::init(dest).map_err(ctx(format!("creating {}", dest.display())))?;
    copy_objects(&objects, &snap.path().join("objects"))?;
    write_refs(repo, &snap, oid, placement)?;
    write_tree(repo, &entries)?;
    if let Some(owner) = placement.owner {
        chown_all(dest, owner)?;
    }
    write_index(&snap, &entries)?;
    if let Some(owner) = placement.owner {
        // The index was written after the first pass.
        chown_all(&snap.path().join("index"), owner)?;
    }
    Ok(Ok(()))
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> GitError {
    move |source| GitError::Io { context, source }
}

/// Every blob, symlink and submodule of `tree`, in tree order, with directories as entries of
/// mode 0o040000 before their contents.
fn tree_entries(tree: &git2::Tree<'_>, dest: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut failure = None;
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        let mut relative = root.as_bytes().to_vec();
        relative.extend_from_slice(entry.name_bytes());
        let rel_path = Path::new(OsStr::from_bytes(&relative));
        // A name with `..` or a leading `/` cannot come from git, but the tree is data: refuse
        // anything that would leave `dest`.
        if rel_path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            failure = Some(relative.clone());
            return TreeWalkResult::Abort;
        }
        entries.push(Entry {
            path: dest.join(rel_path),
            relative,
            oid: entry.id(),
            mode: entry.filemode(),
        });
        TreeWalkResult::Ok
    })
    .map_err(ctx("walking the commit's tree"))
    .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })?;
    if let Some(bad) = failure {
        return Err(GitError::Io {
            context: format!("tree entry '{}'", String::from_utf8_lossy(&bad)),
            source: std::io::Error::other("path leaves the checkout"),
        });
    }
    Ok(entries)
}

/// Whether a `.gitattributes` of the tree asks for conversions on checkout.
fn needs_conversion(repo: &Repository, entries: &[Entry]) -> Result<bool> {
    for entry in entries {
        let is_attributes = entry.relative.ends_with(b".gitattributes")
            && (entry.relative.len() == ".gitattributes".len()
                || entry.relative[..entry.relative.len() - ".gitattributes".len()].ends_with(b"/"));
        if !is_attributes || entry.mode & 0o170000 != 0o100000 {
            continue;
        }
        let blob = repo
            .find_blob(entry.oid)
            .map_err(ctx("reading .gitattributes"))?;
        let text = String::from_utf8_lossy(blob.content());
        let converts = ["eol=", "filter=", "ident", "working-tree-encoding", "text"];
        if text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| converts.iter().any(|c| l.contains(c)))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Packs and loose objects, byte for byte (temporary files of a running git are skipped).
fn copy_objects(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_fanout = name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !(is_fanout || name == "pack") {
            continue;
        }
        let target = to.join(&*name);
        std::fs::create_dir_all(&target).map_err(io(format!("creating {}", target.display())))?;
        for file in std::fs::read_dir(entry.path()).map_err(io(format!("reading {name}")))? {
            let file = file.map_err(io(format!("reading {name}")))?;
            let file_name = file.file_name();
            if file_name.to_string_lossy().starts_with("tmp") || !file.path().is_file() {
                continue;
            }
            let dest = target.join(&file_name);
            std::fs::copy(file.path(), &dest).map_err(io(format!("copying {}", dest.display())))?;
        }
    }
    Ok(())
}

/// HEAD at the commit (or at the ref checkout makes local), `origin`, the refs a clone of that
/// depth has, and `.git/shallow`.
fn write_refs(
    repo: &Repository,
    snap: &Repository,
    oid: Oid,
    placement: &Placement<'_>,
) -> Result<()> {
    if placement.depth == 0 {
        // A full clone: every branch as origin/<branch>, every tag.
        let refs = repo.references().map_err(ctx("listing references"))?;
        for reference in refs.flatten() {
            let (Ok(name), Some(target)) = (reference.name(), reference.target()) else {
                continue;
            };
            let mapped = if let Some(branch) = name.strip_prefix("refs/heads/") {
                format!("refs/remotes/origin/{branch}")
            } else if name.starts_with("refs/tags/") {
                name.to_owned()
            } else {
                continue;
            };
            snap.reference(&mapped, target, true, "gantry checkout")
                .map_err(ctx(format!("creating {mapped}")))?;
        }
    } else {
        let boundary = git::shallow_boundary(repo, oid, placement.depth)?;
        if !boundary.is_empty() {
            git::write_shallow(snap, &boundary)?;
        }
    }
    git::set_origin(snap, git::origin_url(repo).as_deref())?;
    snap.set_head_detached(oid).map_err(ctx("detaching HEAD"))?;
    if let Some(git_ref) = placement.git_ref {
        git::point_head(repo, snap, git_ref)?;
    }
    Ok(())
}

/// Directories first (in tree order), then files on a few threads, each with its own handle
/// on the repository (git2 handles are not shared across threads).
fn write_tree(repo: &Repository, entries: &[Entry]) -> Result<()> {
    for entry in entries.iter().filter(|e| is_dir(e.mode)) {
        // `create_dir`, not `create_dir_all`: the directory is new, so nothing planted in it
        // beforehand (a symlink) can be followed.
        std::fs::create_dir(&entry.path)
            .map_err(io(format!("creating {}", entry.path.display())))?;
    }
    let files: Vec<&Entry> = entries.iter().filter(|e| !is_dir(e.mode)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let chunk = files.len().div_ceil(threads).max(1);
    let git_dir = repo.path().to_path_buf();
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let git_dir = &git_dir;
                scope.spawn(move || {
                    let repo = Repository::open(git_dir).map_err(ctx("opening the repository"))?;
                    part.iter().try_for_each(|entry| write_entry(&repo, entry))
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|_| Err(thread_died())))
    })
}

fn thread_died() -> GitError {
    GitError::Io {
        context: "writing the checkout".into(),
        source: std::io::Error::other("a writer thread panicked"),
    }
}

fn is_dir(mode: i32) -> bool {
    mode & 0o170000 == 0o040000
}

fn write_entry(repo: &Repository, entry: &Entry) -> Result<()> {
    let path = &entry.path;
    match entry.mode & 0o170000 {
        // A submodule: git leaves an empty directory where it would be.
        0o160000 => std::fs::create_dir(path).map_err(io(format!("creating {}", path.display()))),
        0o120000 => {
            let blob = repo
                .find_blob(entry.oid)
                .map_err(ctx(format!("reading {}", path.display())))?;
            let target = OsStr::from_bytes(blob.content());
            std::os::unix::fs::symlink(target, path)
                .map_err(io(format!("creating the link {}", path.display())))
        }
        _ => {
            let blob = repo
                .find_blob(entry.oid)
                .map_err(ctx(format!("reading {}", path.display())))?;
            let mode = if entry.mode & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(path)
                .map_err(io(format!("creating {}", path.display())))?;
            file.write_all(blob.content())
                .map_err(io(format!("writing {}", path.display())))
        }
    }
}

/// Ownership for the job container's user, links themselves rather than their targets.
fn chown_all(root: &Path, (uid, gid): (u32, u32)) -> Result<()> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .map_err(io(format!("changing the owner of {}", path.display())))?;
        let meta =
            std::fs::symlink_metadata(&path).map_err(io(format!("reading {}", path.display())))?;
        if meta.is_dir() {
            for child in
                std::fs::read_dir(&path).map_err(io(format!("reading {}", path.display())))?
            {
                pending.push(
                    child
                        .map_err(io(format!("reading {}", path.display())))?
                        .path(),
                );
            }
        }
    }
    Ok(())
}

/// The index of the tree, with the stat data of the files as written.
fn write_index(snap: &Repository, entries: &[Entry]) -> Result<()> {
    let mut index = snap.index().map_err(ctx("opening the index"))?;
    index.clear().map_err(ctx("clearing the index"))?;
    for entry in entries.iter().filter(|e| !is_dir(e.mode)) {
        let meta = std::fs::symlink_metadata(&entry.path)
            .map_err(io(format!("reading {}", entry.path.display())))?;
        let time = |secs: i64, nanos: i64| IndexTime::new(secs as i32, nanos as u32);
        let submodule = entry.mode & 0o170000 == 0o160000;
        index
            .add(&IndexEntry {
                ctime: time(meta.ctime(), meta.ctime_nsec()),
                mtime: time(meta.mtime(), meta.mtime_nsec()),
                dev: meta.dev() as u32,
                ino: meta.ino() as u32,
                mode: entry.mode as u32,
                uid: meta.uid(),
                gid: meta.gid(),
                file_size: if submodule { 0 } else { meta.size() as u32 },
                id: entry.oid,
                flags: entry.relative.len().min(0xfff) as u16,
                flags_extended: 0,
                path: entry.relative.clone(),
            })
            .map_err(ctx(format!("indexing {}", entry.path.display())))?;
    }
    index.write().map_err(ctx("writing the index"))
}
