//! A running Docker job: steps go to the in-container agent over the attached stdin.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures::{Stream, StreamExt, TryStreamExt};
use gantry_runner::executor::{
    CANCEL_GRACE, ContainerStepRequest, ExecRequest, ExecutorError, ExitStatus, JobContainers,
    JobEnvironment, JobPaths, OutputChunk, Stream as Out, read_local_within,
};
use std::collections::HashMap;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::agent::{MarkerScanner, request_message, request_script};
use crate::docker::{HostDir, WORK_ROOT};
use crate::resources::{ResourceGuard, remove_container};
use crate::{engine_error, io_error, tarball};

/// How long a killed step may take to report its end before the agent is presumed dead.
const KILL_WAIT: Duration = Duration::from_secs(10);

type Input = Pin<Box<dyn AsyncWrite + Send>>;
type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// The attached stdin/stdout of the agent. One step at a time: the lock around it serialises
/// `exec`s.
pub(crate) struct Agent {
    input: Input,
    output: Output,
    /// A step whose `exec` future was dropped before its end marker arrived: killed and
    /// drained before the next step, so its output cannot leak into the next one.
    in_flight: Option<InFlight>,
}

impl Agent {
    pub(crate) fn new(input: Input, output: Output) -> Self {
        Self {
            input,
            output,
            in_flight: None,
        }
    }
}

pub(crate) struct DockerJob {
    pub(crate) docker: Docker,
    container: String,
    pub(crate) paths: JobPaths,
    agent: Mutex<Agent>,
    pub(crate) host_dir: HostDir,
    pub(crate) guard: ResourceGuard,
    /// Who owns the workspace (the container's user): `copy_in` archives with it.
    owner: tarball::Owner,
    /// How files gantry writes for the container's user are handed to it.
    access: Access,
    /// The job container's network mode; step containers join it.
    pub(crate) network: String,
    containers: JobContainers,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) docker_socket: bool,
}

/// A started job container, before it becomes a [`DockerJob`].
pub(crate) struct Started {
    pub container: String,
    pub paths: JobPaths,
    pub agent: Agent,
    pub host_dir: HostDir,
    pub owner: tarball::Owner,
    pub network: String,
    pub containers: JobContainers,
    pub labels: HashMap<String, String>,
    pub docker_socket: bool,
}

/// The end-marker scanners of the step the agent is running. They live in [`Agent`], not in
/// the `exec` future, so a future dropped half-way leaves an accurate picture for the drain.
struct InFlight {
    out: MarkerScanner,
    err: MarkerScanner,
}

impl InFlight {
    fn new(nonce: &str) -> Self {
        Self {
            out: MarkerScanner::new(nonce),
            err: MarkerScanner::new(nonce),
        }
    }

    fn finished(&self) -> Option<i32> {
        self.err.finished().and(self.out.finished())
    }
}

/// How one step's output loop behaves.
struct StepWait<'a> {
    sink: Option<&'a mpsc::Sender<OutputChunk>>,
    cancel: CancellationToken,
    /// Draining a step that was already sent `KILL`: give up after [`KILL_WAIT`].
    killed: bool,
}

impl DockerJob {
    pub(crate) fn new(docker: Docker, started: Started, guard: ResourceGuard) -> Self {
        Self {
            docker,
            container: started.container,
            paths: started.paths,
            agent: Mutex::new(started.agent),
            host_dir: started.host_dir,
            guard,
            access: Access::for_user(started.owner),
            owner: started.owner,
            network: started.network,
            containers: started.containers,
            labels: started.labels,
            docker_socket: started.docker_socket,
        }
    }

    pub(crate) fn container_id(&self) -> &str {
        &self.container
    }

    /// The host path behind a step path inside the bind-mounted `RUNNER_TEMP`, if it is one.
    fn temp_path(&self, path: &str) -> Option<PathBuf> {
        under(path, &self.paths.temp, &self.host_dir.temp())
    }

    /// The host path behind a step path inside the bind-mounted work root (`/__w`).
    pub(crate) fn work_path(&self, path: &str) -> Option<PathBuf> {
        under(path, WORK_ROOT, &self.host_dir.work())
    }

    async fn signal(&self, signal: &str) -> Result<(), ExecutorError> {
        let opts = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(&self.container, Some(opts))
            .await
            .map_err(|e| engine_error("signalling the job container", e))
    }

