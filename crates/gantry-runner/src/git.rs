//! What gantry needs from the user's git repository, without network: the facts that make up
//! `github.*` (sha, ref, `owner/repo`, actor, a release tag), changed files for `paths` filters,
//! and snapshots — fresh repositories at one commit that `actions/checkout` copies into a job.
//!
//! ```ignore
//! let repo = gantry_runner::git::discover(Path::new("."))?;
//! let info = gantry_runner::git::describe(&repo, false)?; // sha, git_ref, repository, actor
//! gantry_runner::git::snapshot(&repo, &info.sha, Path::new("/tmp/snap"), 1)?;
//! ```

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};

/// The tag a synthesized `release` event uses when no tag is reachable from HEAD.
pub const DEFAULT_RELEASE_TAG: &str = "v0.0.0";

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("no git repository at or above {0}")]
    NotARepository(PathBuf),
    #[error("'{0}' is not a branch, tag or commit of the local repository")]
    UnknownRef(String),
    #[error("commit {0} is not in the local repository")]
    MissingCommit(String),
    #[error("{context}: {source}")]
    Git {
        context: String,
        #[source]
        source: git2::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, GitError>;

/// Wraps a git2 error with what was being done.
pub(crate) fn ctx(context: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let context = context.into();
    move |source| GitError::Git { context, source }
}

/// The facts of a repository that become `github.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    /// The working tree (or the git directory of a bare repository).
    pub root: PathBuf,
    pub sha: String,
    /// `refs/heads/x`, or `refs/tags/t` (see [`head_ref`]).
    pub git_ref: String,
    /// `owner/repo`.
    pub repository: String,
    pub actor: String,
    /// The `origin` remote's URL, when there is one.
    pub remote_url: Option<String>,
}

/// Finds the repository containing `dir`.
pub fn discover(dir: &Path) -> Result<Repository> {
    Repository::discover(dir).map_err(|_| GitError::NotARepository(dir.to_path_buf()))
}

/// Everything [`RepoFacts`] holds; `prefer_tag` as in [`head_ref`].
pub fn describe(repo: &Repository, prefer_tag: bool) -> Result<RepoFacts> {
    Ok(RepoFacts {
        root: repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf(),
        sha: head_sha(repo)?,
        git_ref: head_ref(repo, prefer_tag)?,
        repository: repository_name(repo),
        actor: actor(repo),
        remote_url: origin_url(repo),
    })
}

/// The commit HEAD points at.
pub fn head_sha(repo: &Repository) -> Result<String> {
    let commit = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(ctx("reading HEAD"))?;
    Ok(commit.id().to_string())
}

/// The ref a run on HEAD reports: a tag pointing at HEAD when `prefer_tag` (release and tag
/// pushes), else the checked-out branch; a detached HEAD uses a branch whose tip is HEAD, then a
/// tag, then `refs/heads/main`.
pub fn head_ref(repo: &Repository, prefer_tag: bool) -> Result<String> {
    let sha = Oid::from_str(&head_sha(repo)?).map_err(ctx("reading HEAD"))?;
    let tag = tags_at(repo, sha)?.into_iter().next();
    if prefer_tag && let Some(tag) = &tag {
        return Ok(format!("refs/tags/{tag}"));
    }
    let head = repo.head().map_err(ctx("reading HEAD"))?;
    if head.is_branch()
        && let Ok(name) = head.name()
    {
        return Ok(name.to_owned());
    }
    if let Some(branch) = branch_at(repo, sha)? {
        return Ok(branch);
    }
    Ok(tag.map_or_else(
        || "refs/heads/main".to_owned(),
        |t| format!("refs/tags/{t}"),
    ))
}

/// Names of the tags whose commit is `sha`, sorted.
fn tags_at(repo: &Repository, sha: Oid) -> Result<Vec<String>> {
    let mut names: Vec<String> = tag_commits(repo)?
        .into_iter()
        .filter(|(_, commit)| *commit == sha)
        .map(|(name, _)| name)
        .collect();
    names.sort();
    Ok(names)
}

