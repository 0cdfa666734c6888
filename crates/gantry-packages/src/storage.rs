//! Content-addressed blob storage behind [`BlobStore`], with the filesystem default.
//!
//! Invariant: a blob is visible under its digest only after its bytes were written to a temp
//! file in the same filesystem, fsynced, hashed and found equal to the digest, then renamed.
//! A killed upload therefore leaves at most a temp file, removed by the next startup.
//!
//! [`FsBlobStore`] is also the shared-directory backend of several daemons (NFS or any POSIX
//! filesystem mounted by all): blobs are content-addressed and installed by `rename`, so two
//! writers of one blob write the same bytes and either rename wins; upload sessions live in
//! files, not in one process's memory, so each chunk of an upload may reach another daemon.

use crate::digest::Digest;
use async_trait::async_trait;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// A stream of bytes into or out of the store.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What can go wrong storing or reading blobs.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("upload {0} is unknown")]
    UploadUnknown(String),
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("content digest {actual} does not match the expected {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("reading the request body failed: {0}")]
    Body(io::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError + use<> {
    let path = path.to_owned();
    move |source| StorageError::Io { op, path, source }
}

/// Storage for content-addressed blobs and in-progress uploads. Upload ids are chosen by the
/// caller (uuids) and must be plain tokens; digests are validated before they get here.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts an empty upload session.
    async fn create_upload(&self, id: &str) -> Result<(), StorageError>;
    /// Bytes received so far.
    async fn upload_size(&self, id: &str) -> Result<u64, StorageError>;
    /// Appends a chunk; on any failure the session is rolled back to its previous size.
    /// `limit` caps the total size of the upload.
    async fn append(&self, id: &str, data: ByteStream, limit: u64) -> Result<u64, StorageError>;
    /// Verifies the upload against `expected` and makes it visible. On a mismatch the upload is
    /// discarded and nothing is stored.
    async fn commit(&self, id: &str, expected: &Digest) -> Result<u64, StorageError>;
    /// Discards an upload session.
    async fn abort(&self, id: &str) -> Result<(), StorageError>;
    /// Stores small content (manifests, npm tarballs) atomically; returns its digest.
    async fn put(&self, data: Bytes) -> Result<Digest, StorageError>;
    /// The size of a stored blob, `None` when absent.
    async fn size(&self, digest: &Digest) -> Result<Option<u64>, StorageError>;
    /// Streams `len` bytes from `offset` (the whole blob for `None`).
    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, StorageError>;
    /// Reads a whole (small) blob.
    async fn read_all(&self, digest: &Digest) -> Result<Bytes, StorageError>;
    /// Removes a blob; `false` when it was absent.
    async fn delete(&self, digest: &Digest) -> Result<bool, StorageError>;
    /// Every stored blob with its age.
    async fn list(&self) -> Result<Vec<(Digest, Duration)>, StorageError>;
    /// Removes upload sessions and temp files untouched for `older_than`; returns how many.
    async fn cleanup_uploads(&self, older_than: Duration) -> Result<usize, StorageError>;
    /// Removes partial uploads no process is writing that are not the resumable `sessions`
    /// (what a `kill -9` in the middle of an upload leaves); returns how many.
    async fn cleanup_orphans(
        &self,
        _sessions: &std::collections::HashSet<String>,
    ) -> Result<usize, StorageError> {
        Ok(0)
    }
}

/// Marks `file` as being written by this process: an advisory lock the kernel drops when the
/// process dies, however it dies, so [`BlobStore::cleanup_orphans`] in any process can tell a
/// live upload from a crashed one. The returned handle holds the lock.
async fn writing(file: &tokio::fs::File, path: &Path) -> Result<std::fs::File, StorageError> {
    let handle = file
        .try_clone()
        .await
        .map_err(io_err("open", path))?
        .into_std()
        .await;
    // Another process writing the same upload is not expected; it keeps its lock then.
    let _ = handle.try_lock();
    Ok(handle)
}

/// Running state of one upload: the hash so far, so committing a 200 MB layer does not read
/// it again. Lost on restart, in which case commit rehashes the file.
struct UploadState {
    hasher: Option<Sha256>,
    len: u64,
}

/// Blobs on disk: `root/blobs/sha256/ab/abcdef...`, uploads in `root/uploads/`.
pub struct FsBlobStore {
    root: PathBuf,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<UploadState>>>>,
}

impl FsBlobStore {
    /// Creates the directory layout under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<FsBlobStore, StorageError> {
        let root = root.into();
        for dir in [root.join("blobs/sha256"), root.join("uploads")] {
            std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        }
        Ok(FsBlobStore {
            root,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    fn session(&self, id: &str) -> Arc<tokio::sync::Mutex<UploadState>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let state = sessions.entry(id.to_owned()).or_insert_with(|| {
            // Unknown here but maybe on disk (after a restart): the hash is recomputed on commit.
            Arc::new(tokio::sync::Mutex::new(UploadState {
                hasher: None,
                len: u64::MAX,
            }))
        });
        state.clone()
    }

    fn forget(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The upload's length as the file has it. Several daemons may share this directory and
    /// a client may send each chunk to another one: when the file is not the length this
    /// process last left it at, someone else appended, and the running hash here is stale
    /// (commit then hashes the file instead).
    async fn current_len(&self, id: &str, state: &mut UploadState) -> Result<u64, StorageError> {
        let path = self.upload_path(id);
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            // Not on disk: drop the placeholder `session` created for it.
            self.forget(id);
            return Err(StorageError::UploadUnknown(id.to_owned()));
        };
        if state.len != meta.len() {
            state.hasher = None;
            state.len = meta.len();
        }
        Ok(state.len)
    }

    /// Moves a verified temp file into place. A concurrent push of the same blob may have won
    /// the race; identical content makes either outcome correct.
    async fn install(&self, tmp: &Path, digest: &Digest) -> Result<(), StorageError> {
        let dest = self.blob_path(digest);
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err("create", &dir))?;
        if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            tokio::fs::remove_file(tmp)
                .await
                .map_err(io_err("remove", tmp))?;
            return Ok(());
        }
        tokio::fs::rename(tmp, &dest)
            .await
            .map_err(io_err("rename", &dest))?;
        sync_dir(dir).await
    }
}

