//! Shared harness: an executor of either kind, job specs, and output collection.

use std::process::Command;
use std::time::Duration;

use gantry_docker::{
    Docker, DockerExecutor, HostExecutor, Selection, clean_blocking, list_managed,
};
use gantry_runner::executor::{
    ExecRequest, Executor, ExitStatus, JobEnvironment, JobSpec, Platform, Stream,
};
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const BUSYBOX: &str = "gantry/busybox:latest";

/// The job image for behaviour tests: busybox, or `GANTRY_TEST_IMAGE` to run the same tests on
/// another image (e.g. `gantry/runner:bookworm`, whose `sh` is dash).
pub fn job_image() -> String {
    std::env::var("GANTRY_TEST_IMAGE").unwrap_or_else(|_| BUSYBOX.to_string())
}

/// The engine, with the test image present (built offline on first use).
pub async fn docker() -> Docker {
    let docker = Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .expect("docker engine (run scripts/ensure-docker.sh)");
    if docker.inspect_image(BUSYBOX).await.is_err() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/build-images.sh");
        let ok = Command::new(script)
            .arg("--only=busybox")
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{BUSYBOX} is missing and {script} --only=busybox failed"
        );
    }
    docker
}

pub enum Kind {
    Docker(Docker),
    Host(tempfile::TempDir),
}

pub struct Harness {
    pub executor: Box<dyn Executor>,
    pub kind: Kind,
    pub run_id: String,
}

impl Harness {
    pub async fn docker() -> Self {
        let docker = docker().await;
        Self {
            executor: Box::new(DockerExecutor::with_client(docker.clone())),
            kind: Kind::Docker(docker),
            run_id: format!("test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn host() -> Self {
        let base = tempfile::tempdir().unwrap();
        Self {
            executor: Box::new(HostExecutor::new(base.path())),
            kind: Kind::Host(base),
            run_id: format!("test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn spec(&self) -> JobSpec {
        JobSpec {
            run_id: self.run_id.clone(),
            job_key: "job".into(),
            platform: match self.kind {
                Kind::Docker(_) => Platform::Image(job_image()),
                Kind::Host(_) => Platform::Host,
            },
            container: None,
            services: IndexMap::new(),
            workspace_source: None,
            repository: "octo/hello".into(),
            docker_socket: false,
            keep: false,
        }
    }

    pub async fn start(&self) -> Box<dyn JobEnvironment> {
        self.executor.start_job(self.spec()).await.unwrap()
    }

    /// What this run left: containers/networks/volumes by label, or job directories.
    pub async fn leftovers(&self) -> Vec<String> {
        match &self.kind {
            Kind::Docker(d) => {
                let m = list_managed(d, Some(&self.run_id)).await.unwrap();
                m.containers
                    .into_iter()
                    .chain(m.networks)
                    .chain(m.volumes)
                    .collect()
            }
            Kind::Host(base) => std::fs::read_dir(base.path())
                .unwrap()
                .map(|e| e.unwrap().path().display().to_string())
                .collect(),
        }
    }

    pub async fn assert_clean(&self) {
        assert_eq!(
            self.leftovers().await,
            Vec::<String>::new(),
            "leftovers of run {}",
            self.run_id
        );
    }

    /// Removal after a dropped job runs in the background: poll (bounded) until it is done.
    pub async fn assert_clean_eventually(&self) {
        for _ in 0..100 {
            if self.leftovers().await.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.assert_clean().await;
    }
}

/// Whatever a test ends with (a failed assertion too), nothing labelled with its run id stays
/// on the engine. The executor's own cleanup of a dropped job runs on the test's runtime, which
/// a panicking test tears down before that cleanup is done; this one blocks until it is.
impl Drop for Harness {
    fn drop(&mut self) {
        if let Kind::Docker(_) = self.kind {
            let _ = clean_blocking(&Selection::Run(self.run_id.clone()));
        }
    }
}

#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub chunks: usize,
}

impl Output {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

pub fn request(env: &dyn JobEnvironment, script: &str) -> ExecRequest {
    ExecRequest {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: IndexMap::new(),
        workdir: env.paths().workspace.clone(),
        cancel: CancellationToken::new(),
    }
}

pub async fn run_request(env: &dyn JobEnvironment, req: ExecRequest) -> (ExitStatus, Output) {
    let (tx, mut rx) = mpsc::channel::<gantry_runner::executor::OutputChunk>(4);
    let collect = tokio::spawn(async move {
        let mut out = Output::default();
        while let Some(chunk) = rx.recv().await {
            out.chunks += 1;
            match chunk.stream {
                Stream::Stdout => out.stdout.extend(chunk.bytes),
                Stream::Stderr => out.stderr.extend(chunk.bytes),
            }
        }
        out
    });
    let status = env.exec(req, tx).await.unwrap();
    (status, collect.await.unwrap())
}

pub async fn sh(env: &dyn JobEnvironment, script: &str) -> (ExitStatus, Output) {
    run_request(env, request(env, script)).await
}

pub fn workspace_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "alpha\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.txt"), "beta\n").unwrap();
    std::os::unix::fs::symlink("a.txt", dir.path().join("link")).unwrap();
    dir
}
