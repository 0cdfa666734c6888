//! Host steps never outlive gantry for long. Each step is the leader of its own session,
//! killed by the kernel when gantry dies (`PR_SET_PDEATHSIG`); what it started keeps the
//! session id (unless it calls `setsid` itself) and is killed when the next start reaps the
//! job directories: every job records the boot and its start time in its directory, and each
//! step appends its session id (its pid) before it execs; [`reap`] kills every process still
//! in one of them that started after the job did, before removing the directory. So with `on_restart = "requeue"` a run's old attempt is gone
//! before its new one starts.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use gantry_runner::executor::ExecutorError;

use crate::{io_error, procs};

/// The record's name inside a job directory.
const RECORD: &str = "sessions";

/// Runs in the forked child before exec: a new session, SIGKILL when the parent goes, and the
/// session id appended to the job's record (open at `record`). The death signal follows the
/// forking *thread*; gantry spawns steps from its runtime's worker threads, which live as
/// long as the process.
pub(crate) fn detach_tied_to(parent: u32, record: std::os::fd::RawFd) -> std::io::Result<()> {
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
        let (line, len) = decimal_line(u32::try_from(libc::getpid()).unwrap_or(0));
        if libc::write(record, line.as_ptr().cast(), len) != len as isize {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `n` and a newline, left-aligned in a stack buffer (no allocation between fork and exec).
fn decimal_line(mut n: u32) -> ([u8; 12], usize) {
    let mut digits = [0u8; 12];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut line = [0u8; 12];
    let len = digits.len() - i;
    line[..len].copy_from_slice(&digits[i..]);
    line[len] = b'\n';
    (line, len + 1)
}

/// A job directory's session record: `boot <id> <start>` (clock ticks since boot), then one
/// session id per step.
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
        let line = format!("boot {} {}\n", procs::boot_id(), procs::now_ticks());
        crate::access::Access::own().write_new(&self.path, line.as_bytes())
    }

    /// The record, open for a step to append its session id to (closed in the step at exec).
    pub(crate) fn open(&self) -> Result<std::fs::File, ExecutorError> {
        std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .map_err(|e| io_error(format!("opening {}", self.path.display()), e))
    }

    /// The recorded sessions and when the job started, if recorded during this boot.
    fn sessions(&self) -> (Vec<u32>, u64) {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut lines = text.lines();
        let header = lines.next().and_then(|h| h.strip_prefix("boot "));
        let since = header
            .and_then(|h| h.split_once(' '))
            .filter(|(boot, _)| *boot == procs::boot_id())
            .and_then(|(_, since)| since.parse().ok());
        let Some(since) = since else {
            return (Vec::new(), 0);
        };
        (lines.filter_map(|l| l.parse().ok()).collect(), since)
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
        let (sessions, since) = Record::new(&dir).sessions();
        report.processes += kill_sessions(&sessions, since);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| io_error(format!("removing {}", dir.display()), e))?;
        report.directories += 1;
    }
    Ok(report)
}

/// SIGKILLs every process in the given sessions that started since the job did (a session id
/// is not reused while any member lives; one reused later would take a pid wrap-around within
/// the job's lifetime). Repeats while processes remain, since a dying session may still fork.
fn kill_sessions(sessions: &[u32], since: u64) -> usize {
    let me = std::process::id();
    // SAFETY: getsid(0) has no preconditions.
    let own_session = u32::try_from(unsafe { libc::getsid(0) }).unwrap_or(0);
    let ours = |s: &procs::Stat| {
        !s.zombie
            && s.pid != me
            && s.session > 1
            && s.session != own_session
            && s.start >= since
            && sessions.contains(&s.session)
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

#[cfg(test)]
mod tests {
    #[test]
    fn pids_are_written_as_decimal_lines() {
        for (n, text) in [
            (0, "0\n"),
            (7, "7\n"),
            (4194304, "4194304\n"),
            (u32::MAX, "4294967295\n"),
        ] {
            let (line, len) = super::decimal_line(n);
            assert_eq!(&line[..len], text.as_bytes());
        }
    }
}