/// Every tag with the commit it points at (tags of trees or blobs are skipped).
fn tag_commits(repo: &Repository) -> Result<Vec<(String, Oid)>> {
    let names = repo.tag_names(None).map_err(ctx("listing tags"))?;
    let mut tags = Vec::new();
    for name in names.iter().flatten().flatten() {
        let commit = repo
            .find_reference(&format!("refs/tags/{name}"))
            .and_then(|r| r.peel_to_commit());
        if let Ok(commit) = commit {
            tags.push((name.to_owned(), commit.id()));
        }
    }
    Ok(tags)
}

/// A local branch whose tip is `sha` (the first by name).
fn branch_at(repo: &Repository, sha: Oid) -> Result<Option<String>> {
    let branches = repo
        .branches(Some(git2::BranchType::Local))
        .map_err(ctx("listing branches"))?;
    let mut names: Vec<String> = branches
        .flatten()
        .filter(|(b, _)| b.get().target() == Some(sha))
        .filter_map(|(b, _)| b.get().name().ok().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names.into_iter().next())
}

/// The `origin` remote's URL.
pub fn origin_url(repo: &Repository) -> Option<String> {
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(str::to_owned)
}

/// `owner/repo` from the `origin` URL, else `local/<directory name>`.
pub fn repository_name(repo: &Repository) -> String {
    if let Some((owner, name)) = origin_url(repo).as_deref().and_then(parse_remote_url) {
        return format!("{owner}/{name}");
    }
    let root = repo.workdir().unwrap_or_else(|| repo.path());
    let dir = root
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".git").to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "repository".to_owned());
    format!("local/{dir}")
}

/// `(owner, repo)` from a remote URL: `https://host/owner/repo(.git)`, `git@host:owner/repo.git`,
/// `ssh://git@host[:port]/owner/repo.git`, `git://...`, `file://...`. The last two path
/// segments are used, so GitHub Enterprise paths with a prefix still work.
pub fn parse_remote_url(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, path)| path)?,
        // scp-like `user@host:path`; a plain local path has no colon before its first slash.
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => path,
            _ => url,
        },
    };
    let mut segments = path
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit('/')
        .filter(|s| !s.is_empty());
    let name = segments.next()?;
    let owner = segments.next()?;
    Some((owner.to_owned(), name.to_owned()))
}

/// `git config user.name`, else `gantry`.
pub fn actor(repo: &Repository) -> String {
    repo.config()
        .and_then(|c| c.get_string("user.name"))
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "gantry".to_owned())
}

/// The tag a synthesized release payload uses: the nearest tag reachable from HEAD (walking
/// history newest first, like `git describe --tags`), else [`DEFAULT_RELEASE_TAG`].
pub fn release_tag(repo: &Repository) -> Result<String> {
    let tags = tag_commits(repo)?;
    if tags.is_empty() {
        return Ok(DEFAULT_RELEASE_TAG.to_owned());
    }
    let mut walk = repo.revwalk().map_err(ctx("walking history"))?;
    walk.push_head().map_err(ctx("walking history"))?;
    walk.set_sorting(git2::Sort::TIME | git2::Sort::TOPOLOGICAL)
        .map_err(ctx("walking history"))?;
    for oid in walk {
        let oid = oid.map_err(ctx("walking history"))?;
        let mut here: Vec<&String> = tags
            .iter()
            .filter(|(_, c)| *c == oid)
            .map(|(n, _)| n)
            .collect();
        here.sort();
        if let Some(name) = here.pop() {
            return Ok(name.clone());
        }
    }
    Ok(DEFAULT_RELEASE_TAG.to_owned())
}

/// A ref or commit resolved in the local repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The full ref name (`refs/heads/x`, `refs/tags/t`); `None` for a bare commit sha.
    pub git_ref: Option<String>,
    pub sha: String,
}

/// Resolves what `actions/checkout`'s `ref` input may hold: a full ref, a branch (local, or
/// `origin`'s), a tag, or a (possibly abbreviated) commit sha.
pub fn resolve_ref(repo: &Repository, name: &str) -> Result<Resolved> {
    let name = name.trim();
    let candidates = [
        name.to_owned(),
        format!("refs/heads/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/remotes/origin/{name}"),
    ];
    for candidate in candidates.iter().filter(|c| c.starts_with("refs/")) {
        if let Ok(reference) = repo.find_reference(candidate)
            && let Ok(commit) = reference.peel_to_commit()
        {
            // A remote-tracking branch is reported as the branch it mirrors.
            let git_ref = candidate.replacen("refs/remotes/origin/", "refs/heads/", 1);
            return Ok(Resolved {
                git_ref: Some(git_ref),
                sha: commit.id().to_string(),
            });
        }
    }
    let is_hex = name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex
        && let Ok(object) = repo.revparse_single(name)
        && let Ok(commit) = object.peel_to_commit()
    {
        return Ok(Resolved {
            git_ref: None,
            sha: commit.id().to_string(),
        });
    }
    Err(GitError::UnknownRef(name.to_owned()))
}

