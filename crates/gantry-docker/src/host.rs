//! The host executor: steps are processes on this machine, in a per-job work directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use gantry_runner::executor::{
    CANCEL_GRACE, ExecRequest, Executor, ExecutorError, ExitStatus, JobEnvironment, JobPaths,
    JobSpec, OutputChunk, Stream as Out, read_local_within,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::io_error;

/// After a step exits, how long its output pipes may stay open (a background child holding
/// them) before the rest of the output is given up.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Runs jobs as host processes under `base_dir/<run>-<job>-<random>/`.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    base_dir: PathBuf,
}

impl HostExecutor {
    /// `base_dir` holds one directory per job (created on demand).
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        Self {
            base_dir: base_dir.into(),
        }
    }

    /// Kills what the steps of an earlier process's jobs left running and removes their
    /// directories. Only for a base directory no running process uses (a daemon's, at start:
    /// its data directory is locked).
    pub async fn reap(&self) -> Result<ReapReport, ExecutorError> {
        let base = self.base_dir.clone();
        tokio::task::spawn_blocking(move || crate::sessions::reap(&base))
            .await
            .map_err(|e| ExecutorError::Other(format!("reaping host jobs: {e}")))?
    }
}

pub use crate::sessions::ReapReport;

#[async_trait]
impl Executor for HostExecutor {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        if spec.container.is_some() || !spec.services.is_empty() {
            return Err(ExecutorError::Other(format!(
                "job `{}` has a container or services, which the host executor cannot run",
                spec.job_key
            )));
        }
        let name: String = format!("{}-{}", spec.run_id, spec.job_key)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let root = self.base_dir.join(format!("{name}-{}", &suffix[..8]));
        let repo = spec
            .repository
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("workspace")
            .to_string();
        let work = root.join("work");
        let paths = JobPaths {
            workspace: work.join(&repo).join(&repo).display().to_string(),
            temp: work.join("_temp").display().to_string(),
            tool_cache: root.join("tool").display().to_string(),
            home: root.join("home").display().to_string(),
        };
        let job = HostJob {
            sessions: crate::sessions::Record::new(&root),
            root: root.clone(),
            paths: paths.clone(),
            keep: spec.keep,
            cleaned: false.into(),
        };
        let source = spec.workspace_source.clone();
        let (base, dir) = (self.base_dir.clone(), root.clone());
        tokio::task::spawn_blocking(move || prepare(&base, &dir, &paths, source.as_deref()))
            .await
            .map_err(|e| ExecutorError::Other(format!("preparing {}: {e}", root.display())))??;
        Ok(Box::new(job))
    }
}

/// Creates the job's private root (0700: other host users reach nothing below it) inside a base
/// directory nobody else controls, then its directories and the workspace copy.
fn prepare(
    base: &Path,
    root: &Path,
    paths: &JobPaths,
    source: Option<&Path>,
) -> Result<(), ExecutorError> {
    std::fs::create_dir_all(base)
        .map_err(|e| io_error(format!("creating {}", base.display()), e))?;
    check_base(base)?;
    {
        use std::os::unix::fs::DirBuilderExt;
        // Not `create_dir_all`: the root must be new, never a directory someone prepared.
        std::fs::DirBuilder::new()
            .mode(crate::access::PRIVATE_DIR)
            .create(root)
            .map_err(|e| io_error(format!("creating {}", root.display()), e))?;
        crate::access::set_mode(root, crate::access::PRIVATE_DIR)?;
    }
    crate::sessions::Record::new(root).create()?;
    for dir in [
        &paths.workspace,
        &paths.temp,
        &paths.tool_cache,
        &paths.home,
    ] {
        std::fs::create_dir_all(dir).map_err(|e| io_error(format!("creating {dir}"), e))?;
    }
    if let Some(src) = source {
        copy_tree(src, Path::new(&paths.workspace))?;
    }
    Ok(())
}

