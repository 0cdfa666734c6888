//! Snapshots come later.
