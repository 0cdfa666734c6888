//! State changes, each run inside the caller's transaction. They mirror the SQLite store's
//! statements; what differs is what several daemons need: dedupe by `ON CONFLICT`, claims
//! with `SKIP LOCKED` stamped with an owner and a lease, owner-guarded progress, and
//! `pg_notify` so the other daemons hear about it when the transaction commits.

use deadpool_postgres::{GenericClient, Transaction};

use super::sql::{exec, one, opt, rows, to_i32};
use crate::config::RestartPolicy;
use crate::launcher::PlannedJobInfo;
use crate::launcher::{Conclusion, RunEvent};
use crate::store::{
    ClaimedRun, Committed, ConcurrencySpec, NewDelivery, NewRun, RunSpec, StoreError, group_key,
    json, level_str, now_ms,
};

/// Channels other daemons `LISTEN` on.
pub(super) const QUEUE: &str = "gantry_queue";
pub(super) const RUN: &str = "gantry_run";
pub(super) const CANCEL: &str = "gantry_cancel";

/// Queued with the transaction; PostgreSQL delivers it at commit (and folds duplicates).
pub(super) async fn notify(
    tx: &Transaction<'_>,
    channel: &str,
    payload: &str,
) -> Result<(), StoreError> {
    exec(tx, "SELECT pg_notify($1, $2)", &[&channel, &payload]).await?;
    Ok(())
}

/// What `gantry_run` carries: the run and who changed it (a daemon ignores its own).
pub(super) fn run_payload(run_id: i64, instance: &str) -> String {
    format!("{run_id} {instance}")
}

/// `gantry_cancel`: the run, then the reason.
pub(super) fn cancel_payload(run_id: i64, reason: &str) -> String {
    format!("{run_id} {reason}")
}

/// Records one delivery and its runs (see `Store::commit`). The caller notifies `QUEUE` once
/// per transaction.
pub(super) async fn commit_in(
    tx: &Transaction<'_>,
    delivery: Option<&NewDelivery>,
    runs: &[NewRun],
) -> Result<Committed, StoreError> {
    if let Some(d) = delivery {
        // The unique key decides between daemons: a second insert of the same id waits for
        // the first transaction and then finds the conflict.
        let inserted = opt(
            tx,
            "INSERT INTO deliveries (id, event, repo, status, reason, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING 1",
            &[
                &d.id,
                &d.event,
                &d.repo,
                &d.status.as_str(),
                &d.reason,
                &now_ms(),
            ],
        )
        .await?;
        if inserted.is_none() {
            return Ok(Committed::Duplicate);
        }
    }
    let (mut run_ids, mut superseded, mut cancel_running) = (vec![], vec![], vec![]);
    for run in runs {
        let id = insert_run(tx, delivery.map(|d| d.id.as_str()), run).await?;
        if let (Some(c), None) = (&run.concurrency, &run.failed) {
            let group = Group {
                repo: &run.spec.repo,
                spec: c,
            };
            apply_concurrency(tx, id, &group, &mut superseded, &mut cancel_running).await?;
        }
        run_ids.push(id);
    }
    Ok(Committed::New {
        run_ids,
        superseded,
        cancel_running,
    })
}

pub(super) async fn transition(
    tx: &Transaction<'_>,
    run_id: i64,
    job: Option<&str>,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO transitions (run_id, job, from_status, to_status, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&run_id, &job, &from, &to, &reason, &now_ms()],
    )
    .await?;
    Ok(())
}

/// The columns of a new run that depend on how it starts.
pub(super) struct RunRow {
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
    pub finished: Option<i64>,
    pub run_jobs: String,
}

pub(super) fn run_row(run: &NewRun) -> RunRow {
    let carried: Vec<&str> = run.carried.iter().map(|(k, _)| k.as_str()).collect();
    let run_jobs: Vec<&str> = run
        .spec
        .jobs
        .iter()
        .map(|j| j.key.as_str())
        .filter(|k| !carried.contains(k))
        .collect();
    let (status, conclusion, finished) = match &run.failed {
        Some(_) => ("completed", Some("failure"), Some(now_ms())),
        None => ("queued", None, None),
    };
    RunRow {
        status,
        conclusion,
        finished,
        run_jobs: json(&run_jobs),
    }
}

/// Each job's (status, conclusion) as the run is queued: carried jobs keep theirs.
pub(super) fn job_states(
    run: &NewRun,
) -> impl Iterator<Item = (&PlannedJobInfo, &'static str, Option<&str>)> {
    run.spec.jobs.iter().map(move |job| {
        let carried = run.carried.iter().find(|(k, _)| *k == job.key);
        let (status, conclusion) = match carried {
            Some((_, c)) => ("completed", Some(c.as_str())),
            None if run.failed.is_some() => ("completed", Some("skipped")),
            None => ("queued", None),
        };
        (job, status, conclusion)
    })
}

