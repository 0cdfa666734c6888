//! Start-up, the worker pool and shutdown.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use thiserror::Error;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::committer::Committer;
use crate::config::{Config, ConfigProblem, check_config};
use crate::launcher::{Conclusion, QueuedRun, RunEvent, RunLauncher, RunOutcome};
use crate::metrics::{Metrics, Stage};
use crate::planner::{
    EventInput, PlanFailure, Planned, check_out, clear_stale_locks, fetch, plan_event_with,
};
use crate::store::{ClaimedRun, PgSettings, PgStore, SqliteStore, Store, StoreError, now_ms};

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another daemon uses the data directory {0} (daemon.lock is held)")]
    Locked(std::path::PathBuf),
    #[error("cannot lock the data directory {path}: {source}")]
    Lock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the package registry: {0}")]
    Packages(#[from] gantry_packages::Error),
    #[error("cannot open the runner services: {0}")]
    Services(#[from] gantry_services::ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// State shared by the HTTP handlers and the worker pool.
pub(crate) struct Shared {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub launcher: Arc<dyn RunLauncher>,
    /// False once shutdown began: webhooks and mutations answer 503.
    pub accepting: AtomicBool,
    /// Wakes the scheduler when runs were queued or a slot freed up.
    pub wake: Notify,
    /// Running runs: their cancellation token and why they were cancelled.
    pub running: Mutex<HashMap<i64, (CancellationToken, Option<String>)>>,
    /// Cancellations that arrived between a claim and the run's registration.
    pub early_cancels: Mutex<HashSet<i64>>,
    /// The id of every run that changed, for live views.
    pub changes: broadcast::Sender<i64>,
    /// Stops claiming new runs.
    pub stopping: CancellationToken,
    /// Ends long-lived responses (SSE) so the server can stop.
    pub closing: CancellationToken,
    pub tasks: TaskTracker,
    /// Planning fetches into per-repository mirrors; one at a time keeps git's locks happy.
    /// Taken on the blocking thread, so a caller that stops waiting never lets a second
    /// fetch into a mirror that is still being written. Held for the fetch only: planning
    /// reads the mirror without it.
    /// Holds, per repository, when the last completed fetch into its mirror started.
    pub plan_lock: Arc<Mutex<HashMap<String, std::time::Instant>>>,
    /// Parsed `schedule:` crons by workflow blob, so the cron loop parses only changed files.
    pub schedules: crate::schedule::ScheduleCache,
    pub metrics: Metrics,
    /// Group commit of webhook deliveries (see [`crate::committer`]).
    pub committer: Committer,
    /// The embedded package registry, when enabled.
    pub registry: Option<gantry_packages::Registry>,
    /// How runs reach this daemon (`packages.public_url`, or `http://` + the bound address).
    pub base_url: String,
    /// The artifact and cache services, when enabled.
    pub services: Option<Arc<crate::services::RunServices>>,
}

impl Shared {
    /// Runs a store call on the blocking pool.
    pub async fn db<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Plans `event` for `repo_name` on the blocking pool, waiting at most `timeout`.
    pub async fn plan(
        self: &Arc<Self>,
        repo_name: String,
        event: String,
        payload: Value,
        timeout: Duration,
    ) -> Result<Planned, PlanFailure> {
        let shared = self.clone();
        let received = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let repo = shared
                .config
                .repositories
                .get(&repo_name)
                .ok_or_else(|| PlanFailure::NotConfigured(repo_name.clone()))?;
            shared.refresh_mirror(&repo_name, &repo.url, received)?;
            let input = EventInput {
                repo_name: &repo_name,
                repo,
                event: &event,
                payload: &payload,
            };
            // Without the lock: many deliveries plan at once from the same mirror (git
            // writes a fetch's objects before it moves the refs, so readers never see a ref
            // whose objects are missing).
            let started = Instant::now();
            let planned = plan_event_with(&shared.config.data_dir, &input, false);
            shared.metrics.observe(Stage::Plan, started.elapsed());
            planned
        });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(PlanFailure::Task(e.to_string())),
            Err(_) => Err(PlanFailure::TimedOut(timeout)),
        }
    }

    /// Makes sure a fetch of `repo_name` that started after `received` has completed, so the
    /// mirror holds everything the event names. Under a burst one fetch serves every delivery
    /// that queued behind it.
    fn refresh_mirror(
        &self,
        repo_name: &str,
        url: &str,
        received: Instant,
    ) -> Result<(), PlanFailure> {
        let waiting = Instant::now();
        let mut fetched = self
            .plan_lock
            .lock()
            .map_err(|e| PlanFailure::Task(e.to_string()))?;
        self.metrics
            .observe(Stage::FetchLockWait, waiting.elapsed());
        if fetched.get(repo_name).is_some_and(|at| *at >= received) {
            return Ok(());
        }
        let started = Instant::now();
        fetch(&self.config.data_dir, repo_name, url)?;
        self.metrics.observe(Stage::Fetch, started.elapsed());
        fetched.insert(repo_name.to_owned(), started);
        Ok(())
    }

    /// Cancels `run_id` if this daemon executes it; otherwise nothing (the request came from
    /// a shared store and is meant for whichever daemon holds the run).
    pub fn cancel_if_running(&self, run_id: i64, reason: &str) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        if let Some((token, why)) = running.get_mut(&run_id) {
            why.get_or_insert_with(|| reason.to_owned());
            token.cancel();
        }
    }

    /// Cancels a running run (a no-op for runs that are not running here).
    pub fn cancel(&self, run_id: i64, reason: &str) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        match running.get_mut(&run_id) {
            Some((token, why)) => {
                why.get_or_insert_with(|| reason.to_owned());
                token.cancel();
            }
            None => {
                if let Ok(mut early) = self.early_cancels.lock() {
                    early.insert(run_id);
                }
            }
        }
    }

    pub fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(usize::MAX)
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    pub fn changed(&self, run_id: i64) {
        // Nobody listening is fine.
        let _ = self.changes.send(run_id);
    }
}

