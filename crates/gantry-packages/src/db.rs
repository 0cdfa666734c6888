//! Metadata in SQLite: tokens, packages, OCI manifests/tags/blob links, npm versions and tags.

use crate::config::Visibility;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS tokens(
  hash TEXT PRIMARY KEY, subject TEXT NOT NULL, owner TEXT, scopes TEXT NOT NULL, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS packages(
  kind TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, visibility TEXT NOT NULL,
  PRIMARY KEY(kind, name));
CREATE TABLE IF NOT EXISTS oci_blobs(repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(repo, digest));
CREATE TABLE IF NOT EXISTS oci_manifests(
  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
  subject TEXT, artifact_type TEXT, PRIMARY KEY(repo, digest));
CREATE TABLE IF NOT EXISTS oci_manifest_refs(
  repo TEXT NOT NULL, digest TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY(repo, digest, child));
CREATE TABLE IF NOT EXISTS oci_tags(repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(repo, tag));
CREATE TABLE IF NOT EXISTS oci_uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS npm_packages(name TEXT PRIMARY KEY, rev INTEGER NOT NULL, created INTEGER NOT NULL, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS npm_versions(
  name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, tarball TEXT NOT NULL,
  digest TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(name, version));
CREATE TABLE IF NOT EXISTS npm_tags(name TEXT NOT NULL, tag TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY(name, tag));
";

/// A stored token (looked up by the sha256 of its secret).
pub(crate) struct TokenRow {
    pub subject: String,
    pub owner: Option<String>,
    pub scopes: String,
    pub expires_at: Option<i64>,
}

/// One stored OCI manifest.
pub(crate) struct ManifestRow {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub artifact_type: Option<String>,
}

/// One stored npm version.
pub(crate) struct NpmVersionRow {
    pub version: String,
    pub manifest: String,
    pub tarball: String,
    pub created: i64,
}

/// The metadata database. One connection: SQLite serialises writers anyway, and every query
/// here is short.
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Db {
    pub fn open(path: &Path) -> rusqlite::Result<Db> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // --- tokens ---

    pub fn insert_token(&self, hash: &str, row: &TokenRow) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO tokens(hash, subject, owner, scopes, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, row.subject, row.owner, row.scopes, row.expires_at],
        )?;
        Ok(())
    }

    pub fn token(&self, hash: &str) -> rusqlite::Result<Option<TokenRow>> {
        self.conn()
            .query_row(
                "SELECT subject, owner, scopes, expires_at FROM tokens WHERE hash = ?1",
                [hash],
                |r| {
                    Ok(TokenRow {
                        subject: r.get(0)?,
                        owner: r.get(1)?,
                        scopes: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()
    }

    pub fn delete_token(&self, hash: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM tokens WHERE hash = ?1", [hash])?
            > 0)
    }

    /// Deletes every owner-restricted token of `subject`.
    pub fn delete_tokens_of(&self, subject: &str) -> rusqlite::Result<usize> {
        self.conn().execute(
            "DELETE FROM tokens WHERE subject = ?1 AND owner IS NOT NULL",
            [subject],
        )
    }

    pub fn delete_expired_tokens(&self) -> rusqlite::Result<usize> {
        self.conn().execute(
            "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < ?1",
            [now()],
        )
    }

    // --- packages ---

    pub fn package(&self, kind: &str, name: &str) -> rusqlite::Result<Option<Visibility>> {
        self.conn()
            .query_row(
                "SELECT visibility FROM packages WHERE kind = ?1 AND name = ?2",
                [kind, name],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|v| v.map(|s| Visibility::parse(&s)))
    }

    pub fn ensure_package(
        &self,
        kind: &str,
        name: &str,
        owner: &str,
        vis: Visibility,
    ) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO packages(kind, name, owner, visibility) VALUES (?1, ?2, ?3, ?4)",
            params![kind, name, owner, vis.as_str()],
        )?;
        Ok(())
    }

    pub fn set_visibility(
        &self,
        kind: &str,
        name: &str,
        vis: Visibility,
    ) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE packages SET visibility = ?3 WHERE kind = ?1 AND name = ?2",
            params![kind, name, vis.as_str()],
        )?;
        Ok(n > 0)
    }

    pub fn package_names(&self, kind: &str) -> rusqlite::Result<Vec<(String, Visibility)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, visibility FROM packages WHERE kind = ?1 ORDER BY name")?;
        let rows = stmt.query_map([kind], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Visibility::parse(&r.get::<_, String>(1)?),
            ))
        })?;
        rows.collect()
    }

    // --- OCI ---

    pub fn link_blob(&self, repo: &str, digest: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO oci_blobs(repo, digest) VALUES (?1, ?2)",
            [repo, digest],
        )?;
        Ok(())
    }

    pub fn blob_linked(&self, repo: &str, digest: &str) -> rusqlite::Result<bool> {
        let conn = self.conn();
        let linked: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM oci_blobs WHERE repo = ?1 AND digest = ?2)
                 OR EXISTS(SELECT 1 FROM oci_manifests WHERE repo = ?1 AND digest = ?2)",
            [repo, digest],
            |r| r.get(0),
        )?;
        Ok(linked)
    }

    pub fn unlink_blob(&self, repo: &str, digest: &str) -> rusqlite::Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM oci_blobs WHERE repo = ?1 AND digest = ?2",
            [repo, digest],
        )? > 0)
    }

    pub fn put_manifest(
        &self,
        repo: &str,
        row: &ManifestRow,
        subject: Option<&str>,
        children: &[String],
        tag: Option<&str>,
    ) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO oci_manifests(repo, digest, media_type, size, subject, artifact_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![repo, row.digest, row.media_type, row.size, subject, row.artifact_type],
        )?;
        for child in children {
            tx.execute(
                "INSERT OR IGNORE INTO oci_manifest_refs(repo, digest, child) VALUES (?1, ?2, ?3)",
                [repo, &row.digest, child],
            )?;
        }
        if let Some(tag) = tag {
            tx.execute(
                "INSERT OR REPLACE INTO oci_tags(repo, tag, digest) VALUES (?1, ?2, ?3)",
                [repo, tag, &row.digest],
            )?;
        }
        tx.commit()
    }

    pub fn manifest(&self, repo: &str, digest: &str) -> rusqlite::Result<Option<ManifestRow>> {
        self.conn()
            .query_row(
                "SELECT digest, media_type, size, artifact_type FROM oci_manifests WHERE repo = ?1 AND digest = ?2",
                [repo, digest],
                |r| Ok(ManifestRow { digest: r.get(0)?, media_type: r.get(1)?, size: r.get(2)?, artifact_type: r.get(3)? }),
            )
            .optional()
    }

    pub fn tag(&self, repo: &str, tag: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT digest FROM oci_tags WHERE repo = ?1 AND tag = ?2",
                [repo, tag],
                |r| r.get(0),
            )
            .optional()
    }

    pub fn tags(&self, repo: &str, last: &str, limit: i64) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT tag FROM oci_tags WHERE repo = ?1 AND tag > ?2 ORDER BY tag LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![repo, last, limit], |r| r.get(0))?;
        rows.collect()
    }

    pub fn repo_exists(&self, repo: &str) -> rusqlite::Result<bool> {
        self.conn().query_row(
            "SELECT EXISTS(SELECT 1 FROM oci_manifests WHERE repo = ?1) OR EXISTS(SELECT 1 FROM oci_blobs WHERE repo = ?1)",
            [repo],
            |r| r.get(0),
        )
    }

    pub fn delete_tag(&self, repo: &str, tag: &str) -> rusqlite::Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM oci_tags WHERE repo = ?1 AND tag = ?2",
            [repo, tag],
        )? > 0)
    }

    /// Deletes a manifest and every tag pointing at it, as the distribution registry does.
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> rusqlite::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM oci_manifests WHERE repo = ?1 AND digest = ?2",
            [repo, digest],
        )?;
        tx.execute(
            "DELETE FROM oci_manifest_refs WHERE repo = ?1 AND digest = ?2",
            [repo, digest],
        )?;
        tx.execute(
            "DELETE FROM oci_tags WHERE repo = ?1 AND digest = ?2",
            [repo, digest],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    pub fn referrers(&self, repo: &str, subject: &str) -> rusqlite::Result<Vec<ManifestRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT digest, media_type, size, artifact_type FROM oci_manifests WHERE repo = ?1 AND subject = ?2 ORDER BY digest",
        )?;
        let rows = stmt.query_map([repo, subject], |r| {
            Ok(ManifestRow {
                digest: r.get(0)?,
                media_type: r.get(1)?,
                size: r.get(2)?,
                artifact_type: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    pub fn insert_upload(&self, id: &str, repo: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO oci_uploads(id, repo) VALUES (?1, ?2)",
            [id, repo],
        )?;
        Ok(())
    }

    pub fn upload_repo(&self, id: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row("SELECT repo FROM oci_uploads WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
    }

    pub fn delete_upload(&self, id: &str) -> rusqlite::Result<()> {
        self.conn()
            .execute("DELETE FROM oci_uploads WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn upload_ids(&self) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM oci_uploads")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    // --- garbage collection ---

    /// Every digest some manifest or npm version still needs. Blobs linked to a repository but
    /// referenced by no manifest are not included: they are leftovers once past the grace age.
    pub fn referenced_digests(&self) -> rusqlite::Result<std::collections::HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT digest FROM oci_manifests UNION SELECT child FROM oci_manifest_refs
             UNION SELECT digest FROM npm_versions",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    /// Forgets every repository link to a blob that gc removed.
    pub fn drop_blob_links(&self, digest: &str) -> rusqlite::Result<usize> {
        self.conn()
            .execute("DELETE FROM oci_blobs WHERE digest = ?1", [digest])
    }

    // --- npm ---

    pub fn npm_package(&self, name: &str) -> rusqlite::Result<Option<(i64, i64, i64)>> {
        self.conn()
            .query_row(
                "SELECT rev, created, modified FROM npm_packages WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
    }

    pub fn npm_versions(&self, name: &str) -> rusqlite::Result<Vec<NpmVersionRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT version, manifest, tarball, created FROM npm_versions WHERE name = ?1",
        )?;
        let rows = stmt.query_map([name], |r| {
            Ok(NpmVersionRow {
                version: r.get(0)?,
                manifest: r.get(1)?,
                tarball: r.get(2)?,
                created: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    pub fn npm_tags(&self, name: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT tag, version FROM npm_tags WHERE name = ?1 ORDER BY tag")?;
        let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    pub fn npm_tarball(&self, name: &str, file: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT digest FROM npm_versions WHERE name = ?1 AND tarball = ?2",
                [name, file],
                |r| r.get(0),
            )
            .optional()
    }
}

/// One change to an npm package, applied atomically with a revision bump.
pub(crate) enum NpmChange {
    AddVersion {
        version: String,
        manifest: String,
        tarball: String,
        digest: String,
    },
    SetManifest {
        version: String,
        manifest: String,
    },
    RemoveVersion {
        version: String,
    },
    SetTag {
        tag: String,
        version: String,
    },
    RemoveTag {
        tag: String,
    },
}

impl Db {
    /// Applies `changes` in one transaction and bumps the revision. Tags pointing at removed
    /// versions go with them.
    pub fn npm_apply(&self, name: &str, changes: &[NpmChange]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let t = now();
        tx.execute(
            "INSERT INTO npm_packages(name, rev, created, modified) VALUES (?1, 1, ?2, ?2)
             ON CONFLICT(name) DO UPDATE SET rev = rev + 1, modified = ?2",
            params![name, t],
        )?;
        for change in changes {
            match change {
                NpmChange::AddVersion { version, manifest, tarball, digest } => tx.execute(
                    "INSERT INTO npm_versions(name, version, manifest, tarball, digest, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![name, version, manifest, tarball, digest, t],
                )?,
                NpmChange::SetManifest { version, manifest } => tx.execute(
                    "UPDATE npm_versions SET manifest = ?3 WHERE name = ?1 AND version = ?2",
                    params![name, version, manifest],
                )?,
                NpmChange::RemoveVersion { version } => {
                    tx.execute("DELETE FROM npm_tags WHERE name = ?1 AND version = ?2", [name, version])?;
                    tx.execute("DELETE FROM npm_versions WHERE name = ?1 AND version = ?2", [name, version])?
                }
                NpmChange::SetTag { tag, version } => tx.execute(
                    "INSERT OR REPLACE INTO npm_tags(name, tag, version) VALUES (?1, ?2, ?3)",
                    [name, tag, version],
                )?,
                NpmChange::RemoveTag { tag } => tx.execute("DELETE FROM npm_tags WHERE name = ?1 AND tag = ?2", [name, tag])?,
            };
        }
        tx.commit()
    }

    /// Removes a package entirely (`npm unpublish --force`).
    pub fn npm_delete(&self, name: &str) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM npm_tags WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM npm_versions WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM npm_packages WHERE name = ?1", [name])?;
        tx.execute(
            "DELETE FROM packages WHERE kind = 'npm' AND name = ?1",
            [name],
        )?;
        tx.commit()
    }
}

/// One row of `packages`, for administration.
pub(crate) struct AdminPackageRow {
    pub kind: String,
    pub name: String,
    pub owner: String,
    pub visibility: String,
}

impl Db {
    /// Every package, npm first, then containers, each by name.
    pub fn admin_packages(&self) -> rusqlite::Result<Vec<AdminPackageRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kind, name, owner, visibility FROM packages
             ORDER BY CASE kind WHEN 'npm' THEN 0 ELSE 1 END, name",
        )?;
        let rows = stmt.query_map([], admin_row)?;
        rows.collect()
    }

    pub fn admin_package(
        &self,
        kind: &str,
        name: &str,
    ) -> rusqlite::Result<Option<AdminPackageRow>> {
        self.conn()
            .query_row(
                "SELECT kind, name, owner, visibility FROM packages WHERE kind = ?1 AND name = ?2",
                [kind, name],
                admin_row,
            )
            .optional()
    }

    /// The digests of a repository's manifests, sorted.
    pub fn oci_manifest_digests(&self, repo: &str) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT digest FROM oci_manifests WHERE repo = ?1 ORDER BY digest")?;
        let rows = stmt.query_map([repo], |r| r.get(0))?;
        rows.collect()
    }

    /// `(tag, digest)` pairs of a repository, by tag.
    pub fn oci_tag_digests(&self, repo: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT tag, digest FROM oci_tags WHERE repo = ?1 ORDER BY tag")?;
        let rows = stmt.query_map([repo], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Forgets a container repository: manifests, tags, blob links and the package itself.
    pub fn oci_delete_repository(&self, repo: &str) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for table in [
            "oci_tags",
            "oci_manifest_refs",
            "oci_manifests",
            "oci_blobs",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE repo = ?1"), [repo])?;
        }
        tx.execute(
            "DELETE FROM packages WHERE kind = 'container' AND name = ?1",
            [repo],
        )?;
        tx.commit()
    }
}

fn admin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminPackageRow> {
    Ok(AdminPackageRow {
        kind: r.get(0)?,
        name: r.get(1)?,
        owner: r.get(2)?,
        visibility: r.get(3)?,
    })
}
