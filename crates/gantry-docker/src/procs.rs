//! This machine's processes as `/proc` describes them: enough to tell whether a recorded
//! process still lives (pid plus start time, so a reused pid is not mistaken for it) and which
//! processes belong to a session.
//!
//! Only `/proc/<pid>/stat` is read (a dozen fields of one line), which is why this is not a
//! dependency.

/// The fields of `/proc/<pid>/stat` gantry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub pid: u32,
    /// Exited but not yet waited for (state `Z`): dead, whatever its fields say.
    pub zombie: bool,
    /// The session id (field 6): inherited by every descendant that does not call `setsid`.
    pub session: u32,
    /// Start time in clock ticks after boot (field 22): with the pid, unique within a boot.
    pub start: u64,
}

/// One process's stat, `None` when it does not exist (any more).
pub(crate) fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse(pid, &text)
}

/// Every process visible in `/proc`.
pub(crate) fn all() -> Vec<Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// The command name (field 2) is in parentheses and may itself hold spaces and `)`, so the
/// fields are counted after the last `)`.
fn parse(pid: u32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // After the name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        pid,
        zombie: *fields.first()? == "Z",
        session: fields.get(3)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// This boot's id: a pid and start time recorded before a reboot mean nothing after it.
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Clock ticks since boot now, exactly as the kernel counts [`Stat::start`]: a process's start
/// time is its fork's `CLOCK_BOOTTIME` cut down to whole ticks, so every process forked before
/// this call started at or before the value returned, and every one forked after at or after
/// it. (`/proc/uptime` is no substitute: it is rounded to centiseconds and parsing it as a float
/// can land a tick short.)
pub(crate) fn now_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; CLOCK_BOOTTIME exists since Linux 2.6.39.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) } != 0 {
        return 0;
    }
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds * per_second + nanos / (1_000_000_000 / per_second)
}

/// This machine's name.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_and_parentheses_are_skipped() {
        let line = "4242 (a b) c)) S 1 4242 4240 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        assert_eq!(
            parse(4242, line),
            Some(Stat {
                pid: 4242,
                zombie: false,
                session: 4240,
                start: 987654
            })
        );
        assert_eq!(parse(1, "1 (init"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id();
        let own = stat(me).unwrap();
        assert!(all().contains(&own));
        assert!(own.start <= now_ticks());
    }

    /// The session record relies on this order: a job's recorded start is never later than
    /// any step it forks afterwards, and never earlier than what was forked before. Fresh
    /// children start in the same tick as the reading often, which is where an off-by-one
    /// shows.
    #[test]
    fn start_times_and_now_agree_in_both_directions() {
        for _ in 0..200 {
            let before = now_ticks();
            let mut child = std::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let start = stat(child.id()).unwrap().start;
            let after = now_ticks();
            drop(child.stdin.take());
            child.wait().unwrap();
            assert!(
                before <= start && start <= after,
                "{before} <= {start} <= {after}"
            );
        }
    }
}
