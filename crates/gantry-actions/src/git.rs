//! Git side of the store: resolving a ref as GitHub does, fetching from a forge, snapshotting a
//! plain directory as a commit, and writing a commit's tree to disk.

use std::fs;
use std::path::{Component, Path};

use git2::{FetchOptions, ObjectType, Oid, Repository, Signature, Time};

use crate::error::{StoreError, git, io};

/// Whether `value` is a full commit SHA.
pub(crate) fn is_full_sha(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn looks_like_short_sha(value: &str) -> bool {
    (7..40).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The names GitHub tries for a `uses:` ref, in order: an explicit `refs/...` as is, else a tag
/// before a branch (git's own precedence for an ambiguous short name).
fn candidates(git_ref: &str) -> Vec<String> {
    if git_ref.starts_with("refs/") {
        vec![git_ref.to_string()]
    } else {
        vec![
            format!("refs/tags/{git_ref}"),
            format!("refs/heads/{git_ref}"),
        ]
    }
}

/// Resolves `git_ref` in a repository to a commit.
pub(crate) fn resolve_in(
    repo: &Repository,
    git_ref: &str,
    source_name: &str,
) -> Result<Oid, StoreError> {
    let unknown = || StoreError::UnknownRef {
        source_name: source_name.to_string(),
        git_ref: git_ref.to_string(),
    };
    if is_full_sha(git_ref) {
        let oid = Oid::from_str(git_ref).map_err(|_| unknown())?;
        let object = repo.find_object(oid, None).map_err(|_| unknown())?;
        return peel_commit(&object).ok_or_else(unknown);
    }
    for name in candidates(git_ref) {
        if let Ok(reference) = repo.find_reference(&name) {
            let object = reference
                .peel(ObjectType::Commit)
                .map_err(git(format!("{source_name}: {name}")))?;
            return Ok(object.id());
        }
    }
    if looks_like_short_sha(git_ref) {
        return Err(StoreError::ShortSha {
            git_ref: git_ref.to_string(),
        });
    }
    Err(unknown())
}

fn peel_commit(object: &git2::Object<'_>) -> Option<Oid> {
    object.peel(ObjectType::Commit).ok().map(|c| c.id())
}

/// Fetches `git_ref` from `url` into `repo` (an empty scratch repository) and returns its commit.
pub(crate) fn fetch(repo: &Repository, url: &str, git_ref: &str) -> Result<Oid, StoreError> {
    let what = || format!("fetching {url}");
    let mut remote = repo.remote_anonymous(url).map_err(git(what()))?;
    // Only what a ref needs: a named ref on its own; a SHA needs the branches and tags it may be
    // reachable from, since not every transport serves an unadvertised commit.
    let refspecs: Vec<String> = if is_full_sha(git_ref) {
        vec![
            "+refs/heads/*:refs/fetched/heads/*".to_string(),
            "+refs/tags/*:refs/fetched/tags/*".to_string(),
        ]
    } else {
        remote
            .connect(git2::Direction::Fetch)
            .map_err(git(what()))?;
        let advertised: Vec<String> = remote
            .list()
            .map_err(git(what()))?
            .iter()
            .map(|head| head.name().to_string())
            .collect();
        remote.disconnect().map_err(git(what()))?;
        let name = candidates(git_ref)
            .into_iter()
            .find(|name| advertised.contains(name));
        match name {
            Some(name) => vec![format!("+{name}:refs/fetched/wanted")],
            None if looks_like_short_sha(git_ref) => {
                return Err(StoreError::ShortSha {
                    git_ref: git_ref.to_string(),
                });
            }
            None => {
                return Err(StoreError::UnknownRef {
                    source_name: url.to_string(),
                    git_ref: git_ref.to_string(),
                });
            }
        }
    };
    let mut options = FetchOptions::new();
    options.download_tags(git2::AutotagOption::None);
    remote
        .fetch(&refspecs, Some(&mut options), None)
        .map_err(git(what()))?;
    if is_full_sha(git_ref) {
        resolve_in(repo, git_ref, url)
    } else {
        resolve_in(repo, "refs/fetched/wanted", url)
    }
}

/// Records a plain directory as a commit in `repo`. The commit has a fixed author, time and
/// message, so the same content always gets the same id: the store stays content-addressed for
/// sources that are not git repositories.
pub(crate) fn snapshot(repo: &Repository, dir: &Path) -> Result<Oid, StoreError> {
    let tree = snapshot_tree(repo, dir)?;
    let tree = repo.find_tree(tree).map_err(git("snapshot"))?;
    let who = Signature::new("gantry", "gantry@gantry.invalid", &Time::new(0, 0))
        .map_err(git("snapshot"))?;
    repo.commit(None, &who, &who, "gantry actions add\n", &tree, &[])
        .map_err(git("snapshot"))
}

fn snapshot_tree(repo: &Repository, dir: &Path) -> Result<Oid, StoreError> {
    let mut builder = repo.treebuilder(None).map_err(git("snapshot"))?;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        let (oid, mode) = if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(io(&path))?;
            let bytes = target.as_os_str().as_encoded_bytes();
            (repo.blob(bytes).map_err(git("snapshot"))?, 0o120000)
        } else if kind.is_dir() {
            (snapshot_tree(repo, &path)?, 0o040000)
        } else {
            let bytes = fs::read(&path).map_err(io(&path))?;
            let mode = if is_executable(&entry.metadata().map_err(io(&path))?) {
                0o100755
            } else {
                0o100644
            };
            (repo.blob(&bytes).map_err(git("snapshot"))?, mode)
        };
        builder
            .insert(&name, oid, mode)
            .map_err(git(format!("snapshot of {}", path.display())))?;
    }
    builder.write().map_err(git("snapshot"))
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// Writes the tree of `commit` into `dest` (which must not exist): files, executables, symlinks;
/// submodules become empty folders, as in GitHub's tarballs.
pub(crate) fn export(repo: &Repository, commit: Oid, dest: &Path) -> Result<(), StoreError> {
    let what = format!("reading commit {commit}");
    let commit = repo.find_commit(commit).map_err(git(&what))?;
    let tree = commit.tree().map_err(git(&what))?;
    fs::create_dir(dest).map_err(io(dest))?;
    export_tree(repo, &tree, dest)
}

fn export_tree(repo: &Repository, tree: &git2::Tree<'_>, dest: &Path) -> Result<(), StoreError> {
    for entry in tree.iter() {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        let mut parts = Path::new(&name).components();
        let safe = matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none();
        if !safe {
            return Err(StoreError::UnsafeEntry {
                path: dest.to_path_buf(),
                what: "tree entry",
                name,
            });
        }
        let path = dest.join(&name);
        let what = || format!("reading {}", path.display());
        match entry.filemode() {
            0o040000 => {
                let sub = entry.to_object(repo).map_err(git(what()))?;
                let sub = sub.peel_to_tree().map_err(git(what()))?;
                fs::create_dir(&path).map_err(io(&path))?;
                export_tree(repo, &sub, &path)?;
            }
            0o160000 => fs::create_dir(&path).map_err(io(&path))?,
            mode => {
                let blob = repo.find_blob(entry.id()).map_err(git(what()))?;
                write_blob(&path, blob.content(), mode)?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn write_blob(path: &Path, content: &[u8], mode: i32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    if mode == 0o120000 {
        use std::os::unix::ffi::OsStrExt;
        let target = std::ffi::OsStr::from_bytes(content);
        return std::os::unix::fs::symlink(target, path).map_err(io(path));
    }
    fs::write(path, content).map_err(io(path))?;
    if mode == 0o100755 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_blob(path: &Path, content: &[u8], _mode: i32) -> Result<(), StoreError> {
    fs::write(path, content).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_win_over_branches_and_explicit_refs_are_taken_as_is() {
        assert_eq!(candidates("v1"), ["refs/tags/v1", "refs/heads/v1"]);
        assert_eq!(candidates("refs/heads/v1"), ["refs/heads/v1"]);
        assert!(is_full_sha(&"a".repeat(40)));
        assert!(!is_full_sha(&"a".repeat(39)));
        assert!(looks_like_short_sha("abc1234"));
        assert!(!looks_like_short_sha("v1"));
    }
}
