//! The webhook hot path: a group commit of deliveries and their runs (none in a concurrency
//! group) in two round trips, whatever the batch's size.
//!
//! Every row kind goes in one `INSERT ... SELECT FROM unnest(...)` (a round trip per row made a
//! batch cost milliseconds per delivery), and the statements are *pipelined*: tokio-postgres
//! sends the requests of futures polled together back to back on the connection and reads the
//! answers in order. Only one answer decides what comes next, which deliveries are new, so a
//! batch is two trips instead of one per statement:
//!
//! 1. `BEGIN`, the deliveries (`ON CONFLICT DO NOTHING RETURNING id`), and run ids taken from
//!    the sequence for every run that may be new;
//! 2. the new runs, their jobs, their first transitions, `COMMIT`.
//!
//! The caller then tells the other daemons (`hints`: not inside this transaction).
//!
//! Each handler is answered after the `COMMIT`'s own answer arrived: durability is unchanged
//! (the server's `synchronous_commit` stays whatever the operator set). On a busy 2-core machine
//! a round trip costs about a millisecond of scheduling; the seven trips this replaced were most
//! of a batch's time (`scripts/bench-daemon.sh`).

use std::collections::HashSet;

use deadpool_postgres::ClientWrapper;
use futures::TryFutureExt;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::sql::to_i32;
use super::writes::{job_states, run_row};
use crate::store::{Committed, NewDelivery, NewRun, PendingCommit, StoreError, json, now_ms};

/// Whether [`commit`] can take the batch: no run joins a concurrency group (applying a group
/// depends on the runs before it and takes a lock, so those batches go one item after the
/// other in an ordinary transaction).
pub(super) fn bulk_ok(items: &[PendingCommit]) -> bool {
    items
        .iter()
        .flat_map(|item| &item.runs)
        .all(|run| run.concurrency.is_none())
}

const DELIVERIES: &str = "INSERT INTO deliveries (id, event, repo, status, reason, received_at)
     SELECT u.id, u.event, u.repo, u.status, u.reason, $6::bigint
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS u(id, event, repo, status, reason)
     ON CONFLICT (id) DO NOTHING RETURNING id";

/// Ids first, so rows of the three tables can refer to them without a `RETURNING` whose order
/// PostgreSQL does not promise. Ids of runs that turn out to be duplicates stay unused (a gap,
/// as a rolled-back insert leaves).
const IDS: &str =
    "SELECT nextval(pg_get_serial_sequence('runs', 'id')) FROM generate_series(1, $1::bigint)";

const RUNS: &str = "INSERT INTO runs (id, delivery_id, repo, event, workflow_path, workflow_name,
        git_ref, sha, status, conclusion, reason, attempt, rerun_of, spec, run_jobs, finished_at,
        created_at)
     OVERRIDING SYSTEM VALUE
     SELECT u.*, $17::bigint FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],
         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
         $11::text[], $12::int[], $13::bigint[], $14::text[], $15::text[], $16::bigint[]) AS u";

const JOBS: &str = "INSERT INTO jobs (run_id, key, name, needs, status, conclusion)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::text[])";

const TRANSITIONS: &str = "INSERT INTO transitions (run_id, to_status, reason, at)
     SELECT u.run_id, u.to_status, u.reason, $4::bigint
     FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(run_id, to_status, reason)";

/// The batch's statements, from the connection's cache (parsed once per connection).
struct Statements {
    deliveries: Statement,
    ids: Statement,
    runs: Statement,
    jobs: Statement,
    transitions: Statement,
}

async fn prepare(c: &ClientWrapper) -> Result<Statements, StoreError> {
    let (deliveries, ids, runs, jobs, transitions) = futures::try_join!(
        c.prepare_cached(DELIVERIES),
        c.prepare_cached(IDS),
        c.prepare_cached(RUNS),
        c.prepare_cached(JOBS),
        c.prepare_cached(TRANSITIONS),
    )?;
    Ok(Statements {
        deliveries,
        ids,
        runs,
        jobs,
        transitions,
    })
}

