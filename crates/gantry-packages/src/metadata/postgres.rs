//! Registry metadata in PostgreSQL, for several daemons serving one registry.
//!
//! The tables mirror the SQLite schema with a `pkg_` prefix, so they can live in the daemon's
//! own database beside its queue. Every statement goes through the connection's statement
//! cache (parsed once per connection, then one round trip); multi-statement changes run in one
//! transaction, as in SQLite. Keys that are listed in order (`tags/list`, `_catalog`) are
//! `COLLATE "C"`: the OCI API pages by byte order, whatever the database's locale.

use super::{MetaResult, Metadata, MetadataError};
use crate::config::Visibility;
use crate::db::{AdminPackageRow, ManifestRow, NpmChange, NpmVersionRow, TokenRow, now};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::collections::HashSet;
use tokio_postgres::NoTls;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// `MIGRATIONS[i]` takes the schema from version `i` to `i + 1` (`pkg_schema` holds it).
const MIGRATIONS: &[&str] = &["
CREATE TABLE pkg_tokens(
  hash TEXT PRIMARY KEY, subject TEXT NOT NULL, owner TEXT, scopes TEXT NOT NULL,
  expires_at BIGINT);
CREATE TABLE pkg_packages(
  kind TEXT NOT NULL, name TEXT COLLATE \"C\" NOT NULL, owner TEXT NOT NULL,
  visibility TEXT NOT NULL, PRIMARY KEY(kind, name));
CREATE TABLE pkg_oci_blobs(repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(repo, digest));
CREATE INDEX pkg_oci_blobs_digest ON pkg_oci_blobs(digest);
CREATE TABLE pkg_oci_manifests(
  repo TEXT NOT NULL, digest TEXT COLLATE \"C\" NOT NULL, media_type TEXT NOT NULL,
  size BIGINT NOT NULL, subject TEXT, artifact_type TEXT, PRIMARY KEY(repo, digest));
CREATE INDEX pkg_oci_manifests_subject ON pkg_oci_manifests(repo, subject);
CREATE TABLE pkg_oci_manifest_refs(
  repo TEXT NOT NULL, digest TEXT NOT NULL, child TEXT NOT NULL,
  PRIMARY KEY(repo, digest, child));
CREATE TABLE pkg_oci_tags(
  repo TEXT NOT NULL, tag TEXT COLLATE \"C\" NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY(repo, tag));
CREATE TABLE pkg_oci_uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL);
CREATE TABLE pkg_npm_packages(
  name TEXT PRIMARY KEY, rev BIGINT NOT NULL, created BIGINT NOT NULL, modified BIGINT NOT NULL);
CREATE TABLE pkg_npm_versions(
  name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, tarball TEXT NOT NULL,
  digest TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY(name, version));
CREATE TABLE pkg_npm_tags(
  name TEXT NOT NULL, tag TEXT COLLATE \"C\" NOT NULL, version TEXT NOT NULL,
  PRIMARY KEY(name, tag));
"];

/// Distinct from the daemon store's lock: the two migrate independently.
const MIGRATION_LOCK: i64 = 0x706b_6773_6368;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The PostgreSQL metadata: a connection pool, migrated at open.
pub(crate) struct PgMeta {
    pool: Pool,
}

impl PgMeta {
    /// Connects and migrates to the latest schema. Several daemons starting at once serialise
    /// on an advisory lock; the first migrates, the others find nothing to do.
    pub async fn connect(url: &str, pool_size: usize) -> MetaResult<PgMeta> {
        let pool = pool(url, pool_size)?;
        migrate(&pool, "pkg_schema", MIGRATION_LOCK, MIGRATIONS).await?;
        Ok(PgMeta { pool })
    }

    async fn exec(&self, sql: &str, p: Params<'_>) -> MetaResult<u64> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, p).await?)
    }

    async fn query(&self, sql: &str, p: Params<'_>) -> MetaResult<Vec<Row>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, p).await?)
    }

    async fn query_opt(&self, sql: &str, p: Params<'_>) -> MetaResult<Option<Row>> {
        Ok(self.query(sql, p).await?.into_iter().next())
    }

    /// The first column of every row.
    async fn column<T>(&self, sql: &str, p: Params<'_>) -> MetaResult<Vec<T>>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        let rows = self.query(sql, p).await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(MetadataError::from))
            .collect()
    }

    async fn flag(&self, sql: &str, p: Params<'_>) -> MetaResult<bool> {
        let row = self.query_opt(sql, p).await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => false,
        })
    }

    /// Runs `statements` (each with its parameters) in one transaction; returns the rows the
    /// first one touched.
    async fn in_tx(&self, statements: &[(&str, Params<'_>)]) -> MetaResult<u64> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut first = None;
        for (sql, params) in statements {
            let statement = tx.prepare_cached(sql).await?;
            let n = tx.execute(&statement, params).await?;
            first.get_or_insert(n);
        }
        tx.commit().await?;
        Ok(first.unwrap_or(0))
    }
}

/// A pool of at most `size` connections to `url` (none is opened yet).
pub fn pool(url: &str, size: usize) -> MetaResult<Pool> {
    let config: tokio_postgres::Config = url.parse().map_err(MetadataError::Url)?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|e| MetadataError::PoolSetup(e.to_string()))
}

