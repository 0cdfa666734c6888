//! Durable state: deliveries, runs, jobs, steps, logs and state transitions.
//!
//! The daemon talks to a [`Store`]; [`SqliteStore`] is the embedded default, [`PgStore`]
//! lets several daemons share one PostgreSQL database. The contract that makes crash recovery
//! work: [`Store::commit`] writes a delivery and the runs it creates in one transaction, and
//! the webhook is acknowledged only after it returned.

pub mod postgres;
mod sqlite;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::config::RestartPolicy;
use crate::launcher::{AnnotationLevel, Conclusion, PlannedJobInfo, RunEvent, RunOutcome};

pub use postgres::{PgSettings, PgStore};
pub use sqlite::SqliteStore;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("stored run {0} is unreadable: {1}")]
    Corrupt(i64, serde_json::Error),
    #[error("the store lock was poisoned by a panic")]
    Poisoned,
    #[error("the database has schema version {0}, newer than this gantry understands")]
    NewerSchema(i64),
    #[error("a store task failed: {0}")]
    Task(String),
    #[error("postgresql: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no postgresql connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("invalid [store] url: {0}")]
    Url(tokio_postgres::Error),
    #[error("cannot set up the postgresql pool: {0}")]
    PoolSetup(String),
    #[error("cannot start the postgresql client runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "run {0} is not held by this daemon any more (its lease expired and another daemon took it)"
    )]
    LeaseLost(i64),
}

/// What a delivery led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Planned; zero or more runs were queued.
    Accepted,
    /// Recorded but nothing runs (unknown event or repository, ref not found...).
    Ignored,
    /// A `ping`.
    Ping,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Ignored => "ignored",
            DeliveryStatus::Ping => "ping",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// `X-GitHub-Delivery`.
    pub id: String,
    pub event: String,
    pub repo: Option<String>,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
}

/// What a run executes, fixed when it is queued. Secrets are not stored: they are read from
/// the configuration when the run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub repo: String,
    pub repo_url: String,
    pub event: String,
    pub payload: Value,
    pub git_ref: String,
    pub sha: String,
    pub workflow_path: String,
    pub workflow_name: String,
    pub workflow_source: String,
    /// Every job of the workflow, in topological order.
    pub jobs: Vec<PlannedJobInfo>,
    pub inputs: Option<Value>,
}

/// A workflow-level `concurrency:` with its group already evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencySpec {
    pub group: String,
    pub cancel_in_progress: bool,
}

/// A run to queue.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub spec: RunSpec,
    pub concurrency: Option<ConcurrencySpec>,
    /// For re-runs: the run this repeats and the jobs that keep their earlier conclusion.
    pub rerun_of: Option<i64>,
    pub attempt: u32,
    pub carried: Vec<(String, Conclusion)>,
    /// A run that is over before it starts (a workflow that cannot be planned): it is stored
    /// completed with this reason, so the failure is visible like on GitHub.
    pub failed: Option<String>,
}

impl NewRun {
    pub fn new(spec: RunSpec) -> NewRun {
        NewRun {
            spec,
            concurrency: None,
            rerun_of: None,
            attempt: 1,
            carried: Vec::new(),
            failed: None,
        }
    }
}

/// The result of [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The delivery id was already recorded: nothing was written.
    Duplicate,
    New {
        run_ids: Vec<i64>,
        /// Pending runs of the same concurrency groups, now cancelled.
        superseded: Vec<i64>,
        /// Running runs whose group asked `cancel-in-progress`: the caller cancels them.
        cancel_running: Vec<i64>,
    },
}

/// A run taken off the queue.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub id: i64,
    pub attempt: u32,
    pub spec: RunSpec,
    /// The jobs to execute (a re-run of failed jobs omits the carried ones).
    pub jobs: Vec<PlannedJobInfo>,
}

/// What [`Store::request_cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelState {
    NotFound,
    AlreadyFinished,
    /// It had not started: it is now cancelled.
    Dequeued,
    /// It is running: the caller stops it.
    Running,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunFilter {
    pub repo: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
    /// Only runs with a smaller id (the next page after the last id seen).
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub repo: String,
    pub event: String,
    pub workflow_path: String,
    pub workflow_name: String,
    pub git_ref: String,
    pub sha: String,
    /// `queued`, `running` or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub reason: Option<String>,
    pub attempt: u32,
    pub rerun_of: Option<i64>,
    pub delivery_id: Option<String>,
    pub concurrency_group: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub number: u32,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotationRecord {
    pub level: AnnotationLevel,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub needs: Vec<String>,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub steps: Vec<StepRecord>,
    pub annotations: Vec<AnnotationRecord>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub job: Option<String>,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunSummary,
    pub jobs: Vec<JobRecord>,
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogChunk {
    /// Increasing; pass the last one seen as `after` to follow.
    pub id: i64,
    pub job: String,
    pub step: Option<u32>,
    pub text: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub event: String,
    pub repo: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub received_at: i64,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// (status, conclusion or "", count)
    pub runs: Vec<(String, String, u64)>,
    /// (status, count)
    pub deliveries: Vec<(String, u64)>,
}

/// One delivery (if any) and its runs, waiting for a group commit.
#[derive(Debug, Clone)]
pub struct PendingCommit {
    pub delivery: Option<NewDelivery>,
    pub runs: Vec<NewRun>,
}

/// What committing one [`PendingCommit`] did.
pub type CommitResult = Result<Committed, StoreError>;

/// What [`Store::renew_leases`] found about the runs a daemon executes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseReport {
    /// Runs this daemon no longer holds (reaped after its lease expired): stop them.
    pub lost: Vec<i64>,
    /// Runs someone asked to cancel, with the reason (the poll behind `NOTIFY gantry_cancel`).
    pub cancel: Vec<(i64, String)>,
}

/// A change another daemon made, pushed by a shared store (PostgreSQL `LISTEN/NOTIFY`).
/// Hints, not the source of truth: they can be lost while a listener reconnects, so the
/// daemon keeps polling as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSignal {
    /// Runs were queued or a slot or concurrency group freed up: try to claim.
    Queue,
    /// A run changed (progress, logs, end): live views reload.
    Run(i64),
    /// Cancellation of a run was requested: the daemon executing it stops it.
    Cancel { run: i64, reason: String },
}

