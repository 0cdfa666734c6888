//! The SQLite store.
//!
//! WAL journal with `synchronous = FULL`: a webhook is acknowledged to GitHub once its
//! transaction commits, and GitHub does not redeliver acknowledged webhooks by itself. In WAL
//! mode `NORMAL` survives a process crash (`kill -9`) but can lose the last commits on power
//! loss; `FULL` syncs the WAL on every commit so an acknowledged delivery survives both. The
//! price is one fsync per commit; webhooks share it through [`Store::commit_batch`] (group
//! commit, see the daemon's committer).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::*;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, event TEXT NOT NULL, repo TEXT, status TEXT NOT NULL, reason TEXT,
    received_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT, repo TEXT NOT NULL,
    event TEXT NOT NULL, workflow_path TEXT NOT NULL, workflow_name TEXT NOT NULL,
    git_ref TEXT NOT NULL, sha TEXT NOT NULL, status TEXT NOT NULL, conclusion TEXT,
    reason TEXT, attempt INTEGER NOT NULL, rerun_of INTEGER, concurrency_group TEXT,
    concurrency_key TEXT,
    spec TEXT NOT NULL, run_jobs TEXT NOT NULL, created_at INTEGER NOT NULL,
    started_at INTEGER, finished_at INTEGER);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, key TEXT NOT NULL,
    name TEXT NOT NULL, needs TEXT NOT NULL, status TEXT NOT NULL, conclusion TEXT,
    started_at INTEGER, finished_at INTEGER, summary TEXT, UNIQUE(run_id, key));
CREATE TABLE IF NOT EXISTS steps (
    job_id INTEGER NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    conclusion TEXT, started_at INTEGER, finished_at INTEGER, PRIMARY KEY(job_id, number));
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, step INTEGER,
    text TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS logs_job ON logs(job_id, id);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, level TEXT NOT NULL,
    message TEXT NOT NULL, file TEXT, line INTEGER);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, job TEXT, from_status TEXT,
    to_status TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS transitions_run ON transitions(run_id, id);
";

/// The schema version this build writes (`PRAGMA user_version`). A later schema change adds
/// a migration step from the previous version here.
const SCHEMA_VERSION: i64 = 1;

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema(version));
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// The default [`Store`]: one SQLite file in the data directory.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// A second connection for the webhook's early duplicate check: in WAL mode it reads
    /// the last committed state while a group commit holds `conn` through its fsync.
    reader: Mutex<Connection>,
}

