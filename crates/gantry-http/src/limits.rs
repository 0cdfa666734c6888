//! How long a client may take and how many may be connected: `[http]` in `gantry.toml`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

/// Timeouts and caps for one listener. Every field has a default, so `[http]` may be omitted
/// or name only what it changes.
///
/// ```toml
/// [http]
/// header_read_timeout_secs = 10   # request line and headers, from the first byte
/// body_read_timeout_secs = 30     # longest pause between two pieces of a request body
/// idle_timeout_secs = 60          # a keep-alive connection between requests
/// write_timeout_secs = 30         # a response write waiting for a client that does not read
/// max_connections = 1024          # open connections; more are answered 503 and closed
/// max_header_bytes = 65536        # request line and headers; more is answered 431
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A new connection, or a keep-alive one once a request's first byte arrived, must have
    /// sent the whole request line and headers within this time.
    #[serde(rename = "header_read_timeout_secs", deserialize_with = "secs")]
    pub header_read_timeout: Duration,
    /// The longest a request body may pause between two chunks (like nginx's
    /// `client_body_timeout`: a deadline for the whole body would cut off large, slow but
    /// steady registry uploads).
    #[serde(rename = "body_read_timeout_secs", deserialize_with = "secs")]
    pub body_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this long.
    #[serde(rename = "idle_timeout_secs", deserialize_with = "secs")]
    pub idle_timeout: Duration,
    /// The longest one write of a response may wait for a client that does not read (its
    /// socket buffer full). A slow client that keeps reading is never cut off.
    #[serde(rename = "write_timeout_secs", deserialize_with = "secs")]
    pub write_timeout: Duration,
    /// Connections open at once; one more is answered 503 and closed. Each holds a file
    /// descriptor: keep it below the process's `ulimit -n` minus what the daemon itself opens.
    pub max_connections: usize,
    /// Largest request line plus headers; larger ones are answered 431 and closed.
    pub max_header_bytes: usize,
}

/// hyper needs room for at least one read buffer's worth of headers.
pub const MIN_HEADER_BYTES: usize = 8192;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// One unusable `[http]` setting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitProblem {
    #[error("http.{0} must be at least 1 second")]
    ZeroTimeout(&'static str),
    #[error("http.max_connections must be at least 1")]
    ZeroConnections,
    #[error("http.max_header_bytes must be at least {MIN_HEADER_BYTES} (it is {0})")]
    SmallHeaders(usize),
}

impl Limits {
    /// Every unusable setting, so a configuration reports them all at once.
    pub fn problems(&self) -> Vec<LimitProblem> {
        let mut problems = Vec::new();
        for (name, timeout) in [
            ("header_read_timeout_secs", self.header_read_timeout),
            ("body_read_timeout_secs", self.body_read_timeout),
            ("idle_timeout_secs", self.idle_timeout),
            ("write_timeout_secs", self.write_timeout),
        ] {
            if timeout.is_zero() {
                problems.push(LimitProblem::ZeroTimeout(name));
            }
        }
        if self.max_connections == 0 {
            problems.push(LimitProblem::ZeroConnections);
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            problems.push(LimitProblem::SmallHeaders(self.max_header_bytes));
        }
        problems
    }
}

fn secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_the_defaults() {
        let limits: Limits = toml::from_str("").unwrap();
        assert_eq!(limits, Limits::default());
        assert!(limits.problems().is_empty());
    }

    #[test]
    fn settings_are_read_in_seconds() {
        let limits: Limits = toml::from_str(
            "header_read_timeout_secs = 3\nidle_timeout_secs = 7\nmax_connections = 5",
        )
        .unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(7));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 5);
    }

    #[test]
    fn unusable_settings_are_all_reported() {
        let limits: Limits = toml::from_str(
            "header_read_timeout_secs = 0\nbody_read_timeout_secs = 0\nmax_connections = 0\nmax_header_bytes = 100",
        )
        .unwrap();
        assert_eq!(
            limits.problems(),
            vec![
                LimitProblem::ZeroTimeout("header_read_timeout_secs"),
                LimitProblem::ZeroTimeout("body_read_timeout_secs"),
                LimitProblem::ZeroConnections,
                LimitProblem::SmallHeaders(100),
            ]
        );
        assert!(toml::from_str::<Limits>("idle_timeout = 3").is_err());
    }
}
