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
    }
}
