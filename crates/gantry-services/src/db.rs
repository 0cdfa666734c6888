//! Metadata in SQLite (`services.db`): which artifacts and cache entries exist, their state
//! (`pending` while uploading, `final` once verified), and the digest of their content in the
//! blob store. Content is never here, and a row turns `final` only after its blob is in place.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

use crate::error::{Result, ServiceError};

/// One artifact, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactInfo {
    pub id: i64,
    pub run_id: String,
    pub repository: String,
    pub name: String,
    pub size: u64,
    /// `sha256:<hex>` of the zip.
    pub digest: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// One cache entry, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheInfo {
    pub id: i64,
    pub repository: String,
    /// The ref it was saved from (`refs/heads/main`).
    pub scope: String,
    pub key: String,
    pub version: String,
    pub size: u64,
    pub digest: String,
    /// Unix milliseconds (newest-first matching needs more than seconds).
    pub created_at: i64,
    pub last_used: i64,
}

/// An upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub id: i64,
    pub upload: String,
}

pub(crate) struct Db {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    repository TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    upload TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (run_id, name)
);
CREATE TABLE IF NOT EXISTS caches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    upload TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    UNIQUE (repository, scope, key, version)
);
";

/// A reservation nobody finished in this long (a killed job) no longer blocks its key.
pub(crate) const STALE_RESERVATION_MS: i64 = 3600 * 1000;

const ARTIFACT_COLS: &str = "id, run_id, repository, name, size, digest, created_at, expires_at";
const CACHE_COLS: &str = "id, repository, scope, key, version, size, digest, created_at, last_used";

fn artifact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArtifactInfo> {
    Ok(ArtifactInfo {
        id: r.get(0)?,
        run_id: r.get(1)?,
        repository: r.get(2)?,
        name: r.get(3)?,
        size: r.get::<_, i64>(4)?.max(0) as u64,
        digest: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
    })
}

fn cache_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CacheInfo> {
    Ok(CacheInfo {
        id: r.get(0)?,
        repository: r.get(1)?,
        scope: r.get(2)?,
        key: r.get(3)?,
        version: r.get(4)?,
        size: r.get::<_, i64>(5)?.max(0) as u64,
        digest: r.get(6)?,
        created_at: r.get(7)?,
        last_used: r.get(8)?,
    })
}

/// Of `(id, size)` entries, least recently used first, the ones to evict so that the rest fit
/// in `limit` bytes; `keep` is never among them.
pub(crate) fn lru_victims_of(entries: Vec<(i64, i64)>, limit: u64, keep: i64) -> Vec<i64> {
    let mut total: u64 = entries.iter().map(|(_, s)| (*s).max(0) as u64).sum();
    let mut victims = Vec::new();
    for (id, size) in entries {
        if total <= limit {
            break;
        }
        if id == keep {
            continue;
        }
        total = total.saturating_sub(size.max(0) as u64);
        victims.push(id);
    }
    victims
}