/// How long cancelled runs get to stop at the end of a drain.
const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// The daemon.
pub struct Daemon;

impl Daemon {
    /// Checks the configuration, opens the store (`[store] url`: PostgreSQL, else SQLite in
    /// `data_dir`), recovers runs a crash interrupted, reaps their leftovers, binds `listen`
    /// and starts serving and running.
    pub async fn start(
        config: Config,
        launcher: Arc<dyn RunLauncher>,
    ) -> Result<DaemonHandle, DaemonError> {
        check_config(&config).map_err(DaemonError::Config)?;
        let store = open_store(&config).await?;
        Daemon::start_with_store(config, launcher, store).await
    }

    /// [`Daemon::start`] with another [`Store`].
    pub async fn start_with_store(
        config: Config,
        launcher: Arc<dyn RunLauncher>,
        store: Arc<dyn Store>,
    ) -> Result<DaemonHandle, DaemonError> {
        check_config(&config).map_err(DaemonError::Config)?;
        let addr = config
            .listen_addr()
            .map_err(|p| DaemonError::Config(vec![p]))?;
        // Two daemons on one data directory would each "recover" the other's running runs.
        let lock = lock_data_dir(&config.data_dir)?;
        // Nothing runs yet: leftovers of a killed process can go.
        clear_stale_locks(&config.data_dir);
        let _ = std::fs::remove_dir_all(config.data_dir.join("work"));
        let registry = open_registry(&config).await?;
        // No run of this daemon runs yet: the tokens of runs a crash interrupted go (a
        // requeued run gets a new one when it starts again).
        if let Some(registry) = registry.as_ref().filter(|r| !r.is_shared()) {
            let revoked = registry.revoke_run_tokens().await?;
            if revoked > 0 {
                tracing::info!(revoked, "revoked the package tokens of earlier runs");
            }
        }
        let policy = config.on_restart;
        let recovering = store.clone();
        let recovered = tokio::task::spawn_blocking(move || recovering.recover(policy))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        if !recovered.is_empty() {
            tracing::warn!(runs = ?recovered, "runs interrupted by a daemon stop were recovered");
        }
        // Before any run starts (a re-queued run's old attempt must be gone before its new one
        // runs), and whether or not the store knew of interrupted runs: a run that ended while
        // its cleanup did not can have left things too. Only this daemon's own.
        launcher.reap().await;
        let registry_url_hint = config.packages.public_url.clone();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| DaemonError::Bind { addr, source })?;
        let (committer, pending) = Committer::new();
        let base_url = base_url(registry_url_hint.as_deref(), local_addr);
        let services = crate::services::RunServices::open(&config, &base_url).await?;
        let shared = Arc::new(Shared {
            config,
            store,
            launcher,
            accepting: AtomicBool::new(true),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            early_cancels: Mutex::new(HashSet::new()),
            changes: broadcast::channel(1024).0,
            stopping: CancellationToken::new(),
            closing: CancellationToken::new(),
            tasks: TaskTracker::new(),
            plan_lock: Arc::new(Mutex::new(HashMap::new())),
            schedules: Default::default(),
            metrics: Metrics::default(),
            committer,
            base_url,
            registry: registry.clone(),
            services: services.clone(),
        });
        let mut app = crate::http::router(shared.clone());
        if let Some(registry) = &registry {
            // The registry takes every path the daemon does not serve (npm names sit at the
            // root), so the daemon adds no fallback of its own.
            app = app.merge(registry.router());
        }
        if let Some(services) = &services {
            // `/twirp/...`, `/_apis/...` and `/_blob/...`: no npm name starts like these.
            app = app.merge(services.router());
            tokio::spawn(services.clone().purge_loop(shared.stopping.clone()));
        }
        let app = crate::http::secure(app);
        let closing = shared.closing.clone();
        let limits = shared.config.http;
        let server = tokio::spawn(gantry_http::serve(
            listener,
            app,
            limits,
            closing.cancelled_owned(),
        ));
        let scheduler = tokio::spawn(schedule(shared.clone()));
        let pruner = tokio::spawn(prune(shared.clone()));
        let cron = tokio::spawn(crate::schedule::run(shared.clone()));
        let writer = tokio::spawn(crate::committer::run(shared.clone(), pending));
        let shared_store = crate::lease::start(&shared);
        Ok(DaemonHandle {
            shared_store,
            cron,
            writer,
            _lock: lock,
            addr: local_addr,
            shared,
            server,
            scheduler,
            pruner,
            recovered,
        })
    }
}

