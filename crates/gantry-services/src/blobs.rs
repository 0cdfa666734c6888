//! Content: uploads staged in parts, then assembled into gantry-packages' content-addressed
//! [`FsBlobStore`] (temp file, running sha256, fsync, verify, rename: nothing half-written is
//! ever visible under a digest).
//!
//! The clients upload out of order and in parallel: Azure blocks (`comp=block`, put in order
//! by a later `comp=blocklist`) and the legacy cache's `Content-Range` chunks. Each part is
//! written to its own file under `staging/<upload>/`, through a temp name, so a truncated
//! request leaves no part. Finalizing streams the parts in order into one blob-store upload,
//! hashing as it goes, and commits it only when size (and the client's digest, when it gives
//! one) match.

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use gantry_packages::Digest;
use gantry_packages::storage::{BlobStore, ByteStream, FsBlobStore, StorageError};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

use crate::error::{Result, ServiceError};

/// The name under which a single-shot upload (`PUT` without `comp`) is staged.
const WHOLE: &str = "whole";
const BLOCK_LIST: &str = "blocklist.json";

pub(crate) struct Blobs {
    store: FsBlobStore,
    staging: PathBuf,
}

/// One staged part of a legacy cache upload: bytes `start..start+len`.
struct Chunk {
    start: u64,
    len: u64,
    path: PathBuf,
}

impl Blobs {
    pub(crate) fn open(root: &Path) -> Result<Blobs> {
        let staging = root.join("staging");
        std::fs::create_dir_all(&staging).map_err(ServiceError::io("create", &staging))?;
        Ok(Blobs {
            store: FsBlobStore::open(root.join("blobs"))?,
            staging,
        })
    }

    fn dir(&self, upload: &str) -> PathBuf {
        self.staging.join(upload)
    }