impl Db {
    pub(crate) fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&mut conn)?)
    }

    /// The upload a query (selecting `id, upload`) finds, if any.
    fn pending(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Pending>> {
        self.with(|c| {
            c.query_row(sql, params, |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    upload: r.get(1)?,
                })
            })
            .optional()
        })
    }

    // ---- artifacts --------------------------------------------------------------------

    /// Starts (or restarts) the upload of `name` in `run`; returns the replaced pending upload.
    /// A finalized artifact of that name is immutable: a second upload is refused, as GitHub
    /// refuses it (upload-artifact's `overwrite` deletes first).
    pub(crate) fn create_artifact(
        &self,
        run_id: &str,
        repository: &str,
        name: &str,
        upload: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(i64, Option<String>)> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT state, upload FROM artifacts WHERE run_id = ?1 AND name = ?2",
                params![run_id, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((state, _)) = &existing
            && state == "final"
        {
            return Err(ServiceError::AlreadyExists(format!(
                "an artifact named `{name}` already exists in run {run_id}"
            )));
        }
        tx.execute(
            "DELETE FROM artifacts WHERE run_id = ?1 AND name = ?2",
            params![run_id, name],
        )?;
        tx.execute(
            "INSERT INTO artifacts (run_id, repository, name, state, upload, created_at, expires_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6)",
            params![run_id, repository, name, upload, now, expires_at],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok((id, existing.map(|(_, upload)| upload)))
    }

    pub(crate) fn pending_artifact(&self, run_id: &str, name: &str) -> Result<Option<Pending>> {
        self.pending("SELECT id, upload FROM artifacts WHERE run_id = ?1 AND name = ?2 AND state = 'pending'", params![run_id, name])
    }

    pub(crate) fn pending_artifact_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM artifacts WHERE upload = ?1 AND state = 'pending'",
            params![upload],
        )
    }

    pub(crate) fn finalize_artifact(
        &self,
        id: i64,
        size: u64,
        digest: &str,
        now: i64,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE artifacts SET state = 'final', size = ?2, digest = ?3, created_at = ?4 WHERE id = ?1",
                params![id, size as i64, digest, now],
            )
        })?;
        Ok(())
    }

    /// Finalized, unexpired artifacts of `run_id` (every run when `None`).
    pub(crate) fn artifacts(&self, run_id: Option<&str>, now: i64) -> Result<Vec<ArtifactInfo>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ARTIFACT_COLS} FROM artifacts
                 WHERE state = 'final' AND expires_at > ?2 AND (?1 IS NULL OR run_id = ?1)
                 ORDER BY id"
            ))?;
            stmt.query_map(params![run_id, now], artifact_row)?
                .collect()
        })
    }

    pub(crate) fn artifact_by_id(&self, id: i64, now: i64) -> Result<Option<ArtifactInfo>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {ARTIFACT_COLS} FROM artifacts WHERE id = ?1 AND state = 'final' AND expires_at > ?2"
                ),
                params![id, now],
                artifact_row,
            )
            .optional()
        })
    }

    /// Removes a row; returns it (with its upload id) when it existed.
    pub(crate) fn delete_artifact(&self, id: i64) -> Result<Option<(ArtifactInfo, String)>> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let row = tx
            .query_row(
                &format!("SELECT {ARTIFACT_COLS}, upload FROM artifacts WHERE id = ?1"),
                params![id],
                |r| Ok((artifact_row(r)?, r.get::<_, String>(8)?)),
            )
            .optional()?;
        tx.execute("DELETE FROM artifacts WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(row)
    }

    /// Ids of artifacts past their retention (finalized or not).
    pub(crate) fn expired_artifacts(&self, now: i64) -> Result<Vec<i64>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id FROM artifacts WHERE expires_at <= ?1")?;
            stmt.query_map(params![now], |r| r.get(0))?.collect()
        })
    }

    /// Whether any artifact or cache entry still points at `digest` (blobs are shared).
    pub(crate) fn digest_used(&self, digest: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM artifacts WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM caches WHERE digest = ?1)",
                params![digest],
                |r| r.get(0),
            )
        })
    }

    // ---- caches -----------------------------------------------------------------------

    /// Reserves `key`+`version` in `scope`. Entries are immutable: a finished entry, or a
    /// reservation another job is still filling, refuses the key.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reserve_cache(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
        upload: &str,
        now_ms: i64,
    ) -> Result<(i64, Option<String>)> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let existing: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT state, upload, created_at FROM caches
                 WHERE repository = ?1 AND scope = ?2 AND key = ?3 AND version = ?4",
                params![repository, scope, key, version],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((state, _, created)) = &existing
            && (state == "final" || now_ms - created < STALE_RESERVATION_MS)
        {
            return Err(ServiceError::AlreadyExists(format!(
                "cache entry `{key}` (version {version}) already exists in scope {scope}{}",
                if state == "final" {
                    ""
                } else {
                    " or another job is saving it"
                }
            )));
        }
        tx.execute(
            "DELETE FROM caches WHERE repository = ?1 AND scope = ?2 AND key = ?3 AND version = ?4",
            params![repository, scope, key, version],
        )?;
        tx.execute(
            "INSERT INTO caches (repository, scope, key, version, state, upload, created_at, last_used)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6)",
            params![repository, scope, key, version, upload, now_ms],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok((id, existing.map(|(_, upload, _)| upload)))
    }

    pub(crate) fn pending_cache(&self, repository: &str, id: i64) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM caches WHERE id = ?1 AND repository = ?2 AND state = 'pending'",
            params![id, repository],
        )
    }

    pub(crate) fn pending_cache_by_key(
        &self,
        repository: &str,
        scope: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM caches WHERE repository = ?1 AND scope = ?2 AND key = ?3
                 AND version = ?4 AND state = 'pending'",
            params![repository, scope, key, version],
        )
    }

    pub(crate) fn pending_cache_by_upload(&self, upload: &str) -> Result<Option<Pending>> {
        self.pending(
            "SELECT id, upload FROM caches WHERE upload = ?1 AND state = 'pending'",
            params![upload],
        )
    }

    pub(crate) fn commit_cache(&self, id: i64, size: u64, digest: &str, now_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE caches SET state = 'final', size = ?2, digest = ?3, created_at = ?4, last_used = ?4
                 WHERE id = ?1",
                params![id, size as i64, digest, now_ms],
            )
        })?;
        Ok(())
    }

    /// Finished entries of `repository` with `version` in one of `scopes`.
    pub(crate) fn cache_candidates(
        &self,
        repository: &str,
        version: &str,
    ) -> Result<Vec<CacheInfo>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CACHE_COLS} FROM caches WHERE repository = ?1 AND version = ?2 AND state = 'final'
                 ORDER BY created_at DESC, id DESC"
            ))?;
            stmt.query_map(params![repository, version], cache_row)?.collect()
        })
    }

    pub(crate) fn cache_by_id(&self, id: i64) -> Result<Option<CacheInfo>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {CACHE_COLS} FROM caches WHERE id = ?1 AND state = 'final'"),
                params![id],
                cache_row,
            )
            .optional()
        })
    }

    pub(crate) fn touch_cache(&self, id: i64, now_ms: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE caches SET last_used = ?2 WHERE id = ?1",
                params![id, now_ms],
            )
        })?;
        Ok(())
    }

    /// Finished entries, of one repository or all, newest first.
    pub(crate) fn caches(&self, repository: Option<&str>) -> Result<Vec<CacheInfo>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CACHE_COLS} FROM caches WHERE state = 'final' AND (?1 IS NULL OR repository = ?1)
                 ORDER BY repository, created_at DESC, id DESC"
            ))?;
            stmt.query_map(params![repository], cache_row)?.collect()
        })
    }

    /// Removes an entry (finished or not); returns its digest and upload id.
    pub(crate) fn delete_cache(&self, id: i64) -> Result<Option<(String, String)>> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let row = tx
            .query_row(
                "SELECT digest, upload FROM caches WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        tx.execute("DELETE FROM caches WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(row)
    }

    /// The least recently used entries of `repository` to evict so that the rest fit in
    /// `limit` bytes; `keep` (the entry just saved) is never among them.
    pub(crate) fn lru_victims(&self, repository: &str, limit: u64, keep: i64) -> Result<Vec<i64>> {
        let entries = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, size FROM caches WHERE repository = ?1 AND state = 'final'
                 ORDER BY last_used ASC, id ASC",
            )?;
            stmt.query_map(params![repository], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok(lru_victims_of(entries, limit, keep))
    }

    /// Upload ids of pending rows untouched for `older_ms` (stale reservations).
    pub(crate) fn live_uploads(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT upload FROM artifacts WHERE state = 'pending'
                 UNION SELECT upload FROM caches WHERE state = 'pending'",
            )?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
    }
}
