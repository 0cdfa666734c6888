//! Who created an engine object, so that a cleanup removes its own objects and nobody else's:
//! a daemon's crash recovery must not remove the containers of a `gantry run` that happens
//! to share the engine (or of another daemon), and `gantry clean` must not remove those of a
//! run still going.

use crate::procs;

/// The label naming an object's [`Owner`].
pub const LABEL_OWNER: &str = "io.gantry.owner";

/// The label naming where a `gantry run` ran (its repository), so `gantry clean` there
/// removes that repository's leftovers only.
pub const LABEL_SCOPE: &str = "io.gantry.scope";

/// The creator of a job's containers, networks, volumes and images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A daemon, by its instance id: everything it owns when it starts is a leftover.
    Daemon(String),
    /// A process (`gantry run`): its objects are leftovers once it has ended.
    Process(ProcessId),
}

/// A process, unique across machines and boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessId {
    pub host: String,
    pub boot: String,
    pub pid: u32,
    /// Start time in clock ticks after boot: a reused pid has another.
    pub start: u64,
}

impl Owner {
    /// The calling process.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner::Process(ProcessId {
            host: procs::hostname(),
            boot: procs::boot_id(),
            pid,
            start: procs::stat(pid).map_or(0, |s| s.start),
        })
    }

    /// The label value: `daemon:<instance>` or `process:<host>/<boot>/<pid>/<start>`.
    pub fn label(&self) -> String {
        match self {
            Owner::Daemon(id) => format!("daemon:{id}"),
            Owner::Process(p) => format!("process:{}/{}/{}/{}", p.host, p.boot, p.pid, p.start),
        }
    }

    /// The owner a label value names; `None` for anything gantry does not write.
    pub fn parse(label: &str) -> Option<Owner> {
        if let Some(id) = label.strip_prefix("daemon:") {
            return Some(Owner::Daemon(id.to_owned()));
        }
        let rest = label.strip_prefix("process:")?;
        // The host name comes first and cannot hold `/`; the rest are fixed fields.
        let mut parts = rest.rsplitn(4, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let boot = parts.next()?.to_owned();
        let host = parts.next()?.to_owned();
        Some(Owner::Process(ProcessId {
            host,
            boot,
            pid,
            start,
        }))
    }

    /// A process of this machine that is no longer running (ended, or started before the last
    /// boot). Daemons and other machines' processes are never "ended" from here.
    pub fn has_ended(&self) -> bool {
        let Owner::Process(p) = self else {
            return false;
        };
        if p.host != procs::hostname() {
            return false;
        }
        if p.boot != procs::boot_id() {
            return true;
        }
        procs::stat(p.pid).is_none_or(|s| s.zombie || s.start != p.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        let me = Owner::this_process();
        assert_eq!(Owner::parse(&me.label()), Some(me.clone()));
        let daemon = Owner::Daemon("ci-1:/var/lib/gantry".into());
        assert_eq!(Owner::parse(&daemon.label()), Some(daemon));
        assert_eq!(Owner::parse("someone"), None);
        assert_eq!(Owner::parse("process:h/b/x/1"), None);
    }

    #[test]
    fn a_running_process_has_not_ended_and_a_finished_one_has() {
        let me = Owner::this_process();
        assert!(!me.has_ended());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let Owner::Process(mut gone) = me.clone() else {
            unreachable!()
        };
        gone.pid = pid;
        assert!(Owner::Process(gone).has_ended());
        let Owner::Process(mut elsewhere) = me else {
            unreachable!()
        };
        elsewhere.host = "another-machine".into();
        elsewhere.pid = pid;
        assert!(!Owner::Process(elsewhere).has_ended());
        assert!(!Owner::Daemon("d".into()).has_ended());
    }
}
