//! Reads. Any daemon serves any run: everything a page, an API call or a log stream shows
//! comes from the database, never from the daemon that executes the run.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{opt, opt_u32, rows, to_u32};
use crate::store::{
    AnnotationRecord, Counts, DeliveryRecord, JobRecord, LogChunk, RunDetail, RunFilter, RunSpec,
    RunSummary, StepRecord, StoreError, Transition, parse_level,
};

const RUN_COLUMNS: &str = "id, repo, event, workflow_path, workflow_name, git_ref, sha, status,
    conclusion, reason, attempt, rerun_of, delivery_id, concurrency_group, created_at,
    started_at, finished_at";

fn run_row(r: &Row) -> Result<RunSummary, StoreError> {
    Ok(RunSummary {
        id: r.try_get(0)?,
        repo: r.try_get(1)?,
        event: r.try_get(2)?,
        workflow_path: r.try_get(3)?,
        workflow_name: r.try_get(4)?,
        git_ref: r.try_get(5)?,
        sha: r.try_get(6)?,
        status: r.try_get(7)?,
        conclusion: r.try_get(8)?,
        reason: r.try_get(9)?,
        attempt: to_u32(r.try_get(10)?),
        rerun_of: r.try_get(11)?,
        delivery_id: r.try_get(12)?,
        concurrency_group: r.try_get(13)?,
        created_at: r.try_get(14)?,
        started_at: r.try_get(15)?,
        finished_at: r.try_get(16)?,
    })
}

pub(super) async fn has_delivery<C: GenericClient>(c: &C, id: &str) -> Result<bool, StoreError> {
    Ok(opt(c, "SELECT 1 FROM deliveries WHERE id = $1", &[&id])
        .await?
        .is_some())
}

pub(super) async fn list_runs<C: GenericClient>(
    c: &C,
    filter: &RunFilter,
) -> Result<Vec<RunSummary>, StoreError> {
    // Unset filters are NULL parameters, so one statement (cached) serves every filter.
    let limit = i64::from(filter.limit.unwrap_or(100).min(1000));
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE ($1::text IS NULL OR repo = $1)
         AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR event = $3)
         AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    );
    rows(
        c,
        &sql,
        &[
            &filter.repo,
            &filter.status,
            &filter.event,
            &filter.before,
            &limit,
        ],
    )
    .await?
    .iter()
    .map(run_row)
    .collect()
}

pub(super) async fn run_detail<C: GenericClient>(
    c: &C,
    run_id: i64,
) -> Result<Option<RunDetail>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
    let Some(row) = opt(c, &sql, &[&run_id]).await? else {
        return Ok(None);
    };
    Ok(Some(RunDetail {
        run: run_row(&row)?,
        jobs: load_jobs(c, run_id).await?,
        transitions: load_transitions(c, run_id).await?,
    }))
}

async fn load_jobs<C: GenericClient>(c: &C, run_id: i64) -> Result<Vec<JobRecord>, StoreError> {
    let jobs = rows(
        c,
        "SELECT id, key, name, needs, status, conclusion, started_at, finished_at, summary
         FROM jobs WHERE run_id = $1 ORDER BY id",
        &[&run_id],
    )
    .await?;
    let mut records = Vec::with_capacity(jobs.len());
    for r in &jobs {
        let needs: String = r.try_get(3)?;
        let id: i64 = r.try_get(0)?;
        records.push(JobRecord {
            id,
            key: r.try_get(1)?,
            name: r.try_get(2)?,
            needs: serde_json::from_str(&needs).unwrap_or_default(),
            status: r.try_get(4)?,
            conclusion: r.try_get(5)?,
            started_at: r.try_get(6)?,
            finished_at: r.try_get(7)?,
            summary: r.try_get(8)?,
            steps: load_steps(c, id).await?,
            annotations: load_annotations(c, id).await?,
        });
    }
    Ok(records)
}

