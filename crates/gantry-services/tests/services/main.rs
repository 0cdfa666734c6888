//! gantry-services against the real clients: `@actions/artifact` 2.x and `@actions/cache`
//! from the npm registry, run by the host's node on loopback (no mocks), and raw HTTP for
//! what a well-behaved client never sends.

mod artifacts;
mod bad_input;
mod caches;
#[path = "../../../gantry-packages/tests/registry/pg.rs"]
mod pg;
mod shared;
mod support;
