//! gantry-http: serving an axum router to clients that may be hostile.
//!
//! `axum::serve` never closes a connection on its own: a client that sends half a request line,
//! headers and then no body, or nothing at all on a keep-alive connection, holds its socket
//! forever, and enough of them exhaust the process's file descriptors. [`serve`] runs the same
//! router over hyper's HTTP/1.1 connection builder with the [`Limits`] of `[http]` in
//! `gantry.toml`: a header-read timeout, a body-read (inactivity) timeout, an idle timeout
//! between keep-alive requests, a cap on open connections and a cap on header size.
//!
//! The daemon (webhook, API, page and embedded registry on one listener) and the standalone
//! registry (`gantry packages serve`) both serve through here.

mod limits;
pub mod probe;
mod serve;
mod watch;

pub use limits::{LimitProblem, Limits, MIN_HEADER_BYTES};
pub use serve::serve;