async fn insert_run(
    tx: &Transaction<'_>,
    delivery: Option<&str>,
    run: &NewRun,
) -> Result<i64, StoreError> {
    let spec = &run.spec;
    let row = run_row(run);
    let group = run.concurrency.as_ref().map(|c| c.group.as_str());
    let key = run.concurrency.as_ref().map(|c| group_key(&c.group));
    let inserted = one(
        tx,
        "INSERT INTO runs (delivery_id, repo, event, workflow_path, workflow_name, git_ref, sha,
            status, conclusion, reason, attempt, rerun_of, concurrency_group, concurrency_key,
            spec, run_jobs, created_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         RETURNING id",
        &[
            &delivery,
            &spec.repo,
            &spec.event,
            &spec.workflow_path,
            &spec.workflow_name,
            &spec.git_ref,
            &spec.sha,
            &row.status,
            &row.conclusion,
            &run.failed,
            &to_i32(run.attempt),
            &run.rerun_of,
            &group,
            &key,
            &json(spec),
            &row.run_jobs,
            &now_ms(),
            &row.finished,
        ],
    )
    .await?;
    let id: i64 = inserted.try_get(0)?;
    for (job, status, conclusion) in job_states(run) {
        exec(
            tx,
            "INSERT INTO jobs (run_id, key, name, needs, status, conclusion)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &job.key,
                &job.name,
                &json(&job.needs),
                &status,
                &conclusion,
            ],
        )
        .await?;
    }
    transition(tx, id, None, None, row.status, run.failed.as_deref()).await?;
    Ok(id)
}

struct Group<'a> {
    repo: &'a str,
    spec: &'a ConcurrencySpec,
}

/// GitHub's rule: one running and one pending run per group; a newer pending run replaces
/// the older pending one, and `cancel-in-progress` also cancels the running one.
async fn apply_concurrency(
    tx: &Transaction<'_>,
    run_id: i64,
    group: &Group<'_>,
    superseded: &mut Vec<i64>,
    cancel_running: &mut Vec<i64>,
) -> Result<(), StoreError> {
    let key = group_key(&group.spec.group);
    // Two daemons committing into one group at once would not see each other's new run
    // (neither is committed); this lock makes the second wait, then see the first.
    exec(
        tx,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("{}\u{1f}{key}", group.repo)],
    )
    .await?;
    let reason = format!(
        "cancelled: run {run_id} is newer in concurrency group '{}'",
        group.spec.group
    );
    let pending = ids(
        tx,
        "SELECT id FROM runs WHERE repo = $1 AND concurrency_key = $2 AND status = 'queued'
         AND id <> $3 ORDER BY id",
        &[&group.repo, &key, &run_id],
    )
    .await?;
    for id in pending {
        // A daemon may have claimed it meanwhile: then it is running, not pending.
        if complete_run(tx, id, "queued", Conclusion::Cancelled, Some(&reason), None).await? {
            superseded.push(id);
        }
    }
    if group.spec.cancel_in_progress {
        let running = ids(
            tx,
            "UPDATE runs SET cancel_reason = COALESCE(cancel_reason, $3)
             WHERE repo = $1 AND concurrency_key = $2 AND status = 'running' RETURNING id",
            &[
                &group.repo,
                &key,
                &"cancelled: a newer run in the concurrency group started",
            ],
        )
        .await?;
        for id in running {
            transition(tx, id, None, Some("running"), "cancelling", Some(&reason)).await?;
            let payload = cancel_payload(
                id,
                "cancelled: a newer run in the concurrency group started",
            );
            notify(tx, CANCEL, &payload).await?;
            cancel_running.push(id);
        }
    }
    Ok(())
}

