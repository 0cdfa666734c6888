//! The gantry daemon: receives GitHub webhooks, verifies them, queues runs durably, executes
//! them through a [`RunLauncher`] and serves run history, live logs and a web page.
//!
//! ```no_run
//! # async fn example() -> Result<(), gantry_daemon::DaemonError> {
//! use std::sync::Arc;
//! use gantry_daemon::{Config, Daemon, EngineLauncher};
//!
//! let config = Config::load(std::path::Path::new("gantry.toml")).expect("valid config");
//! // The real engine: Docker for labels mapped to images, host processes for `host`.
//! let launcher = EngineLauncher::connect(config.data_dir.join("host"), &config.instance_id()).await;
//! let handle = Daemon::start(config, Arc::new(launcher)).await?;
//! println!("listening on {}", handle.local_addr());
//! handle.run_until_signal().await; // SIGTERM drains
//! # Ok(()) }
//! ```
//!
//! Durability: a webhook is answered only after the delivery and the runs it creates are
//! committed in one transaction (SQLite or PostgreSQL) (group commit: deliveries arriving together share
//! one transaction and one fsync, each answered only after it committed); at start-up, runs that were running when the daemon
//! died are failed (or re-queued, `on_restart = "requeue"`), [`RunLauncher::reap`] removes
//! their leftovers, and queued runs start. Each run row is executed by one worker, so every
//! acknowledged delivery gets its runs exactly once. One daemon per data directory
//! (`daemon.lock`).
//!
//! Several daemons: with `[store] url = "postgres://..."` the queue, history and logs live in
//! PostgreSQL ([`PgStore`]); any number of daemons share it, each claiming runs with
//! `SKIP LOCKED`, holding them under a renewed lease, reaping the runs of daemons that stopped
//! renewing, and hearing about new work, progress and cancellations through `LISTEN/NOTIFY`
//! (see `docs/scaling.md`).
//!
//! HTTP: `POST /webhook`; `GET /api/runs?repo=&status=&event=&before=&limit=`,
//! `GET /api/runs/{id}` (jobs, steps, timings, annotations, `summary_html`),
//! `GET /api/runs/{id}/events` (SSE), `GET /api/runs/{id}/jobs/{job}/logs?after=`,
//! `GET /api/runs/{id}/jobs/{job}/logs/stream` (SSE, follows), `POST /api/runs/{id}/cancel`,
//! `POST /api/runs/{id}/rerun` (`{"failed_only": true}`),
//! `POST /api/repos/{owner}/{repo}/dispatch` (`{"workflow", "ref", "inputs"}`),
//! `GET /api/deliveries`, `GET /api/runs/{id}/artifacts`,
//! `GET /api/runs/{id}/artifacts/{artifact}/zip`, `/healthz`, `/metrics`, and the page at `/`.
//! The runner services (`gantry_services`: `/twirp/...`, `/_apis/artifactcache/...`,
//! `/_blob/...`) are served too unless `[services] enabled = false`; each run gets an
//! `ACTIONS_RUNTIME_TOKEN` for its artifacts and its repository's caches, refused once the run
//! ended. Remote actions and reusable workflows come from the `[actions]` store
//! ([`actions::action_source`]). Every other path
//! belongs to the embedded package registry (`gantry_packages::Registry::router()`: npm at
//! the root, OCI under `/v2/`) unless `[packages] enabled = false`; each run gets a
//! `GITHUB_TOKEN` minted by that registry for its repository owner's packages.
//!
//! Concurrency: workflow-level `concurrency:` is enforced when runs are claimed; job-level
//! `concurrency:` groups (with `github`/`inputs`/`vars` in the group expression) are held by
//! the [`EngineLauncher`] across the runs it executes, one job per group at a time.
//!
//! `schedule:` triggers fire from a minute loop (each firing recorded once, as the delivery
//! `schedule:<repo>:<cron>:<minute>`); [`DaemonHandle::fire_schedules`] fires a given minute.
//!
//! Each run starts in a checkout of its commit ([`QueuedRun::workspace`]); the repository's
//! secrets are masked in everything stored.

pub mod actions;
mod committer;
pub mod config;
mod daemon;
pub mod engine;
mod http;
mod job_groups;
pub mod launcher;
mod lease;
pub mod markdown;
pub mod metrics;
pub mod planner;
mod schedule;
mod services;
pub mod signature;
pub mod store;

pub use config::{
    ActionsConfig, Config, ConfigError, ConfigProblem, PackagesConfig, RepoConfig, RestartPolicy,
    ServicesConfig, StoreConfig, check_config,
};
pub use daemon::{Daemon, DaemonError, DaemonHandle, ShutdownReport};
pub use engine::EngineLauncher;
pub use http::api::ApiError;
pub use launcher::{
    AnnotationLevel, Conclusion, PackagesAccess, PlannedJobInfo, QueuedRun, RunEvent, RunLauncher,
    RunOutcome, ServicesAccess,
};
pub use store::{PgSettings, PgStore, SqliteStore, Store, StoreError};