/// Paths changed between two commits (both sides of renames), sorted and deduplicated: what
/// `on.push.paths` filters match against.
pub fn changed_files(repo: &Repository, base: &str, head: &str) -> Result<Vec<String>> {
    let tree = |sha: &str| {
        find_commit(repo, sha)?
            .tree()
            .map_err(ctx(format!("reading the tree of {sha}")))
    };
    let (old, new) = (tree(base)?, tree(head)?);
    let mut diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(ctx("comparing commits"))?;
    diff.find_similar(None).map_err(ctx("finding renames"))?;
    let mut paths = std::collections::BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path() {
                paths.insert(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(paths.into_iter().collect())
}

/// The paths the commit `sha` changed against its first parent; for a root commit, every file
/// it holds (what "the last commit" changed when a push names no `before`).
pub fn commit_files(repo: &Repository, sha: &str) -> Result<Vec<String>> {
    let commit = find_commit(repo, sha)?;
    if let Ok(parent) = commit.parent(0) {
        return changed_files(repo, &parent.id().to_string(), sha);
    }
    let tree = commit
        .tree()
        .map_err(ctx(format!("reading the tree of {sha}")))?;
    let mut paths = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            paths.push(format!("{dir}{}", entry.name().unwrap_or_default()));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(ctx(format!("listing the files of {sha}")))?;
    paths.sort();
    Ok(paths)
}

/// The best common ancestor of two commits (a pull request's diff starts there).
pub fn merge_base(repo: &Repository, a: &str, b: &str) -> Result<String> {
    let (a, b) = (find_commit(repo, a)?.id(), find_commit(repo, b)?.id());
    let base = repo
        .merge_base(a, b)
        .map_err(ctx(format!("finding the merge base of {a} and {b}")))?;
    Ok(base.to_string())
}

fn find_commit<'r>(repo: &'r Repository, sha: &str) -> Result<git2::Commit<'r>> {
    let oid = Oid::from_str(sha).map_err(|_| GitError::MissingCommit(sha.to_owned()))?;
    repo.find_commit(oid)
        .map_err(|_| GitError::MissingCommit(sha.to_owned()))
}

/// Makes `dest` (which must not exist or be empty) a new repository with the working tree of
/// commit `sha` checked out (detached HEAD), `origin` set to `repo`'s origin URL, and nothing
/// shared with `repo`.
///
/// `depth` is `fetch-depth`: `n >= 1` copies only the last `n` generations of history and
/// marks the boundary in `.git/shallow`, exactly what a shallow fetch leaves; `0` clones the
/// whole repository (every branch as `origin/*`, every tag).
pub fn snapshot(repo: &Repository, sha: &str, dest: &Path, depth: u32) -> Result<Repository> {
    let oid = Oid::from_str(sha).map_err(|_| GitError::MissingCommit(sha.to_owned()))?;
    repo.find_commit(oid)
        .map_err(|_| GitError::MissingCommit(sha.to_owned()))?;
    let snap = if depth == 0 {
        full_clone(repo, dest)?
    } else {
        let snap = Repository::init(dest).map_err(ctx(format!("creating {}", dest.display())))?;
        copy_history(repo, &snap, oid, depth)?;
        snap
    };
    set_origin(&snap, origin_url(repo).as_deref())?;
    snap.set_head_detached(oid).map_err(ctx("detaching HEAD"))?;
    checkout_head(&snap)?;
    Ok(snap)
}

/// Points `snap`'s HEAD at `git_ref` (created at HEAD's commit, as checkout does: a branch gets
/// a local branch and `origin/<branch>`, a tag is copied from `repo`) and refreshes the tree.
pub fn checkout_ref(repo: &Repository, snap: &Repository, git_ref: &str) -> Result<()> {
    point_head(repo, snap, git_ref)?;
    checkout_head(snap)
}

