//! Host steps never outlive gantry for long. Each step is the leader of its own session,
//! killed by the kernel when gantry dies (`PR_SET_PDEATHSIG`); what it started keeps the
//! session id (unless it calls `setsid` itself) and is killed when the next start reaps the
//! job directories: every job records its steps' sessions (pid and start time, within one
//! boot) in its directory, and [`reap`] kills every process still in one of them before
//! removing the directory. So with `on_restart = "requeue"` a run's old attempt is gone
//! before its new one starts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use gantry_runner::executor::ExecutorError;

use crate::{io_error, procs};

/// The record's name inside a job directory.
const RECORD: &str = "sessions";

/// Runs in the forked child before exec: a new session, and SIGKILL when the parent goes.
/// The death signal follows the forking *thread*; gantry spawns steps from its runtime's
/// worker threads, which live as long as the process.
pub(crate) fn detach_tied_to(parent: u32) -> std::io::Result<()> {
    // SAFETY: setsid, prctl, getppid are async-signal-safe and touch no memory of ours.
    unsafe {
        if libc::setsid() == -1 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
            return Err(std::io::Error::last_os_error());
        }
        // The parent died before the death signal was armed: do not run orphaned.
        if u32::try_from(libc::getppid()).ok() != Some(parent) {
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// A job directory's session record: `boot <id>`, then `<pid> <start>` per step.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    path: PathBuf,
}

impl Record {
    pub(crate) fn new(job_root: &Path) -> Self {
        Self {
            path: job_root.join(RECORD),
        }
    }

    pub(crate) fn create(&self) -> Result<(), ExecutorError> {
        let line = format!("boot {}\n", procs::boot_id());
        crate::access::Access::own().write_new(&self.path, line.as_bytes())
    }

    pub(crate) fn add(&self, pid: u32) -> Result<(), ExecutorError> {
        let Some(stat) = procs::stat(pid) else {
            // Already gone, and its session with it unless a child lives on: nothing to
            // record that could be told apart from a reused pid.
            return Ok(());
        };
        let ctx = |e| io_error(format!("recording a step in {}", self.path.display()), e);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .mode(crate::access::PRIVATE_FILE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .map_err(ctx)?;
        file.write_all(format!("{} {}\n", stat.session, stat.start).as_bytes())
            .map_err(ctx)
    }

    /// The recorded sessions (id, leader's start time), if recorded during this boot.
    fn sessions(&self) -> Vec<(u32, u64)> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut lines = text.lines();
        if lines.next() != Some(&format!("boot {}", procs::boot_id())) {
            return Vec::new();
        }
        lines
            .filter_map(|l| {
                let (sid, start) = l.split_once(' ')?;
                Some((sid.parse().ok()?, start.parse().ok()?))
            })
            .collect()
    }
}

/// What [`reap`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReapReport {
    /// Processes killed.
    pub processes: usize,
    /// Job directories removed.
    pub directories: usize,
}

/// Kills the processes left in the recorded sessions of every job directory under `base`,
/// then removes the directories.
pub(crate) fn reap(base: &Path) -> Result<ReapReport, ExecutorError> {
    let mut report = ReapReport::default();
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(io_error(format!("reading {}", base.display()), e)),
    };
    for entry in entries {
        let dir = entry
            .map_err(|e| io_error(format!("reading {}", base.display()), e))?
            .path();
        if !dir.is_dir() || dir.is_symlink() {
            continue;
        }
        report.processes += kill_sessions(&Record::new(&dir).sessions());
        std::fs::remove_dir_all(&dir)
            .map_err(|e| io_error(format!("removing {}", dir.display()), e))?;
        report.directories += 1;
    }
    Ok(report)
}

/// SIGKILLs every process in the given sessions started no earlier than the session's leader
/// (a younger session that reused the id would have started later than anything of ours
/// only if ours is gone entirely; pids are not reused while a session holds them). Repeats
/// while processes remain, since a dying session may still fork.
fn kill_sessions(sessions: &[(u32, u64)]) -> usize {
    let me = std::process::id();
    // SAFETY: getsid(0) has no preconditions.
    let own_session = u32::try_from(unsafe { libc::getsid(0) }).unwrap_or(0);
    let ours = |s: &procs::Stat| {
        !s.zombie
            && s.pid != me
            && s.session > 1
            && s.session != own_session
            && sessions
                .iter()
                .any(|(sid, start)| s.session == *sid && s.start >= *start)
    };
    let mut killed = 0;
    for _ in 0..50 {
        let left: Vec<procs::Stat> = procs::all().into_iter().filter(ours).collect();
        if left.is_empty() {
            break;
        }
        for s in left {
            if let Ok(pid) = i32::try_from(s.pid) {
                // SAFETY: kill(2) on one positive pid; no memory is touched.
                if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                    killed += 1;
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    killed
}
