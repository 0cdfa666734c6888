//! The boundary between the run engine and the place where steps execute.
//!
//! The runner decides *what* runs (scripts, environment, order); an [`Executor`] decides *where*:
//! a Docker container per job (`gantry-docker`'s bollard executor) or plain host processes (the
//! host executor beside it). Nothing above this trait knows about Docker.
//!
//! Paths handed across this boundary are paths *as the steps see them* (inside the container for
//! Docker). File commands (`GITHUB_ENV`, `GITHUB_OUTPUT`, ...) and step scripts travel through
//! [`JobEnvironment::write_file`] / [`JobEnvironment::read_file`], so an executor is free to make
//! them cheap (a bind-mounted directory) without the runner caring.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Creates one isolated environment per job.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Prepares the environment a job's steps run in: pulls nothing, creates and starts the job
    /// container (or a work directory on the host) and copies the workspace in.
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError>;
}

/// Everything an executor needs to know to set up one job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The run this job belongs to; executors put it in container labels so `gantry clean` and
    /// crash recovery can find leftovers.
    pub run_id: String,
    /// A name unique within the run (`build`, `test-3`), usable in container names.
    pub job_key: String,
    /// Where the job runs: resolved from `runs-on` through the `-P LABEL=IMAGE|host` table.
    pub platform: Platform,
    /// The job's `container:` key, when it has one (overrides the platform image).
    pub container: Option<ContainerSpec>,
    /// `services:` containers, keyed by service id.
    pub services: IndexMap<String, ContainerSpec>,
    /// A directory on this machine whose contents become the job's workspace (copied, never
    /// bind-mounted, so a job cannot change the user's checkout).
    pub workspace_source: Option<PathBuf>,
    /// The repository name (`owner/repo`), used to lay out paths the way GitHub does.
    pub repository: String,
    /// Mount the Docker socket into the job container (opt-in: `--docker-socket`).
    pub docker_socket: bool,
    /// Leave containers in place after the job (`--keep-containers`).
    pub keep: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// Run steps in a container made from this image (never pulled when present locally).
    Image(String),
    /// Run steps as processes on this machine.
    Host,
}

/// A job or service container as the workflow describes it.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image: String,
    pub env: IndexMap<String, String>,
    /// `SOURCE:TARGET[:ro]` entries.
    pub volumes: Vec<String>,
    /// `HOST:CONTAINER` port mappings (services).
    pub ports: Vec<String>,
    /// The raw `options:` string (`--cpus 1 --hostname x ...`); executors support a subset and
    /// reject the rest with a clear error.
    pub options: Option<String>,
    pub credentials: Option<(String, String)>,
}

/// Paths inside a job environment, as steps see them.
#[derive(Debug, Clone)]
pub struct JobPaths {
    /// `GITHUB_WORKSPACE`.
    pub workspace: String,
    /// `RUNNER_TEMP`: step scripts and file-command files live here.
    pub temp: String,
    /// `RUNNER_TOOL_CACHE`.
    pub tool_cache: String,
    /// `HOME` for steps.
    pub home: String,
}

/// One process to run to completion inside the job environment.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Program and arguments, already expanded (`bash --noprofile --norc -eo pipefail /tmp/x.sh`).
    pub argv: Vec<String>,
    /// The complete environment of the process (the executor adds nothing but what the platform
    /// needs, such as `PATH` when absent).
    pub env: IndexMap<String, String>,
    /// Working directory, as steps see it.
    pub workdir: String,
    /// Cancelling this token stops the process (and its children); `exec` then returns
    /// [`ExitStatus::Cancelled`]. Used for Ctrl-C and `timeout-minutes`.
    pub cancel: CancellationToken,
}

/// A piece of process output. Chunks are raw bytes cut wherever the pipe cut them: a line (or a
/// secret) may span two chunks, and consumers must cope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    /// The cancel token fired and the process was stopped.
    Cancelled,
}

/// A job directory that is also a directory of this machine ([`JobEnvironment::host_directory`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDirectory {
    pub path: PathBuf,
    /// `(uid, gid)` files written there must get (the job container's user); `None`: leave
    /// them to this process's user.
    pub owner: Option<(u32, u32)>,
}

/// A prepared job environment. Dropping it without [`JobEnvironment::cleanup`] must still not
/// leak: executors register what they create so `gantry clean` (labels) can remove it.
#[async_trait]
pub trait JobEnvironment: Send + Sync {
    fn paths(&self) -> &JobPaths;

    /// Runs one process, sending its output to `output` as it arrives, and waits for it to end.
    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError>;

    /// Writes a file (creating parent directories) at a path as steps see it.
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError>;

    /// Reads a file at a path as steps see it; `Ok(None)` when it does not exist.
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError>;

    /// Reads a file of at most `limit` bytes, as [`JobEnvironment::read_file`]; a larger one is
    /// [`ExecutorError::TooLarge`], refused by its size before its contents are read (a
    /// repository's `action.yml` can be a sparse gigabyte that costs nothing on disk).
    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError>;

    /// Whether `program` can be found on the environment's `PATH` (shell selection: `bash` or
    /// `sh` when a step names no shell).
    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError>;

