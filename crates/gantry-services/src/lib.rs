//! gantry-services: the runner services jobs talk to, stored by gantry.
//!
//! - The artifact service of `@actions/artifact` 2.x (upload-artifact@v4, download-artifact@v4):
//!   the Results service's Twirp `ArtifactService` plus Azure-style blob uploads and downloads
//!   at signed URLs.
//! - The cache service of `@actions/cache` (actions/cache@v4): the legacy `_apis/artifactcache`
//!   REST API and the v2 Twirp `CacheService`.
//! - The part of GitHub's REST API that reads another run's artifacts (download-artifact's
//!   `run-id` with `github-token`), under [`API_PATH`]: jobs get [`api_url`] as
//!   `GITHUB_API_URL`, and their `GITHUB_TOKEN` is granted with
//!   [`Services::grant_api_token`]. Every other API path answers GitHub's 404 JSON.
//!
//! Both share one router ([`Services::router`], mountable by the daemon; [`serve`] runs it
//! standalone), one metadata database and one content-addressed store of files (`blobs`), into
//! which uploads are staged in place (`staging`): written once, hashed as they arrive, fsynced
//! once at finalize.
//!
//! Access is by [`RunScope`] tokens ([`Services::mint_run_token`]), handed to jobs as
//! `ACTIONS_RUNTIME_TOKEN` with the URLs [`job_env`] names.

mod artifacts;
mod blob_http;
mod blobs;
mod cache;
mod config;
mod db;
mod error;
mod metadata;
mod rest;
mod server;
mod staging;
mod token;

pub use config::Config;
pub use db::{ArtifactInfo, CacheInfo};
pub use error::ServiceError;
pub use rest::{API_PATH, api_url};
pub use server::{ServeHandle, Services, bearer_token, job_env, serve};
pub use token::RunScope;
