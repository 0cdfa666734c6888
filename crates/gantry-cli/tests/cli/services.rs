//! The runner services end to end on Docker, with the real actions from `../shared/actions`
//! in the action store: `actions/cache@v4` (restore, then save in its post step; a later run
//! restores by exact key and by restore-key prefix) and `upload-artifact@v4` /
//! `download-artifact@v4` (files and a directory, a 200 MB file among them, byte for byte into
//! a dependent job). NEEDS DOCKER. The workflows are `tests/fixtures/services/`, shared with the
//! daemon's tests; upload/download-artifact are published as sources only: their `dist/` is
//! built once by `scripts/built-action.sh` (npm registry, `ncc`, as the shared README says) and
//! cached under the user's cache directory.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::reference::{gantry, gantry_run, images_ready};

#[path = "../../../../tests/support/real_actions.rs"]
mod real_actions;
use real_actions::{services_workflow, stored_actions};

fn run(cmd: &mut Command) {
    let out = cmd.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with `workflow`, and the real actions in the store of `data`.
fn services_repo(work: &Path, file: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (repo, data) = (work.join("repo"), work.join("data"));
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(
        repo.join(".github/workflows").join(file),
        services_workflow(file),
    )
    .unwrap();
    git_repo(&repo);
    for (name, dir) in stored_actions() {
        gantry(&data, &["actions", "add", name, &dir.display().to_string()]);
    }
    (repo, data)
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

#[test]
fn actions_cache_restores_nothing_saves_in_post_then_restores_by_key_and_prefix() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = services_repo(work.path(), "cache.yml");

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

#[test]
fn upload_artifact_then_download_artifact_in_a_dependent_job_byte_for_byte() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = services_repo(work.path(), "artifacts.yml");

    let out = gantry_run(&repo, &data, &["workflow_dispatch"]);
    assert!(out.contains("big.bin: OK"), "{out}");
    assert!(out.contains("sub/b.txt: OK"), "{out}");
    assert!(out.contains("verified 200000000 bytes"), "{out}");
    let listed = gantry(&data, &["artifacts", "list"]);
    for name in ["files", "tree", "sums"] {
        assert!(listed.contains(name), "{listed}");
    }
}