/// The daemon's durable state. Implementations are synchronous; the daemon calls them from
/// blocking tasks.
///
/// The last four methods exist for stores several daemons share ([`PgStore`]); their defaults
/// are right for an embedded store with exactly one daemon (`daemon.lock`).
pub trait Store: Send + Sync + 'static {
    fn has_delivery(&self, id: &str) -> Result<bool, StoreError>;

    /// Records `delivery` (if any) and queues `runs` in one transaction, applying concurrency
    /// groups. Returns [`Committed::Duplicate`] without writing when the delivery id exists.
    fn commit(
        &self,
        delivery: Option<&NewDelivery>,
        runs: &[NewRun],
    ) -> Result<Committed, StoreError>;

    /// Group commit: [`Store::commit`] for each `(delivery, runs)` in order, all in ONE
    /// transaction (one fsync), so a burst of webhooks shares the cost of durability. One
    /// item's error fails only that item; the outer error means nothing was committed.
    /// The default commits each item on its own, for stores without transactions to share.
    fn commit_batch(&self, items: &[PendingCommit]) -> Result<Vec<CommitResult>, StoreError> {
        Ok(items
            .iter()
            .map(|item| self.commit(item.delivery.as_ref(), &item.runs))
            .collect())
    }

    /// Takes the oldest queued run whose concurrency group has nothing running and marks it
    /// running.
    fn claim_next(&self) -> Result<Option<ClaimedRun>, StoreError>;

    /// At start-up: finishes or re-queues the runs that were running when the daemon died.
    fn recover(&self, policy: RestartPolicy) -> Result<Vec<i64>, StoreError>;

    /// Records progress events of a running run, in order, in one transaction.
    fn apply(&self, run_id: i64, events: &[RunEvent]) -> Result<(), StoreError>;

    /// Completes a run; jobs and steps still open take the run's conclusion.
    fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError>;

    fn request_cancel(&self, run_id: i64, reason: &str) -> Result<CancelState, StoreError>;

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError>;

    fn run_detail(&self, run_id: i64) -> Result<Option<RunDetail>, StoreError>;

    fn run_spec(&self, run_id: i64) -> Result<Option<RunSpec>, StoreError>;

    /// Log chunks of one job with an id above `after`, oldest first.
    fn logs(
        &self,
        run_id: i64,
        job: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LogChunk>, StoreError>;

    fn deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError>;

    fn counts(&self) -> Result<Counts, StoreError>;

    /// Deletes completed runs (with jobs, steps and logs) finished before `before` (unix ms),
    /// and deliveries received before it that no remaining run refers to.
    fn prune(&self, before: i64) -> Result<usize, StoreError>;

    /// How often the daemon renews its leases and reaps expired ones; `None`: this store has
    /// one daemon, so runs have no leases.
    fn lease_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Extends the leases of `run_ids`, runs this daemon executes.
    fn renew_leases(&self, run_ids: &[i64]) -> Result<LeaseReport, StoreError> {
        let _ = run_ids;
        Ok(LeaseReport::default())
    }

    /// Fails or re-queues (per `policy`) the runs whose daemon's lease expired.
    fn reap(&self, policy: RestartPolicy) -> Result<Vec<i64>, StoreError> {
        let _ = policy;
        Ok(Vec::new())
    }

    /// Changes made by other daemons, as they happen.
    fn signals(&self) -> Option<tokio::sync::broadcast::Receiver<StoreSignal>> {
        None
    }
}

/// Serialises plain data structs for a TEXT column; that cannot fail.
pub(crate) fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// GitHub compares concurrency group names case-insensitively (`prod` is `Prod`).
pub(crate) fn group_key(group: &str) -> String {
    group.to_lowercase()
}

pub(crate) fn level_str(level: AnnotationLevel) -> &'static str {
    match level {
        AnnotationLevel::Error => "error",
        AnnotationLevel::Warning => "warning",
        AnnotationLevel::Notice => "notice",
    }
}

pub(crate) fn parse_level(s: &str) -> AnnotationLevel {
    match s {
        "error" => AnnotationLevel::Error,
        "warning" => AnnotationLevel::Warning,
        _ => AnnotationLevel::Notice,
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
