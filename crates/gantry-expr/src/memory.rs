//! The evaluation memory limit, accounted the way the runner does it.
//!
//! Every node's result is charged at the node's depth in the tree. When a node finishes with a
//! primitive (or freshly built) result, the charges of its subtree are released first, because
//! the result no longer refers to them; arrays and objects read from the context may still refer
//! to deeper values, so those charges stay. The limit applies to the running total.

use crate::error::MAX_MEMORY;
use crate::eval::Evaluated;
use crate::value::Value;

const MIN_OBJECT: usize = 24;
const POINTER: usize = 8;
const STRING_OVERHEAD: usize = 26;

#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Charged bytes per tree depth.
    levels: Vec<usize>,
    total: usize,
}

/// The running total went over [`MAX_MEMORY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded;

impl Memory {
    /// Charges the result of a node at `level`.
    pub(crate) fn record(&mut self, level: usize, result: &Evaluated) -> Result<(), Exceeded> {
        let (bytes, releases_subtree) = cost(result);
        if releases_subtree {
            while self.levels.len() > level + 1 {
                let amount = self.levels.pop().unwrap_or(0);
                self.total -= amount;
            }
        }
        if self.levels.len() <= level {
            self.levels.resize(level + 1, 0);
        }
        self.levels[level] += bytes;
        self.total = self.total.saturating_add(bytes);
        if self.total > MAX_MEMORY {
            Err(Exceeded)
        } else {
            Ok(())
        }
    }

    /// Bytes still available to a string result produced at `level` (its subtree is released
    /// before it is charged).
    pub(crate) fn available_at(&self, level: usize) -> usize {
        let kept: usize = self.levels.iter().take(level + 1).sum();
        MAX_MEMORY.saturating_sub(kept)
    }
}

/// What a result costs and whether it lets go of its subtree's charges.
fn cost(result: &Evaluated) -> (usize, bool) {
    match &result.value {
        Value::String(s) => (string_bytes(s), true),
        value if value.is_primitive() => (MIN_OBJECT, true),
        Value::Array(items) if result.filtered => (MIN_OBJECT + POINTER * items.len(), false),
        _ if result.origin.is_some() => (MIN_OBJECT, false),
        // Built by a function (fromJSON, a caller's function): charged in full, standalone.
        value => (value_bytes(value), true),
    }
}

fn string_bytes(s: &str) -> usize {
    let units = if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    };
    STRING_OVERHEAD + 2 * units
}

/// Size of a whole value: strings in UTF-16, a pointer per entry, a minimum per object.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => string_bytes(s),
        Value::Array(items) => {
            MIN_OBJECT
                + items
                    .iter()
                    .map(|v| POINTER + value_bytes(v))
                    .sum::<usize>()
        }
        Value::Object(map) => {
            let entries = map
                .iter()
                .map(|(k, v)| POINTER + string_bytes(k) + value_bytes(v));
            MIN_OBJECT + entries.sum::<usize>()
        }
        _ => MIN_OBJECT,
    }
}

/// Longest string (in bytes) a function may build with `available` bytes left.
pub(crate) fn max_string_len(available: usize) -> usize {
    available.saturating_sub(STRING_OVERHEAD) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_results_release_their_subtree() {
        let mut memory = Memory::default();
        let big = Evaluated::fresh(Value::String("x".repeat(1000)));
        memory.record(2, &big).unwrap();
        memory
            .record(1, &Evaluated::fresh(Value::Bool(true)))
            .unwrap();
        assert_eq!(memory.total, MIN_OBJECT);
    }

    #[test]
    fn siblings_accumulate_until_the_parent_finishes() {
        let mut memory = Memory::default();
        let half = Evaluated::fresh(Value::String("x".repeat(200_000)));
        memory.record(1, &half).unwrap();
        assert_eq!(memory.available_at(0), MAX_MEMORY);
        memory.record(1, &half).unwrap();
        assert_eq!(memory.record(1, &half), Err(Exceeded));
    }
}
