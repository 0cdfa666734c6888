//! Group commit. Webhook handlers hand their delivery and its runs to ONE writer task, which
//! drains whatever has queued up into a single SQLite transaction: one fsync then covers every
//! delivery of a burst instead of one each. Each handler gets its own result back only after
//! that transaction committed, so acknowledging a delivery still means it is durable, and the
//! duplicate check runs inside the transaction, so dedupe stays exact (a delivery earlier in
//! the same batch counts as recorded).
//!
//! While one batch is being written, the next one accumulates in the channel: batches grow
//! with the load by themselves, and a lone delivery is written at once, without waiting.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::daemon::Shared;
use crate::metrics::Stage;
use crate::store::{CommitResult, PendingCommit, StoreError};

/// The most deliveries one transaction takes; it bounds how long a batch holds the database.
const MAX_BATCH: usize = 256;

/// Deliveries waiting for the writer before handlers wait to hand theirs over.
const QUEUE: usize = 1024;

/// A delivery waiting for its batch.
pub(crate) struct Job {
    item: PendingCommit,
    queued_at: Instant,
    reply: oneshot::Sender<CommitResult>,
}

/// The handlers' side of the writer task.
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// A committer and the receiving end [`run`] drains.
    pub fn new() -> (Committer, mpsc::Receiver<Job>) {
        let (jobs, receiver) = mpsc::channel(QUEUE);
        (Committer { jobs }, receiver)
    }

    /// Commits `item` with whatever else is pending; returns once its transaction committed.
    pub async fn commit(&self, item: PendingCommit) -> CommitResult {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            item,
            queued_at: Instant::now(),
            reply,
        };
        let stopped = || StoreError::Task("the group committer stopped".to_owned());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer task: runs until every [`Committer`] is gone or the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // `recv_many` waits for one job, then takes every job already queued (up to the limit).
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        commit_jobs(&shared, std::mem::take(&mut jobs)).await;
    }
}

/// Writes one batch and answers each of its handlers.
async fn commit_jobs(shared: &Arc<Shared>, jobs: Vec<Job>) {
    let started = Instant::now();
    let mut items = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        shared
            .metrics
            .observe(Stage::CommitQueue, started - job.queued_at);
        items.push(job.item);
        replies.push(job.reply);
    }
    let count = items.len();
    let store = shared.store.clone();
    let outcome = tokio::task::spawn_blocking(move || store.commit_batch(&items)).await;
    shared.metrics.observe(Stage::Commit, started.elapsed());
    shared.metrics.batch_committed(count);
    let results = match outcome {
        Ok(Ok(results)) => results,
        Ok(Err(e)) => failed(count, &e.to_string()),
        Err(e) => failed(count, &e.to_string()),
    };
    for (reply, result) in replies.into_iter().zip(results) {
        // A handler that stopped waiting (client gone) is fine: its delivery is recorded.
        let _ = reply.send(result);
    }
}

/// The answer for every item of a batch whose transaction did not commit.
fn failed(count: usize, why: &str) -> Vec<CommitResult> {
    let error = || Err(StoreError::Task(format!("the group commit failed: {why}")));
    (0..count).map(|_| error()).collect()
}