/// Commits the batch in its own transaction on `c`. On an error the transaction may still be
/// open (aborted): the caller rolls it back or discards the connection.
pub(super) async fn commit(
    c: &ClientWrapper,
    items: &[PendingCommit],
) -> Result<Vec<Committed>, StoreError> {
    let st = prepare(c).await?;
    let now = now_ms();
    // Within the batch the first occurrence of an id is the delivery, later ones duplicates.
    let mut first = HashSet::new();
    let firsts: Vec<bool> = items
        .iter()
        .map(|item| {
            item.delivery
                .as_ref()
                .is_none_or(|d| first.insert(d.id.as_str()))
        })
        .collect();
    let fresh: Vec<&NewDelivery> = items
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .filter_map(|(item, _)| item.delivery.as_ref())
        .collect();
    let column = |f: fn(&NewDelivery) -> Option<String>| -> Vec<Option<String>> {
        fresh.iter().map(|d| f(d)).collect()
    };
    let candidates: usize = items
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(item, _)| item.runs.len())
        .sum();
    let (ids, event, repo, status, reason) = (
        column(|d| Some(d.id.clone())),
        column(|d| Some(d.event.clone())),
        column(|d| d.repo.clone()),
        column(|d| Some(d.status.as_str().to_owned())),
        column(|d| d.reason.clone()),
    );
    let count = i64::try_from(candidates).unwrap_or(i64::MAX);
    let deliveries: [&(dyn ToSql + Sync); 6] = [&ids, &event, &repo, &status, &reason, &now];
    let wanted: [&(dyn ToSql + Sync); 1] = [&count];
    let ((), inserted, run_ids) = futures::try_join!(
        c.batch_execute("BEGIN"),
        c.query(&st.deliveries, &deliveries),
        c.query(&st.ids, &wanted),
    )?;
    let inserted: HashSet<String> = inserted
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut run_ids = run_ids
        .iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    // New: no delivery, or the first of its id and inserted just now.
    let new: Vec<bool> = items
        .iter()
        .zip(&firsts)
        .map(|(item, first)| {
            *first
                && item
                    .delivery
                    .as_ref()
                    .is_none_or(|d| inserted.contains(&d.id))
        })
        .collect();
    let mut rows = Rows::default();
    let mut committed = Vec::with_capacity(items.len());
    for (item, new) in items.iter().zip(new) {
        if !new {
            committed.push(Committed::Duplicate);
            continue;
        }
        let delivery = item.delivery.as_ref().map(|d| d.id.as_str());
        let ids: Vec<i64> = run_ids.by_ref().take(item.runs.len()).collect();
        for (&id, run) in ids.iter().zip(&item.runs) {
            rows.push(id, delivery, run);
        }
        committed.push(Committed::New {
            run_ids: ids,
            superseded: Vec::new(),
            cancel_running: Vec::new(),
        });
    }
    futures::try_join!(
        rows.insert(c, &st, now),
        c.batch_execute("COMMIT").err_into::<StoreError>(),
    )?;
    Ok(committed)
}

/// The new runs' rows, column by column, for the `unnest` inserts.
#[derive(Default)]
struct Rows<'a> {
    ids: Vec<i64>,
    delivery: Vec<Option<&'a str>>,
    repo: Vec<&'a str>,
    event: Vec<&'a str>,
    workflow_path: Vec<&'a str>,
    workflow_name: Vec<&'a str>,
    git_ref: Vec<&'a str>,
    sha: Vec<&'a str>,
    status: Vec<&'static str>,
    conclusion: Vec<Option<&'static str>>,
    reason: Vec<Option<&'a str>>,
    attempt: Vec<i32>,
    rerun_of: Vec<Option<i64>>,
    spec: Vec<String>,
    run_jobs: Vec<String>,
    finished: Vec<Option<i64>>,
    job_run: Vec<i64>,
    job_key: Vec<&'a str>,
    job_name: Vec<&'a str>,
    job_needs: Vec<String>,
    job_status: Vec<&'static str>,
    job_conclusion: Vec<Option<&'a str>>,
}

impl<'a> Rows<'a> {
    fn push(&mut self, id: i64, delivery: Option<&'a str>, run: &'a NewRun) {
        let row = run_row(run);
        let spec = &run.spec;
        self.ids.push(id);
        self.delivery.push(delivery);
        self.repo.push(&spec.repo);
        self.event.push(&spec.event);
        self.workflow_path.push(&spec.workflow_path);
        self.workflow_name.push(&spec.workflow_name);
        self.git_ref.push(&spec.git_ref);
        self.sha.push(&spec.sha);
        self.status.push(row.status);
        self.conclusion.push(row.conclusion);
        self.reason.push(run.failed.as_deref());
        self.attempt.push(to_i32(run.attempt));
        self.rerun_of.push(run.rerun_of);
        self.spec.push(json(spec));
        self.run_jobs.push(row.run_jobs);
        self.finished.push(row.finished);
        for (job, status, conclusion) in job_states(run) {
            self.job_run.push(id);
            self.job_key.push(&job.key);
            self.job_name.push(&job.name);
            self.job_needs.push(json(&job.needs));
            self.job_status.push(status);
            self.job_conclusion.push(conclusion);
        }
    }

    /// The runs, their jobs and their first transitions: three pipelined statements (none
    /// when the batch queued no run).
    async fn insert(&self, c: &ClientWrapper, st: &Statements, now: i64) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let runs: [&(dyn ToSql + Sync); 17] = [
            &self.ids,
            &self.delivery,
            &self.repo,
            &self.event,
            &self.workflow_path,
            &self.workflow_name,
            &self.git_ref,
            &self.sha,
            &self.status,
            &self.conclusion,
            &self.reason,
            &self.attempt,
            &self.rerun_of,
            &self.spec,
            &self.run_jobs,
            &self.finished,
            &now,
        ];
        let jobs: [&(dyn ToSql + Sync); 6] = [
            &self.job_run,
            &self.job_key,
            &self.job_name,
            &self.job_needs,
            &self.job_status,
            &self.job_conclusion,
        ];
        let transitions: [&(dyn ToSql + Sync); 4] = [&self.ids, &self.status, &self.reason, &now];
        futures::try_join!(
            c.execute(&st.runs, &runs),
            c.execute(&st.jobs, &jobs),
            c.execute(&st.transitions, &transitions),
        )?;
        Ok(())
    }
}
