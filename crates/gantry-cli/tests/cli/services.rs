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

/// The events file of run `n` of `repo` names its run id (`github.run_id`).
fn run_id_of(repo: &Path, n: u32) -> String {
    let events = std::fs::read_to_string(repo.join(format!(".gantry/runs/{n}/events.jsonl")))
        .unwrap_or_else(|e| panic!("run {n}'s events: {e}"));
    let first: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    first["run_id"].as_str().unwrap().to_owned()
}

/// download-artifact@v4 with `run-id` and `github-token` of a later `gantry run`: it reads the
/// first run's artifacts through `GITHUB_API_URL`; another repository's are refused, and an
/// API call gantry does not serve answers GitHub's 404 at once.
#[test]
fn download_artifact_with_run_id_reads_an_earlier_runs_artifacts() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = services_repo(work.path(), "run-id.yml");

    let first = gantry_run(&repo, &data, &["workflow_dispatch"]);
    let earlier = run_id_of(&repo, 1);
    assert!(
        first.contains(&format!("uploaded by run {earlier}")),
        "{first}"
    );

    let from = format!("from={earlier}");
    let second = gantry_run(&repo, &data, &["workflow_dispatch", "--input", &from]);
    let later = run_id_of(&repo, 2);
    assert_ne!(later, earlier);
    for line in [
        "data.bin: OK".to_owned(),
        "sub/c.txt: OK".to_owned(),
        format!("run {later} verified 3000000 bytes of run {earlier}"),
        "another repository: failure".to_owned(),
        "other api call: 404 Not Found".to_owned(),
    ] {
        assert!(second.contains(&line), "{line}\n{second}");
    }
    assert!(
        second.contains("for repository gantry-examples/services, not someone/else"),
        "{second}"
    );
    // Downloading added nothing to the later run; the earlier run keeps its two artifacts.
    let listed = gantry(&data, &["artifacts", "list", &later]);
    assert!(!listed.contains("earlier"), "{listed}");
    let listed = gantry(&data, &["artifacts", "list", &earlier]);
    assert!(
        listed.contains("earlier-sums") && listed.contains("earlier "),
        "{listed}"
    );

    // `gantry artifacts download` writes the zip the upload made; `rm` deletes one by name.
    let out = work.path().join("zips");
    std::fs::create_dir_all(&out).unwrap();
    let dir = out.display().to_string();
    let saved = gantry(
        &data,
        &[
            "artifacts",
            "download",
            &earlier,
            "--name",
            "earlier-sums",
            "-o",
            &dir,
        ],
    );
    assert!(saved.contains("earlier-sums.zip"), "{saved}");
    let zip = std::fs::read(out.join("earlier-sums.zip")).unwrap();
    assert!(zip.starts_with(b"PK"), "not a zip");
    let removed = gantry(
        &data,
        &["artifacts", "rm", &earlier, "--name", "earlier-sums"],
    );
    assert!(
        removed.contains("deleted artifact `earlier-sums`"),
        "{removed}"
    );
    let listed = gantry(&data, &["artifacts", "list", &earlier]);
    assert!(!listed.contains("earlier-sums"), "{listed}");
    assert!(listed.contains("earlier "), "{listed}");
}