    /// Writes one part from `body` (at most `limit` bytes; exactly `expected` when given).
    /// The part appears under `name` only when the whole body arrived.
    pub(crate) async fn put_part<S>(
        &self,
        upload: &str,
        name: &str,
        body: S,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        let dir = self.dir(upload);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(ServiceError::io("create", &dir))?;
        let dest = dir.join(name);
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        let written = write_body(&tmp, body, limit).await;
        let outcome = match written {
            Ok(len) if expected.is_some_and(|e| e != len) => Err(ServiceError::Incomplete(
                format!("expected {} bytes, received {len}", expected.unwrap_or(0)),
            )),
            other => other,
        };
        match outcome {
            Ok(len) => {
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(ServiceError::io("rename", &dest))?;
                Ok(len)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// Records the order of an Azure upload's blocks (`PUT ?comp=blocklist`); every block
    /// named must have been staged.
    pub(crate) async fn set_block_list(&self, upload: &str, blocks: &[String]) -> Result<()> {
        let dir = self.dir(upload);
        for id in blocks {
            let path = dir.join(block_file(id));
            if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Err(ServiceError::InvalidArgument(format!(
                    "block list names block `{id}`, which was not uploaded"
                )));
            }
        }
        let names: Vec<String> = blocks.iter().map(|id| block_file(id)).collect();
        self.write_list(upload, &names).await
    }

    /// A single-shot upload is a block list of one.
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
        let len = self.put_part(upload, WHOLE, body, limit, expected).await?;
        self.write_list(upload, &[WHOLE.to_owned()]).await?;
        Ok(len)
    }

    async fn write_list(&self, upload: &str, names: &[String]) -> Result<()> {
        let dir = self.dir(upload);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(ServiceError::io("create", &dir))?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        let data = serde_json::to_vec(names).unwrap_or_default();
        tokio::fs::write(&tmp, data)
            .await
            .map_err(ServiceError::io("write", &tmp))?;
        let dest = dir.join(BLOCK_LIST);
        tokio::fs::rename(&tmp, &dest)
            .await
            .map_err(ServiceError::io("rename", &dest))
    }

    /// The parts of a committed Azure upload, in order.
    async fn block_parts(&self, upload: &str) -> Result<Vec<PathBuf>> {
        let dir = self.dir(upload);
        let list = dir.join(BLOCK_LIST);
        let data = match tokio::fs::read(&list).await {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServiceError::Incomplete(
                    "no content was uploaded (no blob or block list was committed)".into(),
                ));
            }
            Err(e) => return Err(ServiceError::io("read", &list)(e)),
        };
        let names: Vec<String> = serde_json::from_slice(&data)
            .map_err(|e| ServiceError::Incomplete(format!("corrupt block list: {e}")))?;
        Ok(names.into_iter().map(|n| dir.join(n)).collect())
    }

    /// The legacy cache's chunks, which must tile `0..size` exactly.
    async fn chunk_parts(&self, upload: &str, size: u64) -> Result<Vec<PathBuf>> {
        let dir = self.dir(upload);
        let mut chunks = Vec::new();
        if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(start) = name.strip_prefix("chunk-").and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let len = entry
                    .metadata()
                    .await
                    .map_err(ServiceError::io("stat", entry.path()))?
                    .len();
                chunks.push(Chunk {
                    start,
                    len,
                    path: entry.path(),
                });
            }
        }
        chunks.sort_by_key(|c| c.start);
        let mut offset = 0u64;
        let mut parts = Vec::new();
        for chunk in chunks {
            if chunk.start != offset {
                return Err(ServiceError::Incomplete(format!(
                    "chunks do not cover the entry: bytes {offset}..{} are {}",
                    chunk.start,
                    if chunk.start > offset {
                        "missing"
                    } else {
                        "uploaded twice"
                    }
                )));
            }
            offset += chunk.len;
            parts.push(chunk.path);
        }
        if offset != size {
            return Err(ServiceError::SizeMismatch {
                reported: size,
                stored: offset,
            });
        }
        Ok(parts)
    }

    /// Assembles an Azure-protocol upload into the store.
    pub(crate) async fn seal_blocks(
        &self,
        upload: &str,
        size: u64,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let parts = self.block_parts(upload).await?;
        self.seal(upload, parts, size, expected).await
    }

    /// Assembles a legacy chunked cache upload into the store.
    pub(crate) async fn seal_chunks(&self, upload: &str, size: u64) -> Result<Digest> {
        let parts = self.chunk_parts(upload, size).await?;
        self.seal(upload, parts, size, None).await
    }

    async fn seal(
        &self,
        upload: &str,
        parts: Vec<PathBuf>,
        size: u64,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let mut staged = 0u64;
        for part in &parts {
            let meta = tokio::fs::metadata(part)
                .await
                .map_err(|_| ServiceError::Incomplete("a staged block vanished".into()))?;
            staged += meta.len();
        }
        if staged != size {
            return Err(ServiceError::SizeMismatch {
                reported: size,
                stored: staged,
            });
        }
        let session = format!("svc-{}", uuid::Uuid::new_v4().simple());
        self.store.create_upload(&session).await?;
        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let stream = concat(parts, hasher.clone());
        let stored = match self.store.append(&session, stream, size).await {
            Ok(len) => len,
            Err(e) => {
                let _ = self.store.abort(&session).await;
                return Err(e.into());
            }
        };
        if stored != size {
            let _ = self.store.abort(&session).await;
            return Err(ServiceError::SizeMismatch {
                reported: size,
                stored,
            });
        }
        let actual = {
            let h = hasher.lock().unwrap_or_else(|p| p.into_inner()).clone();
            Digest::from_hasher(h)
        };
        if let Some(expected) = expected
            && expected != &actual
        {
            let _ = self.store.abort(&session).await;
            return Err(StorageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            }
            .into());
        }
        self.store.commit(&session, &actual).await?;
        self.discard(upload).await;
        Ok(actual)
    }

    /// Removes an upload's staged parts.
    pub(crate) async fn discard(&self, upload: &str) {
        let _ = tokio::fs::remove_dir_all(self.dir(upload)).await;
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

    pub(crate) async fn read(&self, digest: &Digest) -> Result<ByteStream> {
        Ok(self.store.read(digest, None).await?)
    }

    pub(crate) async fn size(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(self.store.size(digest).await?)
    }

    pub(crate) async fn delete(&self, digest: &Digest) -> Result<()> {
        self.store.delete(digest).await?;
        Ok(())
    }

    pub(crate) async fn cleanup(&self) -> Result<()> {
        self.store
            .cleanup_uploads(std::time::Duration::from_secs(24 * 3600))
            .await?;
        Ok(())
    }
}

/// The staged file of an Azure block id (base64, at most 64 bytes decoded). Hex keeps any id
/// a plain file name: no `/`, no `..`.
pub(crate) fn block_file(id: &str) -> String {
    format!("block-{}", hex::encode(id.as_bytes()))
}

/// The staged file of a legacy chunk starting at `start`.
pub(crate) fn chunk_file(start: u64) -> String {
    format!("chunk-{start}")
}

async fn write_body<S>(path: &Path, mut body: S, limit: u64) -> Result<u64>
where
    S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
{
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ServiceError::io("create", path))?;
    let mut len = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ServiceError::Incomplete(format!("the request body broke off: {e}")))?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(ServiceError::TooLarge { limit });
        }
        file.write_all(&chunk)
            .await
            .map_err(ServiceError::io("write", path))?;
    }
    file.flush()
        .await
        .map_err(ServiceError::io("write", path))?;
    Ok(len)
}

/// The parts' bytes in order, feeding `hasher` on the way.
fn concat(parts: Vec<PathBuf>, hasher: Arc<Mutex<Sha256>>) -> ByteStream {
    let stream = futures::stream::iter(parts)
        .then(|path| async move { tokio::fs::File::open(path).await })
        .map_ok(|file| tokio_util::io::ReaderStream::with_capacity(file, 1 << 20))
        .try_flatten()
        .inspect_ok(move |bytes| {
            hasher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .update(bytes);
        });
    Box::pin(stream)
}