/// [`checkout_ref`] without refreshing the working tree: only refs and HEAD change.
pub(crate) fn point_head(repo: &Repository, snap: &Repository, git_ref: &str) -> Result<()> {
    let sha = snap
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(ctx("reading HEAD"))?
        .id();
    if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        let message = "gantry checkout";
        snap.reference(git_ref, sha, true, message)
            .map_err(ctx(format!("creating {git_ref}")))?;
        let remote = format!("refs/remotes/origin/{branch}");
        snap.reference(&remote, sha, true, message)
            .map_err(ctx(format!("creating {remote}")))?;
        snap.set_head(git_ref)
            .map_err(ctx(format!("checking out {git_ref}")))?;
    } else if git_ref.starts_with("refs/tags/") {
        copy_tag(repo, snap, git_ref, sha)?;
    }
    Ok(())
}

/// Copies a tag ref (with its annotated tag object, when it has one) into `snap`.
fn copy_tag(repo: &Repository, snap: &Repository, git_ref: &str, sha: Oid) -> Result<()> {
    let reference = repo.find_reference(git_ref).ok();
    let commit = reference
        .as_ref()
        .and_then(|r| r.peel_to_commit().ok())
        .map(|c| c.id());
    // A tag of another commit (or none: a synthesized release tag) is made at the checked-out
    // commit, so `github.ref` and `github.sha` agree inside the job as they do on GitHub.
    let target = match reference.and_then(|r| r.target()) {
        Some(target) if commit == Some(sha) => target,
        _ => sha,
    };
    if target != sha {
        let (src, dst) = (odb(repo)?, odb(snap)?);
        copy_object(&src, &dst, target)?;
    }
    snap.reference(git_ref, target, true, "gantry checkout")
        .map_err(ctx(format!("creating {git_ref}")))?;
    Ok(())
}

fn checkout_head(snap: &Repository) -> Result<()> {
    let mut options = git2::build::CheckoutBuilder::new();
    options.force().remove_untracked(true);
    snap.checkout_head(Some(&mut options))
        .map_err(ctx("checking out the snapshot"))
}

fn full_clone(repo: &Repository, dest: &Path) -> Result<Repository> {
    let source = repo.path().to_string_lossy().into_owned();
    git2::build::RepoBuilder::new()
        .clone_local(git2::build::CloneLocal::NoLinks)
        .clone(&source, dest)
        .map_err(ctx(format!("cloning {source}")))
}

pub(crate) fn set_origin(snap: &Repository, url: Option<&str>) -> Result<()> {
    if snap.find_remote("origin").is_ok() {
        snap.remote_delete("origin")
            .map_err(ctx("resetting origin"))?;
    }
    if let Some(url) = url {
        snap.remote("origin", url).map_err(ctx("setting origin"))?;
    }
    Ok(())
}

fn odb(repo: &Repository) -> Result<git2::Odb<'_>> {
    repo.odb().map_err(ctx("opening the object database"))
}

/// Copies the commits within `depth` generations of `tip` with their trees into `snap`, and
/// writes `.git/shallow` for the commits whose parents stay behind.
fn copy_history(repo: &Repository, snap: &Repository, tip: Oid, depth: u32) -> Result<()> {
    let (src, dst) = (odb(repo)?, odb(snap)?);
    let (commits, boundary) = shallow_history(repo, tip, depth)?;
    for commit in commits {
        copy_tree(repo, &src, &dst, commit.tree_id())?;
        copy_object(&src, &dst, commit.id())?;
    }
    if boundary.is_empty() {
        return Ok(());
    }
    write_shallow(snap, &boundary)
}

/// `.git/shallow`: the commits whose parents a shallow fetch left behind.
pub(crate) fn write_shallow(snap: &Repository, boundary: &[String]) -> Result<()> {
    let file = snap.path().join("shallow");
    let text: String = boundary.iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(&file, text).map_err(|source| GitError::Io {
        context: format!("writing {}", file.display()),
        source,
    })
}

/// The commits within `depth` generations of `tip` whose parents lie beyond it: what
/// `.git/shallow` lists after a fetch with that depth.
pub(crate) fn shallow_boundary(repo: &Repository, tip: Oid, depth: u32) -> Result<Vec<String>> {
    Ok(shallow_history(repo, tip, depth)?.1)
}

