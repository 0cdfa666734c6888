//! `if:` conditions.
