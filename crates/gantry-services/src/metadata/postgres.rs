//! Services metadata in PostgreSQL, for several daemons serving one set of artifacts and
//! caches. The tables mirror the SQLite schema with a `svc_` prefix, so they live in the
//! daemon's own database beside its queue and the registry's `pkg_` tables. Changes that read
//! before they write (replacing a pending upload, reserving a cache key) lock the row they
//! read (`FOR UPDATE`) in one transaction; two daemons inserting the same key at once meet on
//! the unique index, and the loser is told the key is taken, as SQLite would tell it.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::Metadata;
use crate::db::{ArtifactInfo, CacheInfo, Pending, STALE_RESERVATION_MS, lru_victims_of};
use crate::error::{Result, ServiceError};
use gantry_packages::MetadataError;

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1` (`svc_schema` holds it).
const MIGRATIONS: &[&str] = &["
CREATE TABLE svc_artifacts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    repository TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    upload TEXT NOT NULL,
    size BIGINT NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE INDEX svc_artifacts_upload ON svc_artifacts(upload);
CREATE INDEX svc_artifacts_digest ON svc_artifacts(digest);
CREATE TABLE svc_caches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    upload TEXT NOT NULL,
    size BIGINT NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_used BIGINT NOT NULL,
    UNIQUE (repository, scope, key, version)
);
CREATE INDEX svc_caches_lookup ON svc_caches(repository, version);
CREATE INDEX svc_caches_upload ON svc_caches(upload);
CREATE INDEX svc_caches_digest ON svc_caches(digest);
"];

/// Distinct from the daemon store's and the registry's locks: each migrates on its own.
const MIGRATION_LOCK: i64 = 0x7376_6373_6368;

const ARTIFACT_COLS: &str = "id, run_id, repository, name, size, digest, created_at, expires_at";
const CACHE_COLS: &str = "id, repository, scope, key, version, size, digest, created_at, last_used";

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl From<tokio_postgres::Error> for ServiceError {
    fn from(e: tokio_postgres::Error) -> Self {
        ServiceError::Metadata(MetadataError::Postgres(e))
    }
}

impl From<deadpool_postgres::PoolError> for ServiceError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ServiceError::Metadata(MetadataError::Pool(e))
    }
}

/// The PostgreSQL metadata: a connection pool, migrated at open.
pub(crate) struct PgMetadata {
    pool: Pool,
}

impl PgMetadata {
    /// Connects and migrates to the latest schema (several daemons may start at once).
    pub(crate) async fn connect(url: &str, pool_size: usize) -> Result<PgMetadata> {
        let pool = gantry_packages::pg_pool(url, pool_size)?;
        gantry_packages::pg_migrate(&pool, "svc_schema", MIGRATION_LOCK, MIGRATIONS).await?;
        Ok(PgMetadata { pool })
    }

    async fn exec(&self, sql: &str, p: Params<'_>) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, p).await?)
    }

    async fn query(&self, sql: &str, p: Params<'_>) -> Result<Vec<Row>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, p).await?)
    }

    async fn query_opt(&self, sql: &str, p: Params<'_>) -> Result<Option<Row>> {
        Ok(self.query(sql, p).await?.into_iter().next())
    }

    async fn pending(&self, sql: &str, p: Params<'_>) -> Result<Option<Pending>> {
        self.query_opt(sql, p)
            .await?
            .map(|r| {
                Ok(Pending {
                    id: r.try_get(0)?,
                    upload: r.try_get(1)?,
                })
            })
            .transpose()
    }

    async fn artifact_rows(&self, sql: &str, p: Params<'_>) -> Result<Vec<ArtifactInfo>> {
        self.query(sql, p).await?.iter().map(artifact_row).collect()
    }

    async fn cache_rows(&self, sql: &str, p: Params<'_>) -> Result<Vec<CacheInfo>> {
        self.query(sql, p).await?.iter().map(cache_row).collect()
    }

    /// Replaces the row `select` (returning `state, upload, created_at`, locked) finds with the
    /// one `insert` adds, unless `refuse` says the existing row must stay; returns the new id
    /// and the replaced upload.
    async fn replace(
        &self,
        (select, delete, insert): (&str, &str, &str),
        (key, values): (Params<'_>, Params<'_>),
        refuse: impl Fn(&str, i64) -> Option<ServiceError> + Send + Sync,
    ) -> Result<(i64, Option<String>)> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = tx.query_opt(&tx.prepare_cached(select).await?, key).await?;
        let existing = match existing {
            Some(r) => Some((
                r.try_get::<_, String>(0)?,
                r.try_get::<_, String>(1)?,
                r.try_get::<_, i64>(2)?,
            )),
            None => None,
        };
        if let Some((state, _, created)) = &existing
            && let Some(refused) = refuse(state, *created)
        {
            return Err(refused);
        }
        tx.execute(&tx.prepare_cached(delete).await?, key).await?;
        let inserted = tx
            .query_one(&tx.prepare_cached(insert).await?, values)
            .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get(0)?,
            // Another daemon inserted the same key between our read and our insert.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(refuse("pending", i64::MAX).unwrap_or_else(|| e.into()));
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok((id, existing.map(|(_, upload, _)| upload)))
    }

    /// Deletes the row `select` (locked) returns, in one transaction; returns what it read.
    async fn take<T: Send>(
        &self,
        select: &str,
        delete: &str,
        id: i64,
        read: impl FnOnce(&Row) -> Result<T> + Send,
    ) -> Result<Option<T>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(&tx.prepare_cached(select).await?, &[&id])
            .await?;
        let taken = row.as_ref().map(read).transpose()?;
        tx.execute(&tx.prepare_cached(delete).await?, &[&id])
            .await?;
        tx.commit().await?;
        Ok(taken)
    }
}

fn size_of(v: i64) -> u64 {
    v.max(0) as u64
}

fn as_db(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn artifact_row(r: &Row) -> Result<ArtifactInfo> {
    Ok(ArtifactInfo {
        id: r.try_get(0)?,
        run_id: r.try_get(1)?,
        repository: r.try_get(2)?,
        name: r.try_get(3)?,
        size: size_of(r.try_get(4)?),
        digest: r.try_get(5)?,
        created_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
    })
}

fn cache_row(r: &Row) -> Result<CacheInfo> {
    Ok(CacheInfo {
        id: r.try_get(0)?,
        repository: r.try_get(1)?,
        scope: r.try_get(2)?,
        key: r.try_get(3)?,
        version: r.try_get(4)?,
        size: size_of(r.try_get(5)?),
        digest: r.try_get(6)?,
        created_at: r.try_get(7)?,
        last_used: r.try_get(8)?,
    })
}

#[async_trait]
impl Metadata for PgMetadata {
    async fn create_artifact(
        &self,
        run_id: &str,
        repository: &str,
        name: &str,
        upload: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(i64, Option<String>)> {
        let refuse = |state: &str, _created: i64| {
            (state == "final").then(|| {
                ServiceError::AlreadyExists(format!(
                    "an artifact named `{name}` already exists in run {run_id}"
                ))
            })
        };
        let taken = self
            .replace(
                (
                    "SELECT state, upload, created_at FROM svc_artifacts
                     WHERE run_id = $1 AND name = $2 FOR UPDATE",
                    "DELETE FROM svc_artifacts WHERE run_id = $1 AND name = $2",
                    "INSERT INTO svc_artifacts
                         (run_id, repository, name, state, upload, created_at, expires_at)
                     VALUES ($1, $2, $3, 'pending', $4, $5, $6) RETURNING id",
                ),
                (
                    &[&run_id, &name],
                    &[&run_id, &repository, &name, &upload, &now, &expires_at],
                ),
                refuse,
            )
            .await;
        match taken {
            // Lost a race with another daemon's upload of the same name: that one goes on.
            Err(ServiceError::Metadata(MetadataError::Postgres(e)))
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
            {
                Err(ServiceError::AlreadyExists(format!(
                    "an upload of artifact `{name}` in run {run_id} is starting elsewhere"
                )))
            }
            other => other,
        }
    }

    async fn pending_artifact(&self, run_id: &str, name: &str) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM svc_artifacts
             WHERE run_id = $1 AND name = $2 AND state = 'pending'",
            &[&run_id, &name],
        )
        .await
    }

    async fn pending_artifact_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM svc_artifacts WHERE upload = $1 AND state = 'pending'",
            &[&upload],
        )
        .await
    }

    async fn finalize_artifact(&self, id: i64, size: u64, digest: &str, now: i64) -> Result<()> {
        self.exec(
            "UPDATE svc_artifacts SET state = 'final', size = $2, digest = $3, created_at = $4
             WHERE id = $1",
            &[&id, &as_db(size), &digest, &now],
        )
        .await?;
        Ok(())
    }

    async fn artifacts(&self, run_id: Option<&str>, now: i64) -> Result<Vec<ArtifactInfo>> {
        self.artifact_rows(
            &format!(
                "SELECT {ARTIFACT_COLS} FROM svc_artifacts
                 WHERE state = 'final' AND expires_at > $2
                   AND ($1::TEXT IS NULL OR run_id = $1::TEXT)
                 ORDER BY id"
            ),
            &[&run_id, &now],
        )
        .await
    }

    async fn artifact_by_id(&self, id: i64, now: i64) -> Result<Option<ArtifactInfo>> {
        let rows = self
            .artifact_rows(
                &format!(
                    "SELECT {ARTIFACT_COLS} FROM svc_artifacts
                     WHERE id = $1 AND state = 'final' AND expires_at > $2"
                ),
                &[&id, &now],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn delete_artifact(&self, id: i64) -> Result<Option<(ArtifactInfo, String)>> {
        self.take(
            &format!("SELECT {ARTIFACT_COLS}, upload FROM svc_artifacts WHERE id = $1 FOR UPDATE"),
            "DELETE FROM svc_artifacts WHERE id = $1",
            id,
            |r| Ok((artifact_row(r)?, r.try_get(8)?)),
        )
        .await
    }

    async fn expired_artifacts(&self, now: i64) -> Result<Vec<i64>> {
        let rows = self
            .query(
                "SELECT id FROM svc_artifacts WHERE expires_at <= $1",
                &[&now],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn digest_used(&self, digest: &str) -> Result<bool> {
        let row = self
            .query_opt(
                "SELECT EXISTS (SELECT 1 FROM svc_artifacts WHERE digest = $1)
                     OR EXISTS (SELECT 1 FROM svc_caches WHERE digest = $1)",
                &[&digest],
            )
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => false,
        })
    }

    async fn reserve_cache(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
        upload: &str,
        now_ms: i64,
    ) -> Result<(i64, Option<String>)> {
        let refuse = |state: &str, created: i64| {
            (state == "final" || now_ms.saturating_sub(created) < STALE_RESERVATION_MS).then(|| {
                ServiceError::AlreadyExists(format!(
                    "cache entry `{key}` (version {version}) already exists in scope {scope}{}",
                    if state == "final" {
                        ""
                    } else {
                        " or another job is saving it"
                    }
                ))
            })
        };
        self.replace(
            (
                "SELECT state, upload, created_at FROM svc_caches
                 WHERE repository = $1 AND scope = $2 AND key = $3 AND version = $4 FOR UPDATE",
                "DELETE FROM svc_caches
                 WHERE repository = $1 AND scope = $2 AND key = $3 AND version = $4",
                "INSERT INTO svc_caches
                     (repository, scope, key, version, state, upload, created_at, last_used)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6) RETURNING id",
            ),
            (
                &[&repository, &scope, &key, &version],
                &[&repository, &scope, &key, &version, &upload, &now_ms],
            ),
            refuse,
        )
        .await
    }

    async fn pending_cache(&self, repository: &str, id: i64) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM svc_caches
             WHERE id = $1 AND repository = $2 AND state = 'pending'",
            &[&id, &repository],
        )
        .await
    }

    async fn pending_cache_by_key(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM svc_caches WHERE repository = $1 AND scope = $2
                 AND key = $3 AND version = $4 AND state = 'pending'",
            &[&repository, &scope, &key, &version],
        )
        .await
    }

    async fn pending_cache_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM svc_caches WHERE upload = $1 AND state = 'pending'",
            &[&upload],
        )
        .await
    }

    async fn commit_cache(&self, id: i64, size: u64, digest: &str, now_ms: i64) -> Result<()> {
        self.exec(
            "UPDATE svc_caches SET state = 'final', size = $2, digest = $3, created_at = $4,
                 last_used = $4
             WHERE id = $1",
            &[&id, &as_db(size), &digest, &now_ms],
        )
        .await?;
        Ok(())
    }

    async fn cache_candidates(&self, repository: &str, version: &str) -> Result<Vec<CacheInfo>> {
        self.cache_rows(
            &format!(
                "SELECT {CACHE_COLS} FROM svc_caches
                 WHERE repository = $1 AND version = $2 AND state = 'final'
                 ORDER BY created_at DESC, id DESC"
            ),
            &[&repository, &version],
        )
        .await
    }

    async fn cache_by_id(&self, id: i64) -> Result<Option<CacheInfo>> {
        let rows = self
            .cache_rows(
                &format!("SELECT {CACHE_COLS} FROM svc_caches WHERE id = $1 AND state = 'final'"),
                &[&id],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn touch_cache(&self, id: i64, now_ms: i64) -> Result<()> {
        self.exec(
            "UPDATE svc_caches SET last_used = $2 WHERE id = $1",
            &[&id, &now_ms],
        )
        .await?;
        Ok(())
    }

    async fn caches(&self, repository: Option<&str>) -> Result<Vec<CacheInfo>> {
        self.cache_rows(
            &format!(
                "SELECT {CACHE_COLS} FROM svc_caches
                 WHERE state = 'final' AND ($1::TEXT IS NULL OR repository = $1::TEXT)
                 ORDER BY repository, created_at DESC, id DESC"
            ),
            &[&repository],
        )
        .await
    }

    async fn delete_cache(&self, id: i64) -> Result<Option<(String, String)>> {
        self.take(
            "SELECT digest, upload FROM svc_caches WHERE id = $1 FOR UPDATE",
            "DELETE FROM svc_caches WHERE id = $1",
            id,
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )
        .await
    }

    async fn lru_victims(&self, repository: &str, limit: u64, keep: i64) -> Result<Vec<i64>> {
        let rows = self
            .query(
                "SELECT id, size FROM svc_caches WHERE repository = $1 AND state = 'final'
                 ORDER BY last_used ASC, id ASC",
                &[&repository],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(i64, i64)>>>()?;
        Ok(lru_victims_of(entries, limit, keep))
    }

    async fn live_uploads(&self) -> Result<Vec<String>> {
        let rows = self
            .query(
                "SELECT upload FROM svc_artifacts WHERE state = 'pending'
                 UNION SELECT upload FROM svc_caches WHERE state = 'pending'",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }
}
