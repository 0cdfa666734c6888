//! The runner services end to end on Docker, with the real actions from `../shared/actions`:
//! `actions/cache@v4` (restore, then save in its post step; a later run restores by exact key
//! and by restore-key prefix) and `upload-artifact@v4` / `download-artifact@v4` (files and a
//! directory, a 200 MB file among them, byte for byte into a dependent job). NEEDS DOCKER.
//!
//! Until the action store lets `uses: actions/cache@v4` resolve to the shared copies, the
//! actions run as local actions copied into the test repository. upload/download-artifact are
//! published as sources only: their `dist/` is built once (npm registry, `ncc`, as the shared
//! README says) in a temporary copy and cached under the user's cache directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::reference::{gantry, gantry_run, images_ready, root};

fn shared_action(name: &str) -> PathBuf {
    root().join("../shared/actions/actions").join(name)
}

fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("gantry-tests")
}

fn run(cmd: &mut Command) {
    let out = cmd.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `action.yml` and a built `dist/` of a sources-only action, built once per commit.
fn built_action(name: &str, entry: &str, out: &str) -> PathBuf {
    let commit = std::fs::read_to_string(shared_action(&format!("{name}.commit"))).unwrap();
    let cached = cache_home().join(format!("actions-dist/{name}-{}", commit.trim()));
    if cached.join("action.yml").is_file() {
        return cached;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    run(Command::new("cp")
        .arg("-a")
        .arg(shared_action(name))
        .arg(&src));
    run(Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&src));
    run(Command::new("npx")
        .args(["ncc", "build", entry, "-o", out])
        .current_dir(&src));
    let staged = work.path().join("built");
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::copy(src.join("action.yml"), staged.join("action.yml")).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(src.join("dist"))
        .arg(staged.join("dist")));
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    // A concurrent build may have won; both are complete.
    if std::fs::rename(&staged, &cached).is_err() {
        assert!(cached.join("action.yml").is_file());
    }
    cached
}

fn copy_action(from: &Path, repo: &Path, name: &str) {
    let dest = repo.join(".github/actions").join(name);
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(from.join("action.yml"), dest.join("action.yml")).unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(from.join("dist"))
        .arg(dest.join("dist")));
}

fn git_repo(repo: &Path) {
    let origin = "https://github.com/gantry-examples/services.git";
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "services"],
        &["remote", "add", "origin", origin],
    ] {
        run(Command::new("git")
            .args([
                "-c",
                "user.name=Gantry Test",
                "-c",
                "user.email=t@gantry.invalid",
            ])
            .args(args)
            .current_dir(repo));
    }
}

const CACHE_WORKFLOW: &str = r#"
on:
  workflow_dispatch:
    inputs:
      key: {required: true}
jobs:
  cache:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/cache
        id: cache
        with:
          path: deps
          key: ${{ inputs.key }}
          restore-keys: deps-
      - run: echo "restored hit=${{ steps.cache.outputs.cache-hit }} content=$(cat deps/data 2>/dev/null || echo none)"
      - run: mkdir -p deps && { [ -f deps/data ] || echo "saved by ${{ inputs.key }}" > deps/data; }
"#;

#[test]
fn actions_cache_restores_nothing_saves_in_post_then_restores_by_key_and_prefix() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = (work.path().join("repo"), work.path().join("data"));
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(repo.join(".github/workflows/cache.yml"), CACHE_WORKFLOW).unwrap();
    copy_action(&shared_action("cache@v4"), &repo, "cache");
    git_repo(&repo);

    let first = gantry_run(
        &repo,
        &data,
        &["workflow_dispatch", "--input", "key=deps-one"],
    );
    assert!(first.contains("restored hit= content=none"), "{first}");
    assert!(first.contains("Cache saved with key: deps-one"), "{first}");
    let listed = gantry(&data, &["cache", "list"]);
    assert!(listed.contains("deps-one"), "{listed}");

    let exact = gantry_run(
        &repo,
        &data,
        &["workflow_dispatch", "--input", "key=deps-one"],
    );
    assert!(
        exact.contains("Cache restored from key: deps-one"),
        "{exact}"
    );
    assert!(
        exact.contains("restored hit=true content=saved by deps-one"),
        "{exact}"
    );

    let prefix = gantry_run(
        &repo,
        &data,
        &["workflow_dispatch", "--input", "key=deps-two"],
    );
    assert!(
        prefix.contains("Cache restored from key: deps-one"),
        "{prefix}"
    );
    assert!(
        prefix.contains("restored hit=false content=saved by deps-one"),
        "{prefix}"
    );
    assert!(
        prefix.contains("Cache saved with key: deps-two"),
        "{prefix}"
    );
}

const ARTIFACT_WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  up:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          mkdir -p out/dir/sub
          head -c 200000000 /dev/urandom > out/big.bin
          echo alpha > out/a.txt
          echo beta > out/dir/sub/b.txt
          (cd out && sha256sum big.bin a.txt > ../files.sha256 && cd dir && sha256sum sub/b.txt > ../../tree.sha256)
      - uses: ./.github/actions/upload-artifact
        with:
          name: files
          path: |
            out/a.txt
            out/big.bin
      - uses: ./.github/actions/upload-artifact
        with:
          name: tree
          path: out/dir
      - uses: ./.github/actions/upload-artifact
        with:
          name: sums
          path: '*.sha256'
  down:
    needs: up
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/download-artifact
        with:
          name: files
          path: got/files
      - uses: ./.github/actions/download-artifact
        with:
          pattern: '{tree,sums}'
          path: merged
          merge-multiple: true
      - run: |
          (cd got/files && sha256sum -c ../../merged/files.sha256)
          (cd merged && sha256sum -c tree.sha256)
          echo "verified $(stat -c %s got/files/big.bin) bytes"
"#;

#[test]
fn upload_artifact_then_download_artifact_in_a_dependent_job_byte_for_byte() {
    images_ready();
    let upload = built_action("upload-artifact@v4", "src/upload/index.ts", "dist/upload");
    let download = built_action("download-artifact@v4", "src/download-artifact.ts", "dist");
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = (work.path().join("repo"), work.path().join("data"));
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(
        repo.join(".github/workflows/artifacts.yml"),
        ARTIFACT_WORKFLOW,
    )
    .unwrap();
    copy_action(&upload, &repo, "upload-artifact");
    copy_action(&download, &repo, "download-artifact");
    git_repo(&repo);

    let out = gantry_run(&repo, &data, &["workflow_dispatch"]);
    assert!(out.contains("big.bin: OK"), "{out}");
    assert!(out.contains("sub/b.txt: OK"), "{out}");
    assert!(out.contains("verified 200000000 bytes"), "{out}");
    let listed = gantry(&data, &["artifacts", "list"]);
    for name in ["files", "tree", "sums"] {
        assert!(listed.contains(name), "{listed}");
    }
}
