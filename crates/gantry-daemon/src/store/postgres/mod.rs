//! The PostgreSQL store: several daemons share one database and one queue (see
//! `docs/scaling.md`).
//!
//! The [`Store`] trait is synchronous and the daemon calls it from `spawn_blocking` threads
//! (the SQLite store blocks on disk anyway). Rather than making the trait async, which would
//! turn every SQLite call into a blocking task inside an async wrapper and change every caller
//! in the HTTP handlers, this store owns a small dedicated Tokio runtime: its pool's
//! connections, the `LISTEN` connection and their I/O live there, and each trait call blocks
//! its (blocking-pool) thread on `Handle::block_on` until its statements are done. The
//! daemon's runtime never blocks, the store works the same from plain threads (tests, tools),
//! and the cost is one thread hand-off per call, small beside a network round trip.
//!
//! Guarantees, as with SQLite: a delivery and its runs commit in one transaction before the
//! webhook is answered; the delivery id is unique across daemons. Beyond SQLite: each running
//! run has an owner (the daemon's instance id) and a lease in the database's clock; progress
//! and the end of a run are written only by its owner; expired leases are reaped by any daemon.

mod bulk;
mod hints;
mod listen;
mod reads;
pub mod schema;
mod sql;
mod writes;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::broadcast;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use self::sql::{exec, opt, rows};
use self::writes::{CANCEL, Lease, QUEUE, RUN, cancel_payload, notify, run_payload};
use super::*;

/// How to reach the database and who this daemon is.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// `postgres://user:password@host:port/database` (or key=value pairs).
    pub url: String,
    /// Connections in the pool (the `LISTEN` connection comes on top).
    pub pool_size: usize,
    /// How long a claimed run stays this daemon's without a renewal.
    pub lease: Duration,
    /// Owner of the runs this daemon claims; unique among the daemons sharing the database
    /// and stable across restarts of one daemon, so a restart recovers its own runs at once.
    pub instance: String,
}

/// The [`Store`] several daemons share.
pub struct PgStore {
    pool: Pool,
    instance: String,
    lease: Duration,
    signals: broadcast::Sender<StoreSignal>,
    handle: Handle,
    /// Taken on drop: a runtime must not be dropped (blocking) inside another one.
    runtime: Option<Runtime>,
}

/// How many times a claim retries after losing a concurrency-group race.
const CLAIM_RETRIES: usize = 8;

