//! Executor tests on the real Docker engine and on the host. Docker tests use
//! `gantry/busybox:latest` (built by `scripts/build-images.sh` when missing) and prove by label
//! that nothing they created is left behind.

mod behaviour;
mod common;
mod docker;
mod host;
mod isolation;
mod routing;
