//! Integration tests of the workflow reader: GitHub's conformance cases, the real-world corpus,
//! model snapshots and a no-panic property test.

mod conformance;
mod fuzz;
mod messages;
mod normalised;
mod realworld;
mod schema_copy;
mod snapshots;

use std::path::PathBuf;

/// `shared/conformance`, a sibling of the checkout.
fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance"
    ))
}