    /// Sends one request to the agent and streams its output until both end markers arrive.
    async fn run(
        &self,
        request: &ExecRequest,
        sink: Option<&mpsc::Sender<OutputChunk>>,
    ) -> Result<ExitStatus, ExecutorError> {
        let mut agent = self.agent.lock().await;
        if agent.in_flight.is_some() {
            // An earlier `exec` future was dropped mid-step: stop that step and eat its output.
            self.signal("USR2").await?;
            let wait = StepWait {
                sink: None,
                cancel: CancellationToken::new(),
                killed: true,
            };
            self.pump(&mut agent, &wait).await?;
        }
        let env: Vec<(String, String)> = request
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The step's environment (secrets too) travels over stdin only, never through a file.
        let script = request_script(&request.argv, &env, &request.workdir);
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let line = request_message(&nonce, &script);
        agent.in_flight = Some(InFlight::new(&nonce));
        let sent = async {
            agent.input.write_all(line.as_bytes()).await?;
            agent.input.flush().await
        }
        .await;
        sent.map_err(|e| io_error("sending the step to the job container", e))?;
        let wait = StepWait {
            sink,
            cancel: request.cancel.clone(),
            killed: false,
        };
        self.pump(&mut agent, &wait).await
    }

    /// Reads the attach stream for one step: forwards output, handles cancellation (TERM, then
    /// KILL after [`CANCEL_GRACE`]), returns when both streams carried the end marker.
    async fn pump(
        &self,
        agent: &mut Agent,
        wait: &StepWait<'_>,
    ) -> Result<ExitStatus, ExecutorError> {
        let Agent {
            output, in_flight, ..
        } = agent;
        let Some(flight) = in_flight.as_mut() else {
            return Err(ExecutorError::Other(
                "no step is running in the job container".into(),
            ));
        };
        let mut cancelled = false;
        let mut killed = wait.killed;
        let mut deadline = killed.then(|| tokio::time::Instant::now() + KILL_WAIT);
        loop {
            if let Some(code) = flight.finished() {
                *in_flight = None;
                return Ok(if cancelled {
                    ExitStatus::Cancelled
                } else {
                    ExitStatus::Code(code)
                });
            }
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                item = output.next() => {
                    let (stream, bytes) = match item {
                        Some(Ok(LogOutput::StdOut { message })) => (Out::Stdout, flight.out.push(&message)),
                        Some(Ok(LogOutput::StdErr { message })) => (Out::Stderr, flight.err.push(&message)),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(engine_error("reading step output", e)),
                        None => return Err(ExecutorError::Other("the job container's agent exited".into())),
                    };
                    if let (Some(sink), false) = (wait.sink, bytes.is_empty()) {
                        // A closed receiver means nobody wants the output; the step still runs.
                        let _ = sink.send(OutputChunk { stream, bytes }).await;
                    }
                }
                _ = wait.cancel.cancelled(), if !cancelled && !killed => {
                    cancelled = true;
                    self.signal("USR1").await?;
                    deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    if killed {
                        return Err(ExecutorError::Other("a cancelled step did not stop; the job container is stuck".into()));
                    }
                    killed = true;
                    self.signal("USR2").await?;
                    deadline = Some(tokio::time::Instant::now() + KILL_WAIT);
                }
            }
        }
    }

    async fn upload_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        let archive = tarball::single_file(path, contents)?;
        self.upload_archive(archive, &format!("writing {path} into the job container"))
            .await
    }

    async fn download_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let body: Result<Vec<bytes::Bytes>, _> = self
            .docker
            .download_from_container(&self.container, Some(opts))
            .try_collect()
            .await;
        match body {
            Ok(parts) => tarball::first_file(&parts.concat(), path),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(engine_error(
                &format!("reading {path} from the job container"),
                e,
            )),
        }
    }

    /// [`DockerJob::download_file`] of at most `limit` bytes: the engine's archive stream is
    /// dropped once it holds more than the file may (plus the tar headers), so a huge file in
    /// the container is never buffered whole.
    async fn download_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        // Headers (a PAX record for a long name included) and the padding of one file.
        const TAR_OVERHEAD: u64 = 64 * 1024;
        let too_large = |size: String| ExecutorError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        };
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(&self.container, Some(opts));
        let mut archive = Vec::new();
        while let Some(part) = stream.next().await {
            match part {
                Ok(bytes) => archive.extend_from_slice(&bytes),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(None),
                Err(e) => {
                    return Err(engine_error(
                        &format!("reading {path} from the job container"),
                        e,
                    ));
                }
            }
            if archive.len() as u64 > limit + TAR_OVERHEAD {
                return Err(too_large("more".to_owned()));
            }
        }
        match tarball::first_file(&archive, path)? {
            Some(data) if data.len() as u64 > limit => {
                Err(too_large(format!("{} bytes", data.len())))
            }
            data => Ok(data),
        }
    }

    /// Files a root step created in the bind-mounted temp directory may not be deletable by a
    /// non-root gantry; open them up before the directory is removed.
    async fn release_temp(&self) {
        if running_as_root() {
            return;
        }
        let req = ExecRequest {
            argv: vec![
                "chmod".into(),
                "-R".into(),
                "a+rwX".into(),
                WORK_ROOT.into(),
                self.paths.home.clone(),
            ],
            env: Default::default(),
            workdir: "/".into(),
            cancel: CancellationToken::new(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), self.run(&req, None)).await;
    }
}

