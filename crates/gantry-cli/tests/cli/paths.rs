//! `paths` / `paths-ignore` in `gantry run`, on a real git repository: the changed files come
//! from git as the daemon computes them (a push's before..after, else the last commit; a pull
//! request's merge base with its base branch), `--dry-run` says which files matched or why a
//! workflow does not run, and a run runs exactly the workflows GitHub would.

use std::path::Path;

use crate::actions::git;
use crate::test::Test;

const SRC: &str = "
    on:
      push:
        paths: ['src/**']
      pull_request:
        paths: ['src/**']
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - run: echo building-src
";

const DOCS: &str = "
    on:
      push:
        paths-ignore: ['src/**', '.github/**']
    jobs:
      docs:
        runs-on: ubuntu-latest
        steps:
          - run: echo building-docs
";

/// A repository on `main`: the workflows and `src/a.rs` in one commit, then README alone.
/// Returns the two commits.
fn repository() -> (Test, String, String) {
    let test = Test::new()
        .file(".github/workflows/src.yml", SRC)
        .file(".github/workflows/docs.yml", DOCS)
        .file("src/a.rs", "fn a() {}\n");
    let dir = test.path().to_path_buf();
    git(&dir, &["init", "-q", "-b", "main"]);
    let first = commit(&dir, "first");
    std::fs::write(dir.join("README.md"), "readme\n").unwrap();
    let second = commit(&dir, "readme");
    (test, first, second)
}

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn the_last_commit_touching_only_readme_skips_a_src_filtered_workflow() {
    let (test, first, second) = repository();
    let out = test.args(["run", "--dry-run"]).output();
    let (first, second) = (&first[..7], &second[..7]);
    assert_eq!(
        out.stderr,
        format!(
            "`.github/workflows/docs.yml` runs: its path filters match README.md (changed in {first}..{second}, the push's before..after)\n\
             `.github/workflows/src.yml` does not run: no changed file matches its path filters (changed in {first}..{second}, the push's before..after: README.md)\n"
        )
    );
    assert!(out.stdout.contains("docs.yml on push"), "{}", out.stdout);
    assert!(!out.stdout.contains("src.yml"), "{}", out.stdout);
}

#[test]
fn a_run_runs_only_the_workflows_the_changed_files_trigger() {
    let (test, _, _) = repository();
    let dir = test.path().to_path_buf();
    std::fs::write(dir.join("src/b.rs"), "fn b() {}\n").unwrap();
    commit(&dir, "src only");
    let out = test.args(["run", "-P", "ubuntu-latest=host"]).output();
    assert!(out.stdout.contains("building-src"), "{}", out.stdout);
    assert!(!out.stdout.contains("building-docs"), "{}", out.stdout);
}

#[test]
fn a_payload_before_spans_every_commit_of_the_push() {
    let (test, _, readme) = repository();
    let dir = test.path().to_path_buf();
    // A push of two commits: a src change, then README again. The last commit alone would not
    // trigger the src workflow; the push's before..after does.
    std::fs::write(dir.join("src/c.rs"), "fn c() {}\n").unwrap();
    commit(&dir, "src again");
    std::fs::write(dir.join("README.md"), "readme, again\n").unwrap();
    let head = commit(&dir, "readme again");
    let payload =
        format!(r#"{{"ref": "refs/heads/main", "before": "{readme}", "after": "{head}"}}"#);
    std::fs::write(dir.join("push.json"), payload).unwrap();
    let out = test.args(["run", "--dry-run", "-e", "push.json"]).output();
    let basis = format!("{}..{}, the push's before..after", &readme[..7], &head[..7]);
    let expected = format!(
        "`.github/workflows/docs.yml` runs: its path filters match README.md (changed in {basis})\n\
         `.github/workflows/src.yml` runs: its path filters match src/c.rs (changed in {basis})\n"
    );
    assert_eq!(out.stderr, expected);
}

#[test]
fn a_pull_request_compares_with_the_merge_base_of_its_base_branch() {
    let (test, _, _) = repository();
    let dir = test.path().to_path_buf();
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(dir.join("src/b.rs"), "fn b() {}\n").unwrap();
    commit(&dir, "feature src");
    // main moves on with a change of its own, which the pull request's diff must not show.
    git(&dir, &["checkout", "-q", "main"]);
    std::fs::write(dir.join("src/main-only.rs"), "x\n").unwrap();
    commit(&dir, "main src");
    git(&dir, &["checkout", "-q", "feature"]);
    std::fs::write(dir.join("README.md"), "feature readme\n").unwrap();
    commit(&dir, "feature readme");
    let out = test.args(["run", "pull_request", "--dry-run"]).output();
    assert!(
        out.stderr.contains(
            "`.github/workflows/src.yml` runs: its path filters match src/b.rs (changed in "
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("main-only"), "{}", out.stderr);
}

#[test]
fn a_pull_request_touching_only_readme_does_not_run_the_src_workflow() {
    let (test, _, _) = repository();
    let dir = test.path().to_path_buf();
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(dir.join("README.md"), "feature readme\n").unwrap();
    commit(&dir, "feature readme");
    let out = test.args(["run", "pull_request", "--dry-run"]).output();
    assert!(
        out.stderr.contains(
            "`.github/workflows/src.yml` does not run: no changed file matches its path filters (changed in "
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(", the merge base with `main`..the head: README.md)\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_push_without_before_compares_the_last_commit() {
    let (test, _, readme) = repository();
    let dir = test.path().to_path_buf();
    let payload = format!(
        r#"{{"ref": "refs/heads/main", "before": "{}", "after": "{readme}"}}"#,
        "0".repeat(40)
    );
    std::fs::write(dir.join("push.json"), payload).unwrap();
    let out = test.args(["run", "--dry-run", "-e", "push.json"]).output();
    assert!(
        out.stderr.contains(&format!(
            "`.github/workflows/src.yml` does not run: no changed file matches its path filters (changed in the last commit, {}: README.md)\n",
            &readme[..7]
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn path_filters_do_not_apply_to_a_tag_push() {
    let (test, _, _) = repository();
    let dir = test.path().to_path_buf();
    std::fs::write(dir.join("tag.json"), r#"{"ref": "refs/tags/v1"}"#).unwrap();
    let out = test.args(["run", "--dry-run", "-e", "tag.json"]).output();
    assert_eq!(out.stderr, "");
    assert!(out.stdout.contains("src.yml on push"), "{}", out.stdout);
    assert!(out.stdout.contains("docs.yml on push"), "{}", out.stdout);
}
