//! The reference workflows end to end, offline. NEEDS DOCKER and gantry's images (started and
//! built by the project's scripts when missing, as `run_docker` does); part of the normal suite.
//!
//! - `workflows-examples/release-package`: GitHub's "Node.js Package" workflow; `build` and
//!   `publish-gpr` pass, then the published package installs with npm from the same registry.
//! - `workflows-examples/container-package`: GitHub's "Publishing Docker images" workflow,
//!   pushing to gantry's registry through the Docker socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::packages::{Served, npm, npmrc};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts Docker and builds gantry's images (with the docker CLI in the runner image) when
/// missing; the script is idempotent and quick when everything is there.
pub(crate) fn images_ready() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        for script in ["ensure-docker.sh", "build-images.sh"] {
            let status = Command::new("bash")
                .arg(root().join("scripts").join(script))
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "scripts/{script} failed");
        }
    });
}

/// A fresh git repository holding `example`, committed and tagged `v1.0.0`, whose origin is
/// github.com/gantry-examples/<example> (so `github.repository_owner` is `gantry-examples`).
fn example_repo(example: &str, into: &Path) {
    copy_example(example, into);
    commit_example(example, into);
}

fn copy_example(example: &str, into: &Path) {
    let copied = Command::new("cp")
        .arg("-a")
        .arg(root().join("workflows-examples").join(example).join("."))
        .arg(into)
        .status()
        .unwrap();
    assert!(copied.success());
}

/// Commits and tags what `repo` holds, with the origin of [`example_repo`].
fn commit_example(example: &str, repo: &Path) {
    let origin = format!("https://github.com/gantry-examples/{example}.git");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "example"],
        &["tag", "v1.0.0"],
        &["remote", "add", "origin", &origin],
    ] {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=Gantry Test",
                "-c",
                "user.email=t@gantry.invalid",
            ])
            .args(args)
            .current_dir(repo)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

/// `gantry run EVENT ARGS` in `repo` with the registry data in `data`; asserts success.
pub(crate) fn gantry_run(repo: &Path, data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never", "run"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .current_dir(repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "gantry run failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub(crate) fn gantry(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn release_package_builds_publishes_and_installs_offline() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data, consumer) = (
        work.path().join("repo"),
        work.path().join("data"),
        work.path().join("consumer"),
    );
    for dir in [&repo, &consumer] {
        std::fs::create_dir_all(dir).unwrap();
    }
    example_repo("release-package", &repo);
    let stdout = gantry_run(&repo, &data, &["release"]);
    assert!(stdout.contains("[build] job build succeeded"), "{stdout}");
    assert!(
        stdout.contains("[publish-gpr] job publish-gpr succeeded"),
        "{stdout}"
    );

    assert_eq!(
        gantry(&data, &["packages", "list"]),
        "npm        @gantry-examples/release-package  private  1 version\n"
    );
    let served = Served::start(&data);
    let reader = gantry(
        &data,
        &[
            "packages",
            "token",
            "create",
            "--owner",
            "gantry-examples",
            "--scopes",
            "read",
        ],
    );
    let rc = npmrc("gantry-examples", &served.addr, reader.trim());
    std::fs::write(consumer.join(".npmrc"), rc).unwrap();
    std::fs::write(
        consumer.join("package.json"),
        r#"{"name": "consumer", "private": true}"#,
    )
    .unwrap();
    npm(&consumer, &["install", "@gantry-examples/release-package"]);
    let node = Command::new("node")
        .args([
            "-e",
            "const v = require('@gantry-examples/release-package'); \
             console.log(['1.10.0', '1.2.0'].sort(v.compareVersions).join(' '))",
        ])
        .current_dir(&consumer)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&node.stdout),
        "1.2.0 1.10.0\n",
        "{node:?}"
    );
    assert!(served.stop().success());
    assert_eq!(leftovers(&repo), Vec::<String>::new());
}

