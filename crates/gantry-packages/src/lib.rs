//! gantry-packages: the embedded GitHub Packages stand-in.
//!
//! Two registries share one [`Registry`]: the npm registry protocol (what `npm publish` and
//! `npm install` speak) and the OCI distribution API v1.1 (what `docker push`/`pull` and skopeo
//! speak). Both sit behind GitHub-style package auth: tokens with `read:packages`,
//! `write:packages`, `delete:packages` scopes, optionally restricted to one owner namespace.
//!
//! Embed with [`Registry::router`] (mount at the root of the daemon's address) or run standalone
//! with [`serve`].

mod admin;
mod auth;
mod config;
mod db;
mod digest;
mod error;
mod http;
mod metadata;
mod names;
mod npm;
mod oci;
mod registry;
mod server;
pub mod storage;

pub use admin::{PackageDetail, PackageSummary, PackageVersion};
pub use auth::{Scope, TokenInfo};
pub use config::{Config, Visibility};
pub use digest::Digest;
pub use error::Error;
pub use metadata::{MetadataBackend, MetadataError, pg_migrate, pg_pool};
pub use registry::{GcReport, PackageKind, Registry};
pub use server::{ServeHandle, serve};
