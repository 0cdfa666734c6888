//! A minimal host executor for these tests: real processes in a temporary directory per job.
//! (`gantry-docker`'s `HostExecutor` is the product one; this keeps the runner's tests free of
//! the Docker crate's build.)

use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use gantry_runner::executor::{
    ExecRequest, Executor, ExecutorError, ExitStatus, JobEnvironment, JobPaths, JobSpec,
    OutputChunk, Stream,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;

pub struct TestHost {
    pub root: tempfile::TempDir,
}

impl TestHost {
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }
}

fn io(context: &str, source: std::io::Error) -> ExecutorError {
    ExecutorError::Io {
        context: context.to_owned(),
        source,
    }
}

#[async_trait]
impl Executor for TestHost {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let root = self.root.path().join(&spec.job_key);
        let paths = JobPaths {
            workspace: root.join("work/repo").display().to_string(),
            temp: root.join("temp").display().to_string(),
            tool_cache: root.join("tool").display().to_string(),
            home: root.join("home").display().to_string(),
        };
        for dir in [
            &paths.workspace,
            &paths.temp,
            &paths.tool_cache,
            &paths.home,
        ] {
            std::fs::create_dir_all(dir).map_err(|e| io("mkdir", e))?;
        }
        if let Some(src) = &spec.workspace_source {
            copy(src, Path::new(&paths.workspace)).map_err(|e| io("copy", e))?;
        }
        Ok(Box::new(TestJob { root, paths }))
    }
}

fn copy(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), to)?;
        }
    }
    Ok(())
}

struct TestJob {
    root: PathBuf,
    paths: JobPaths,
}

async fn pump(mut pipe: impl AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<OutputChunk>) {
    let mut buf = vec![0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let _ = tx
            .send(OutputChunk {
                stream,
                bytes: buf[..n].to_vec(),
            })
            .await;
    }
}

#[async_trait]
impl JobEnvironment for TestJob {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        let mut env = request.env.clone();
        if !env.contains_key("PATH") {
            env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        }
        let mut child = Command::new(&request.argv[0])
            .args(&request.argv[1..])
            .env_clear()
            .envs(&env)
            .current_dir(&request.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|e| io(&format!("starting {}", request.argv[0]), e))?;
        let out = tokio::spawn(pump(
            child.stdout.take().unwrap(),
            Stream::Stdout,
            output.clone(),
        ));
        let err = tokio::spawn(pump(child.stderr.take().unwrap(), Stream::Stderr, output));
        let status = tokio::select! {
            status = child.wait() => Some(status.map_err(|e| io("wait", e))?),
            () = request.cancel.cancelled() => None,
        };
        let Some(status) = status else {
            // The whole process group (the shell and whatever it started); never a pid that
            // could name "every process" (`-1`) or our own group (`0`).
            if let Some(pid) = child.id().filter(|p| *p > 1) {
                // The shell's `kill` builtin: procps' `kill` binary rejects `-- -PGID`.
                let _ = std::process::Command::new("sh")
                    .args(["-c", "kill -s KILL -- \"-$1\"", "sh", &pid.to_string()])
                    .status();
            }
            let _ = child.start_kill();
            let _ = child.wait().await;
            out.abort();
            err.abort();
            return Ok(ExitStatus::Cancelled);
        };
        let _ = out.await;
        let _ = err.await;
        Ok(ExitStatus::Code(status.code().unwrap_or(-1)))
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        if let Some(parent) = Path::new(path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("mkdir", e))?;
        }
        std::fs::write(path, contents).map_err(|e| io(path, e))
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path, e)),
        }
    }

    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        gantry_runner::executor::read_local_within(Path::new(path), limit)
    }

    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        let path = std::env::var("PATH").unwrap_or_default();
        Ok(path
            .split(':')
            .any(|d| Path::new(d).join(program).is_file()))
    }

    async fn cleanup(&self) -> Result<(), ExecutorError> {
        let _ = std::fs::remove_dir_all(&self.root);
        Ok(())
    }
}