impl PgStore {
    /// Connects, migrates the schema to the latest version and starts listening.
    pub fn connect(settings: PgSettings) -> Result<PgStore, StoreError> {
        let runtime = client_runtime()?;
        let config: tokio_postgres::Config = settings.url.parse().map_err(StoreError::Url)?;
        let pool = runtime.block_on(open_pool(&config, settings.pool_size, schema::LATEST))?;
        let (signals, _) = broadcast::channel(4096);
        runtime.spawn(listen::listen(
            config,
            settings.instance.clone(),
            signals.clone(),
        ));
        Ok(PgStore {
            pool,
            instance: settings.instance,
            lease: settings.lease,
            signals,
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Migrates the database at `url` to `version` (not beyond the latest) without opening a
    /// store; returns the version it had. For upgrade tests and operators who migrate ahead
    /// of a rolling restart.
    pub fn migrate_to(url: &str, version: i32) -> Result<i32, StoreError> {
        let runtime = client_runtime()?;
        let config: tokio_postgres::Config = url.parse().map_err(StoreError::Url)?;
        let found = runtime.block_on(async {
            let pool = pool(&config, 1)?;
            let mut client = pool.get().await?;
            schema::migrate(&mut client, version.min(schema::LATEST)).await
        });
        runtime.shutdown_background();
        found
    }

    /// Runs `f` to completion on the client runtime. Called from a blocking thread (the
    /// daemon's `spawn_blocking`, or a plain thread), never from inside an async task.
    fn block<F: Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// `f` in one transaction, committed when it returns `Ok` (rolled back on drop otherwise).
    async fn in_tx<R>(
        &self,
        f: impl AsyncFnOnce(&Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let result = f(&tx).await?;
        tx.commit().await?;
        Ok(result)
    }

    fn lease(&self) -> Lease<'_> {
        Lease {
            owner: &self.instance,
            secs: self.lease.as_secs_f64(),
        }
    }

    /// Commits `items` in one transaction: one WAL flush for the whole burst.
    async fn commit_all(&self, items: &[PendingCommit]) -> Result<Vec<Committed>, StoreError> {
        if bulk::bulk_ok(items) {
            return self.commit_pipelined(items).await;
        }
        self.in_tx(async |tx| {
            let mut done = Vec::with_capacity(items.len());
            for item in items {
                done.push(writes::commit_in(tx, item.delivery.as_ref(), &item.runs).await?);
            }
            if done.iter().any(queued_runs) {
                notify(tx, QUEUE, "").await?;
            }
            Ok(done)
        })
        .await
    }

    /// [`bulk::commit`] on a pooled connection. Its transaction is not a `Transaction` (whose
    /// `commit` cannot be pipelined with the statements before it), so a failure ends it here:
    /// a connection that cannot even roll back leaves the pool instead of going back to it.
    async fn commit_pipelined(
        &self,
        items: &[PendingCommit],
    ) -> Result<Vec<Committed>, StoreError> {
        let client = self.pool.get().await?;
        let result = bulk::commit(&client, items).await;
        match &result {
            Ok(done) if done.iter().any(queued_runs) => {
                hint_on(&client, &[(QUEUE, String::new())]).await;
            }
            Ok(_) => {}
            Err(_) => discard_failed(client).await,
        }
        result
    }

    /// Tells the other daemons about data this daemon just committed (see `hints`).
    async fn hint(&self, notes: &[(&str, String)]) {
        match self.pool.get().await {
            Ok(client) => hint_on(&client, notes).await,
            Err(e) => tracing::warn!(error = %e, "cannot notify the other daemons; they will poll"),
        }
    }

    /// Records progress (only while this daemon holds the run), then tells the other daemons'
    /// live views.
    async fn apply_now(&self, run_id: i64, events: &[RunEvent]) -> Result<(), StoreError> {
        self.in_tx(async |tx| {
            // FOR SHARE: a reaper cannot take the run back while this batch is written.
            let held = opt(
                tx,
                "SELECT 1 FROM runs WHERE id = $1 AND owner = $2 AND status = 'running'
                 FOR SHARE",
                &[&run_id, &self.instance],
            )
            .await?;
            if held.is_none() {
                return Err(StoreError::LeaseLost(run_id));
            }
            for event in events {
                writes::apply_event(tx, run_id, event).await?;
            }
            Ok(())
        })
        .await?;
        self.hint(&[(RUN, run_payload(run_id, &self.instance))])
            .await;
        Ok(())
    }

    /// Ends the run (only its owner), then tells the other daemons: its slot and its
    /// concurrency group are free, any daemon may claim next.
    async fn finish_now(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        self.in_tx(async |tx| {
            let conclusion = outcome.conclusion;
            let reason = outcome.reason.as_deref();
            let owner = Some(self.instance.as_str());
            if !writes::complete_run(tx, run_id, "running", conclusion, reason, owner).await? {
                return Err(StoreError::LeaseLost(run_id));
            }
            Ok(())
        })
        .await?;
        let run = run_payload(run_id, &self.instance);
        self.hint(&[(QUEUE, String::new()), (RUN, run)]).await;
        Ok(())
    }

    /// Running runs this daemon may take back: expired leases, runs without an owner, and
    /// with `mine` the runs of this instance id (a restart of this very daemon).
    async fn take_back(&self, policy: RestartPolicy, mine: bool) -> Result<Vec<i64>, StoreError> {
        let owner = mine.then_some(self.instance.as_str());
        self.in_tx(async |tx| {
            let expired = rows(
                tx,
                "SELECT id, cancel_reason FROM runs WHERE status = 'running' AND (
                     owner IS NULL OR lease_until IS NULL OR lease_until < now()
                     OR owner = $1)
                 ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&owner],
            )
            .await?;
            let mut taken = Vec::with_capacity(expired.len());
            for row in &expired {
                let id: i64 = row.try_get(0)?;
                let cancel: Option<String> = row.try_get(1)?;
                writes::recover_run(tx, id, cancel.as_deref(), policy).await?;
                notify(tx, RUN, &run_payload(id, "")).await?;
                taken.push(id);
            }
            Ok(taken)
        })
        .await
    }
}

/// [`PgStore::hint`] on a connection at hand. A failure costs the listeners only their next
/// poll; the connection is rolled back like after a failed commit.
async fn hint_on(client: &deadpool_postgres::Object, notes: &[(&str, String)]) {
    if let Err(e) = hints::send(client, notes).await {
        tracing::warn!(error = %e, "cannot notify the other daemons; they will poll");
        if client.batch_execute("ROLLBACK").await.is_err() {
            tracing::debug!("the connection did not roll back after a failed notification");
        }
    }
}

/// After a pipelined transaction failed it may still be open (aborted) on the connection:
/// roll it back, or take the connection out of the pool when even that fails.
async fn discard_failed(client: deadpool_postgres::Object) {
    if client.batch_execute("ROLLBACK").await.is_err() {
        drop(deadpool_postgres::Object::take(client));
    }
}

fn queued_runs(committed: &Committed) -> bool {
    matches!(committed, Committed::New { run_ids, .. } if !run_ids.is_empty())
}

fn client_runtime() -> Result<Runtime, StoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gantry-postgres")
        .enable_all()
        .build()
        .map_err(StoreError::Runtime)
}