/// A running daemon.
pub struct DaemonHandle {
    /// Held while the daemon runs; the kernel releases it even on `kill -9`.
    _lock: std::fs::File,
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    scheduler: JoinHandle<()>,
    pruner: JoinHandle<()>,
    /// Fires `schedule:` triggers.
    cron: JoinHandle<()>,
    /// The group committer; stopped once the server (every webhook handler) has.
    writer: JoinHandle<()>,
    /// Lease renewal, the reaper and store signals, for a store several daemons share.
    shared_store: Vec<JoinHandle<()>>,
    recovered: Vec<i64>,
}

/// What a drain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Runs that finished on their own during the drain.
    pub drained: bool,
    /// Runs cancelled because the drain timeout passed.
    pub cancelled: Vec<i64>,
}

impl DaemonHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store, for inspection.
    pub fn store(&self) -> Arc<dyn Store> {
        self.shared.store.clone()
    }

    /// Queues the runs of every `schedule:` trigger due at `minute` (unix seconds, rounded
    /// down to the minute), as the cron loop does when that minute comes. A minute fires at
    /// most once, whoever fires it.
    pub async fn fire_schedules(&self, minute: i64) {
        crate::schedule::fire_minute(&self.shared, minute.div_euclid(60) * 60).await;
    }

    /// Runs that were in flight at the previous stop and were failed or re-queued.
    pub fn recovered(&self) -> &[i64] {
        &self.recovered
    }

    /// Drains with the configured `drain_timeout_secs`.
    pub async fn shutdown(self) -> ShutdownReport {
        let timeout = Duration::from_secs(self.shared.config.drain_timeout_secs);
        self.shutdown_within(timeout).await
    }

    /// Stops accepting (webhooks answer 503), lets running jobs finish for up to `timeout`,
    /// cancels what still runs, then stops the server.
    pub async fn shutdown_within(self, timeout: Duration) -> ShutdownReport {
        let shared = &self.shared;
        shared.accepting.store(false, Ordering::SeqCst);
        shared.stopping.cancel();
        let _ = self.scheduler.await;
        self.cron.abort();
        shared.tasks.close();
        let drained = tokio::time::timeout(timeout, shared.tasks.wait())
            .await
            .is_ok();
        let mut cancelled = Vec::new();
        if !drained {
            cancelled = running_ids(shared);
            for &id in &cancelled {
                shared.cancel(id, "cancelled: the daemon is shutting down");
            }
            // A launcher that ignores cancellation must not hold the process forever: its
            // runs stay "running" in the store and the next start recovers them.
            let _ = tokio::time::timeout(CANCEL_GRACE, shared.tasks.wait()).await;
        }
        shared.closing.cancel();
        self.pruner.abort();
        // Leases are renewed until the last run ended; afterwards nothing is held.
        self.shared_store.iter().for_each(JoinHandle::abort);
        let _ = self.server.await;
        // A batch being written still commits: its blocking task runs to the end.
        self.writer.abort();
        ShutdownReport { drained, cancelled }
    }

    /// Waits for SIGTERM or Ctrl-C, then drains ([`DaemonHandle::shutdown`]).
    pub async fn run_until_signal(self) -> ShutdownReport {
        wait_for_signal().await;
        tracing::info!("draining");
        self.shutdown().await
    }
}

