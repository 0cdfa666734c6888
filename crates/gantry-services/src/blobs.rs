//! Content: uploads in progress ([`Upload`], one staged file each) and the content-addressed
//! files they become.
//!
//! A blob is visible under its digest only after its bytes were hashed, found equal to what
//! the client reported, fsynced and renamed into place (then the directory is fsynced): a
//! truncated, corrupt or abandoned upload is never visible. The layout
//! (`blobs/blobs/sha256/<2 hex>/<hex>`) is the one gantry-packages' `FsBlobStore` used before
//! the services staged uploads themselves, so content stored earlier stays readable.

use bytes::Bytes;
use futures::Stream;
use gantry_packages::Digest;
use gantry_packages::storage::ByteStream;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncSeekExt;

use crate::error::{Result, ServiceError};
use crate::staging::Upload;

/// Reads of downloads: large, so a 500 MB blob is a few hundred blocking-pool hops.
const READ_BUFFER: usize = 2 * 1024 * 1024;

pub(crate) struct Blobs {
    content: PathBuf,
    staging: PathBuf,
    /// What one upload may stage in total.
    budget: u64,
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
}

impl Blobs {
    pub(crate) fn open(root: &Path, instance: Option<&str>, max_entry_bytes: u64) -> Result<Blobs> {
        let staging = match instance {
            // Hashed: an instance name (a hostname and a path) is not a safe file name.
            Some(name) => root
                .join("staging")
                .join(&Digest::of(name.as_bytes()).hex()[..16]),
            None => root.join("staging"),
        };
        let content = root.join("blobs/blobs/sha256");
        for dir in [&staging, &content] {
            std::fs::create_dir_all(dir).map_err(ServiceError::io("create", dir))?;
        }
        Ok(Blobs {
            content,
            staging,
            budget: max_entry_bytes.saturating_mul(2),
            uploads: Mutex::new(HashMap::new()),
        })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.content.join(&d.hex()[..2]).join(d.hex())
    }

    /// The staged state of `upload`, created on first use. An upload begun by another
    /// process (before a restart) is not resumed: its staging is discarded and it starts over.
    pub(crate) fn upload(&self, upload: &str) -> Result<Arc<Upload>> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(up) = uploads.get(upload) {
            return Ok(up.clone());
        }
        let up = Arc::new(Upload::create(self.staging.join(upload), self.budget)?);
        uploads.insert(upload.to_owned(), up.clone());
        Ok(up)
    }

    fn staged(&self, upload: &str) -> Option<Arc<Upload>> {
        self.uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(upload)
            .cloned()
    }

    /// Stages an Azure block.
    pub(crate) async fn put_block<S>(&self, upload: &str, id: &str, body: S, len: u64) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        self.upload(upload)?.put_block(id, body, len).await
    }

    /// Stages a legacy cache chunk at `start`.
    pub(crate) async fn put_chunk<S>(
        &self,
        upload: &str,
        start: u64,
        body: S,
        len: u64,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        self.upload(upload)?.put_chunk(start, body, len).await
    }

    /// A single-shot upload (`PUT` without `comp`).
    pub(crate) async fn put_whole<S>(
        &self,
        upload: &str,
        body: S,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        let result = self.upload(upload)?.put_whole(body, limit, expected).await;
        if result.is_err() {
            // A single shot replaces everything: a broken one leaves nothing staged.
            self.discard(upload).await;
        }
        result
    }

    /// Commits the order of an Azure upload's blocks (`PUT ?comp=blocklist`).
    pub(crate) async fn set_block_list(&self, upload: &str, blocks: Vec<String>) -> Result<()> {
        self.upload(upload)?.commit_blocks(blocks).await
    }

    /// Makes a committed Azure-protocol upload a blob.
    pub(crate) async fn seal_blocks(
        &self,
        upload: &str,
        size: u64,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let up = self.staged(upload).ok_or_else(nothing_uploaded)?;
        let digest = up.seal(size, expected).await?;
        self.install(upload, &up, &digest).await?;
        Ok(digest)
    }

    /// Makes a legacy chunked cache upload a blob.
    pub(crate) async fn seal_chunks(&self, upload: &str, size: u64) -> Result<Digest> {
        let up = self.staged(upload).ok_or_else(nothing_uploaded)?;
        up.commit_chunks(size).await?;
        let digest = up.seal(size, None).await?;
        self.install(upload, &up, &digest).await?;
        Ok(digest)
    }

    /// Renames a sealed upload's file to its digest (identical content may be there already)
    /// and forgets the upload.
    async fn install(&self, upload: &str, up: &Upload, digest: &Digest) -> Result<()> {
        let dest = self.blob_path(digest);
        let dir = dest.parent().unwrap_or(&self.content).to_owned();
        let src = up.data_path().to_owned();
        tokio::task::spawn_blocking(move || -> Result<()> {
            std::fs::create_dir_all(&dir).map_err(ServiceError::io("create", &dir))?;
            if !dest.exists() {
                std::fs::rename(&src, &dest).map_err(ServiceError::io("rename", &dest))?;
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(ServiceError::io("fsync", &dir))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))??;
        self.discard(upload).await;
        Ok(())
    }

    /// Forgets an upload and removes what it staged.
    pub(crate) async fn discard(&self, upload: &str) {
        let up = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(upload);
        let dir = up.map_or_else(|| self.staging.join(upload), |u| u.dir().to_owned());
        let _ = tokio::fs::remove_dir_all(dir).await;
    }

    /// Removes staging directories no pending upload owns (left by a crash or a restart).
    pub(crate) fn discard_orphans(&self, live: &[String]) {
        let Ok(entries) = std::fs::read_dir(&self.staging) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !live.contains(&name) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Streams a blob, or `len` bytes of it from `offset`.
    pub(crate) async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream> {
        use tokio::io::AsyncReadExt as _;
        let path = self.blob_path(digest);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(ServiceError::io("open", &path))?;
        file.set_max_buf_size(READ_BUFFER);
        let Some((offset, len)) = range else {
            return Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
                file,
                READ_BUFFER,
            )));
        };
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(ServiceError::io("seek", &path))?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
            file.take(len),
            READ_BUFFER,
        )))
    }

    pub(crate) async fn size(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest);
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ServiceError::io("stat", &path)(e)),
        }
    }

    pub(crate) async fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ServiceError::io("remove", &path)(e)),
        }
    }
}

fn nothing_uploaded() -> ServiceError {
    ServiceError::Incomplete("no content was uploaded (no blob or block list was committed)".into())
}
