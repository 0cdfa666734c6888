//! Versioned migrations of the PostgreSQL schema, applied at start-up.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`; `gantry_schema` holds the
//! version. Every daemon runs this at start, so it runs under a transaction-scoped advisory
//! lock: the first daemon migrates, the others wait and then find nothing to do. PostgreSQL's
//! DDL is transactional, so a failed step leaves the previous version intact.

use deadpool_postgres::GenericClient;

use crate::store::StoreError;

/// Version 1 has the same shape as the SQLite schema; version 2 adds what several daemons
/// need: the owner and lease of a running run, a persisted cancellation request, and the
/// partial unique index that enforces one running run per concurrency group across daemons.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE deliveries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY, id TEXT PRIMARY KEY, event TEXT NOT NULL,
        repo TEXT, status TEXT NOT NULL, reason TEXT, received_at BIGINT NOT NULL);
    CREATE TABLE runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, delivery_id TEXT,
        repo TEXT NOT NULL, event TEXT NOT NULL, workflow_path TEXT NOT NULL,
        workflow_name TEXT NOT NULL, git_ref TEXT NOT NULL, sha TEXT NOT NULL,
        status TEXT NOT NULL, conclusion TEXT, reason TEXT, attempt INTEGER NOT NULL,
        rerun_of BIGINT, concurrency_group TEXT, concurrency_key TEXT, spec TEXT NOT NULL,
        run_jobs TEXT NOT NULL, created_at BIGINT NOT NULL, started_at BIGINT,
        finished_at BIGINT);
    CREATE INDEX runs_status ON runs (status, id);
    CREATE TABLE jobs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id BIGINT NOT NULL,
        key TEXT NOT NULL, name TEXT NOT NULL, needs TEXT NOT NULL, status TEXT NOT NULL,
        conclusion TEXT, started_at BIGINT, finished_at BIGINT, summary TEXT,
        UNIQUE (run_id, key));
    CREATE TABLE steps (
        job_id BIGINT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,
        status TEXT NOT NULL, conclusion TEXT, started_at BIGINT, finished_at BIGINT,
        PRIMARY KEY (job_id, number));
    CREATE TABLE logs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id BIGINT NOT NULL,
        step INTEGER, text TEXT NOT NULL, at BIGINT NOT NULL);
    CREATE INDEX logs_job ON logs (job_id, id);
    CREATE TABLE annotations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id BIGINT NOT NULL,
        level TEXT NOT NULL, message TEXT NOT NULL, file TEXT, line INTEGER);
    CREATE TABLE transitions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id BIGINT NOT NULL,
        job TEXT, from_status TEXT, to_status TEXT NOT NULL, reason TEXT, at BIGINT NOT NULL);
    CREATE INDEX transitions_run ON transitions (run_id, id);",
    "ALTER TABLE runs ADD COLUMN owner TEXT, ADD COLUMN lease_until TIMESTAMPTZ,
        ADD COLUMN cancel_reason TEXT;
    -- Runs a version-1 daemon was executing have no owner: an expired lease hands them to
    -- the reaper, which applies on_restart like a restart did.
    UPDATE runs SET lease_until = now() WHERE status = 'running';
    CREATE UNIQUE INDEX one_running_per_group ON runs (repo, concurrency_key)
        WHERE status = 'running' AND concurrency_key IS NOT NULL;
    CREATE INDEX runs_lease ON runs (lease_until) WHERE status = 'running';",
];

/// The version this build writes.
pub const LATEST: i32 = MIGRATIONS.len() as i32;

/// Any constant works as long as every gantry uses the same one.
const MIGRATION_LOCK: i64 = 0x6761_6e74_7279;

/// Brings the database to version `target` (at most [`LATEST`]); returns the version found.
pub(super) async fn migrate(
    client: &mut deadpool_postgres::Object,
    target: i32,
) -> Result<i32, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS gantry_schema (version INTEGER NOT NULL)")
        .await?;
    let found: i32 = match tx
        .query_opt("SELECT version FROM gantry_schema", &[])
        .await?
    {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO gantry_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    if found > LATEST {
        return Err(StoreError::NewerSchema(i64::from(found)));
    }
    for (from, step) in MIGRATIONS.iter().enumerate().take(target.max(0) as usize) {
        if (from as i32) < found {
            continue;
        }
        tx.batch_execute(step).await?;
    }
    if target > found {
        tx.execute("UPDATE gantry_schema SET version = $1", &[&target])
            .await?;
    }
    tx.commit().await?;
    Ok(found)
}