/// The store `[store]` selects: PostgreSQL when `url` is set, else SQLite in `data_dir`.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, DaemonError> {
    let Some(url) = config.store.url.clone() else {
        return Ok(Arc::new(SqliteStore::open(&config.data_dir)?));
    };
    let settings = PgSettings {
        url,
        pool_size: config.store.pool_size,
        lease: Duration::from_secs(config.store.lease_secs),
        instance: config.instance_id(),
    };
    // Connecting blocks on the store's own runtime; not on one of this runtime's workers.
    let store = tokio::task::spawn_blocking(move || PgStore::connect(settings))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
    Ok(Arc::new(store))
}

/// Opens the registry unless `[packages] enabled = false`: blobs in `storage_dir` (by default
/// `data_dir/packages`), metadata beside the store (SQLite there, or the store's PostgreSQL
/// database, so that every daemon on that database serves the same packages).
async fn open_registry(config: &Config) -> Result<Option<gantry_packages::Registry>, DaemonError> {
    if !config.packages.enabled {
        return Ok(None);
    }
    let storage = config
        .packages
        .storage_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("packages"));
    let mut registry_config = gantry_packages::Config::new(storage);
    registry_config.public_url = config.packages.public_url.clone();
    if let Some(url) = &config.store.url {
        if config.packages.storage_dir.is_none() {
            tracing::warn!(
                "packages metadata is shared through [store] but blobs stay in this daemon's \
                 data_dir: other daemons cannot serve them; set [packages] storage_dir"
            );
        }
        registry_config.metadata = gantry_packages::MetadataBackend::Postgres {
            url: url.clone(),
            pool_size: config.packages.pool_size,
        };
    }
    Ok(Some(
        gantry_packages::Registry::open(registry_config).await?,
    ))
}

fn base_url(public_url: Option<&str>, addr: SocketAddr) -> String {
    match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{addr}"),
    }
}