/// Brings the tables of one component to the latest of its `migrations` (`migrations[i]` takes
/// the schema from version `i` to `i + 1`; `version_table` holds the version). Several daemons
/// starting at once serialise on the advisory `lock`; the first migrates, the others find
/// nothing to do. A database newer than `migrations` is refused rather than guessed at.
pub async fn migrate(
    pool: &Pool,
    version_table: &str,
    lock: i64,
    migrations: &[&str],
) -> MetaResult<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {version_table} (version INTEGER NOT NULL)"
    ))
    .await?;
    let select = format!("SELECT version FROM {version_table}");
    let found: i32 = match tx.query_opt(&select, &[]).await? {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute(
                &format!("INSERT INTO {version_table} (version) VALUES (0)"),
                &[],
            )
            .await?;
            0
        }
    };
    let latest = migrations.len() as i32;
    if found > latest {
        return Err(MetadataError::NewerSchema(found));
    }
    for step in migrations.iter().skip(found.max(0) as usize) {
        tx.batch_execute(step).await?;
    }
    tx.execute(
        &format!("UPDATE {version_table} SET version = $1"),
        &[&latest],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn manifest_row(r: &Row) -> MetaResult<ManifestRow> {
    Ok(ManifestRow {
        digest: r.try_get(0)?,
        media_type: r.try_get(1)?,
        size: r.try_get(2)?,
        artifact_type: r.try_get(3)?,
    })
}

fn admin_row(r: &Row) -> MetaResult<AdminPackageRow> {
    Ok(AdminPackageRow {
        kind: r.try_get(0)?,
        name: r.try_get(1)?,
        owner: r.try_get(2)?,
        visibility: r.try_get(3)?,
    })
}

fn pairs(rows: &[Row]) -> MetaResult<Vec<(String, String)>> {
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

#[async_trait]
impl Metadata for PgMeta {
    async fn insert_token(&self, hash: &str, row: &TokenRow) -> MetaResult<()> {
        self.exec(
            "INSERT INTO pkg_tokens(hash, subject, owner, scopes, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &hash,
                &row.subject,
                &row.owner,
                &row.scopes,
                &row.expires_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn token(&self, hash: &str) -> MetaResult<Option<TokenRow>> {
        let row = self
            .query_opt(
                "SELECT subject, owner, scopes, expires_at FROM pkg_tokens WHERE hash = $1",
                &[&hash],
            )
            .await?;
        row.map(|r| {
            Ok(TokenRow {
                subject: r.try_get(0)?,
                owner: r.try_get(1)?,
                scopes: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn delete_token(&self, hash: &str) -> MetaResult<bool> {
        let n = self
            .exec("DELETE FROM pkg_tokens WHERE hash = $1", &[&hash])
            .await?;
        Ok(n > 0)
    }

    async fn delete_expired_tokens(&self) -> MetaResult<usize> {
        let n = self
            .exec(
                "DELETE FROM pkg_tokens WHERE expires_at IS NOT NULL AND expires_at < $1",
                &[&now()],
            )
            .await?;
        Ok(n as usize)
    }

    async fn delete_tokens_of(&self, subject: &str) -> MetaResult<usize> {
        let n = self
            .exec(
                "DELETE FROM pkg_tokens WHERE subject = $1 AND owner IS NOT NULL",
                &[&subject],
            )
            .await?;
        Ok(n as usize)
    }

    async fn package(&self, kind: &str, name: &str) -> MetaResult<Option<Visibility>> {
        let row = self
            .query_opt(
                "SELECT visibility FROM pkg_packages WHERE kind = $1 AND name = $2",
                &[&kind, &name],
            )
            .await?;
        Ok(match row {
            Some(r) => Some(Visibility::parse(&r.try_get::<_, String>(0)?)),
            None => None,
        })
    }

    async fn ensure_package(
        &self,
        kind: &str,
        name: &str,
        owner: &str,
        vis: Visibility,
    ) -> MetaResult<()> {
        self.exec(
            "INSERT INTO pkg_packages(kind, name, owner, visibility) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&kind, &name, &owner, &vis.as_str()],
        )
        .await?;
        Ok(())
    }

    async fn set_visibility(&self, kind: &str, name: &str, vis: Visibility) -> MetaResult<bool> {
        let n = self
            .exec(
                "UPDATE pkg_packages SET visibility = $3 WHERE kind = $1 AND name = $2",
                &[&kind, &name, &vis.as_str()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn package_names(&self, kind: &str) -> MetaResult<Vec<(String, Visibility)>> {
        let rows = self
            .query(
                "SELECT name, visibility FROM pkg_packages WHERE kind = $1 ORDER BY name",
                &[&kind],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Visibility::parse(&r.try_get::<_, String>(1)?),
                ))
            })
            .collect()
    }

    async fn link_blob(&self, repo: &str, digest: &str) -> MetaResult<()> {
        self.exec(
            "INSERT INTO pkg_oci_blobs(repo, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&repo, &digest],
        )
        .await?;
        Ok(())
    }

    async fn blob_linked(&self, repo: &str, digest: &str) -> MetaResult<bool> {
        self.flag(
            "SELECT EXISTS(SELECT 1 FROM pkg_oci_blobs WHERE repo = $1 AND digest = $2)
                 OR EXISTS(SELECT 1 FROM pkg_oci_manifests WHERE repo = $1 AND digest = $2)",
            &[&repo, &digest],
        )
        .await
    }

    async fn unlink_blob(&self, repo: &str, digest: &str) -> MetaResult<bool> {
        let n = self
            .exec(
                "DELETE FROM pkg_oci_blobs WHERE repo = $1 AND digest = $2",
                &[&repo, &digest],
            )
            .await?;
        Ok(n > 0)
    }

    async fn put_manifest(
        &self,
        repo: &str,
        row: &ManifestRow,
        subject: Option<&str>,
        children: &[String],
        tag: Option<&str>,
    ) -> MetaResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO pkg_oci_manifests(repo, digest, media_type, size, subject, artifact_type)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (repo, digest) DO UPDATE SET media_type = EXCLUDED.media_type,
                   size = EXCLUDED.size, subject = EXCLUDED.subject,
                   artifact_type = EXCLUDED.artifact_type",
            )
            .await?;
        tx.execute(
            &upsert,
            &[
                &repo,
                &row.digest,
                &row.media_type,
                &row.size,
                &subject,
                &row.artifact_type,
            ],
        )
        .await?;
        if !children.is_empty() {
            // One statement for every child: an index with many manifests stays one round trip.
            let refs = tx
                .prepare_cached(
                    "INSERT INTO pkg_oci_manifest_refs(repo, digest, child)
                     SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(&refs, &[&repo, &row.digest, &children]).await?;
        }
        if let Some(tag) = tag {
            let set_tag = tx
                .prepare_cached(
                    "INSERT INTO pkg_oci_tags(repo, tag, digest) VALUES ($1, $2, $3)
                     ON CONFLICT (repo, tag) DO UPDATE SET digest = EXCLUDED.digest",
                )
                .await?;
            tx.execute(&set_tag, &[&repo, &tag, &row.digest]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn manifest(&self, repo: &str, digest: &str) -> MetaResult<Option<ManifestRow>> {
        let row = self
            .query_opt(
                "SELECT digest, media_type, size, artifact_type FROM pkg_oci_manifests
                 WHERE repo = $1 AND digest = $2",
                &[&repo, &digest],
            )
            .await?;
        row.as_ref().map(manifest_row).transpose()
    }

    async fn tag(&self, repo: &str, tag: &str) -> MetaResult<Option<String>> {
        let row = self
            .query_opt(
                "SELECT digest FROM pkg_oci_tags WHERE repo = $1 AND tag = $2",
                &[&repo, &tag],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn tags(&self, repo: &str, last: &str, limit: i64) -> MetaResult<Vec<String>> {
        self.column(
            "SELECT tag FROM pkg_oci_tags WHERE repo = $1 AND tag > $2 ORDER BY tag LIMIT $3",
            &[&repo, &last, &limit],
        )
        .await
    }

    async fn repo_exists(&self, repo: &str) -> MetaResult<bool> {
        self.flag(
            "SELECT EXISTS(SELECT 1 FROM pkg_oci_manifests WHERE repo = $1)
                 OR EXISTS(SELECT 1 FROM pkg_oci_blobs WHERE repo = $1)",
            &[&repo],
        )
        .await
    }

    async fn delete_tag(&self, repo: &str, tag: &str) -> MetaResult<bool> {
        let n = self
            .exec(
                "DELETE FROM pkg_oci_tags WHERE repo = $1 AND tag = $2",
                &[&repo, &tag],
            )
            .await?;
        Ok(n > 0)
    }

    async fn delete_manifest(&self, repo: &str, digest: &str) -> MetaResult<bool> {
        let p: Params<'_> = &[&repo, &digest];
        let n = self
            .in_tx(&[
                (
                    "DELETE FROM pkg_oci_manifests WHERE repo = $1 AND digest = $2",
                    p,
                ),
                (
                    "DELETE FROM pkg_oci_manifest_refs WHERE repo = $1 AND digest = $2",
                    p,
                ),
                (
                    "DELETE FROM pkg_oci_tags WHERE repo = $1 AND digest = $2",
                    p,
                ),
            ])
            .await?;
        Ok(n > 0)
    }

    async fn referrers(&self, repo: &str, subject: &str) -> MetaResult<Vec<ManifestRow>> {
        let rows = self
            .query(
                "SELECT digest, media_type, size, artifact_type FROM pkg_oci_manifests
                 WHERE repo = $1 AND subject = $2 ORDER BY digest",
                &[&repo, &subject],
            )
            .await?;
        rows.iter().map(manifest_row).collect()
    }

    async fn insert_upload(&self, id: &str, repo: &str) -> MetaResult<()> {
        self.exec(
            "INSERT INTO pkg_oci_uploads(id, repo) VALUES ($1, $2)",
            &[&id, &repo],
        )
        .await?;
        Ok(())
    }

    async fn upload_repo(&self, id: &str) -> MetaResult<Option<String>> {
        let row = self
            .query_opt("SELECT repo FROM pkg_oci_uploads WHERE id = $1", &[&id])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn delete_upload(&self, id: &str) -> MetaResult<()> {
        self.exec("DELETE FROM pkg_oci_uploads WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    async fn upload_ids(&self) -> MetaResult<Vec<String>> {
        self.column("SELECT id FROM pkg_oci_uploads", &[]).await
    }

    async fn referenced_digests(&self) -> MetaResult<HashSet<String>> {
        let all: Vec<String> = self
            .column(
                "SELECT digest FROM pkg_oci_manifests UNION SELECT child FROM pkg_oci_manifest_refs
                 UNION SELECT digest FROM pkg_npm_versions",
                &[],
            )
            .await?;
        Ok(all.into_iter().collect())
    }

    async fn drop_blob_links(&self, digest: &str) -> MetaResult<usize> {
        let n = self
            .exec("DELETE FROM pkg_oci_blobs WHERE digest = $1", &[&digest])
            .await?;
        Ok(n as usize)
    }

    async fn npm_package(&self, name: &str) -> MetaResult<Option<(i64, i64, i64)>> {
        let row = self
            .query_opt(
                "SELECT rev, created, modified FROM pkg_npm_packages WHERE name = $1",
                &[&name],
            )
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    async fn npm_versions(&self, name: &str) -> MetaResult<Vec<NpmVersionRow>> {
        let rows = self
            .query(
                "SELECT version, manifest, tarball, created FROM pkg_npm_versions WHERE name = $1",
                &[&name],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NpmVersionRow {
                    version: r.try_get(0)?,
                    manifest: r.try_get(1)?,
                    tarball: r.try_get(2)?,
                    created: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn npm_tags(&self, name: &str) -> MetaResult<Vec<(String, String)>> {
        let rows = self
            .query(
                "SELECT tag, version FROM pkg_npm_tags WHERE name = $1 ORDER BY tag",
                &[&name],
            )
            .await?;
        pairs(&rows)
    }

    async fn npm_tarball(&self, name: &str, file: &str) -> MetaResult<Option<String>> {
        let row = self
            .query_opt(
                "SELECT digest FROM pkg_npm_versions WHERE name = $1 AND tarball = $2",
                &[&name, &file],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn npm_apply(&self, name: &str, changes: &[NpmChange]) -> MetaResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let t = now();
        // The revision row is written first: it locks the package, so two daemons publishing
        // to one package at once apply their changes one after the other.
        let bump = tx
            .prepare_cached(
                "INSERT INTO pkg_npm_packages(name, rev, created, modified) VALUES ($1, 1, $2, $2)
                 ON CONFLICT (name) DO UPDATE SET rev = pkg_npm_packages.rev + 1,
                   modified = EXCLUDED.modified",
            )
            .await?;
        tx.execute(&bump, &[&name, &t]).await?;
        for change in changes {
            let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>) = match change {
                NpmChange::AddVersion {
                    version,
                    manifest,
                    tarball,
                    digest,
                } => (
                    "INSERT INTO pkg_npm_versions(name, version, manifest, tarball, digest, created)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    vec![&name, version, manifest, tarball, digest, &t],
                ),
                NpmChange::SetManifest { version, manifest } => (
                    "UPDATE pkg_npm_versions SET manifest = $3 WHERE name = $1 AND version = $2",
                    vec![&name, version, manifest],
                ),
                NpmChange::RemoveVersion { version } => {
                    let tags = tx
                        .prepare_cached(
                            "DELETE FROM pkg_npm_tags WHERE name = $1 AND version = $2",
                        )
                        .await?;
                    tx.execute(&tags, &[&name, version]).await?;
                    (
                        "DELETE FROM pkg_npm_versions WHERE name = $1 AND version = $2",
                        vec![&name, version],
                    )
                }
                NpmChange::SetTag { tag, version } => (
                    "INSERT INTO pkg_npm_tags(name, tag, version) VALUES ($1, $2, $3)
                     ON CONFLICT (name, tag) DO UPDATE SET version = EXCLUDED.version",
                    vec![&name, tag, version],
                ),
                NpmChange::RemoveTag { tag } => (
                    "DELETE FROM pkg_npm_tags WHERE name = $1 AND tag = $2",
                    vec![&name, tag],
                ),
            };
            let statement = tx.prepare_cached(sql).await?;
            tx.execute(&statement, &params).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn npm_delete(&self, name: &str) -> MetaResult<()> {
        let p: Params<'_> = &[&name];
        self.in_tx(&[
            ("DELETE FROM pkg_npm_tags WHERE name = $1", p),
            ("DELETE FROM pkg_npm_versions WHERE name = $1", p),
            ("DELETE FROM pkg_npm_packages WHERE name = $1", p),
            (
                "DELETE FROM pkg_packages WHERE kind = 'npm' AND name = $1",
                p,
            ),
        ])
        .await?;
        Ok(())
    }

    async fn admin_packages(&self) -> MetaResult<Vec<AdminPackageRow>> {
        let rows = self
            .query(
                "SELECT kind, name, owner, visibility FROM pkg_packages
                 ORDER BY CASE kind WHEN 'npm' THEN 0 ELSE 1 END, name",
                &[],
            )
            .await?;
        rows.iter().map(admin_row).collect()
    }

    async fn admin_package(&self, kind: &str, name: &str) -> MetaResult<Option<AdminPackageRow>> {
        let row = self
            .query_opt(
                "SELECT kind, name, owner, visibility FROM pkg_packages
                 WHERE kind = $1 AND name = $2",
                &[&kind, &name],
            )
            .await?;
        row.as_ref().map(admin_row).transpose()
    }

    async fn oci_manifest_digests(&self, repo: &str) -> MetaResult<Vec<String>> {
        self.column(
            "SELECT digest FROM pkg_oci_manifests WHERE repo = $1 ORDER BY digest",
            &[&repo],
        )
        .await
    }

    async fn oci_tag_digests(&self, repo: &str) -> MetaResult<Vec<(String, String)>> {
        let rows = self
            .query(
                "SELECT tag, digest FROM pkg_oci_tags WHERE repo = $1 ORDER BY tag",
                &[&repo],
            )
            .await?;
        pairs(&rows)
    }

    async fn oci_delete_repository(&self, repo: &str) -> MetaResult<()> {
        let p: Params<'_> = &[&repo];
        self.in_tx(&[
            ("DELETE FROM pkg_oci_tags WHERE repo = $1", p),
            ("DELETE FROM pkg_oci_manifest_refs WHERE repo = $1", p),
            ("DELETE FROM pkg_oci_manifests WHERE repo = $1", p),
            ("DELETE FROM pkg_oci_blobs WHERE repo = $1", p),
            (
                "DELETE FROM pkg_packages WHERE kind = 'container' AND name = $1",
                p,
            ),
        ])
        .await?;
        Ok(())
    }
}