fn pool(config: &tokio_postgres::Config, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|e| StoreError::PoolSetup(e.to_string()))
}

async fn open_pool(
    config: &tokio_postgres::Config,
    size: usize,
    version: i32,
) -> Result<Pool, StoreError> {
    let pool = pool(config, size)?;
    let mut client = pool.get().await?;
    schema::migrate(&mut client, version).await?;
    drop(client);
    Ok(pool)
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn has_delivery(&self, id: &str) -> Result<bool, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::has_delivery(&client, id).await
        })
    }

    fn commit(
        &self,
        delivery: Option<&NewDelivery>,
        runs: &[NewRun],
    ) -> Result<Committed, StoreError> {
        self.block(self.in_tx(async |tx| {
            let committed = writes::commit_in(tx, delivery, runs).await?;
            if queued_runs(&committed) {
                notify(tx, QUEUE, "").await?;
            }
            Ok(committed)
        }))
    }

    /// The whole batch in one transaction. PostgreSQL aborts a transaction on the first
    /// error, so instead of a savepoint per item (a round trip each) a failed batch is
    /// retried item by item, each in its own transaction: one item's error stays its own.
    fn commit_batch(&self, items: &[PendingCommit]) -> Result<Vec<CommitResult>, StoreError> {
        self.block(async {
            match self.commit_all(items).await {
                Ok(done) => Ok(done.into_iter().map(Ok).collect()),
                Err(e) if items.len() == 1 => Ok(vec![Err(e)]),
                Err(e) => {
                    tracing::debug!(error = %e, "group commit failed; committing one by one");
                    let mut results = Vec::with_capacity(items.len());
                    for item in items {
                        let one = self.commit_all(std::slice::from_ref(item)).await;
                        results.push(one.map(|mut done| done.remove(0)));
                    }
                    Ok(results)
                }
            }
        })
    }

    fn claim_next(&self) -> Result<Option<ClaimedRun>, StoreError> {
        let lease = self.lease();
        self.block(async {
            for _ in 0..CLAIM_RETRIES {
                match self.in_tx(async |tx| writes::claim(tx, &lease).await).await {
                    // Another daemon started a run of the same group first: try the next.
                    Err(StoreError::Postgres(e))
                        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
                    {
                        continue;
                    }
                    other => return other,
                }
            }
            // Still contended: the next wake-up or poll tries again.
            Ok(None)
        })
    }

    /// At start-up: this instance's own runs (it was restarted) and expired leases.
    fn recover(&self, policy: RestartPolicy) -> Result<Vec<i64>, StoreError> {
        self.block(self.take_back(policy, true))
    }

    fn apply(&self, run_id: i64, events: &[RunEvent]) -> Result<(), StoreError> {
        self.block(self.apply_now(run_id, events))
    }

    fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        self.block(self.finish_now(run_id, outcome))
    }

    fn request_cancel(&self, run_id: i64, reason: &str) -> Result<CancelState, StoreError> {
        self.block(self.in_tx(async |tx| {
            let status = opt(
                tx,
                "SELECT status FROM runs WHERE id = $1 FOR UPDATE",
                &[&run_id],
            )
            .await?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()?;
            match status.as_deref() {
                None => Ok(CancelState::NotFound),
                Some("queued") => {
                    let cancelled = Conclusion::Cancelled;
                    writes::complete_run(tx, run_id, "queued", cancelled, Some(reason), None)
                        .await?;
                    notify(tx, RUN, &run_payload(run_id, "")).await?;
                    Ok(CancelState::Dequeued)
                }
                Some("running") => {
                    // Persisted for the owner's next lease renewal, in case it misses the
                    // notification.
                    exec(
                        tx,
                        "UPDATE runs SET cancel_reason = COALESCE(cancel_reason, $2)
                         WHERE id = $1",
                        &[&run_id, &reason],
                    )
                    .await?;
                    let cancelling = "cancelling";
                    writes::transition(tx, run_id, None, Some("running"), cancelling, Some(reason))
                        .await?;
                    notify(tx, CANCEL, &cancel_payload(run_id, reason)).await?;
                    Ok(CancelState::Running)
                }
                Some(_) => Ok(CancelState::AlreadyFinished),
            }
        }))
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::list_runs(&client, filter).await
        })
    }

    fn run_detail(&self, run_id: i64) -> Result<Option<RunDetail>, StoreError> {
        self.block(async {
            // One snapshot, so the jobs and steps belong to the same moment as the run.
            let mut client = self.pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let detail = reads::run_detail(&tx, run_id).await?;
            tx.commit().await?;
            Ok(detail)
        })
    }

    fn run_spec(&self, run_id: i64) -> Result<Option<RunSpec>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::run_spec(&client, run_id).await
        })
    }

    fn logs(
        &self,
        run_id: i64,
        job: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LogChunk>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::logs(&client, run_id, job, after, limit).await
        })
    }

    fn deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::deliveries(&client, limit).await
        })
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            reads::counts(&client).await
        })
    }

    fn prune(&self, before: i64) -> Result<usize, StoreError> {
        self.block(self.in_tx(async |tx| {
            let old = "SELECT id FROM runs WHERE status = 'completed' AND finished_at < $1";
            let jobs = format!("SELECT id FROM jobs WHERE run_id IN ({old})");
            for table in ["logs", "steps", "annotations"] {
                let sql = format!("DELETE FROM {table} WHERE job_id IN ({jobs})");
                exec(tx, &sql, &[&before]).await?;
            }
            for table in ["jobs", "transitions"] {
                let sql = format!("DELETE FROM {table} WHERE run_id IN ({old})");
                exec(tx, &sql, &[&before]).await?;
            }
            let runs = exec(
                tx,
                "DELETE FROM runs WHERE status = 'completed' AND finished_at < $1",
                &[&before],
            )
            .await?;
            // Old deliveries go too: redeliveries older than the retention are not expected.
            exec(
                tx,
                "DELETE FROM deliveries d WHERE received_at < $1 AND NOT EXISTS
                 (SELECT 1 FROM runs r WHERE r.delivery_id = d.id)",
                &[&before],
            )
            .await?;
            Ok(usize::try_from(runs).unwrap_or(usize::MAX))
        }))
    }

    fn lease_interval(&self) -> Option<Duration> {
        Some(self.lease / 3)
    }

    fn renew_leases(&self, run_ids: &[i64]) -> Result<LeaseReport, StoreError> {
        let ids = run_ids.to_vec();
        self.block(async {
            let client = self.pool.get().await?;
            let held = rows(
                &client,
                "UPDATE runs SET lease_until = now() + make_interval(secs => $3)
                 WHERE id = ANY($1) AND owner = $2 AND status = 'running'
                 RETURNING id, cancel_reason",
                &[&ids, &self.instance, &self.lease.as_secs_f64()],
            )
            .await?;
            let mut report = LeaseReport::default();
            let mut kept = Vec::with_capacity(held.len());
            for row in &held {
                let id: i64 = row.try_get(0)?;
                if let Some(reason) = row.try_get::<_, Option<String>>(1)? {
                    report.cancel.push((id, reason));
                }
                kept.push(id);
            }
            report.lost = ids.into_iter().filter(|id| !kept.contains(id)).collect();
            Ok(report)
        })
    }

    fn reap(&self, policy: RestartPolicy) -> Result<Vec<i64>, StoreError> {
        self.block(self.take_back(policy, false))
    }

    fn signals(&self) -> Option<broadcast::Receiver<StoreSignal>> {
        Some(self.signals.subscribe())
    }
}
