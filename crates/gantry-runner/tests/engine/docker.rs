//! A representative subset of the fixtures, plus the Docker-only ones in `fixtures/docker/`,
//! on the real `DockerExecutor` with `gantry/runner:bookworm` (built offline by
//! `scripts/build-images.sh` when missing). Every run must leave nothing labelled with its id.

use std::process::Command;
use std::sync::Arc;

use gantry_docker::{Docker, DockerExecutor, list_managed};

use crate::fixtures::{Backend, fixture_dir, fixture_files_in, run_fixture};

pub(crate) const RUNNER_IMAGE: &str = "gantry/runner:bookworm";
const BUSYBOX: &str = "gantry/busybox:latest";
/// A service that serves one page, built offline from busybox.
const HTTPD: &str = "gantry-test/httpd:latest";

/// Host fixtures that exercise the engine's contract with an executor: scripts and shells,
/// file commands, masking, composite and node actions, step status and job outputs.
const SUBSET: &[&str] = &[
    "commands.yml",
    "composite.yml",
    "env_files.yml",
    "masking.yml",
    "needs_outputs.yml",
    "node_actions.yml",
    "step_status.yml",
];

fn build_images(script_arg: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/build-images.sh");
    let ok = Command::new(script)
        .arg(script_arg)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{script} {script_arg} failed");
}

fn build_httpd() {
    let dockerfile = format!(
        "FROM {BUSYBOX}\nCMD [\"sh\", \"-c\", \"echo hello-from-$SERVICE_NAME > /var/www/index.html && exec httpd -f -p 8080 -h /var/www\"]\n"
    );
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", HTTPD, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "docker build of {HTTPD} failed"
    );
}

pub(crate) async fn engine() -> Docker {
    let docker = Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .expect("docker engine (run scripts/ensure-docker.sh)");
    if docker.inspect_image(BUSYBOX).await.is_err() {
        build_images("--only=busybox");
    }
    if docker.inspect_image(RUNNER_IMAGE).await.is_err() {
        build_images("--only=runner");
    }
    if docker.inspect_image(HTTPD).await.is_err() {
        build_httpd();
    }
    docker
}

/// Removes every container, network and volume labelled with a run id when dropped, so a test
/// that fails half-way (a panicking fixture, a leak it reports) leaves nothing on the engine.
/// Blocking: a panic tears the test's runtime down first.
pub(crate) struct RunObjects(pub String);

impl Drop for RunObjects {
    fn drop(&mut self) {
        let _ = gantry_docker::clean_blocking(&gantry_docker::Selection::Run(self.0.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_run_on_docker() {
    let docker = engine().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run_id = format!("e2e-{}-{nanos}", std::process::id());
    let _objects = RunObjects(run_id.clone());
    let backend = Backend::Docker {
        executor: Arc::new(DockerExecutor::with_client(docker.clone())),
        image: RUNNER_IMAGE.into(),
        run_id: run_id.clone(),
    };
    let dir = fixture_dir();
    let mut files: Vec<_> = SUBSET.iter().map(|name| dir.join(name)).collect();
    let docker_only = fixture_files_in(&dir.join("docker"));
    assert!(docker_only.len() >= 3, "docker fixtures are missing");
    files.extend(docker_only);
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for f in run_fixture(file, &backend).await {
            failures.push(format!("{name}: {f}"));
        }
    }
    let left = list_managed(&docker, Some(&run_id)).await.unwrap();
    assert!(left.is_empty(), "run {run_id} left {left:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
