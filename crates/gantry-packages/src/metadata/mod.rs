//! Where the registry keeps its metadata: SQLite in the data directory (one process), or
//! PostgreSQL shared by several daemons serving one registry. Both sit behind [`Metadata`];
//! handlers never know which one answers.
//!
//! The SQLite implementation is the synchronous [`Db`] (short statements on one connection,
//! as before); the trait's methods are async so that the PostgreSQL one waits on the network
//! without holding a runtime worker.

mod postgres;

use crate::config::Visibility;
use crate::db::{AdminPackageRow, Db, ManifestRow, NpmChange, NpmVersionRow, TokenRow};
use async_trait::async_trait;
use std::collections::HashSet;

pub(crate) use postgres::PgMeta;
/// The PostgreSQL plumbing other components keeping tables beside the registry's reuse.
pub use postgres::{migrate as pg_migrate, pool as pg_pool};

/// Which database holds the registry's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetadataBackend {
    /// `data_dir/registry.db`: one registry process.
    #[default]
    Sqlite,
    /// A PostgreSQL database (the daemon's own when its store is PostgreSQL): every daemon
    /// pointing at it serves the same packages. Tables are prefixed `pkg_`.
    Postgres {
        /// `postgres://user:password@host:port/database` (or key=value pairs).
        url: String,
        /// Connections in the registry's pool.
        pool_size: usize,
    },
}

/// A metadata query failed.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgresql: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgresql connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgresql connection pool setup: {0}")]
    PoolSetup(String),
    #[error("postgresql url: {0}")]
    Url(tokio_postgres::Error),
    #[error("the metadata schema is at version {0}, newer than this gantry knows")]
    NewerSchema(i32),
}

pub(crate) type MetaResult<T> = Result<T, MetadataError>;

/// Every question the registry asks of its metadata, and every change it makes.
#[async_trait]
pub(crate) trait Metadata: Send + Sync + 'static {
    // --- tokens ---
    async fn insert_token(&self, hash: &str, row: &TokenRow) -> MetaResult<()>;
    async fn token(&self, hash: &str) -> MetaResult<Option<TokenRow>>;
    async fn delete_token(&self, hash: &str) -> MetaResult<bool>;
    async fn delete_expired_tokens(&self) -> MetaResult<usize>;
    /// Deletes every owner-restricted token of `subject` (the run tokens).
    async fn delete_tokens_of(&self, subject: &str) -> MetaResult<usize>;

    // --- packages ---
    async fn package(&self, kind: &str, name: &str) -> MetaResult<Option<Visibility>>;
    async fn ensure_package(
        &self,
        kind: &str,
        name: &str,
        owner: &str,
        vis: Visibility,
    ) -> MetaResult<()>;
    async fn set_visibility(&self, kind: &str, name: &str, vis: Visibility) -> MetaResult<bool>;
    async fn package_names(&self, kind: &str) -> MetaResult<Vec<(String, Visibility)>>;

    // --- OCI ---
    async fn link_blob(&self, repo: &str, digest: &str) -> MetaResult<()>;
    async fn blob_linked(&self, repo: &str, digest: &str) -> MetaResult<bool>;
    async fn unlink_blob(&self, repo: &str, digest: &str) -> MetaResult<bool>;
    async fn put_manifest(
        &self,
        repo: &str,
        row: &ManifestRow,
        subject: Option<&str>,
        children: &[String],
        tag: Option<&str>,
    ) -> MetaResult<()>;
    async fn manifest(&self, repo: &str, digest: &str) -> MetaResult<Option<ManifestRow>>;
    async fn tag(&self, repo: &str, tag: &str) -> MetaResult<Option<String>>;
    async fn tags(&self, repo: &str, last: &str, limit: i64) -> MetaResult<Vec<String>>;
    async fn repo_exists(&self, repo: &str) -> MetaResult<bool>;
    async fn delete_tag(&self, repo: &str, tag: &str) -> MetaResult<bool>;
    /// Deletes a manifest and every tag pointing at it, as the distribution registry does.
    async fn delete_manifest(&self, repo: &str, digest: &str) -> MetaResult<bool>;
    async fn referrers(&self, repo: &str, subject: &str) -> MetaResult<Vec<ManifestRow>>;
    async fn insert_upload(&self, id: &str, repo: &str) -> MetaResult<()>;
    async fn upload_repo(&self, id: &str) -> MetaResult<Option<String>>;
    async fn delete_upload(&self, id: &str) -> MetaResult<()>;
    async fn upload_ids(&self) -> MetaResult<Vec<String>>;

    // --- garbage collection ---
    /// Every digest some manifest or npm version still needs.
    async fn referenced_digests(&self) -> MetaResult<HashSet<String>>;
    /// Forgets every repository link to a blob that gc removed.
    async fn drop_blob_links(&self, digest: &str) -> MetaResult<usize>;

    // --- npm ---
    async fn npm_package(&self, name: &str) -> MetaResult<Option<(i64, i64, i64)>>;
    async fn npm_versions(&self, name: &str) -> MetaResult<Vec<NpmVersionRow>>;
    async fn npm_tags(&self, name: &str) -> MetaResult<Vec<(String, String)>>;
    async fn npm_tarball(&self, name: &str, file: &str) -> MetaResult<Option<String>>;
    /// Applies `changes` in one transaction and bumps the revision.
    async fn npm_apply(&self, name: &str, changes: &[NpmChange]) -> MetaResult<()>;
    /// Removes a package entirely (`npm unpublish --force`).
    async fn npm_delete(&self, name: &str) -> MetaResult<()>;

    // --- administration ---
    async fn admin_packages(&self) -> MetaResult<Vec<AdminPackageRow>>;
    async fn admin_package(&self, kind: &str, name: &str) -> MetaResult<Option<AdminPackageRow>>;
    async fn oci_manifest_digests(&self, repo: &str) -> MetaResult<Vec<String>>;
    async fn oci_tag_digests(&self, repo: &str) -> MetaResult<Vec<(String, String)>>;
    /// Forgets a container repository: manifests, tags, blob links and the package itself.
    async fn oci_delete_repository(&self, repo: &str) -> MetaResult<()>;
}

