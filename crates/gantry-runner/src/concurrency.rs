//! Job-level `concurrency:` within one run, as GitHub documents it: in a group at most one job
//! runs and at most one waits. A job whose group is held waits (pending); a job arriving while
//! another one is pending replaces it (the replaced one is cancelled); with
//! `cancel-in-progress: true` the arriving job also cancels the running one. Group names compare
//! case-insensitively.
//!
//! This is the bookkeeping only: the dispatcher evaluates a job instance's group when the
//! instance is about to start, asks [`JobGroups::admit`], and calls [`JobGroups::release`] when
//! the instance finishes. (A daemon's groups across runs sit in its executor.)

use std::collections::HashMap;

/// A job instance of the dispatcher: (node, instance).
pub(crate) type Slot = (usize, usize);

/// GitHub's message on a pending job that a newer one replaced.
pub(crate) fn replaced_message(group: &str) -> String {
    format!("Canceling since a higher priority waiting request for '{group}' exists")
}

/// The message on a running job that a newer one with `cancel-in-progress` cancels.
pub(crate) fn cancelled_in_progress_message(group: &str) -> String {
    format!("Canceling since a newer job in the concurrency group '{group}' started")
}

/// What an instance about to start does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admit {
    /// The group is free: start now (and hold it until [`JobGroups::release`]).
    Start,
    /// Wait until the holder finishes. `replaced` is the pending instance this one replaces
    /// (to be cancelled); `cancel_running` the holder to cancel (`cancel-in-progress`).
    Wait {
        replaced: Option<Slot>,
        cancel_running: Option<Slot>,
    },
}

#[derive(Debug, Default)]
struct Group {
    running: Option<Slot>,
    pending: Option<Slot>,
}

/// The run's groups, by lower-cased name.
#[derive(Debug, Default)]
pub(crate) struct JobGroups {
    groups: HashMap<String, Group>,
    /// The group each admitted (running or pending) instance belongs to.
    member_of: HashMap<Slot, String>,
}

impl JobGroups {
    /// `slot` asks to start in `group`.
    pub fn admit(&mut self, group: &str, slot: Slot, cancel_in_progress: bool) -> Admit {
        let key = group.to_lowercase();
        let entry = self.groups.entry(key.clone()).or_default();
        let Some(running) = entry.running else {
            entry.running = Some(slot);
            self.member_of.insert(slot, key);
            return Admit::Start;
        };
        let replaced = entry.pending.replace(slot);
        if let Some(old) = replaced {
            self.member_of.remove(&old);
        }
        self.member_of.insert(slot, key);
        Admit::Wait {
            replaced,
            cancel_running: cancel_in_progress.then_some(running),
        }
    }

    /// `slot` finished (or never ran): its group's pending instance, if any, holds the group now
    /// and is returned to be started.
    pub fn release(&mut self, slot: Slot) -> Option<Slot> {
        let key = self.member_of.remove(&slot)?;
        let group = self.groups.get_mut(&key)?;
        if group.pending == Some(slot) {
            group.pending = None;
            return None;
        }
        if group.running != Some(slot) {
            return None;
        }
        group.running = group.pending.take();
        group.running
    }

    /// Every instance waiting in a group (for cancelling a whole run), removed from the groups.
    pub fn take_pending(&mut self) -> Vec<Slot> {
        let mut pending = Vec::new();
        for group in self.groups.values_mut() {
            if let Some(slot) = group.pending.take() {
                self.member_of.remove(&slot);
                pending.push(slot);
            }
        }
        pending.sort_unstable();
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runs_one_waits_and_a_newer_arrival_replaces_the_waiting_one() {
        let mut groups = JobGroups::default();
        assert_eq!(groups.admit("deploy", (0, 0), false), Admit::Start);
        let wait = |replaced| Admit::Wait {
            replaced,
            cancel_running: None,
        };
        assert_eq!(groups.admit("Deploy", (1, 0), false), wait(None));
        assert_eq!(groups.admit("DEPLOY", (2, 0), false), wait(Some((1, 0))));
        // The replaced instance is no member any more: its release changes nothing.
        assert_eq!(groups.release((1, 0)), None);
        assert_eq!(groups.release((0, 0)), Some((2, 0)));
        assert_eq!(groups.release((2, 0)), None);
        assert_eq!(groups.admit("deploy", (3, 0), false), Admit::Start);
    }

    #[test]
    fn cancel_in_progress_names_the_running_instance() {
        let mut groups = JobGroups::default();
        assert_eq!(groups.admit("g", (0, 0), true), Admit::Start);
        assert_eq!(
            groups.admit("g", (0, 1), true),
            Admit::Wait {
                replaced: None,
                cancel_running: Some((0, 0)),
            }
        );
        assert_eq!(groups.admit("other", (1, 0), true), Admit::Start);
    }

    #[test]
    fn a_cancelled_run_takes_every_waiting_instance() {
        let mut groups = JobGroups::default();
        groups.admit("a", (0, 0), false);
        groups.admit("a", (1, 0), false);
        groups.admit("b", (2, 0), false);
        groups.admit("b", (3, 0), false);
        assert_eq!(groups.take_pending(), vec![(1, 0), (3, 0)]);
        assert_eq!(groups.release((0, 0)), None);
    }
}