/// The run id of the first run stored in `repo` (from its first event).
/// A package outside the scope setup-node configures for GitHub Packages (the repository
/// owner's) makes npm fall back to the public registry and fail with ENEEDAUTH, as on GitHub;
/// gantry's annotation names both scopes and the two fixes.
#[test]
fn release_package_in_another_scope_says_why_publish_needs_auth() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = (work.path().join("repo"), work.path().join("data"));
    std::fs::create_dir_all(&repo).unwrap();
    copy_example("release-package", &repo);
    for file in ["package.json", "package-lock.json"] {
        let path = repo.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("@gantry-examples/", "@someone-else/")).unwrap();
    }
    commit_example("release-package", &repo);
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never", "run", "release", "-j", "publish-gpr"])
        .arg("--data-dir")
        .arg(&data)
        .current_dir(&repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ENEEDAUTH"), "{stdout}");
    let errors: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Annotations:")
        .filter(|l| l.contains("] error: "))
        .collect();
    insta::assert_snapshot!(errors.join("\n"));
}

fn run_id(repo: &Path) -> Option<String> {
    let events = std::fs::read_to_string(repo.join(".gantry/runs/1/events.jsonl")).ok()?;
    let first: serde_json::Value = serde_json::from_str(events.lines().next()?).ok()?;
    first["run_id"].as_str().map(str::to_owned)
}

/// Containers, networks and volumes the run in `repo` left (by its run id label).
fn leftovers(repo: &Path) -> Vec<String> {
    let filter = format!("label=io.gantry.run-id={}", run_id(repo).unwrap());
    let mut found = Vec::new();
    for kind in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let out = Command::new("docker")
            .args(kind)
            .args(["--filter", &filter])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        found.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    found
}

/// `docker ARGS` with its own client configuration (so `docker login` leaves the user's alone),
/// `input` on stdin; asserts success and returns stdout.
fn docker(config: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("docker")
        .env("DOCKER_CONFIG", config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Removes the images a run of the container-package workflow built (labelled with its run id,
/// as the workflow does), even when the test fails.
struct BuiltImages<'a>(&'a Path);

impl Drop for BuiltImages<'_> {
    fn drop(&mut self) {
        let Some(run_id) = run_id(self.0) else {
            return;
        };
        let filter = format!("label=runnumber={run_id}");
        let listed = Command::new("docker")
            .args(["image", "ls", "-q", "--filter", &filter])
            .output();
        let ids = listed.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let mut ids: Vec<String> = ids
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // An image is listed once per tag.
        ids.sort();
        ids.dedup();
        for id in ids {
            let _ = Command::new("docker")
                .args(["image", "rm", "-f", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn container_package_builds_and_pushes_through_the_docker_socket() {
    images_ready();
    let work = tempfile::tempdir().unwrap();
    let (repo, data) = (work.path().join("repo"), work.path().join("data"));
    std::fs::create_dir_all(&repo).unwrap();
    example_repo("container-package", &repo);
    let _images = BuiltImages(&repo);
    let stdout = gantry_run(&repo, &data, &["push", "--docker-socket"]);
    assert!(stdout.contains("[push] job push succeeded"), "{stdout}");
    let shown = gantry(
        &data,
        &["packages", "show", "gantry-examples/container-package"],
    );
    assert!(
        shown.starts_with(
            "gantry-examples/container-package (container, owner gantry-examples, private)\n  sha256:"
        ),
        "{shown}"
    );
    assert!(shown.ends_with("  [latest]\n"), "{shown}");
    assert_eq!(leftovers(&repo), Vec::<String>::new());

    // Pull it back from the registry with a read token, and run it.
    let served = Served::start(&data);
    let reader = gantry(
        &data,
        &[
            "packages",
            "token",
            "create",
            "--owner",
            "gantry-examples",
            "--scopes",
            "read",
        ],
    );
    let config = work.path().join("docker-config");
    let login = ["login", &served.addr, "-u", "reader", "--password-stdin"];
    docker(&config, &login, reader.trim());
    let image = format!("{}/gantry-examples/container-package:latest", served.addr);
    docker(&config, &["pull", "-q", &image], "");
    let said = docker(&config, &["run", "--rm", "--network", "none", &image], "");
    assert_eq!(said, "hello from the container-package example\n");
    assert!(served.stop().success());
}