/// The commits a fetch of `depth` generations from `tip` brings, breadth first, and the
/// boundary among them (see [`shallow_boundary`]).
fn shallow_history(
    repo: &Repository,
    tip: Oid,
    depth: u32,
) -> Result<(Vec<git2::Commit<'_>>, Vec<String>)> {
    let (mut commits, mut boundary) = (Vec::new(), Vec::new());
    let mut seen = HashSet::from([tip]);
    let mut queue = VecDeque::from([(tip, 1u32)]);
    while let Some((oid, level)) = queue.pop_front() {
        let commit = repo
            .find_commit(oid)
            .map_err(ctx(format!("reading commit {oid}")))?;
        if commit.parent_count() > 0 && level >= depth {
            boundary.push(oid.to_string());
        } else {
            for parent in commit.parent_ids() {
                if seen.insert(parent) {
                    queue.push_back((parent, level + 1));
                }
            }
        }
        commits.push(commit);
    }
    Ok((commits, boundary))
}

/// Copies a tree and everything below it (submodule commits are not objects of this repository
/// and are skipped).
fn copy_tree(repo: &Repository, src: &git2::Odb, dst: &git2::Odb, root: Oid) -> Result<()> {
    let mut pending = vec![root];
    while let Some(oid) = pending.pop() {
        if dst.exists(oid) {
            continue;
        }
        let tree = repo
            .find_tree(oid)
            .map_err(ctx(format!("reading tree {oid}")))?;
        for entry in tree.iter() {
            match entry.kind() {
                Some(ObjectType::Tree) => pending.push(entry.id()),
                Some(ObjectType::Blob) => copy_object(src, dst, entry.id())?,
                _ => {}
            }
        }
        copy_object(src, dst, oid)?;
    }
    Ok(())
}

