//! The crate's one integration-test binary: the reader (GitHub's conformance cases, the
//! real-world corpus, model snapshots, a no-panic property test) and the semantic checks
//! (fixture folders and the real-world corpus).

mod checks;
mod reader;