async fn load_steps<C: GenericClient>(c: &C, job_id: i64) -> Result<Vec<StepRecord>, StoreError> {
    rows(
        c,
        "SELECT number, name, status, conclusion, started_at, finished_at FROM steps
         WHERE job_id = $1 ORDER BY number",
        &[&job_id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StepRecord {
            number: to_u32(r.try_get(0)?),
            name: r.try_get(1)?,
            status: r.try_get(2)?,
            conclusion: r.try_get(3)?,
            started_at: r.try_get(4)?,
            finished_at: r.try_get(5)?,
        })
    })
    .collect()
}

async fn load_annotations<C: GenericClient>(
    c: &C,
    job_id: i64,
) -> Result<Vec<AnnotationRecord>, StoreError> {
    rows(
        c,
        "SELECT level, message, file, line FROM annotations WHERE job_id = $1 ORDER BY id",
        &[&job_id],
    )
    .await?
    .iter()
    .map(|r| {
        let level: String = r.try_get(0)?;
        Ok(AnnotationRecord {
            level: parse_level(&level),
            message: r.try_get(1)?,
            file: r.try_get(2)?,
            line: opt_u32(r.try_get(3)?),
        })
    })
    .collect()
}

async fn load_transitions<C: GenericClient>(
    c: &C,
    run_id: i64,
) -> Result<Vec<Transition>, StoreError> {
    rows(
        c,
        "SELECT job, from_status, to_status, reason, at FROM transitions WHERE run_id = $1
         ORDER BY id",
        &[&run_id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Transition {
            job: r.try_get(0)?,
            from: r.try_get(1)?,
            to: r.try_get(2)?,
            reason: r.try_get(3)?,
            at: r.try_get(4)?,
        })
    })
    .collect()
}

pub(super) async fn run_spec<C: GenericClient>(
    c: &C,
    run_id: i64,
) -> Result<Option<RunSpec>, StoreError> {
    let Some(row) = opt(c, "SELECT spec FROM runs WHERE id = $1", &[&run_id]).await? else {
        return Ok(None);
    };
    let spec: String = row.try_get(0)?;
    let spec = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(run_id, e))?;
    Ok(Some(spec))
}

pub(super) async fn logs<C: GenericClient>(
    c: &C,
    run_id: i64,
    job: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<LogChunk>, StoreError> {
    rows(
        c,
        "SELECT l.id, j.key, l.step, l.text, l.at FROM logs l JOIN jobs j ON j.id = l.job_id
         WHERE j.run_id = $1 AND j.key = $2 AND l.id > $3 ORDER BY l.id LIMIT $4",
        &[&run_id, &job, &after, &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(LogChunk {
            id: r.try_get(0)?,
            job: r.try_get(1)?,
            step: opt_u32(r.try_get(2)?),
            text: r.try_get(3)?,
            at: r.try_get(4)?,
        })
    })
    .collect()
}

pub(super) async fn deliveries<C: GenericClient>(
    c: &C,
    limit: u32,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    rows(
        c,
        "SELECT id, event, repo, status, reason, received_at FROM deliveries
         ORDER BY received_at DESC, seq DESC LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(DeliveryRecord {
            id: r.try_get(0)?,
            event: r.try_get(1)?,
            repo: r.try_get(2)?,
            status: r.try_get(3)?,
            reason: r.try_get(4)?,
            received_at: r.try_get(5)?,
        })
    })
    .collect()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) async fn counts<C: GenericClient>(c: &C) -> Result<Counts, StoreError> {
    let runs = rows(
        c,
        "SELECT status, COALESCE(conclusion, ''), COUNT(*) FROM runs GROUP BY 1, 2 ORDER BY 1, 2",
        &[],
    )
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, count(r.try_get(2)?))))
    .collect::<Result<Vec<_>, StoreError>>()?;
    let deliveries = rows(
        c,
        "SELECT status, COUNT(*) FROM deliveries GROUP BY 1 ORDER BY 1",
        &[],
    )
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Counts { runs, deliveries })
}