pub(super) async fn ids<C: GenericClient>(
    c: &C,
    sql: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<i64>, StoreError> {
    rows(c, sql, p)
        .await?
        .iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}

/// Marks a run completed if it is still `from` (and, with `owner`, still held by it), closing
/// its open jobs and steps with a matching conclusion. False: it was not, nothing changed.
pub(super) async fn complete_run(
    tx: &Transaction<'_>,
    run_id: i64,
    from: &str,
    conclusion: Conclusion,
    reason: Option<&str>,
    owner: Option<&str>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let updated = exec(
        tx,
        "UPDATE runs SET status = 'completed', conclusion = $2, reason = COALESCE($3, reason),
         finished_at = $4, owner = NULL, lease_until = NULL
         WHERE id = $1 AND status = $5 AND ($6::text IS NULL OR owner = $6)",
        &[&run_id, &conclusion.as_str(), &reason, &now, &from, &owner],
    )
    .await?;
    if updated == 0 {
        return Ok(false);
    }
    // Steps and jobs that were running end like the run; jobs that never started are skipped
    // (or cancelled when the whole run was).
    let open = match conclusion {
        Conclusion::Success | Conclusion::Skipped => Conclusion::Failure,
        other => other,
    };
    let never_started = match conclusion {
        Conclusion::Cancelled => Conclusion::Cancelled,
        _ => Conclusion::Skipped,
    };
    exec(
        tx,
        "UPDATE steps SET status = 'completed', conclusion = $2, finished_at = $3
         WHERE status <> 'completed' AND job_id IN (SELECT id FROM jobs WHERE run_id = $1)",
        &[&run_id, &open.as_str(), &now],
    )
    .await?;
    exec(
        tx,
        "UPDATE jobs SET status = 'completed', conclusion = $2, finished_at = $3
         WHERE run_id = $1 AND status = 'running'",
        &[&run_id, &open.as_str(), &now],
    )
    .await?;
    exec(
        tx,
        "UPDATE jobs SET status = 'completed', conclusion = $2
         WHERE run_id = $1 AND status = 'queued'",
        &[&run_id, &never_started.as_str()],
    )
    .await?;
    transition(tx, run_id, None, Some(from), "completed", reason).await?;
    Ok(true)
}

/// The lease a claim or a renewal grants, in seconds of the database's clock (daemons' clocks
/// may disagree; the database's is the one every lease is compared with).
pub(super) struct Lease<'a> {
    pub owner: &'a str,
    pub secs: f64,
}

/// Takes the oldest queued run whose concurrency group has nothing running. `SKIP LOCKED`:
/// daemons claiming at once each get a different row instead of queueing behind one. The
/// group check can race between two daemons claiming two runs of one group; the partial
/// unique index `one_running_per_group` turns the loser's update into a unique violation,
/// which the caller answers by claiming again.
pub(super) async fn claim(
    tx: &Transaction<'_>,
    lease: &Lease<'_>,
) -> Result<Option<ClaimedRun>, StoreError> {
    let row = opt(
        tx,
        "WITH next AS (
             SELECT r.id FROM runs r WHERE r.status = 'queued' AND (
                 r.concurrency_key IS NULL OR NOT EXISTS (
                     SELECT 1 FROM runs o WHERE o.status = 'running' AND o.repo = r.repo
                     AND o.concurrency_key = r.concurrency_key))
             ORDER BY r.id LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE runs SET status = 'running', started_at = $1, owner = $2,
             lease_until = now() + make_interval(secs => $3), cancel_reason = NULL
         FROM next WHERE runs.id = next.id
         RETURNING runs.id, runs.attempt, runs.spec, runs.run_jobs",
        &[&now_ms(), &lease.owner, &lease.secs],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.try_get(0)?;
    let attempt: i32 = row.try_get(1)?;
    let spec: String = row.try_get(2)?;
    let run_jobs: String = row.try_get(3)?;
    transition(tx, id, None, Some("queued"), "running", None).await?;
    let spec: RunSpec = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(id, e))?;
    let selected: Vec<String> =
        serde_json::from_str(&run_jobs).map_err(|e| StoreError::Corrupt(id, e))?;
    let jobs = spec
        .jobs
        .iter()
        .filter(|j| selected.contains(&j.key))
        .cloned()
        .collect();
    Ok(Some(ClaimedRun {
        id,
        attempt: u32::try_from(attempt).unwrap_or(1),
        spec,
        jobs,
    }))
}

/// Fails or re-queues a run whose daemon is gone. A run whose cancellation was requested is
/// cancelled instead of re-queued: nobody wants it any more.
pub(super) async fn recover_run(
    tx: &Transaction<'_>,
    id: i64,
    cancel_reason: Option<&str>,
    policy: RestartPolicy,
) -> Result<(), StoreError> {
    if let Some(reason) = cancel_reason {
        complete_run(tx, id, "running", Conclusion::Cancelled, Some(reason), None).await?;
        return Ok(());
    }
    match policy {
        RestartPolicy::Fail => {
            let reason = "the daemon stopped while this run was in progress";
            complete_run(tx, id, "running", Conclusion::Failure, Some(reason), None).await?;
        }
        RestartPolicy::Requeue => {
            exec(
                tx,
                "UPDATE runs SET status = 'queued', attempt = attempt + 1, started_at = NULL,
                 owner = NULL, lease_until = NULL WHERE id = $1",
                &[&id],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM steps WHERE job_id IN (SELECT id FROM jobs WHERE run_id = $1)",
                &[&id],
            )
            .await?;
            exec(
                tx,
                "UPDATE jobs SET status = 'queued', conclusion = NULL, started_at = NULL,
                 finished_at = NULL WHERE run_id = $1 AND status <> 'completed'",
                &[&id],
            )
            .await?;
            let reason = "re-queued: the daemon stopped while this run was in progress";
            transition(tx, id, None, Some("running"), "queued", Some(reason)).await?;
            notify(tx, QUEUE, "").await?;
        }
    }
    Ok(())
}

