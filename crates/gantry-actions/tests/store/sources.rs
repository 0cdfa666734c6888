use std::fs;
use std::path::Path;

use gantry_actions::{ActionRef, ActionStore, StoreError};
use git2::Oid;

use crate::fixtures::{Forge, write};

fn r(value: &str) -> ActionRef {
    ActionRef::parse(value).unwrap()
}

/// acme/tool with: c1 (annotated tag v1), c2 (branch main, lightweight tag v2, a branch also
/// called v1, branch feature/x).
fn forge(root: &Path) -> (Forge, Oid, Oid) {
    let forge = Forge::bare(&root.join("acme/tool.git"));
    let c1 = forge.commit(
        &[
            ("action.yml", "name: one\n"),
            ("sub/action.yml", "name: sub\n"),
        ],
        None,
        "one",
    );
    let c2 = forge.commit(&[("action.yml", "name: two\n")], Some(c1), "two");
    forge.annotated_tag("v1", c1);
    forge.lightweight_tag("v2", c2);
    forge.branch("main", c2);
    forge.branch("v1", c2);
    forge.branch("feature/x", c2);
    (forge, c1, c2)
}

fn action_name(store: &ActionStore, action: &str) -> String {
    let resolved = store.resolve(&r(action)).unwrap();
    fs::read_to_string(resolved.dir.join("action.yml")).unwrap()
}

#[test]
fn a_git_repository_resolves_refs_as_github_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (_forge, c1, c2) = forge(&tmp.path().join("forge"));
    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let repo = tmp.path().join("forge/acme/tool.git");
    let cases = [
        ("acme/tool@v1", c1), // the tag wins over the branch of the same name
        ("acme/tool@refs/heads/v1", c2),
        ("acme/tool@main", c2),
        ("acme/tool@feature/x", c2),
        ("acme/tool@v2", c2),
    ];
    for (action, commit) in cases {
        let entry = store.add(&r(action), &repo).unwrap();
        assert_eq!(entry.commit, commit.to_string(), "{action}");
        let resolved = store.resolve(&r(action)).unwrap();
        assert_eq!(resolved.commit, commit.to_string(), "{action}");
        assert_eq!(resolved.dir, resolved.root);
    }
    let sha = c1.to_string();
    store.add(&r(&format!("acme/tool@{sha}")), &repo).unwrap();
    assert_eq!(
        action_name(&store, &format!("acme/tool/sub@{sha}")),
        "name: sub\n"
    );
    assert_eq!(action_name(&store, "acme/tool@v1"), "name: one\n");
    // Owner and repository are case-insensitive, as on GitHub.
    assert_eq!(action_name(&store, "ACME/Tool@main"), "name: two\n");

    let short = store.add(&r(&format!("acme/tool@{}", &sha[..7])), &repo);
    assert!(
        matches!(short, Err(StoreError::ShortSha { .. })),
        "{short:?}"
    );
    let unknown = store
        .add(&r("acme/tool@v9"), &repo)
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("has no tag, branch or commit `v9`"),
        "{unknown}"
    );
}

#[test]
fn pull_fetches_tags_branches_and_shas_from_a_forge_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (_forge, c1, c2) = forge(&tmp.path().join("forge"));
    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let base = format!("file://{}", tmp.path().join("forge").display());
    for (action, commit) in [
        ("acme/tool@v1", c1),
        ("acme/tool@feature/x", c2),
        ("acme/tool@v2", c2),
    ] {
        let entry = store.pull(&r(action), &base).unwrap();
        assert_eq!(entry.commit, commit.to_string(), "{action}");
        assert!(entry.source.starts_with("pull file://"), "{}", entry.source);
    }
    let by_sha = store.pull(&r(&format!("acme/tool@{c1}")), &base).unwrap();
    assert_eq!(by_sha.commit, c1.to_string());
    assert_eq!(action_name(&store, "acme/tool/sub@v1"), "name: sub\n");

    let unknown = store
        .pull(&r("acme/tool@nope"), &base)
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("has no tag, branch or commit `nope`"),
        "{unknown}"
    );
    assert!(store.pull(&r("acme/absent@v1"), &base).is_err());
}