    /// Copies a directory of this machine into the job environment at `dest` (as steps see it),
    /// keeping file modes and symlinks: `actions/checkout` uses it to place the repository.
    ///
    /// The default goes file by file through [`JobEnvironment::write_file`] and restores
    /// executable bits with one `chmod`; executors override it with something faster (a tar
    /// upload for Docker, a plain copy on the host).
    async fn copy_in(&self, source: &std::path::Path, dest: &str) -> Result<(), ExecutorError> {
        let mut executables = Vec::new();
        for (relative, contents, executable) in read_tree(source)? {
            let target = format!("{}/{}", dest.trim_end_matches('/'), relative);
            self.write_file(&target, &contents).await?;
            if executable {
                executables.push(target);
            }
        }
        if executables.is_empty() {
            return Ok(());
        }
        let mut argv = vec!["chmod".to_owned(), "+x".to_owned()];
        argv.extend(executables);
        let request = ExecRequest {
            argv,
            env: IndexMap::new(),
            workdir: self.paths().temp.clone(),
            cancel: CancellationToken::new(),
        };
        let (sender, _receiver) = mpsc::channel(16);
        match self.exec(request, sender).await? {
            ExitStatus::Code(0) => Ok(()),
            status => Err(ExecutorError::Other(format!(
                "could not restore executable bits under {dest}: {status:?}"
            ))),
        }
    }

    /// Runs a step container from `request.image` with the job's workspace, `HOME`, event and
    /// file-command directories mounted where GitHub mounts them ([`step_container`]), on the
    /// job's network; streams its output and removes it afterwards.
    async fn run_container(
        &self,
        request: ContainerStepRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        let _ = (request, output);
        Err(ExecutorError::Unsupported(
            "this executor cannot run step containers (`uses: docker://`, docker actions); run the job on a container platform".into(),
        ))
    }

    /// Builds an image from `dockerfile` in the directory `context` (both as steps see them)
    /// without network access; returns its tag. The image is removed with the job.
    async fn build_image(&self, context: &str, dockerfile: &str) -> Result<String, ExecutorError> {
        let _ = (context, dockerfile);
        Err(ExecutorError::Unsupported(
            "this executor cannot build images (docker actions with `image: Dockerfile`)".into(),
        ))
    }

    /// Starts `request.argv` attached to a new terminal of `size` in the job environment, with
    /// exactly `request.env` and `request.workdir`: the shell a paused run opens.
    async fn interactive_shell(
        &self,
        request: &crate::debugger::ShellRequest,
        size: crate::interactive::TermSize,
    ) -> Result<crate::interactive::ShellSession, ExecutorError> {
        let _ = (request, size);
        Err(ExecutorError::Unsupported(
            "this executor cannot open an interactive shell".into(),
        ))
    }

    /// The directory of this machine behind `path` (as steps see it) when gantry may write into
    /// it directly, with the owner its files must get: the host executor's directories, or a
    /// job container's bind-mounted work root. `None`: use [`JobEnvironment::copy_in`].
    /// `actions/checkout` writes the repository there straight from the object database.
    async fn host_directory(&self, path: &str) -> Option<HostDirectory> {
        let _ = path;
        None
    }

    /// A `node` of `major` (`20`) for a JavaScript action when the job's image has none, as
    /// GitHub's runner mounts its own node (`/__e`) into job containers: its path as steps see
    /// it, or `None` when this environment has none to offer.
    async fn external_node(&self, major: &str) -> Result<Option<String>, ExecutorError> {
        let _ = major;
        Ok(None)
    }

    /// The `job.container` / `job.services` contexts; empty for a job without containers.
    fn containers(&self) -> JobContainers {
        JobContainers::default()
    }

    /// The workspace as a directory of this machine, when it is one (the host executor's, a
    /// bind-mounted container workspace): `hashFiles` reads it directly, so it sees files the
    /// steps created.
    fn local_workspace(&self) -> Option<PathBuf> {
        None
    }

    /// Removes everything the job created (containers, networks, volumes, directories), unless
    /// the spec asked to keep them. Must be safe to call after a failed or cancelled job.
    async fn cleanup(&self) -> Result<(), ExecutorError>;
}

/// Where GitHub mounts the job's directories in a step container (`uses: docker://IMAGE` and
/// docker actions); the runner translates the step's file-command and workspace paths to these.
pub mod step_container {
    /// The job's workspace.
    pub const WORKSPACE: &str = "/github/workspace";
    /// `RUNNER_TEMP/_runner_file_commands` (`GITHUB_OUTPUT`, `GITHUB_ENV`, ...).
    pub const FILE_COMMANDS: &str = "/github/file_commands";
    /// The job's `HOME`.
    pub const HOME: &str = "/github/home";
    /// `RUNNER_TEMP/_github_workflow` (the event payload).
    pub const WORKFLOW: &str = "/github/workflow";
}