/// The job row for `key`, created when a launcher reports a job the plan did not list (a
/// matrix leg).
async fn job_id(tx: &Transaction<'_>, run_id: i64, key: &str) -> Result<i64, StoreError> {
    let row = opt(
        tx,
        "SELECT id FROM jobs WHERE run_id = $1 AND key = $2",
        &[&run_id, &key],
    )
    .await?;
    if let Some(row) = row {
        return Ok(row.try_get(0)?);
    }
    let row = one(
        tx,
        "INSERT INTO jobs (run_id, key, name, needs, status)
         VALUES ($1, $2, $2, '[]', 'queued') RETURNING id",
        &[&run_id, &key],
    )
    .await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn apply_event(
    tx: &Transaction<'_>,
    run_id: i64,
    event: &RunEvent,
) -> Result<(), StoreError> {
    let now = now_ms();
    match event {
        RunEvent::JobStarted { job, name } => {
            let id = job_id(tx, run_id, job).await?;
            exec(
                tx,
                "UPDATE jobs SET status = 'running', name = $2, started_at = $3 WHERE id = $1",
                &[&id, name, &now],
            )
            .await?;
            transition(tx, run_id, Some(job), Some("queued"), "running", None).await?;
        }
        RunEvent::MatrixExpanded { job, legs } => expand_matrix(tx, run_id, job, legs).await?,
        RunEvent::StepStarted { job, number, name } => {
            let id = job_id(tx, run_id, job).await?;
            exec(
                tx,
                "INSERT INTO steps (job_id, number, name, status, started_at)
                 VALUES ($1, $2, $3, 'running', $4)
                 ON CONFLICT (job_id, number) DO UPDATE SET name = EXCLUDED.name,
                 status = 'running', conclusion = NULL, started_at = EXCLUDED.started_at,
                 finished_at = NULL",
                &[&id, &to_i32(*number), name, &now],
            )
            .await?;
        }
        RunEvent::Log { job, step, text } => {
            let id = job_id(tx, run_id, job).await?;
            let step = step.map(to_i32);
            exec(
                tx,
                "INSERT INTO logs (job_id, step, text, at) VALUES ($1, $2, $3, $4)",
                &[&id, &step, text, &now],
            )
            .await?;
        }
        RunEvent::StepFinished {
            job,
            number,
            conclusion,
        } => {
            let id = job_id(tx, run_id, job).await?;
            exec(
                tx,
                "UPDATE steps SET status = 'completed', conclusion = $3, finished_at = $4
                 WHERE job_id = $1 AND number = $2",
                &[&id, &to_i32(*number), &conclusion.as_str(), &now],
            )
            .await?;
        }
        RunEvent::JobFinished { job, conclusion } => {
            let id = job_id(tx, run_id, job).await?;
            exec(
                tx,
                "UPDATE jobs SET status = 'completed', conclusion = $2, finished_at = $3
                 WHERE id = $1",
                &[&id, &conclusion.as_str(), &now],
            )
            .await?;
            transition(tx, run_id, Some(job), Some("running"), "completed", None).await?;
        }
        RunEvent::Annotation {
            job,
            level,
            message,
            file,
            line,
        } => {
            let id = job_id(tx, run_id, job).await?;
            let line = line.map(to_i32);
            exec(
                tx,
                "INSERT INTO annotations (job_id, level, message, file, line)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &level_str(*level), message, file, &line],
            )
            .await?;
        }
        RunEvent::Summary { job, markdown } => {
            let id = job_id(tx, run_id, job).await?;
            exec(
                tx,
                "UPDATE jobs SET summary = COALESCE(summary, '') || $2 WHERE id = $1",
                &[&id, markdown],
            )
            .await?;
        }
    }
    Ok(())
}

/// Replaces a queued job's row by one queued row per matrix leg, with the job's needs.
async fn expand_matrix(
    tx: &Transaction<'_>,
    run_id: i64,
    job: &str,
    legs: &[(String, String)],
) -> Result<(), StoreError> {
    let row = opt(
        tx,
        "SELECT needs FROM jobs WHERE run_id = $1 AND key = $2 AND status = 'queued'",
        &[&run_id, &job],
    )
    .await?;
    let Some(row) = row else { return Ok(()) };
    let needs: String = row.try_get(0)?;
    exec(
        tx,
        "DELETE FROM jobs WHERE run_id = $1 AND key = $2",
        &[&run_id, &job],
    )
    .await?;
    for (key, name) in legs {
        exec(
            tx,
            "INSERT INTO jobs (run_id, key, name, needs, status) VALUES ($1, $2, $3, $4, 'queued')",
            &[&run_id, key, name, &needs],
        )
        .await?;
    }
    Ok(())
}