/// Another user who owns the base directory (or may write into it) could swap a job's root
/// for one they can read: refuse such a base.
fn check_base(base: &Path) -> Result<(), ExecutorError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(base)
        .map_err(|e| io_error(format!("inspecting {}", base.display()), e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let foreign_owner = meta.uid() != me && meta.uid() != 0;
    let others_write = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
    if !meta.is_dir() || foreign_owner || others_write {
        return Err(ExecutorError::Other(format!(
            "the host jobs' directory {} is not private to this user (uid {}, mode {:o}, owned by uid {}): choose another",
            base.display(),
            me,
            meta.mode() & 0o7777,
            meta.uid()
        )));
    }
    Ok(())
}

/// Copies a directory tree, keeping symlinks as links (never following them out of the tree)
/// and file modes; existing files are replaced.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), ExecutorError> {
    let ctx = |p: &Path| format!("copying {}", p.display());
    for entry in std::fs::read_dir(src).map_err(|e| io_error(ctx(src), e))? {
        let entry = entry.map_err(|e| io_error(ctx(src), e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| io_error(ctx(&from), e))?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&from).map_err(|e| io_error(ctx(&from), e))?;
            if std::fs::symlink_metadata(&to).is_ok_and(|m| !m.is_dir()) {
                std::fs::remove_file(&to).map_err(|e| io_error(ctx(&to), e))?;
            }
            std::os::unix::fs::symlink(target, &to).map_err(|e| io_error(ctx(&from), e))?;
        } else if kind.is_dir() {
            std::fs::create_dir_all(&to).map_err(|e| io_error(ctx(&from), e))?;
            copy_tree(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| io_error(ctx(&from), e))?;
        }
    }
    Ok(())
}

struct HostJob {
    /// Every step's session, so a later start can kill what a crash left running.
    sessions: crate::sessions::Record,
    root: PathBuf,
    paths: JobPaths,
    keep: bool,
    cleaned: std::sync::atomic::AtomicBool,
}

impl Drop for HostJob {
    fn drop(&mut self) {
        // A job dropped without cleanup (Ctrl-C, panic) still must not leave its directory.
        if !self.keep && !self.cleaned.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Kills a step's whole process group if its `exec` future is dropped before the step ends.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn signal(&self, sig: i32) {
        if let Some(pgid) = self.pgid.filter(|p| is_own_group(*p)) {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe { libc::kill(-pgid, sig) };
        }
    }
}

/// Only a real step's group may be signalled: `-0` is our own group and `-1` every process we
/// may signal, so a pgid of 0 or 1 (never a step's) must not reach kill(2).
fn is_own_group(pgid: i32) -> bool {
    pgid > 1
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

fn forward(
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
    stream: Out,
    sink: mpsc::Sender<OutputChunk>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            let _ = sink
                .send(OutputChunk {
                    stream,
                    bytes: buf[..n].to_vec(),
                })
                .await;
        }
    })
}

fn find_program(program: &str, path_var: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_exec(Path::new(program));
    }
    std::env::split_paths(path_var).any(|dir| is_exec(&dir.join(program)))
}