async fn sync_dir(dir: PathBuf) -> Result<(), StorageError> {
    let result = tokio::task::spawn_blocking(move || {
        std::fs::File::open(&dir)
            .and_then(|f| f.sync_all())
            .map_err(io_err("fsync", &dir))
    })
    .await;
    result.unwrap_or_else(|join| {
        Err(StorageError::Io {
            op: "fsync",
            path: PathBuf::new(),
            source: io::Error::other(join),
        })
    })
}

async fn hash_file(path: PathBuf) -> Result<(Digest, u64), StorageError> {
    let result = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(io_err("open", &path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = io::Read::read(&mut file, &mut buf).map_err(io_err("read", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        Ok((Digest::from_hasher(hasher), len))
    })
    .await;
    result.unwrap_or_else(|join| {
        Err(StorageError::Io {
            op: "hash",
            path: PathBuf::new(),
            source: io::Error::other(join),
        })
    })
}

/// Writes `data` to `file` from `start`, feeding `hasher`. Returns the new length.
async fn write_stream(
    file: &mut tokio::fs::File,
    mut data: ByteStream,
    start: u64,
    limit: u64,
    hasher: &mut Option<Sha256>,
) -> Result<u64, StorageError> {
    let mut len = start;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(StorageError::Body)?;
        len += chunk.len() as u64;
        if len > limit {
            return Err(StorageError::TooLarge { limit });
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        file.write_all(&chunk)
            .await
            .map_err(|source| StorageError::Io {
                op: "write",
                path: PathBuf::new(),
                source,
            })?;
    }
    Ok(len)
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn create_upload(&self, id: &str) -> Result<(), StorageError> {
        let path = self.upload_path(id);
        tokio::fs::File::create(&path)
            .await
            .map_err(io_err("create", &path))?;
        let state = UploadState {
            hasher: Some(Sha256::new()),
            len: 0,
        };
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), Arc::new(tokio::sync::Mutex::new(state)));
        Ok(())
    }

    async fn upload_size(&self, id: &str) -> Result<u64, StorageError> {
        let session = self.session(id);
        let mut state = session.lock().await;
        self.current_len(id, &mut state).await
    }

    async fn append(&self, id: &str, data: ByteStream, limit: u64) -> Result<u64, StorageError> {
        let session = self.session(id);
        let mut state = session.lock().await;
        let start = self.current_len(id, &mut state).await?;
        let path = self.upload_path(id);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(io_err("open", &path))?;
        let _writing = writing(&file, &path).await?;
        file.seek(io::SeekFrom::Start(start))
            .await
            .map_err(io_err("seek", &path))?;
        let mut hasher = state.hasher.clone();
        match write_stream(&mut file, data, start, limit, &mut hasher).await {
            Ok(len) => {
                file.flush().await.map_err(io_err("write", &path))?;
                *state = UploadState { hasher, len };
                Ok(len)
            }
            Err(e) => {
                // Roll back the partial chunk so a client may resume from the last good offset.
                file.set_len(start)
                    .await
                    .map_err(io_err("truncate", &path))?;
                Err(e)
            }
        }
    }

    async fn commit(&self, id: &str, expected: &Digest) -> Result<u64, StorageError> {
        let session = self.session(id);
        let mut state = session.lock().await;
        let len = self.current_len(id, &mut state).await?;
        let path = self.upload_path(id);
        let actual = match state.hasher.take() {
            Some(h) => Digest::from_hasher(h),
            None => hash_file(path.clone()).await?.0,
        };
        if &actual != expected {
            let _ = tokio::fs::remove_file(&path).await;
            self.forget(id);
            return Err(StorageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(io_err("open", &path))?;
        file.sync_all().await.map_err(io_err("fsync", &path))?;
        drop(file);
        self.install(&path, expected).await?;
        self.forget(id);
        Ok(len)
    }

    async fn abort(&self, id: &str) -> Result<(), StorageError> {
        let session = self.session(id);
        let _state = session.lock().await;
        let path = self.upload_path(id);
        let existed = tokio::fs::remove_file(&path).await.is_ok();
        self.forget(id);
        if existed {
            Ok(())
        } else {
            Err(StorageError::UploadUnknown(id.to_owned()))
        }
    }

    async fn put(&self, data: Bytes) -> Result<Digest, StorageError> {
        let digest = Digest::of(&data);
        let tmp = self.upload_path(&format!("put-{}", uuid::Uuid::new_v4().simple()));
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(io_err("create", &tmp))?;
        let writing = writing(&file, &tmp).await?;
        let written = async {
            file.write_all(&data).await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        drop(writing);
        if let Err(source) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StorageError::Io {
                op: "write",
                path: tmp,
                source,
            });
        }
        self.install(&tmp, &digest).await?;
        Ok(digest)
    }

    async fn size(&self, digest: &Digest) -> Result<Option<u64>, StorageError> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io {
                op: "stat",
                path: self.blob_path(digest),
                source,
            }),
        }
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, StorageError> {
        use tokio::io::AsyncReadExt;
        let path = self.blob_path(digest);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(io_err("open", &path))?;
        let Some((offset, len)) = range else {
            return Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
                file,
                256 * 1024,
            )));
        };
        file.seek(io::SeekFrom::Start(offset))
            .await
            .map_err(io_err("seek", &path))?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
            file.take(len),
            256 * 1024,
        )))
    }

    async fn read_all(&self, digest: &Digest) -> Result<Bytes, StorageError> {
        let path = self.blob_path(digest);
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(io_err("read", &path))
    }

    async fn delete(&self, digest: &Digest) -> Result<bool, StorageError> {
        let path = self.blob_path(digest);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StorageError::Io {
                op: "remove",
                path,
                source,
            }),
        }
    }

    async fn list(&self) -> Result<Vec<(Digest, Duration)>, StorageError> {
        let root = self.root.join("blobs/sha256");
        let result = tokio::task::spawn_blocking(move || list_blobs(&root)).await;
        result.unwrap_or_else(|join| {
            Err(StorageError::Io {
                op: "list",
                path: PathBuf::new(),
                source: io::Error::other(join),
            })
        })
    }

    async fn cleanup_uploads(&self, older_than: Duration) -> Result<usize, StorageError> {
        let dir = self.root.join("uploads");
        let stale = tokio::task::spawn_blocking(move || stale_files(&dir, older_than))
            .await
            .unwrap_or_else(|join| {
                Err(StorageError::Io {
                    op: "list",
                    path: PathBuf::new(),
                    source: io::Error::other(join),
                })
            })?;
        let mut removed = 0;
        for (id, path) in stale {
            if tokio::fs::remove_file(&path).await.is_ok() {
                self.forget(&id);
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn cleanup_orphans(
        &self,
        sessions: &std::collections::HashSet<String>,
    ) -> Result<usize, StorageError> {
        let dir = self.root.join("uploads");
        let files = tokio::task::spawn_blocking(move || stale_files(&dir, Duration::ZERO))
            .await
            .unwrap_or_else(|join| {
                Err(StorageError::Io {
                    op: "list",
                    path: PathBuf::new(),
                    source: io::Error::other(join),
                })
            })?;
        let mut removed = 0;
        for (id, path) in files {
            if sessions.contains(&id) || !unlocked(&path) {
                continue;
            }
            if tokio::fs::remove_file(&path).await.is_ok() {
                self.forget(&id);
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Whether no process holds `path`'s writer lock (see [`writing`]).
fn unlocked(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|file| file.try_lock().is_ok())
}

fn age(meta: &std::fs::Metadata) -> Duration {
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default()
}

fn list_blobs(root: &Path) -> Result<Vec<(Digest, Duration)>, StorageError> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(root).map_err(io_err("list", root))? {
        let shard = shard.map_err(io_err("list", root))?.path();
        let Ok(entries) = std::fs::read_dir(&shard) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            // Anything that is not a digest (editor droppings, stray files) is left alone.
            let Ok(digest) = Digest::parse(&format!("sha256:{}", name.to_string_lossy())) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            out.push((digest, age(&meta)));
        }
    }
    Ok(out)
}

fn stale_files(dir: &Path, older_than: Duration) -> Result<Vec<(String, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(io_err("list", dir))?
        .flatten()
    {
        let Ok(meta) = entry.metadata() else { continue };
        if age(&meta) >= older_than {
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: Vec<io::Result<Bytes>>) -> ByteStream {
        Box::pin(futures::stream::iter(parts))
    }

    #[tokio::test]
    async fn failed_chunk_rolls_back_and_mismatch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        store.create_upload("u1").await.unwrap();
        assert_eq!(
            store
                .append("u1", stream(vec![Ok(Bytes::from_static(b"hello "))]), 100)
                .await
                .unwrap(),
            6
        );
        let broken = stream(vec![
            Ok(Bytes::from_static(b"garbage")),
            Err(io::Error::other("reset")),
        ]);
        assert!(matches!(
            store.append("u1", broken, 100).await,
            Err(StorageError::Body(_))
        ));
        assert_eq!(store.upload_size("u1").await.unwrap(), 6);
        store
            .append("u1", stream(vec![Ok(Bytes::from_static(b"world"))]), 100)
            .await
            .unwrap();
        let good = Digest::of(b"hello world");
        let wrong = Digest::of(b"other");
        store.create_upload("u2").await.unwrap();
        store
            .append(
                "u2",
                stream(vec![Ok(Bytes::from_static(b"hello world"))]),
                100,
            )
            .await
            .unwrap();
        assert!(matches!(
            store.commit("u2", &wrong).await,
            Err(StorageError::DigestMismatch { .. })
        ));
        assert_eq!(store.size(&wrong).await.unwrap(), None);
        assert_eq!(store.commit("u1", &good).await.unwrap(), 11);
        assert_eq!(
            store.read_all(&good).await.unwrap(),
            Bytes::from_static(b"hello world")
        );
        assert!(store.list().await.unwrap().iter().any(|(d, _)| d == &good));
    }

    #[tokio::test]
    async fn limit_and_restart_rehash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        store.create_upload("u").await.unwrap();
        let big = stream(vec![Ok(Bytes::from(vec![0u8; 64]))]);
        assert!(matches!(
            store.append("u", big, 10).await,
            Err(StorageError::TooLarge { limit: 10 })
        ));
        store
            .append("u", stream(vec![Ok(Bytes::from_static(b"abc"))]), 10)
            .await
            .unwrap();
        // A new store over the same directory has lost the running hash and must rehash.
        let reopened = FsBlobStore::open(dir.path()).unwrap();
        assert_eq!(reopened.upload_size("u").await.unwrap(), 3);
        reopened.commit("u", &Digest::of(b"abc")).await.unwrap();
        assert_eq!(store.cleanup_uploads(Duration::ZERO).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn chunks_of_one_upload_may_reach_two_stores_on_one_directory() {
        // Two daemons over one shared directory: the session starts on `a`, a chunk goes to
        // `b`, and `a` commits. `a`'s running hash saw only its own chunk and must not be used.
        let dir = tempfile::tempdir().unwrap();
        let a = FsBlobStore::open(dir.path()).unwrap();
        let b = FsBlobStore::open(dir.path()).unwrap();
        a.create_upload("u").await.unwrap();
        a.append("u", stream(vec![Ok(Bytes::from_static(b"hello "))]), 100)
            .await
            .unwrap();
        assert_eq!(
            b.append("u", stream(vec![Ok(Bytes::from_static(b"world"))]), 100)
                .await
                .unwrap(),
            11
        );
        assert_eq!(a.upload_size("u").await.unwrap(), 11);
        let digest = Digest::of(b"hello world");
        assert_eq!(a.commit("u", &digest).await.unwrap(), 11);
        assert_eq!(
            b.read_all(&digest).await.unwrap(),
            Bytes::from_static(b"hello world")
        );
        // The same blob put by both at once: one copy, readable by either.
        let (x, y) = tokio::join!(
            a.put(Bytes::from_static(b"same")),
            b.put(Bytes::from_static(b"same"))
        );
        assert_eq!(x.unwrap(), y.unwrap());
        assert_eq!(a.list().await.unwrap().len(), 2);
    }
}