/// A `GITHUB_TOKEN` for one run: the repository owner's packages, read and write.
async fn run_token(shared: &Shared, repo: &str) -> Option<crate::launcher::PackagesAccess> {
    use gantry_packages::Scope;
    let registry = shared.registry.as_ref()?;
    let owner = repo.split('/').next().unwrap_or(repo);
    let ttl = Duration::from_secs(shared.config.packages.token_ttl_hours.max(1) * 3600);
    match registry
        .mint_run_token(owner, &[Scope::ReadPackages, Scope::WritePackages], ttl)
        .await
    {
        Ok(token) => Some(crate::launcher::PackagesAccess {
            url: shared.base_url.clone(),
            token,
        }),
        Err(e) => {
            tracing::warn!(repo, error = %e, "no package token for this run");
            None
        }
    }
}

/// The run is over: its `GITHUB_TOKEN` stops working before the run is reported finished, so
/// nothing that saw the run end can still use it.
async fn revoke_run_token(shared: &Shared, run: i64, token: Option<String>) {
    let (Some(registry), Some(token)) = (&shared.registry, token) else {
        return;
    };
    if let Err(e) = registry.revoke_token(&token).await {
        tracing::error!(run, error = %e, "cannot revoke the run's package token");
    }
}

fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, DaemonError> {
    let lock_error = |source| DaemonError::Lock {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(lock_error)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("daemon.lock"))
        .map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DaemonError::Locked(dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(lock_error(e)),
    }
}

pub(crate) fn running_ids(shared: &Shared) -> Vec<i64> {
    let mut ids: Vec<i64> = shared
        .running
        .lock()
        .map(|r| r.keys().copied().collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The worker pool: claims queued runs while there is capacity.
async fn schedule(shared: Arc<Shared>) {
    let poll = Duration::from_secs(shared.config.store.queue_poll_secs);
    loop {
        fill(&shared).await;
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
            () = shared.stopping.cancelled() => return,
        }
    }
}

async fn fill(shared: &Arc<Shared>) {
    while shared.running_count() < shared.config.capacity && !shared.stopping.is_cancelled() {
        match shared.db(|s| s.claim_next()).await {
            Ok(Some(run)) => start_run(shared, run),
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot take a run off the queue");
                return;
            }
        }
    }
}

fn start_run(shared: &Arc<Shared>, claimed: ClaimedRun) {
    let id = claimed.id;
    let token = CancellationToken::new();
    if let Ok(mut running) = shared.running.lock() {
        running.insert(id, (token.clone(), None));
    }
    let early = shared
        .early_cancels
        .lock()
        .map(|mut e| e.remove(&id))
        .unwrap_or(false);
    if early {
        shared.cancel(id, "cancelled");
    }
    shared.changed(id);
    tracing::info!(run = id, attempt = claimed.attempt, "run started");
    let run_token_of = |queued: &QueuedRun| queued.packages.as_ref().map(|p| p.token.clone());
    let shared = shared.clone();
    shared.tasks.clone().spawn(async move {
        // The run's package token is minted here: with PostgreSQL metadata it is a round trip.
        let queued = queued_run(&shared, claimed).await;
        let run_token = run_token_of(&queued);
        let outcome = execute(&shared, queued, token).await;
        revoke_run_token(&shared, id, run_token).await;
        finish(&shared, id, outcome).await;
    });
}