/// The SQLite implementation forwards to [`Db`]'s synchronous methods: each is one short
/// statement (or transaction) on a local file, as it was before the trait existed.
macro_rules! forward_to_sqlite {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)* ) -> $ret:ty; )*) => {
        #[async_trait]
        impl Metadata for Db {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> MetaResult<$ret> {
                    Ok(Db::$name(self $(, $arg)*)?)
                }
            )*
        }
    };
}

forward_to_sqlite! {
    fn insert_token(&self, hash: &str, row: &TokenRow) -> ();
    fn token(&self, hash: &str) -> Option<TokenRow>;
    fn delete_token(&self, hash: &str) -> bool;
    fn delete_expired_tokens(&self) -> usize;
    fn delete_tokens_of(&self, subject: &str) -> usize;
    fn package(&self, kind: &str, name: &str) -> Option<Visibility>;
    fn ensure_package(&self, kind: &str, name: &str, owner: &str, vis: Visibility) -> ();
    fn set_visibility(&self, kind: &str, name: &str, vis: Visibility) -> bool;
    fn package_names(&self, kind: &str) -> Vec<(String, Visibility)>;
    fn link_blob(&self, repo: &str, digest: &str) -> ();
    fn blob_linked(&self, repo: &str, digest: &str) -> bool;
    fn unlink_blob(&self, repo: &str, digest: &str) -> bool;
    fn put_manifest(
        &self,
        repo: &str,
        row: &ManifestRow,
        subject: Option<&str>,
        children: &[String],
        tag: Option<&str>
    ) -> ();
    fn manifest(&self, repo: &str, digest: &str) -> Option<ManifestRow>;
    fn tag(&self, repo: &str, tag: &str) -> Option<String>;
    fn tags(&self, repo: &str, last: &str, limit: i64) -> Vec<String>;
    fn repo_exists(&self, repo: &str) -> bool;
    fn delete_tag(&self, repo: &str, tag: &str) -> bool;
    fn delete_manifest(&self, repo: &str, digest: &str) -> bool;
    fn referrers(&self, repo: &str, subject: &str) -> Vec<ManifestRow>;
    fn insert_upload(&self, id: &str, repo: &str) -> ();
    fn upload_repo(&self, id: &str) -> Option<String>;
    fn delete_upload(&self, id: &str) -> ();
    fn upload_ids(&self) -> Vec<String>;
    fn referenced_digests(&self) -> HashSet<String>;
    fn drop_blob_links(&self, digest: &str) -> usize;
    fn npm_package(&self, name: &str) -> Option<(i64, i64, i64)>;
    fn npm_versions(&self, name: &str) -> Vec<NpmVersionRow>;
    fn npm_tags(&self, name: &str) -> Vec<(String, String)>;
    fn npm_tarball(&self, name: &str, file: &str) -> Option<String>;
    fn npm_apply(&self, name: &str, changes: &[NpmChange]) -> ();
    fn npm_delete(&self, name: &str) -> ();
    fn admin_packages(&self) -> Vec<AdminPackageRow>;
    fn admin_package(&self, kind: &str, name: &str) -> Option<AdminPackageRow>;
    fn oci_manifest_digests(&self, repo: &str) -> Vec<String>;
    fn oci_tag_digests(&self, repo: &str) -> Vec<(String, String)>;
    fn oci_delete_repository(&self, repo: &str) -> ();
}