/// Writes a file under RUNNER_TEMP's host directory without following links a step planted
/// there (they could point at any file of this machine); `false` when the parent directory
/// leads out of `root`.
fn write_confined(
    root: &Path,
    host: &Path,
    data: &[u8],
    access: Access,
) -> Result<bool, ExecutorError> {
    create_parents(root, host, access)?;
    let ctx = |e| io_error(format!("writing {}", host.display()), e);
    let (Some(parent), Some(name)) = (host.parent(), host.file_name()) else {
        return Ok(false);
    };
    let real_root = root.canonicalize().map_err(ctx)?;
    let real_parent = parent.canonicalize().map_err(ctx)?;
    if !real_parent.starts_with(&real_root) {
        return Ok(false);
    }
    let target = real_parent.join(name);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(&target).map_err(ctx)?;
    }
    // Steps append to file-command files: they belong to the container user, and only to it.
    access.write_new(&target, data)?;
    Ok(true)
}

/// Where a host path under the work root really points.
enum Confined {
    /// Inside the work root: safe to read on this machine.
    Inside(PathBuf),
    /// Nothing there (not even a dangling link).
    Missing,
    /// A symlink leading out of the work root (or one this machine cannot resolve).
    Elsewhere,
}

impl DockerJob {
    /// Unpacks a tar `archive` (paths absolute inside it) at the job container's root;
    /// `doing` names the operation in the error.
    async fn upload_archive(&self, archive: Vec<u8>, doing: &str) -> Result<(), ExecutorError> {
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(
                &self.container,
                Some(opts),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(|e| engine_error(doing, e))
    }

    /// Steps can plant symlinks in the bind-mounted work root (`/etc/shadow`, ...): reading
    /// through them on the host would leak this machine's files, so only paths that stay inside
    /// the work root are read directly.
    async fn confined(&self, host: &Path) -> Confined {
        let Ok(root) = tokio::fs::canonicalize(self.host_dir.work()).await else {
            return Confined::Elsewhere;
        };
        match tokio::fs::canonicalize(host).await {
            Ok(real) if real.starts_with(&root) => Confined::Inside(real),
            Ok(_) => Confined::Elsewhere,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && tokio::fs::symlink_metadata(host).await.is_err() =>
            {
                Confined::Missing
            }
            Err(_) => Confined::Elsewhere,
        }
    }
}

/// `path` (as steps see it) below `prefix`, mapped onto the host directory `host`.
fn under(path: &str, prefix: &str, host: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(prefix)?;
    if !rel.is_empty() && !rel.starts_with('/') {
        return None;
    }
    Some(host.join(rel.trim_start_matches('/')))
}

/// Whether gantry itself runs as root (then it can delete anything a container left).
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Creates missing parents of a temp file, for the container user.
fn create_parents(root: &Path, file: &Path, access: Access) -> Result<(), ExecutorError> {
    let Some(parent) = file.parent() else {
        return Ok(());
    };
    if parent.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(parent)
        .map_err(|e| io_error(format!("creating {}", parent.display()), e))?;
    let mut dir = parent;
    while dir != root {
        access.dir(dir)?;
        dir = match dir.parent() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(())
}

#[async_trait]
impl JobEnvironment for DockerJob {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        if request.cancel.is_cancelled() {
            return Ok(ExitStatus::Cancelled);
        }
        self.run(&request, Some(&output)).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        tarball::check_step_path(path)?;
        let Some(host) = self.temp_path(path) else {
            return self.upload_file(path, contents).await;
        };
        let root = self.host_dir.temp();
        let (data, access) = (contents.to_vec(), self.access);
        let written =
            tokio::task::spawn_blocking(move || write_confined(&root, &host, &data, access))
                .await
                .map_err(|e| ExecutorError::Other(format!("writing {path}: {e}")))??;
        if written {
            return Ok(());
        }
        // A step linked a directory out of RUNNER_TEMP: let the engine resolve it inside.
        self.upload_file(path, contents).await
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        tarball::check_step_path(path)?;
        let Some(host) = self.work_path(path) else {
            return self.download_file(path).await;
        };
        let host = match self.confined(&host).await {
            Confined::Inside(real) => real,
            Confined::Missing => return Ok(None),
            // A link out of the work root means a path inside the container, not on this host.
            Confined::Elsewhere => return self.download_file(path).await,
        };
        match tokio::fs::read(&host).await {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // A file a root step created with mode 0600: ask the engine instead.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                self.download_file(path).await
            }
            Err(e) => Err(io_error(format!("reading {path}"), e)),
        }
    }

    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        tarball::check_step_path(path)?;
        let Some(host) = self.work_path(path) else {
            return self.download_file_within(path, limit).await;
        };
        let host = match self.confined(&host).await {
            Confined::Inside(real) => real,
            Confined::Missing => return Ok(None),
            Confined::Elsewhere => return self.download_file_within(path, limit).await,
        };
        let read = tokio::task::spawn_blocking(move || read_local_within(&host, limit))
            .await
            .map_err(|e| ExecutorError::Other(format!("reading {path}: {e}")))?;
        match read {
            // A file a root step created with mode 0600: ask the engine instead.
            Err(ExecutorError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                self.download_file_within(path, limit).await
            }
            read => read,
        }
    }

    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        let req = ExecRequest {
            argv: vec![
                "sh".into(),
                "-c".into(),
                r#"command -v "$1" >/dev/null 2>&1"#.into(),
                "sh".into(),
                program.into(),
            ],
            env: Default::default(),
            workdir: "/".into(),
            cancel: CancellationToken::new(),
        };
        Ok(self.run(&req, None).await? == ExitStatus::Code(0))
    }

    /// One tar upload through the engine (with the container user as owner), instead of a file
    /// at a time.
    async fn copy_in(&self, source: &Path, dest: &str) -> Result<(), ExecutorError> {
        tarball::check_step_path(dest)?;
        let (source, target, owner) = (source.to_path_buf(), dest.to_string(), self.owner);
        let archive = tokio::task::spawn_blocking(move || {
            tarball::tree_at(Vec::new(), &source, &target, owner)
        })
        .await
        .map_err(|e| ExecutorError::Other(format!("archiving for {dest}: {e}")))??;
        self.upload_archive(archive, &format!("copying into {dest}"))
            .await
    }

    async fn run_container(
        &self,
        request: ContainerStepRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        crate::step_container::run(self, request, output).await
    }

    async fn build_image(&self, context: &str, dockerfile: &str) -> Result<String, ExecutorError> {
        crate::step_container::build(self, context, dockerfile).await
    }

    async fn external_node(&self, major: &str) -> Result<Option<String>, ExecutorError> {
        DockerJob::external_node(self, major).await
    }

    fn containers(&self) -> JobContainers {
        self.containers.clone()
    }

    async fn interactive_shell(
        &self,
        request: &gantry_runner::debugger::ShellRequest,
        size: gantry_runner::interactive::TermSize,
    ) -> Result<gantry_runner::interactive::ShellSession, ExecutorError> {
        crate::interactive::docker_shell(&self.docker, &self.container, request, size).await
    }

    fn local_workspace(&self) -> Option<PathBuf> {
        self.work_path(&self.paths.workspace)
    }

    async fn host_directory(&self, path: &str) -> Option<gantry_runner::executor::HostDirectory> {
        // Only a directory that really lies inside the work root: steps may have planted
        // symlinks there, and following one would write elsewhere on this machine.
        let host = self.work_path(path)?;
        let Confined::Inside(real) = self.confined(&host).await else {
            return None;
        };
        let (uid, gid) = self.owner;
        Some(gantry_runner::executor::HostDirectory {
            path: real,
            owner: Some((u32::try_from(uid).ok()?, u32::try_from(gid).ok()?)),
        })
    }

    async fn cleanup(&self) -> Result<(), ExecutorError> {
        if self.guard.keeps() {
            return Ok(());
        }
        self.release_temp().await;
        // Remove the job container first so the agent lets go of the bind mounts, then the rest.
        let removed = remove_container(&self.docker, &self.container).await;
        let rest = self.guard.release().await;
        removed.and(rest)
    }
}