async fn queued_run(shared: &Shared, claimed: ClaimedRun) -> QueuedRun {
    let spec = claimed.spec;
    let repo = shared.config.repositories.get(&spec.repo);
    let workspace = shared
        .config
        .data_dir
        .join("work")
        .join(format!("run-{}-{}", claimed.id, claimed.attempt));
    let packages = run_token(shared, &spec.repo).await;
    let services = shared.services.as_ref().map(|services| {
        let branch = repo.map_or("main", |r| r.default_branch.as_str());
        let scope = crate::services::run_scope(claimed.id, &spec.repo, &spec.git_ref, branch);
        let github_token = packages.as_ref().map(|p| p.token.as_str());
        services.grant(claimed.id, &scope, github_token)
    });
    QueuedRun {
        packages,
        services,
        run_id: claimed.id,
        attempt: claimed.attempt,
        repo: spec.repo,
        repo_url: spec.repo_url,
        event: spec.event,
        payload: spec.payload,
        git_ref: spec.git_ref,
        sha: spec.sha,
        workflow_path: spec.workflow_path,
        workflow_source: spec.workflow_source,
        jobs: claimed.jobs,
        inputs: spec.inputs,
        secrets: repo.map(|r| r.secrets.clone()).unwrap_or_default(),
        variables: repo.map(|r| r.variables.clone()).unwrap_or_default(),
        labels: shared.config.labels.clone(),
        workspace,
    }
}

/// Runs the launcher while a recorder stores its events in batches (one transaction per
/// batch keeps fsyncs off the per-line path).
async fn execute(shared: &Arc<Shared>, run: QueuedRun, token: CancellationToken) -> RunOutcome {
    let id = run.run_id;
    let workspace = run.workspace.clone();
    let (tx, mut rx) = mpsc::channel::<RunEvent>(1024);
    let recorder_shared = shared.clone();
    let recorder = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            if let Err(e) = recorder_shared.db(move |s| s.apply(id, &batch)).await {
                tracing::error!(run = id, error = %e, "cannot record run progress");
            }
            recorder_shared.changed(id);
        }
    });
    if let Err(e) = check_out_workspace(shared, &run).await {
        drop(tx);
        let _ = recorder.await;
        return RunOutcome::with_reason(Conclusion::Failure, format!("cannot check out: {e}"));
    }
    let launcher = shared.launcher.clone();
    let outcome = launcher.run(run, tx, token).await;
    let _ = recorder.await;
    let _ = tokio::fs::remove_dir_all(&workspace).await;
    outcome
}

/// Checks the run's commit out of this daemon's mirror. With a shared store the run may have
/// been planned by another daemon, whose mirror had the commit while this one's does not (or
/// does not exist yet): then fetch once and try again.
async fn check_out_workspace(shared: &Arc<Shared>, run: &QueuedRun) -> Result<(), PlanFailure> {
    let fetching = shared.clone();
    let (repo, sha, dir) = (run.repo.clone(), run.sha.clone(), run.workspace.clone());
    let url = run.repo_url.clone();
    tokio::task::spawn_blocking(move || {
        let data_dir = &fetching.config.data_dir;
        if check_out(data_dir, &repo, &sha, &dir).is_ok() {
            return Ok(());
        }
        fetching.refresh_mirror(&repo, &url, Instant::now())?;
        check_out(data_dir, &repo, &sha, &dir)
    })
    .await
    .map_err(|e| PlanFailure::Task(e.to_string()))?
}

async fn finish(shared: &Arc<Shared>, id: i64, mut outcome: RunOutcome) {
    if let Some(services) = &shared.services {
        services.revoke(id);
    }
    let entry = shared.running.lock().ok().and_then(|mut r| r.remove(&id));
    if let Some((token, why)) = entry
        && token.is_cancelled()
    {
        outcome.conclusion = Conclusion::Cancelled;
        outcome.reason = outcome.reason.or(why);
    }
    tracing::info!(
        run = id,
        conclusion = outcome.conclusion.as_str(),
        "run finished"
    );
    if let Err(e) = shared.db(move |s| s.finish_run(id, &outcome)).await {
        tracing::error!(run = id, error = %e, "cannot record the end of a run");
    }
    shared.changed(id);
    shared.wake.notify_one();
}

/// Deletes runs past the retention period, hourly.
async fn prune(shared: Arc<Shared>) {
    let days = i64::from(shared.config.log_retention_days);
    if days == 0 {
        return;
    }
    loop {
        let before = now_ms() - days * 24 * 3600 * 1000;
        if let Err(e) = shared.db(move |s| s.prune(before)).await {
            tracing::error!(error = %e, "cannot prune old runs");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
