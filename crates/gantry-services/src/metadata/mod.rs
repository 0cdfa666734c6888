//! Where the services keep their metadata: SQLite in the services' directory (one process), or
//! PostgreSQL shared by several daemons (the daemon's own database, `svc_` tables), so that a
//! cache saved through one daemon is restored through another and an artifact uploaded through
//! one is listed and downloaded through any. Both sit behind [`Metadata`]; handlers never know
//! which one answers.
//!
//! The SQLite implementation is the synchronous [`Db`] (short statements on one connection, as
//! before); the trait is async so that the PostgreSQL one waits on the network without holding
//! a runtime worker. Both keep the same invariants: a row turns `final` only after its blob is
//! in place, and a reservation or a replaced upload is decided in one transaction.

mod postgres;

use async_trait::async_trait;

use crate::db::{ArtifactInfo, CacheInfo, Db, Pending};
use crate::error::Result;

pub(crate) use postgres::PgMetadata;

/// Every question the services ask of their metadata, and every change they make. The
/// methods are those of [`Db`], documented there.
#[async_trait]
pub(crate) trait Metadata: Send + Sync + 'static {
    async fn create_artifact(
        &self,
        run_id: &str,
        repository: &str,
        name: &str,
        upload: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(i64, Option<String>)>;
    async fn pending_artifact(&self, run_id: &str, name: &str) -> Result<Option<Pending>>;
    async fn pending_artifact_by_upload(&self, upload: &str) -> Result<Option<Pending>>;
    async fn finalize_artifact(&self, id: i64, size: u64, digest: &str, now: i64) -> Result<()>;
    async fn artifacts(&self, run_id: Option<&str>, now: i64) -> Result<Vec<ArtifactInfo>>;
    async fn artifact_by_id(&self, id: i64, now: i64) -> Result<Option<ArtifactInfo>>;
    async fn delete_artifact(&self, id: i64) -> Result<Option<(ArtifactInfo, String)>>;
    async fn expired_artifacts(&self, now: i64) -> Result<Vec<i64>>;
    async fn digest_used(&self, digest: &str) -> Result<bool>;

    async fn reserve_cache(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
        upload: &str,
        now_ms: i64,
    ) -> Result<(i64, Option<String>)>;
    async fn pending_cache(&self, repository: &str, id: i64) -> Result<Option<Pending>>;
    async fn pending_cache_by_key(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<Pending>>;
    async fn pending_cache_by_upload(&self, upload: &str) -> Result<Option<Pending>>;
    async fn commit_cache(&self, id: i64, size: u64, digest: &str, now_ms: i64) -> Result<()>;
    async fn cache_candidates(&self, repository: &str, version: &str) -> Result<Vec<CacheInfo>>;
    async fn cache_by_id(&self, id: i64) -> Result<Option<CacheInfo>>;
    async fn touch_cache(&self, id: i64, now_ms: i64) -> Result<()>;
    async fn caches(&self, repository: Option<&str>) -> Result<Vec<CacheInfo>>;
    async fn delete_cache(&self, id: i64) -> Result<Option<(String, String)>>;
    async fn lru_victims(&self, repository: &str, limit: u64, keep: i64) -> Result<Vec<i64>>;
    async fn live_uploads(&self) -> Result<Vec<String>>;
}

#[async_trait]
impl Metadata for Db {
    async fn create_artifact(
        &self,
        run_id: &str,
        repository: &str,
        name: &str,
        upload: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(i64, Option<String>)> {
        Db::create_artifact(self, run_id, repository, name, upload, now, expires_at)
    }
    async fn pending_artifact(&self, run_id: &str, name: &str) -> Result<Option<Pending>> {
        Db::pending_artifact(self, run_id, name)
    }
    async fn pending_artifact_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        Db::pending_artifact_by_upload(self, upload)
    }
    async fn finalize_artifact(&self, id: i64, size: u64, digest: &str, now: i64) -> Result<()> {
        Db::finalize_artifact(self, id, size, digest, now)
    }
    async fn artifacts(&self, run_id: Option<&str>, now: i64) -> Result<Vec<ArtifactInfo>> {
        Db::artifacts(self, run_id, now)
    }
    async fn artifact_by_id(&self, id: i64, now: i64) -> Result<Option<ArtifactInfo>> {
        Db::artifact_by_id(self, id, now)
    }
    async fn delete_artifact(&self, id: i64) -> Result<Option<(ArtifactInfo, String)>> {
        Db::delete_artifact(self, id)
    }
    async fn expired_artifacts(&self, now: i64) -> Result<Vec<i64>> {
        Db::expired_artifacts(self, now)
    }
    async fn digest_used(&self, digest: &str) -> Result<bool> {
        Db::digest_used(self, digest)
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
        Db::reserve_cache(self, repository, scope, key, version, upload, now_ms)
    }
    async fn pending_cache(&self, repository: &str, id: i64) -> Result<Option<Pending>> {
        Db::pending_cache(self, repository, id)
    }
    async fn pending_cache_by_key(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<Pending>> {
        Db::pending_cache_by_key(self, repository, scope, key, version)
    }
    async fn pending_cache_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        Db::pending_cache_by_upload(self, upload)
    }
    async fn commit_cache(&self, id: i64, size: u64, digest: &str, now_ms: i64) -> Result<()> {
        Db::commit_cache(self, id, size, digest, now_ms)
    }
    async fn cache_candidates(&self, repository: &str, version: &str) -> Result<Vec<CacheInfo>> {
        Db::cache_candidates(self, repository, version)
    }
    async fn cache_by_id(&self, id: i64) -> Result<Option<CacheInfo>> {
        Db::cache_by_id(self, id)
    }
    async fn touch_cache(&self, id: i64, now_ms: i64) -> Result<()> {
        Db::touch_cache(self, id, now_ms)
    }
    async fn caches(&self, repository: Option<&str>) -> Result<Vec<CacheInfo>> {
        Db::caches(self, repository)
    }
    async fn delete_cache(&self, id: i64) -> Result<Option<(String, String)>> {
        Db::delete_cache(self, id)
    }
    async fn lru_victims(&self, repository: &str, limit: u64, keep: i64) -> Result<Vec<i64>> {
        Db::lru_victims(self, repository, limit, keep)
    }
    async fn live_uploads(&self) -> Result<Vec<String>> {
        Db::live_uploads(self)
    }
}
