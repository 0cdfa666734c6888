//! Integration tests with real clients.
