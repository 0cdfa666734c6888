//! Crate-level errors: what opening the registry, minting tokens and running gc can fail with.

use std::path::PathBuf;

/// Errors from the registry's own operations (not HTTP answers, which carry protocol errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata database: {0}")]
    Db(#[from] crate::metadata::MetadataError),
    #[error("blob storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid owner {0:?}: owners are github logins (letters, digits, hyphens)")]
    InvalidOwner(String),
    #[error("invalid package name {0:?}")]
    InvalidName(String),
    #[error("a token needs at least one scope")]
    NoScopes,
    #[error("no such package {0}")]
    NoSuchPackage(String),
}