type Tx<'a> = Transaction<'a>;

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/gantry.db`.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join("gantry.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        let reader = Connection::open(data_dir.join("gantry.db"))?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    fn write<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = f(&tx)?;
        tx.commit()?;
        Ok(result)
    }
}

/// Records one delivery and its runs inside `tx` (see [`Store::commit`]).
fn commit_in(
    tx: &Tx<'_>,
    delivery: Option<&NewDelivery>,
    runs: &[NewRun],
) -> Result<Committed, StoreError> {
    if let Some(d) = delivery {
        // Inside the transaction, so a delivery earlier in the same batch counts too.
        let exists: Option<i64> = tx
            .query_row("SELECT 1 FROM deliveries WHERE id = ?1", [&d.id], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Ok(Committed::Duplicate);
        }
        insert_delivery(tx, d)?;
    }
    let (mut run_ids, mut superseded, mut cancel_running) = (vec![], vec![], vec![]);
    for run in runs {
        let id = insert_run(tx, delivery.map(|d| d.id.as_str()), run)?;
        if let (Some(c), None) = (&run.concurrency, &run.failed) {
            let repo = &run.spec.repo;
            apply_concurrency(tx, id, repo, c, &mut superseded, &mut cancel_running)?;
        }
        run_ids.push(id);
    }
    Ok(Committed::New {
        run_ids,
        superseded,
        cancel_running,
    })
}

/// One item of a group commit under its own savepoint: when it fails, its partial writes are
/// rolled back and the error is its answer alone, while the rest of the batch commits. The
/// outer `Err` (a savepoint statement failing) aborts the whole transaction.
fn commit_item(tx: &Tx<'_>, item: &PendingCommit) -> Result<CommitResult, StoreError> {
    tx.execute_batch("SAVEPOINT item")?;
    let result = commit_in(tx, item.delivery.as_ref(), &item.runs);
    if result.is_ok() {
        tx.execute_batch("RELEASE item")?;
    } else {
        tx.execute_batch("ROLLBACK TO item; RELEASE item")?;
    }
    Ok(result)
}

fn transition(
    tx: &Tx<'_>,
    run_id: i64,
    job: Option<&str>,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transitions (run_id, job, from_status, to_status, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run_id, job, from, to, reason, now_ms()],
    )?;
    Ok(())
}

fn insert_delivery(tx: &Tx<'_>, d: &NewDelivery) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO deliveries (id, event, repo, status, reason, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![d.id, d.event, d.repo, d.status.as_str(), d.reason, now_ms()],
    )?;
    Ok(())
}

fn insert_run(tx: &Tx<'_>, delivery: Option<&str>, run: &NewRun) -> Result<i64, StoreError> {
    let spec = &run.spec;
    let carried: Vec<&str> = run.carried.iter().map(|(k, _)| k.as_str()).collect();
    let run_jobs: Vec<&str> = spec
        .jobs
        .iter()
        .map(|j| j.key.as_str())
        .filter(|k| !carried.contains(k))
        .collect();
    let (status, conclusion, finished) = match &run.failed {
        Some(_) => ("completed", Some("failure"), Some(now_ms())),
        None => ("queued", None, None),
    };
    tx.execute(
        "INSERT INTO runs (delivery_id, repo, event, workflow_path, workflow_name, git_ref, sha,
            status, conclusion, reason, attempt, rerun_of, concurrency_group, concurrency_key,
            spec, run_jobs, created_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            delivery,
            spec.repo,
            spec.event,
            spec.workflow_path,
            spec.workflow_name,
            spec.git_ref,
            spec.sha,
            status,
            conclusion,
            run.failed,
            run.attempt,
            run.rerun_of,
            run.concurrency.as_ref().map(|c| c.group.as_str()),
            run.concurrency.as_ref().map(|c| group_key(&c.group)),
            json(spec),
            json(&run_jobs),
            now_ms(),
            finished,
        ],
    )?;
    let id = tx.last_insert_rowid();
    for job in &spec.jobs {
        let carried = run.carried.iter().find(|(k, _)| *k == job.key);
        let (status, conclusion) = match carried {
            Some((_, c)) => ("completed", Some(c.as_str())),
            None if run.failed.is_some() => ("completed", Some("skipped")),
            None => ("queued", None),
        };
        tx.execute(
            "INSERT INTO jobs (run_id, key, name, needs, status, conclusion)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, job.key, job.name, json(&job.needs), status, conclusion],
        )?;
    }
    transition(tx, id, None, None, status, run.failed.as_deref())?;
    Ok(id)
}

/// GitHub's rule: one running and one pending run per group; a newer pending run replaces
/// the older pending one, and `cancel-in-progress` also cancels the running one.
fn apply_concurrency(
    tx: &Tx<'_>,
    run_id: i64,
    repo: &str,
    c: &ConcurrencySpec,
    superseded: &mut Vec<i64>,
    cancel_running: &mut Vec<i64>,
) -> Result<(), StoreError> {
    let reason = format!(
        "cancelled: run {run_id} is newer in concurrency group '{}'",
        c.group
    );
    let pending = ids(
        tx,
        "SELECT id FROM runs WHERE repo = ?1 AND concurrency_key = ?2 AND status = 'queued'
         AND id <> ?3",
        params![repo, group_key(&c.group), run_id],
    )?;
    for id in pending {
        complete_run(tx, id, "queued", Conclusion::Cancelled, Some(&reason))?;
        superseded.push(id);
    }
    if c.cancel_in_progress {
        let running = ids(
            tx,
            "SELECT id FROM runs WHERE repo = ?1 AND concurrency_key = ?2
             AND status = 'running'",
            params![repo, group_key(&c.group)],
        )?;
        for id in running {
            transition(tx, id, None, Some("running"), "cancelling", Some(&reason))?;
            cancel_running.push(id);
        }
    }
    Ok(())
}

fn ids(tx: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<i64>, StoreError> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map(p, |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<i64>, _>>()?)
}

/// Marks a run completed, closing its open jobs and steps with a matching conclusion.
fn complete_run(
    tx: &Tx<'_>,
    run_id: i64,
    from: &str,
    conclusion: Conclusion,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let now = now_ms();
    tx.execute(
        "UPDATE runs SET status = 'completed', conclusion = ?2, reason = COALESCE(?3, reason),
         finished_at = ?4 WHERE id = ?1",
        params![run_id, conclusion.as_str(), reason, now],
    )?;
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
    tx.execute(
        "UPDATE steps SET status = 'completed', conclusion = ?2, finished_at = ?3
         WHERE status <> 'completed' AND job_id IN (SELECT id FROM jobs WHERE run_id = ?1)",
        params![run_id, open.as_str(), now],
    )?;
    tx.execute(
        "UPDATE jobs SET status = 'completed', conclusion = ?2, finished_at = ?3
         WHERE run_id = ?1 AND status = 'running'",
        params![run_id, open.as_str(), now],
    )?;
    tx.execute(
        "UPDATE jobs SET status = 'completed', conclusion = ?2 WHERE run_id = ?1 AND status = 'queued'",
        params![run_id, never_started.as_str()],
    )?;
    transition(tx, run_id, None, Some(from), "completed", reason)?;
    Ok(())
}

fn run_status(tx: &Connection, run_id: i64) -> Result<Option<String>, StoreError> {
    Ok(tx
        .query_row("SELECT status FROM runs WHERE id = ?1", [run_id], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The job row for `key`, created when a launcher reports a job the plan did not list (a
/// matrix leg).
fn job_id(tx: &Tx<'_>, run_id: i64, key: &str) -> Result<i64, StoreError> {
    let existing = tx
        .query_row(
            "SELECT id FROM jobs WHERE run_id = ?1 AND key = ?2",
            params![run_id, key],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO jobs (run_id, key, name, needs, status) VALUES (?1, ?2, ?2, '[]', 'queued')",
        params![run_id, key],
    )?;
    Ok(tx.last_insert_rowid())
}

fn apply_event(tx: &Tx<'_>, run_id: i64, event: &RunEvent) -> Result<(), StoreError> {
    let now = now_ms();
    match event {
        RunEvent::JobStarted { job, name } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "UPDATE jobs SET status = 'running', name = ?2, started_at = ?3 WHERE id = ?1",
                params![id, name, now],
            )?;
            transition(tx, run_id, Some(job), Some("queued"), "running", None)?;
        }
        RunEvent::MatrixExpanded { job, legs } => expand_matrix(tx, run_id, job, legs)?,
        RunEvent::StepStarted { job, number, name } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "INSERT OR REPLACE INTO steps (job_id, number, name, status, started_at)
                 VALUES (?1, ?2, ?3, 'running', ?4)",
                params![id, number, name, now],
            )?;
        }
        RunEvent::Log { job, step, text } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "INSERT INTO logs (job_id, step, text, at) VALUES (?1, ?2, ?3, ?4)",
                params![id, step, text, now],
            )?;
        }
        RunEvent::StepFinished {
            job,
            number,
            conclusion,
        } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "UPDATE steps SET status = 'completed', conclusion = ?3, finished_at = ?4
                 WHERE job_id = ?1 AND number = ?2",
                params![id, number, conclusion.as_str(), now],
            )?;
        }
        RunEvent::JobFinished { job, conclusion } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "UPDATE jobs SET status = 'completed', conclusion = ?2, finished_at = ?3
                 WHERE id = ?1",
                params![id, conclusion.as_str(), now],
            )?;
            transition(tx, run_id, Some(job), Some("running"), "completed", None)?;
        }
        RunEvent::Annotation {
            job,
            level,
            message,
            file,
            line,
        } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "INSERT INTO annotations (job_id, level, message, file, line)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, level_str(*level), message, file, line],
            )?;
        }
        RunEvent::Summary { job, markdown } => {
            let id = job_id(tx, run_id, job)?;
            tx.execute(
                "UPDATE jobs SET summary = COALESCE(summary, '') || ?2 WHERE id = ?1",
                params![id, markdown],
            )?;
        }
    }
    Ok(())
}

/// Replaces a queued job's row by one queued row per matrix leg, with the job's needs.
fn expand_matrix(
    tx: &Tx<'_>,
    run_id: i64,
    job: &str,
    legs: &[(String, String)],
) -> Result<(), StoreError> {
    let needs: Option<String> = tx
        .query_row(
            "SELECT needs FROM jobs WHERE run_id = ?1 AND key = ?2 AND status = 'queued'",
            params![run_id, job],
            |r| r.get(0),
        )
        .optional()?;
    let Some(needs) = needs else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM jobs WHERE run_id = ?1 AND key = ?2",
        params![run_id, job],
    )?;
    for (key, name) in legs {
        tx.execute(
            "INSERT INTO jobs (run_id, key, name, needs, status) VALUES (?1, ?2, ?3, ?4, 'queued')",
            params![run_id, key, name, needs],
        )?;
    }
    Ok(())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

const RUN_COLUMNS: &str = "id, repo, event, workflow_path, workflow_name, git_ref, sha, status,
    conclusion, reason, attempt, rerun_of, delivery_id, concurrency_group, created_at,
    started_at, finished_at";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: r.get(0)?,
        repo: r.get(1)?,
        event: r.get(2)?,
        workflow_path: r.get(3)?,
        workflow_name: r.get(4)?,
        git_ref: r.get(5)?,
        sha: r.get(6)?,
        status: r.get(7)?,
        conclusion: r.get(8)?,
        reason: r.get(9)?,
        attempt: r.get(10)?,
        rerun_of: r.get(11)?,
        delivery_id: r.get(12)?,
        concurrency_group: r.get(13)?,
        created_at: r.get(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
    })
}

fn load_jobs(conn: &Connection, run_id: i64) -> Result<Vec<JobRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, key, name, needs, status, conclusion, started_at, finished_at, summary
         FROM jobs WHERE run_id = ?1 ORDER BY id",
    )?;
    let jobs = stmt
        .query_map([run_id], |r| {
            let needs: String = r.get(3)?;
            Ok(JobRecord {
                id: r.get(0)?,
                key: r.get(1)?,
                name: r.get(2)?,
                needs: serde_json::from_str(&needs).unwrap_or_default(),
                status: r.get(4)?,
                conclusion: r.get(5)?,
                started_at: r.get(6)?,
                finished_at: r.get(7)?,
                summary: r.get(8)?,
                steps: Vec::new(),
                annotations: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    jobs.into_iter()
        .map(|mut job| {
            job.steps = load_steps(conn, job.id)?;
            job.annotations = load_annotations(conn, job.id)?;
            Ok(job)
        })
        .collect()
}

fn load_steps(conn: &Connection, job_id: i64) -> Result<Vec<StepRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT number, name, status, conclusion, started_at, finished_at FROM steps
         WHERE job_id = ?1 ORDER BY number",
    )?;
    let steps = stmt.query_map([job_id], |r| {
        Ok(StepRecord {
            number: r.get(0)?,
            name: r.get(1)?,
            status: r.get(2)?,
            conclusion: r.get(3)?,
            started_at: r.get(4)?,
            finished_at: r.get(5)?,
        })
    })?;
    Ok(steps.collect::<Result<Vec<_>, _>>()?)
}

fn load_annotations(conn: &Connection, job_id: i64) -> Result<Vec<AnnotationRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT level, message, file, line FROM annotations WHERE job_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([job_id], |r| {
        let level: String = r.get(0)?;
        Ok(AnnotationRecord {
            level: parse_level(&level),
            message: r.get(1)?,
            file: r.get(2)?,
            line: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn load_transitions(conn: &Connection, run_id: i64) -> Result<Vec<Transition>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT job, from_status, to_status, reason, at FROM transitions WHERE run_id = ?1
         ORDER BY id",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        Ok(Transition {
            job: r.get(0)?,
            from: r.get(1)?,
            to: r.get(2)?,
            reason: r.get(3)?,
            at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn load_spec(conn: &Connection, run_id: i64) -> Result<Option<(RunSpec, String)>, StoreError> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT spec, run_jobs FROM runs WHERE id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((spec, run_jobs)) = row else {
        return Ok(None);
    };
    let spec = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(run_id, e))?;
    Ok(Some((spec, run_jobs)))
}

fn claim(tx: &Tx<'_>) -> Result<Option<ClaimedRun>, StoreError> {
    let next: Option<(i64, u32)> = tx
        .query_row(
            "SELECT id, attempt FROM runs r WHERE status = 'queued' AND (
                 concurrency_key IS NULL OR NOT EXISTS (
                     SELECT 1 FROM runs o WHERE o.status = 'running' AND o.repo = r.repo
                     AND o.concurrency_key = r.concurrency_key))
             ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, attempt)) = next else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE runs SET status = 'running', started_at = ?2 WHERE id = ?1",
        params![id, now_ms()],
    )?;
    transition(tx, id, None, Some("queued"), "running", None)?;
    let Some((spec, run_jobs)) = load_spec(tx, id)? else {
        return Ok(None);
    };
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
        attempt,
        spec,
        jobs,
    }))
}

fn recover_run(tx: &Tx<'_>, id: i64, policy: RestartPolicy) -> Result<(), StoreError> {
    match policy {
        RestartPolicy::Fail => complete_run(
            tx,
            id,
            "running",
            Conclusion::Failure,
            Some("the daemon stopped while this run was in progress"),
        ),
        RestartPolicy::Requeue => {
            tx.execute(
                "UPDATE runs SET status = 'queued', attempt = attempt + 1, started_at = NULL
                 WHERE id = ?1",
                [id],
            )?;
            tx.execute(
                "DELETE FROM steps WHERE job_id IN (SELECT id FROM jobs WHERE run_id = ?1)",
                [id],
            )?;
            tx.execute(
                "UPDATE jobs SET status = 'queued', conclusion = NULL, started_at = NULL,
                 finished_at = NULL WHERE run_id = ?1 AND status <> 'completed'",
                [id],
            )?;
            let reason = "re-queued: the daemon stopped while this run was in progress";
            transition(tx, id, None, Some("running"), "queued", Some(reason))
        }
    }
}

impl Store for SqliteStore {
    fn has_delivery(&self, id: &str) -> Result<bool, StoreError> {
        // Possibly a commit behind, which is fine: `commit` checks again in its transaction.
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let found: Option<i64> = conn
            .query_row("SELECT 1 FROM deliveries WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    fn commit(
        &self,
        delivery: Option<&NewDelivery>,
        runs: &[NewRun],
    ) -> Result<Committed, StoreError> {
        self.write(|tx| commit_in(tx, delivery, runs))
    }

    fn commit_batch(&self, items: &[PendingCommit]) -> Result<Vec<CommitResult>, StoreError> {
        self.write(|tx| {
            let results = items
                .iter()
                .map(|item| commit_item(tx, item))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(results)
        })
    }

    fn claim_next(&self) -> Result<Option<ClaimedRun>, StoreError> {
        self.write(claim)
    }

    fn recover(&self, policy: RestartPolicy) -> Result<Vec<i64>, StoreError> {
        self.write(|tx| {
            let running = ids(tx, "SELECT id FROM runs WHERE status = 'running'", [])?;
            for &id in &running {
                recover_run(tx, id, policy)?;
            }
            Ok(running)
        })
    }

    fn apply(&self, run_id: i64, events: &[RunEvent]) -> Result<(), StoreError> {
        self.write(|tx| {
            events
                .iter()
                .try_for_each(|event| apply_event(tx, run_id, event))
        })
    }

    fn finish_run(&self, run_id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        self.write(|tx| {
            complete_run(
                tx,
                run_id,
                "running",
                outcome.conclusion,
                outcome.reason.as_deref(),
            )
        })
    }

    fn request_cancel(&self, run_id: i64, reason: &str) -> Result<CancelState, StoreError> {
        self.write(|tx| match run_status(tx, run_id)?.as_deref() {
            None => Ok(CancelState::NotFound),
            Some("queued") => {
                complete_run(tx, run_id, "queued", Conclusion::Cancelled, Some(reason))?;
                Ok(CancelState::Dequeued)
            }
            Some("running") => {
                transition(
                    tx,
                    run_id,
                    None,
                    Some("running"),
                    "cancelling",
                    Some(reason),
                )?;
                Ok(CancelState::Running)
            }
            Some(_) => Ok(CancelState::AlreadyFinished),
        })
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let conn = self.lock()?;
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
        let mut values: Vec<&str> = Vec::new();
        for (column, value) in [
            ("repo", &filter.repo),
            ("status", &filter.status),
            ("event", &filter.event),
        ] {
            if let Some(v) = value {
                values.push(v);
                sql.push_str(&format!(" AND {column} = ?{}", values.len()));
            }
        }
        if let Some(before) = filter.before {
            // An integer, so it is safe to inline.
            sql.push_str(&format!(" AND id < {before}"));
        }
        let limit = filter.limit.unwrap_or(100).min(1000);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), run_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn run_detail(&self, run_id: i64) -> Result<Option<RunDetail>, StoreError> {
        let conn = self.lock()?;
        let run = conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [run_id],
                run_row,
            )
            .optional()?;
        let Some(run) = run else { return Ok(None) };
        Ok(Some(RunDetail {
            jobs: load_jobs(&conn, run_id)?,
            transitions: load_transitions(&conn, run_id)?,
            run,
        }))
    }

    fn run_spec(&self, run_id: i64) -> Result<Option<RunSpec>, StoreError> {
        let conn = self.lock()?;
        Ok(load_spec(&conn, run_id)?.map(|(spec, _)| spec))
    }

    fn logs(
        &self,
        run_id: i64,
        job: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LogChunk>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT l.id, j.key, l.step, l.text, l.at FROM logs l JOIN jobs j ON j.id = l.job_id
             WHERE j.run_id = ?1 AND j.key = ?2 AND l.id > ?3 ORDER BY l.id LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![run_id, job, after, limit], |r| {
            Ok(LogChunk {
                id: r.get(0)?,
                job: r.get(1)?,
                step: r.get(2)?,
                text: r.get(3)?,
                at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT id, event, repo, status, reason, received_at FROM deliveries
             ORDER BY received_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(DeliveryRecord {
                id: r.get(0)?,
                event: r.get(1)?,
                repo: r.get(2)?,
                status: r.get(3)?,
                reason: r.get(4)?,
                received_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT status, COALESCE(conclusion, ''), COUNT(*) FROM runs GROUP BY 1, 2 ORDER BY 1, 2",
        )?;
        let runs = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, count(r.get(2)?))))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt =
            conn.prepare("SELECT status, COUNT(*) FROM deliveries GROUP BY 1 ORDER BY 1")?;
        let deliveries = stmt
            .query_map([], |r| Ok((r.get(0)?, count(r.get(1)?))))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Counts { runs, deliveries })
    }

    fn prune(&self, before: i64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let old = "SELECT id FROM runs WHERE status = 'completed' AND finished_at < ?1";
            let jobs = format!("SELECT id FROM jobs WHERE run_id IN ({old})");
            for table in ["logs", "steps", "annotations"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE job_id IN ({jobs})"),
                    [before],
                )?;
            }
            tx.execute(
                &format!("DELETE FROM jobs WHERE run_id IN ({old})"),
                [before],
            )?;
            tx.execute(
                &format!("DELETE FROM transitions WHERE run_id IN ({old})"),
                [before],
            )?;
            let runs = tx.execute(
                "DELETE FROM runs WHERE status = 'completed' AND finished_at < ?1",
                [before],
            )?;
            // Old deliveries go too: redeliveries older than the retention are not expected.
            tx.execute(
                "DELETE FROM deliveries WHERE received_at < ?1 AND id NOT IN
                 (SELECT delivery_id FROM runs WHERE delivery_id IS NOT NULL)",
                [before],
            )?;
            Ok(runs)
        })
    }
}