impl HostJob {
    /// The step's command; `record` is the open session record the child appends its own
    /// pid to before exec (so no `kill -9` of gantry can fall between the step's start and its
    /// record).
    fn command(request: &ExecRequest, record: &std::fs::File) -> Result<Command, ExecutorError> {
        let (program, args) = request
            .argv
            .split_first()
            .ok_or_else(|| ExecutorError::Other("empty command".into()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(&request.env)
            .current_dir(&request.workdir);
        if !request.env.contains_key("PATH") {
            cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        }
        // Its own session (and process group), so cancellation reaches the step's children
        // too, and a restart finds them by session; killed at once if gantry dies.
        let parent = std::process::id();
        let fd = std::os::fd::AsRawFd::as_raw_fd(record);
        // SAFETY: between fork and exec only async-signal-safe calls (setsid, prctl, getppid,
        // getpid, write), no allocation; `fd` stays open until `spawn` returns.
        unsafe {
            cmd.pre_exec(move || crate::sessions::detach_tied_to(parent, fd));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Ok(cmd)
    }
}

#[async_trait]
impl JobEnvironment for HostJob {
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
        let record = self.sessions.open()?;
        let spawned = Self::command(&request, &record)?.spawn();
        drop(record);
        let mut child = match spawned {
            Ok(c) => c,
            // Like a shell: a missing program or working directory is a failed step (127).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let msg = format!(
                    "gantry: cannot run {:?} in {}: {e}\n",
                    request.argv[0], request.workdir
                );
                let _ = output
                    .send(OutputChunk {
                        stream: Out::Stderr,
                        bytes: msg.into_bytes(),
                    })
                    .await;
                return Ok(ExitStatus::Code(127));
            }
            Err(e) => return Err(io_error(format!("starting {}", request.argv[0]), e)),
        };
        let mut group = GroupGuard {
            pgid: child.id().and_then(|p| i32::try_from(p).ok()),
        };
        let readers = [
            child
                .stdout
                .take()
                .map(|p| forward(p, Out::Stdout, output.clone())),
            child
                .stderr
                .take()
                .map(|p| forward(p, Out::Stderr, output.clone())),
        ];
        let mut cancelled = false;
        let status = tokio::select! {
            s = child.wait() => s,
            _ = request.cancel.cancelled() => {
                cancelled = true;
                group.signal(libc::SIGTERM);
                match tokio::time::timeout(CANCEL_GRACE, child.wait()).await {
                    Ok(s) => s,
                    Err(_) => { group.signal(libc::SIGKILL); child.wait().await }
                }
            }
        }
        .map_err(|e| io_error("waiting for a step", e))?;
        for reader in readers.into_iter().flatten() {
            let abort = reader.abort_handle();
            if tokio::time::timeout(DRAIN_WAIT, reader).await.is_err() {
                abort.abort();
            }
        }
        // The step is over: whatever it left running in the background is not ours to kill.
        group.pgid = None;
        if cancelled {
            return Ok(ExitStatus::Cancelled);
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(ExitStatus::Code(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        ))
    }

    /// Step scripts and file-command files (secrets in them) are private to gantry's user.
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        let (path, data) = (PathBuf::from(path), contents.to_vec());
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent() {
                crate::access::create_private_dirs(parent)?;
            }
            crate::access::Access::own().write_new(&path, &data)
        })
        .await
        .map_err(|e| ExecutorError::Other(format!("writing a file: {e}")))?
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        match tokio::fs::read(path).await {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("reading {path}"), e)),
        }
    }

    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        let path = PathBuf::from(path);
        tokio::task::spawn_blocking(move || read_local_within(&path, limit))
            .await
            .map_err(|e| ExecutorError::Other(format!("reading a file: {e}")))?
    }

    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        let path_var = std::env::var("PATH").unwrap_or_default();
        Ok(find_program(program, &path_var))
    }

    /// A plain recursive copy (modes and symlinks kept) instead of a file at a time.
    async fn copy_in(&self, source: &Path, dest: &str) -> Result<(), ExecutorError> {
        let (source, dest) = (source.to_path_buf(), PathBuf::from(dest));
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dest)
                .map_err(|e| io_error(format!("creating {}", dest.display()), e))?;
            copy_tree(&source, &dest)
        })
        .await
        .map_err(|e| ExecutorError::Other(format!("copying a directory: {e}")))?
    }

    fn local_workspace(&self) -> Option<PathBuf> {
        Some(PathBuf::from(&self.paths.workspace))
    }

    async fn host_directory(&self, path: &str) -> Option<gantry_runner::executor::HostDirectory> {
        // Host jobs see this machine's paths as they are.
        let path = PathBuf::from(path);
        path.is_dir()
            .then_some(gantry_runner::executor::HostDirectory { path, owner: None })
    }

    async fn interactive_shell(
        &self,
        request: &gantry_runner::debugger::ShellRequest,
        size: gantry_runner::interactive::TermSize,
    ) -> Result<gantry_runner::interactive::ShellSession, ExecutorError> {
        crate::interactive::host_shell(request, size)
    }

    async fn cleanup(&self) -> Result<(), ExecutorError> {
        self.cleaned
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if self.keep {
            return Ok(());
        }
        match tokio::fs::remove_dir_all(&self.root).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(format!("removing {}", self.root.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_real_process_groups_are_signalled() {
        assert!(!super::is_own_group(0));
        assert!(!super::is_own_group(1));
        assert!(!super::is_own_group(-5));
        assert!(super::is_own_group(4242));
    }
}
