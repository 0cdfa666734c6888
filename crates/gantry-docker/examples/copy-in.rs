//! Times `copy_in` of a directory into a fresh job, three ways: the trait's default (a file at a
//! time through `write_file`), the executor's override (Docker: one tar upload through the
//! engine; host: a plain copy), and, for Docker, a host copy into the bind-mounted RUNNER_TEMP
//! followed by `cp -a` in the container. Prints milliseconds per way.
//!
//! usage: copy-in SOURCE_DIR [IMAGE|host]

use std::path::Path;
use std::time::Instant;

use async_trait::async_trait;
use gantry_docker::{DockerExecutor, HostExecutor};
use gantry_runner::executor::{
    ExecRequest, Executor, ExecutorError, ExitStatus, JobEnvironment, JobPaths, JobSpec,
    OutputChunk, Platform,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Delegates everything but `copy_in`, so the trait's default runs.
struct Plain<'a>(&'a dyn JobEnvironment);

#[async_trait]
impl JobEnvironment for Plain<'_> {
    fn paths(&self) -> &JobPaths {
        self.0.paths()
    }
    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        self.0.exec(request, output).await
    }
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        self.0.write_file(path, contents).await
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        self.0.read_file(path).await
    }
    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        self.0.read_file_within(path, limit).await
    }
    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        self.0.has_program(program).await
    }
    async fn cleanup(&self) -> Result<(), ExecutorError> {
        self.0.cleanup().await
    }
}

async fn sh(env: &dyn JobEnvironment, script: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut rx) = mpsc::channel(16);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let request = ExecRequest {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: Default::default(),
        workdir: "/".into(),
        cancel: CancellationToken::new(),
    };
    let status = env.exec(request, tx).await?;
    drain.await?;
    if status != ExitStatus::Code(0) {
        return Err(format!("`{script}` ended with {status:?}").into());
    }
    Ok(())
}

fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = Path::new(
        args.first()
            .ok_or("usage: copy-in SOURCE_DIR [IMAGE|host]")?,
    );
    let target = args.get(1).map_or("gantry/busybox:latest", String::as_str);
    let base = tempfile::tempdir()?;
    let executor: Box<dyn Executor> = match target {
        "host" => Box::new(HostExecutor::new(base.path())),
        _ => Box::new(DockerExecutor::connect().await?),
    };
    let spec = JobSpec {
        run_id: format!("bench-copy-{}", std::process::id()),
        job_key: "copy".into(),
        platform: match target {
            "host" => Platform::Host,
            image => Platform::Image(image.into()),
        },
        container: None,
        services: Default::default(),
        workspace_source: None,
        repository: "gantry/bench".into(),
        docker_socket: false,
        keep: false,
    };
    let env = executor.start_job(spec).await?;
    let ws = env.paths().workspace.clone();
    let t = Instant::now();
    Plain(env.as_ref())
        .copy_in(source, &format!("{ws}/default"))
        .await?;
    println!("default (file by file): {} ms", t.elapsed().as_millis());
    let t = Instant::now();
    env.copy_in(source, &format!("{ws}/override")).await?;
    println!("override: {} ms", t.elapsed().as_millis());
    if target != "host" {
        // The bind-mounted RUNNER_TEMP is only reachable from this process through its host
        // path, which the executor does not expose: find it via the mount table of the agent.
        let t = Instant::now();
        let staging = format!("{}/stage", env.paths().temp);
        let host_temp = host_temp_dir(env.as_ref()).await?;
        copy_dir(source, &Path::new(&host_temp).join("stage"))?;
        sh(
            env.as_ref(),
            &format!("cp -a {staging} {ws}/agent-cp && rm -rf {staging}"),
        )
        .await?;
        println!("host copy + agent cp -a: {} ms", t.elapsed().as_millis());
    }
    env.cleanup().await?;
    Ok(())
}

/// The host directory behind RUNNER_TEMP: written by a marker file and found under /tmp.
async fn host_temp_dir(env: &dyn JobEnvironment) -> Result<String, Box<dyn std::error::Error>> {
    let marker = format!("marker-{}", std::process::id());
    env.write_file(&format!("{}/{marker}", env.paths().temp), b"")
        .await?;
    for entry in std::fs::read_dir(std::env::temp_dir())? {
        let candidate = entry?.path().join("work/_temp");
        if candidate.join(&marker).exists() {
            return Ok(candidate.display().to_string());
        }
    }
    Err("RUNNER_TEMP's host directory not found".into())
}