#[test]
fn directories_are_content_addressed_and_trees_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let dir = tmp.path().join("src");
    write(&dir.join("action.yml"), "name: local\n");
    write(&dir.join("dist/index.js"), "console.log(1)\n");
    let first = store.add(&r("me/local@v1"), &dir).unwrap();
    let again = store.add(&r("me/other@main"), &dir).unwrap();
    assert_eq!(first.commit, again.commit, "same content, same commit");
    assert!(first.source.starts_with("directory "));

    let resolved = store.resolve(&r("me/local@v1")).unwrap();
    let file = resolved.root.join("dist/index.js");
    assert_eq!(fs::read_to_string(&file).unwrap(), "console.log(1)\n");
    assert!(fs::metadata(&file).unwrap().permissions().readonly());

    write(&dir.join("action.yml"), "name: changed\n");
    let changed = store.add(&r("me/local@v1"), &dir).unwrap();
    assert_ne!(changed.commit, first.commit);
    assert_eq!(action_name(&store, "me/local@v1"), "name: changed\n");
    assert_eq!(action_name(&store, "me/other@main"), "name: local\n");

    let absent = store
        .resolve(&r("me/local/nope@v1"))
        .unwrap_err()
        .to_string();
    assert!(absent.contains("has no folder `nope`"), "{absent}");
}

#[test]
fn a_missing_action_names_the_command_that_adds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ActionStore::open(tmp.path()).unwrap();
    let error = store.resolve(&r("actions/cache/save@v4")).unwrap_err();
    assert!(matches!(error, StoreError::Missing { .. }));
    let text = error.to_string();
    assert!(
        text.contains("`gantry actions pull actions/cache@v4`"),
        "{text}"
    );
    assert!(
        text.contains("`gantry actions add actions/cache@v4 PATH`"),
        "{text}"
    );
    assert!(text.contains("--pull-actions"), "{text}");
}

#[test]
fn tarballs_drop_their_single_top_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let archive = tmp.path().join("tool.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, body) in [
            ("acme-tool-abc/action.yml", "name: tar\n"),
            ("acme-tool-abc/run.sh", "echo\n"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            tar.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    let entry = store.add(&r("acme/tool@v3"), &archive).unwrap();
    assert!(entry.source.starts_with("tarball "));
    assert_eq!(action_name(&store, "acme/tool@v3"), "name: tar\n");

    let junk = tmp.path().join("junk.tar");
    fs::write(&junk, "not a tarball at all").unwrap();
    let error = store
        .add(&r("acme/tool@v4"), &junk)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a tar or tar.gz archive"), "{error}");
    assert!(
        store.resolve(&r("acme/tool@v4")).is_err(),
        "nothing stored for bad input"
    );
}

#[test]
fn rm_keeps_trees_other_refs_still_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (_forge, _c1, c2) = forge(&tmp.path().join("forge"));
    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let repo = tmp.path().join("forge/acme/tool.git");
    store.add(&r("acme/tool@main"), &repo).unwrap();
    store.add(&r("acme/tool@v2"), &repo).unwrap();
    let tree = store.dir().join("trees").join(c2.to_string());
    let removed = store.rm(&r("acme/tool@main")).unwrap();
    assert_eq!(removed.name(), "acme/tool@main");
    assert!(tree.is_dir(), "v2 still names the commit");
    store.rm(&r("acme/tool@v2")).unwrap();
    assert!(!tree.exists());
    assert!(store.list().unwrap().is_empty());
    let again = store.rm(&r("acme/tool@v2")).unwrap_err().to_string();
    assert!(
        again.contains("no action `acme/tool@v2` in the store"),
        "{again}"
    );
}

#[test]
fn act_clones_are_imported_with_their_remote_and_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (_forge, c1, _c2) = forge(&tmp.path().join("forge"));
    let cache = tmp.path().join("act");
    fs::create_dir_all(&cache).unwrap();
    // act's layout: `<uses with / → ->`, a clone whose origin is the forge.
    let clone = cache.join("acme-tool@v1");
    let url = format!(
        "file://{}",
        tmp.path().join("forge/acme/tool.git").display()
    );
    let repo = git2::Repository::clone(&url, &clone).unwrap();
    repo.set_head_detached(c1).unwrap();
    fs::create_dir_all(cache.join("acme-tool.git")).unwrap();
    git2::Repository::init_bare(cache.join("acme-tool.git")).unwrap();

    let store = ActionStore::open(&tmp.path().join("data")).unwrap();
    let report = store.import_act(&cache).unwrap();
    assert_eq!(report.imported.len(), 1, "{report:?}");
    assert_eq!(report.imported[0].name(), "acme/tool@v1");
    assert_eq!(report.imported[0].commit, c1.to_string());
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(action_name(&store, "acme/tool/sub@v1"), "name: sub\n");

    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let error = store.import_act(&empty).unwrap_err().to_string();
    assert!(error.contains("is not act's action cache"), "{error}");
}