/// One step container to run to completion (`uses: docker://IMAGE`, docker actions).
#[derive(Debug, Clone)]
pub struct ContainerStepRequest {
    /// Never pulled: it must be present in the engine (or built by [`JobEnvironment::build_image`]).
    pub image: String,
    /// Replaces the image's entrypoint (`with: entrypoint`, `runs.entrypoint`).
    pub entrypoint: Option<String>,
    /// The container's command (`with: args`, `runs.args`), already split.
    pub args: Vec<String>,
    /// The complete environment, with paths as the step container sees them
    /// ([`step_container`]).
    pub env: IndexMap<String, String>,
    pub cancel: CancellationToken,
}

/// The `job.container` and `job.services` contexts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobContainers {
    /// The job container, when the job runs in one.
    pub container: Option<ContainerInfo>,
    /// Service containers by id.
    pub services: IndexMap<String, ContainerInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub network: String,
    /// Container port (`5432`) to the host port it is published on.
    pub ports: IndexMap<String, String>,
}

/// How long an executor waits for a cancelled process to exit before killing it hard.
pub const CANCEL_GRACE: Duration = Duration::from_millis(7500);

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("image `{image}` is not present locally; {hint}")]
    MissingImage { image: String, hint: String },
    #[error("unsupported container option `{0}`")]
    UnsupportedOption(String),
    #[error("docker engine unavailable: {0}")]
    EngineUnavailable(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    /// What the executor was doing when a library call failed, with that failure as its source
    /// (so a reporter can walk the chain instead of a flattened string).
    #[error("{context}: {source}")]
    Failed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another crate's error passed through as it is (a built-in action's failure).
    #[error(transparent)]
    Passed(Box<dyn std::error::Error + Send + Sync>),
    #[error("{path} is larger than the {limit}-byte limit ({size})")]
    TooLarge {
        path: String,
        /// What is known of its size: `1073741824 bytes`, or `more` when the size was not
        /// reported and reading stopped at the limit.
        size: String,
        limit: u64,
    },
    #[error("{0}")]
    Other(String),
}

/// [`JobEnvironment::read_file_within`] for a file on this machine: the size of the opened file
/// is checked before anything is read, and the read stops one byte past `limit`.
pub fn read_local_within(
    path: &std::path::Path,
    limit: u64,
) -> Result<Option<Vec<u8>>, ExecutorError> {
    use gantry_files::ReadError;
    let too_large = |size: String| ExecutorError::TooLarge {
        path: path.display().to_string(),
        size,
        limit,
    };
    match gantry_files::read_bytes(path, limit) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(ReadError::TooLarge { size, .. }) => Err(too_large(format!("{size} bytes"))),
        Err(ReadError::Grew { .. }) => Err(too_large("more".to_owned())),
        Err(ReadError::Io { source, .. }) => Err(ExecutorError::Io {
            context: format!("reading {}", path.display()),
            source,
        }),
        Err(e @ ReadError::NotText { .. }) => Err(ExecutorError::failed("reading", e)),
    }
}

impl ExecutorError {
    /// `source` while doing `context` (`"creating the job container"`).
    pub fn failed(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ExecutorError::Failed {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// Every regular file below `root`: its `/`-separated relative path, contents, and whether it is
/// executable. Symlinks are followed only when they point inside the tree (a checkout must not
/// leak files from elsewhere on the machine).
fn read_tree(root: &std::path::Path) -> Result<Vec<(String, Vec<u8>, bool)>, ExecutorError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |context: String| move |source| ExecutorError::Io { context, source };
    let canonical_root = root
        .canonicalize()
        .map_err(io(format!("reading {}", root.display())))?;
    let mut files = Vec::new();
    let mut pending = vec![canonical_root.clone()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(io(format!("reading {}", dir.display())))?;
        for entry in entries {
            let path = entry
                .map_err(io(format!("reading {}", dir.display())))?
                .path();
            let Ok(resolved) = path.canonicalize() else {
                continue;
            };
            if !resolved.starts_with(&canonical_root) {
                continue;
            }
            let meta =
                std::fs::metadata(&resolved).map_err(io(format!("reading {}", path.display())))?;
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                let contents =
                    std::fs::read(&resolved).map_err(io(format!("reading {}", path.display())))?;
                let relative = path
                    .strip_prefix(&canonical_root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                files.push((relative, contents, meta.permissions().mode() & 0o111 != 0));
            }
        }
    }
    Ok(files)
}

/// Runs a short probe (`sh -c ...`) in a job environment and returns its exit status and stdout;
/// stderr is dropped. For the runner's own questions to the environment (which node versions are
/// cached, ...), never for user steps, whose output must go through the masker.
pub(crate) async fn capture_stdout(
    job: &dyn JobEnvironment,
    request: ExecRequest,
) -> Result<(ExitStatus, String), ExecutorError> {
    let (sender, mut receiver) = mpsc::channel::<OutputChunk>(64);
    let collect = async move {
        let mut stdout = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            if chunk.stream == Stream::Stdout {
                stdout.extend_from_slice(&chunk.bytes);
            }
        }
        stdout
    };
    let (status, stdout) = tokio::join!(job.exec(request, sender), collect);
    Ok((status?, String::from_utf8_lossy(&stdout).into_owned()))
}