fn copy_object(src: &git2::Odb, dst: &git2::Odb, oid: Oid) -> Result<()> {
    if dst.exists(oid) {
        return Ok(());
    }
    let object = src
        .read(oid)
        .map_err(ctx(format!("reading object {oid}")))?;
    dst.write(object.kind(), object.data())
        .map_err(ctx(format!("writing object {oid}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository in a temp dir; `commit` writes files and commits them on HEAD.
    struct TestRepo {
        dir: tempfile::TempDir,
        repo: Repository,
    }

    impl TestRepo {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repository::init(dir.path().join("widget")).unwrap();
            let mut config = repo.config().unwrap();
            config.set_str("user.name", "Ada Lovelace").unwrap();
            config.set_str("user.email", "ada@example.com").unwrap();
            Self { dir, repo }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("widget")
        }

        fn commit(&self, files: &[(&str, &str)], message: &str) -> Oid {
            for (path, contents) in files {
                let full = self.root().join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(full, contents).unwrap();
            }
            let mut index = self.repo.index().unwrap();
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .unwrap();
            index.write().unwrap();
            let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
            let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
            let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
            let parents: Vec<&git2::Commit> = parent.iter().collect();
            self.repo
                .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
                .unwrap()
        }

        fn tag(&self, name: &str, annotated: bool) {
            let head = self.repo.head().unwrap().peel(ObjectType::Commit).unwrap();
            if annotated {
                let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
                self.repo.tag(name, &head, &sig, "release", false).unwrap();
            } else {
                self.repo.tag_lightweight(name, &head, false).unwrap();
            }
        }
    }

    #[test]
    fn remote_urls_give_owner_and_repo() {
        let cases = [
            (
                "https://github.com/octo/widget.git",
                Some(("octo", "widget")),
            ),
            ("https://github.com/octo/widget", Some(("octo", "widget"))),
            (
                "https://ghe.example.com/prefix/octo/widget/",
                Some(("octo", "widget")),
            ),
            ("git@github.com:octo/widget.git", Some(("octo", "widget"))),
            (
                "ssh://git@github.com:2222/octo/widget.git",
                Some(("octo", "widget")),
            ),
            ("git://example.com/octo/widget", Some(("octo", "widget"))),
            ("https://github.com/widget", None),
            ("widget", None),
        ];
        for (url, expected) in cases {
            let got = parse_remote_url(url);
            let expected = expected.map(|(o, r)| (o.to_owned(), r.to_owned()));
            assert_eq!(got, expected, "{url}");
        }
    }

    #[test]
    fn facts_come_from_head_config_and_origin() {
        let t = TestRepo::new();
        let sha = t.commit(&[("a.txt", "a")], "first");
        let facts = describe(&discover(&t.root().join(".git")).unwrap(), false).unwrap();
        assert_eq!(facts.sha, sha.to_string());
        assert_eq!(
            facts.git_ref,
            format!("refs/heads/{}", head_branch(&t.repo))
        );
        assert_eq!(facts.repository, "local/widget");
        assert_eq!(facts.actor, "Ada Lovelace");
        t.repo
            .remote("origin", "git@github.com:Octo/Widget.git")
            .unwrap();
        assert_eq!(repository_name(&t.repo), "Octo/Widget");
    }

    fn head_branch(repo: &Repository) -> String {
        repo.head().unwrap().shorthand().unwrap().to_owned()
    }

    #[test]
    fn tags_at_head_win_only_when_preferred() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "a")], "first");
        t.tag("v1.2.0", true);
        let branch = format!("refs/heads/{}", head_branch(&t.repo));
        assert_eq!(head_ref(&t.repo, false).unwrap(), branch);
        assert_eq!(head_ref(&t.repo, true).unwrap(), "refs/tags/v1.2.0");
    }

    #[test]
    fn release_tag_is_the_nearest_reachable_tag() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "a")], "first");
        assert_eq!(release_tag(&t.repo).unwrap(), DEFAULT_RELEASE_TAG);
        t.tag("v1.0.0", false);
        t.commit(&[("a.txt", "b")], "second");
        t.tag("v1.1.0", true);
        t.commit(&[("a.txt", "c")], "third");
        assert_eq!(release_tag(&t.repo).unwrap(), "v1.1.0");
    }

    #[test]
    fn refs_resolve_as_branch_tag_or_sha() {
        let t = TestRepo::new();
        let first = t.commit(&[("a.txt", "a")], "first");
        t.tag("v1", true);
        let second = t.commit(&[("a.txt", "b")], "second");
        let branch = head_branch(&t.repo);
        let got = resolve_ref(&t.repo, &branch).unwrap();
        assert_eq!(
            got,
            Resolved {
                git_ref: Some(format!("refs/heads/{branch}")),
                sha: second.to_string()
            }
        );
        let got = resolve_ref(&t.repo, "v1").unwrap();
        assert_eq!(
            got,
            Resolved {
                git_ref: Some("refs/tags/v1".into()),
                sha: first.to_string()
            }
        );
        let got = resolve_ref(&t.repo, &first.to_string()[..10]).unwrap();
        assert_eq!(
            got,
            Resolved {
                git_ref: None,
                sha: first.to_string()
            }
        );
        assert!(matches!(
            resolve_ref(&t.repo, "nope"),
            Err(GitError::UnknownRef(_))
        ));
    }

    #[test]
    fn changed_files_lists_both_sides_of_a_rename() {
        let t = TestRepo::new();
        let base = t.commit(
            &[
                ("src/a.rs", "fn a() {}\n// long enough to be similar\n"),
                ("b.txt", "b"),
            ],
            "first",
        );
        std::fs::rename(t.root().join("src/a.rs"), t.root().join("src/c.rs")).unwrap();
        let mut index = t.repo.index().unwrap();
        index.remove_path(Path::new("src/a.rs")).unwrap();
        index.write().unwrap();
        let head = t.commit(&[("b.txt", "changed"), ("docs/new.md", "x")], "second");
        let files = changed_files(&t.repo, &base.to_string(), &head.to_string()).unwrap();
        assert_eq!(files, ["b.txt", "docs/new.md", "src/a.rs", "src/c.rs"]);
    }

    #[test]
    fn shallow_snapshot_has_one_commit_and_a_clean_tree() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "one")], "first");
        let second = t.commit(&[("a.txt", "two"), ("bin/run.sh", "#!/bin/sh\n")], "second");
        t.commit(&[("a.txt", "three")], "third");
        t.repo
            .remote("origin", "https://github.com/octo/widget.git")
            .unwrap();
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &second.to_string(), dest.path(), 1).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.path().join("a.txt")).unwrap(),
            "two"
        );
        assert_eq!(head_sha(&snap).unwrap(), second.to_string());
        let shallow = std::fs::read_to_string(snap.path().join("shallow")).unwrap();
        assert_eq!(shallow.trim(), second.to_string());
        let parent = t.repo.find_commit(second).unwrap().parent_id(0).unwrap();
        assert!(
            !snap.odb().unwrap().exists(parent),
            "history beyond the depth was copied"
        );
        assert_eq!(
            origin_url(&snap).as_deref(),
            Some("https://github.com/octo/widget.git")
        );
        assert!(
            snap.statuses(None).unwrap().is_empty(),
            "the snapshot's tree is dirty"
        );
        // The snapshot shares nothing with the original: writing to it leaves the original alone.
        std::fs::write(dest.path().join("a.txt"), "scribble").unwrap();
        assert_eq!(
            std::fs::read_to_string(t.root().join("a.txt")).unwrap(),
            "three"
        );
    }

    #[test]
    fn deeper_snapshots_mark_the_boundary() {
        let t = TestRepo::new();
        let first = t.commit(&[("a.txt", "one")], "first");
        let second = t.commit(&[("a.txt", "two")], "second");
        let third = t.commit(&[("a.txt", "three")], "third");
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &third.to_string(), dest.path(), 2).unwrap();
        let shallow = std::fs::read_to_string(snap.path().join("shallow")).unwrap();
        assert_eq!(shallow.trim(), second.to_string());
        assert!(!snap.odb().unwrap().exists(first));
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &third.to_string(), dest.path(), 3).unwrap();
        assert!(
            !snap.path().join("shallow").exists(),
            "the whole history fits in depth 3"
        );
    }

    #[test]
    fn full_snapshot_has_history_and_tags_and_checks_out_a_branch() {
        let t = TestRepo::new();
        let first = t.commit(&[("a.txt", "one")], "first");
        t.tag("v1", true);
        let second = t.commit(&[("a.txt", "two")], "second");
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &second.to_string(), dest.path(), 0).unwrap();
        assert!(snap.find_commit(first).is_ok());
        assert!(snap.find_reference("refs/tags/v1").is_ok());
        assert!(!snap.path().join("shallow").exists());
        assert_eq!(
            origin_url(&snap),
            None,
            "the clone source must not stay as origin"
        );
        let branch = format!("refs/heads/{}", head_branch(&t.repo));
        checkout_ref(&t.repo, &snap, &branch).unwrap();
        assert_eq!(snap.head().unwrap().name().unwrap(), branch);
        assert!(
            snap.find_reference(&branch.replace("refs/heads/", "refs/remotes/origin/"))
                .is_ok()
        );
    }

    #[test]
    fn tag_checkout_copies_the_annotated_tag() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "one")], "first");
        t.tag("v2", true);
        let sha = head_sha(&t.repo).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &sha, dest.path(), 1).unwrap();
        checkout_ref(&t.repo, &snap, "refs/tags/v2").unwrap();
        let tag = snap.find_reference("refs/tags/v2").unwrap();
        assert!(tag.peel_to_tag().is_ok(), "the tag object was not copied");
        assert!(snap.head_detached().unwrap());
    }

    #[test]
    fn a_tag_of_another_commit_is_made_at_the_checked_out_one() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "one")], "first");
        t.tag("v1", true);
        let second = t.commit(&[("a.txt", "two")], "second");
        let dest = tempfile::tempdir().unwrap();
        let snap = snapshot(&t.repo, &second.to_string(), dest.path(), 1).unwrap();
        for tag in ["refs/tags/v1", "refs/tags/v0.0.0"] {
            checkout_ref(&t.repo, &snap, tag).unwrap();
            let commit = snap.find_reference(tag).unwrap().peel_to_commit().unwrap();
            assert_eq!(commit.id(), second, "{tag}");
        }
    }

    #[test]
    fn unknown_commits_are_reported() {
        let t = TestRepo::new();
        t.commit(&[("a.txt", "one")], "first");
        let dest = tempfile::tempdir().unwrap();
        let missing = "0123456789012345678901234567890123456789";
        let err = snapshot(&t.repo, missing, dest.path(), 1).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!("commit {missing} is not in the local repository")
        );
    }
}
