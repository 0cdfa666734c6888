//! The registry handle: configuration, metadata, blob store, tokens, gc.

use crate::auth::{Scope, hash_token, new_secret, scopes_to_string};
use crate::config::{Config, Visibility};
use crate::db::{Db, TokenRow, now};
use crate::digest::Digest;
use crate::error::Error;
use crate::metadata::{Metadata, MetadataBackend, PgMeta};
use crate::names;
use crate::storage::{BlobStore, FsBlobStore};
use std::sync::Arc;
use std::time::Duration;

/// The subject of run tokens (what `npm whoami` answers for a `GITHUB_TOKEN`).
const RUN_SUBJECT: &str = "github-actions[bot]";

/// Which registry a package lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    /// `@owner/name` in the npm registry.
    Npm,
    /// `owner/name` in the OCI registry.
    Container,
}

impl PackageKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PackageKind::Npm => "npm",
            PackageKind::Container => "container",
        }
    }
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Unreferenced blobs deleted.
    pub blobs_removed: usize,
    /// Bytes those blobs held.
    pub bytes_freed: u64,
    /// Stale upload sessions removed.
    pub uploads_removed: usize,
}

pub(crate) struct Inner {
    pub config: Config,
    pub db: Box<dyn Metadata>,
    pub store: Arc<dyn BlobStore>,
}

/// A registry instance. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

impl Registry {
    /// Opens (creating when needed) the registry under `config.data_dir` with the filesystem blob
    /// store, and removes upload temp files older than `config.stale_upload_age`.
    pub async fn open(config: Config) -> Result<Registry, Error> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?;
        let store = FsBlobStore::open(&dir)?;
        Registry::with_store(config, Arc::new(store)).await
    }

    /// Opens the registry with another blob store; metadata goes where `config.metadata` says.
    pub async fn with_store(config: Config, store: Arc<dyn BlobStore>) -> Result<Registry, Error> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
            path: dir.clone(),
            source,
        })?;
        let db: Box<dyn Metadata> = match &config.metadata {
            MetadataBackend::Sqlite => Box::new(
                Db::open(&dir.join("registry.db")).map_err(crate::metadata::MetadataError::from)?,
            ),
            MetadataBackend::Postgres { url, pool_size } => {
                Box::new(PgMeta::connect(url, *pool_size).await?)
            }
        };
        let registry = Registry {
            inner: Arc::new(Inner { config, db, store }),
        };
        registry.cleanup_uploads().await?;
        Ok(registry)
    }

    /// Whether other processes may serve the same metadata (PostgreSQL): then nothing may
    /// assume that tokens or uploads it does not know of are leftovers of its own.
    pub fn is_shared(&self) -> bool {
        !matches!(self.inner.config.metadata, MetadataBackend::Sqlite)
    }

    /// The HTTP routes of both registries, rooted at `/` (`/v2/...` for OCI, everything else for
    /// npm). Routes the daemon adds itself take precedence over the npm catch-all.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.inner.clone())
    }

    /// Mints a run's `GITHUB_TOKEN`: it may touch only `owner`'s packages, with `scopes`, until
    /// `ttl` passes.
    pub async fn mint_run_token(
        &self,
        owner: &str,
        scopes: &[Scope],
        ttl: Duration,
    ) -> Result<String, Error> {
        if !names::valid_owner(owner) {
            return Err(Error::InvalidOwner(owner.to_owned()));
        }
        self.create_token(RUN_SUBJECT, Some(owner), scopes, Some(ttl))
            .await
    }

    /// Revokes every run token ([`Registry::mint_run_token`]) at once, expired or not, and
    /// returns how many there were. Only for a process that owns the registry alone (the daemon
    /// holds its data directory's lock, and the metadata is its own SQLite): at its start no
    /// run of it is running, so the tokens of runs a crash interrupted must stop working. With
    /// metadata shared by several daemons ([`Registry::is_shared`]) it would revoke the others'.
    pub async fn revoke_run_tokens(&self) -> Result<usize, Error> {
        Ok(self.inner.db.delete_tokens_of(RUN_SUBJECT).await?)
    }

    /// Creates a token for `subject` (what `npm whoami` answers). `owner: None` grants every
    /// namespace, like an administrator's personal access token.
    pub async fn create_token(
        &self,
        subject: &str,
        owner: Option<&str>,
        scopes: &[Scope],
        ttl: Option<Duration>,
    ) -> Result<String, Error> {
        if scopes.is_empty() {
            return Err(Error::NoScopes);
        }
        let secret = new_secret();
        let row = TokenRow {
            subject: subject.to_owned(),
            owner: owner.map(str::to_ascii_lowercase),
            scopes: scopes_to_string(scopes),
            expires_at: ttl.map(|t| now().saturating_add(t.as_secs() as i64)),
        };
        self.inner
            .db
            .insert_token(&hash_token(&secret), &row)
            .await?;
        Ok(secret)
    }

    /// Revokes a token; `false` when it was unknown.
    pub async fn revoke_token(&self, token: &str) -> Result<bool, Error> {
        Ok(self.inner.db.delete_token(&hash_token(token)).await?)
    }

    /// Makes a package public or private. The package must exist.
    pub async fn set_visibility(
        &self,
        kind: PackageKind,
        name: &str,
        visibility: Visibility,
    ) -> Result<(), Error> {
        if self
            .inner
            .db
            .set_visibility(kind.as_str(), name, visibility)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NoSuchPackage(name.to_owned()))
        }
    }

    /// The registry's blob store (for checks and tooling).
    pub fn store(&self) -> Arc<dyn BlobStore> {
        self.inner.store.clone()
    }

    /// Deletes blobs nothing references (older than `config.gc_grace`, so pushes in flight keep
    /// their layers), stale uploads and expired tokens.
    pub async fn gc(&self) -> Result<GcReport, Error> {
        let inner = &self.inner;
        let referenced = inner.db.referenced_digests().await?;
        let mut report = GcReport::default();
        for (digest, age) in inner.store.list().await? {
            if age < inner.config.gc_grace || referenced.contains(&digest.to_string()) {
                continue;
            }
            let size = inner.store.size(&digest).await?.unwrap_or(0);
            if inner.store.delete(&digest).await? {
                inner.db.drop_blob_links(&digest.to_string()).await?;
                report.blobs_removed += 1;
                report.bytes_freed += size;
            }
        }
        report.uploads_removed = self.cleanup_uploads().await?;
        inner.db.delete_expired_tokens().await?;
        Ok(report)
    }

    async fn cleanup_uploads(&self) -> Result<usize, Error> {
        let inner = &self.inner;
        let removed = inner
            .store
            .cleanup_uploads(inner.config.stale_upload_age)
            .await?;
        // Sessions whose file is gone are unknown uploads now.
        for id in inner.db.upload_ids().await? {
            if inner.store.upload_size(&id).await.is_err() {
                inner.db.delete_upload(&id).await?;
            }
        }
        // Partial uploads no session names and no process writes: a crash's leftovers.
        let sessions = inner.db.upload_ids().await?.into_iter().collect();
        let orphans = inner.store.cleanup_orphans(&sessions).await?;
        Ok(removed + orphans)
    }

    /// Whether a blob with this digest is stored (any repository).
    pub async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.inner.store.size(digest).await?.is_some())
    }
}
