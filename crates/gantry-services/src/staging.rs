//! One upload in progress: a single data file that becomes the stored blob by a rename.
//!
//! The clients upload in parallel and out of order: Azure blocks (`comp=block`, ordered only by
//! the later `comp=blocklist`) and the legacy cache's `Content-Range` chunks. Each part is
//! written straight to its final offset in `staging/<upload>/data` (positional writes, no part
//! files, no copy at the end), while a background pass hashes the file in offset order as far
//! as it is contiguously written: by the time the client finalizes, the digest is mostly
//! computed and only the tail is left. Finalizing fsyncs once (writeback was started after
//! every batch, so little is left to wait for) and hands the file to the store.
//!
//! Where a block goes: legacy chunks say their offset. Azure block ids carry no offset, but
//! `@azure/storage-blob` (upload-artifact's `uploadStream`, cache's `uploadFile`) names block
//! `i` `base64(<uuid prefix><i, zero-padded>)` and makes every block but the last the same size;
//! so block `i` is placed at `i × <size of block 0>`. A block that does not fit that pattern
//! goes to an overflow area past any real content (the file is sparse) and is moved into place
//! when the block list arrives; a layout the prediction got wrong is rebuilt. Both fallbacks
//! rehash; correctness never depends on the prediction.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gantry_packages::Digest;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

use crate::error::{Result, ServiceError};

/// Bytes gathered from the request body before one positional write: few blocking-pool hops,
/// bounded memory per request.
const WRITE_BATCH: usize = 4 * 1024 * 1024;
/// Read size when hashing or moving staged bytes (page-cache hot: they were just written).
const READ_CHUNK: usize = 1024 * 1024;
/// Where blocks of no predictable offset are parked, far past any entry (sparse, costs nothing).
const OVERFLOW_BASE: u64 = 1 << 40;
/// How long a block that arrived before block 0 waits to learn the block size.
const UNIT_WAIT: Duration = Duration::from_secs(2);

/// One written (or being written) range of the data file.
#[derive(Debug, Clone, Copy)]
struct Extent {
    /// `None` until a body of unknown length ends.
    len: Option<u64>,
    /// Bytes from the start already on disk.
    written: u64,
}

impl Extent {
    fn done(&self) -> bool {
        self.len == Some(self.written)
    }
}

/// `@azure/storage-blob`'s block naming, learnt from block 0.
#[derive(Debug, Clone)]
struct Layout {
    prefix: Vec<u8>,
    unit: u64,
}

#[derive(Default)]
struct State {
    extents: BTreeMap<u64, Extent>,
    /// Finished Azure blocks: id -> (offset, len).
    blocks: HashMap<String, (u64, u64)>,
    layout: Option<Layout>,
    overflow_next: u64,
    /// Requests writing now.
    writers: usize,
    /// The committed block list and its total size.
    committed: Option<(Vec<String>, u64)>,
    /// Bytes announced by the writes so far (retries count again).
    staged: u64,
    /// The hasher has read (or is reading) everything below this.
    claimed: u64,
    /// Bytes below `claimed` changed after being hashed: the digest must be recomputed.
    tainted: bool,
}

impl State {
    /// How far from `upto` the file is contiguously written.
    fn hashable_end(&self, mut upto: u64) -> u64 {
        while let Some((&off, ext)) = self.extents.range(..=upto).next_back() {
            let end = off + ext.written;
            if end > upto {
                upto = end;
            }
            // A finished extent ending exactly here hands over to the one starting here.
            if !(ext.done() && end == upto && off < upto && self.extents.contains_key(&upto)) {
                break;
            }
        }
        upto
    }

    /// A write to `offset..` is starting: bytes the hasher already read there change.
    fn touch(&mut self, offset: u64) {
        if offset < self.claimed {
            self.tainted = true;
        }
    }
}

struct Frontier {
    hasher: Sha256,
    upto: u64,
}

/// The staged state of one upload.
pub(crate) struct Upload {
    /// The most bytes all writes together may announce: a client cannot fill the disk with
    /// blocks it never commits.
    budget: u64,
    dir: PathBuf,
    path: PathBuf,
    file: File,
    state: Mutex<State>,
    frontier: Mutex<Frontier>,
    /// A background hashing pass is scheduled or running.
    hashing: AtomicBool,
    /// Positional writes handed to the blocking pool and not finished.
    in_flight: AtomicUsize,
    unit_known: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?
}

/// Asks the kernel to start writing `len` bytes at `offset` back now, without waiting, so the
/// fsync at finalize finds little left to do (and no fsync per block is needed).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain syscall on an open descriptor we own; it reads no memory of ours.
    // Failure only means the fsync at finalize does all the work.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// The SDK's block id `base64(<prefix><digits>)`, split; `None` for other ids.
fn sdk_block(id: &str) -> Option<(Vec<u8>, u64)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(id).ok()?;
    // The SDK's ids are 48 bytes: a 36-byte uuid, then the index padded to 12 digits. The
    // uuid may itself end in digits, so the index is cut by position, not by digit run.
    if raw.len() == 48 && raw[36..].iter().all(u8::is_ascii_digit) {
        let index = std::str::from_utf8(&raw[36..]).ok()?.parse().ok()?;
        return Some((raw[..36].to_vec(), index));
    }
    let digits = raw.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    let (prefix, index) = raw.split_at(raw.len() - digits);
    let index = std::str::from_utf8(index).ok()?.parse().ok()?;
    Some((prefix.to_vec(), index))
}

/// Removes an unfinished extent if its request ends early (error or dropped connection).
struct WriteGuard<'a> {
    upload: &'a Upload,
    offset: u64,
    finished: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.upload.state);
        st.writers = st.writers.saturating_sub(1);
        if !self.finished {
            st.extents.remove(&self.offset);
        }
    }
}

impl Upload {
    pub(crate) fn create(dir: PathBuf, budget: u64) -> Result<Upload> {
        std::fs::create_dir_all(&dir).map_err(ServiceError::io("create", &dir))?;
        let path = dir.join("data");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(ServiceError::io("create", &path))?;
        Ok(Upload {
            budget,
            dir,
            path,
            file,
            state: Mutex::new(State::default()),
            frontier: Mutex::new(Frontier {
                hasher: Sha256::new(),
                upto: 0,
            }),
            hashing: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            unit_known: Notify::new(),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn data_path(&self) -> &Path {
        &self.path
    }

    /// Stages an Azure block (`Content-Length` bytes) where the final blob will have it.
    pub(crate) async fn put_block<S>(self: &Arc<Self>, id: &str, body: S, len: u64) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        let offset = self.place_block(id, len).await?;
        self.write(offset, body, len, Some(len)).await?;
        lock(&self.state)
            .blocks
            .insert(id.to_owned(), (offset, len));
        Ok(())
    }

    async fn place_block(&self, id: &str, len: u64) -> Result<u64> {
        let Some((prefix, index)) = sdk_block(id) else {
            return Ok(self.overflow(len));
        };
        for attempt in 0..2 {
            let notified = self.unit_known.notified();
            {
                let mut st = lock(&self.state);
                if let Some(prior) = st.blocks.get(id) {
                    // A retried block goes where it went the first time.
                    return Ok(prior.0);
                }
                match &st.layout {
                    Some(l) if l.prefix == prefix && len <= l.unit => {
                        if let Some(offset) = index.checked_mul(l.unit)
                            && offset.checked_add(len).is_some_and(|e| e <= OVERFLOW_BASE)
                        {
                            return Ok(offset);
                        }
                        return Ok(Self::overflow_in(&mut st, len));
                    }
                    Some(_) => return Ok(Self::overflow_in(&mut st, len)),
                    None if index == 0 => {
                        st.layout = Some(Layout { prefix, unit: len });
                        drop(st);
                        self.unit_known.notify_waiters();
                        return Ok(0);
                    }
                    None if attempt == 1 => return Ok(Self::overflow_in(&mut st, len)),
                    None => {}
                }
            }
            // Block 0 is normally on its way (the clients start it first).
            let _ = tokio::time::timeout(UNIT_WAIT, notified).await;
        }
        Ok(self.overflow(len))
    }

    fn overflow(&self, len: u64) -> u64 {
        Self::overflow_in(&mut lock(&self.state), len)
    }

    fn overflow_in(st: &mut State, len: u64) -> u64 {
        let offset = OVERFLOW_BASE + st.overflow_next;
        st.overflow_next += len;
        offset
    }

    /// Stages a legacy cache chunk at the offset its `Content-Range` names.
    pub(crate) async fn put_chunk<S>(self: &Arc<Self>, start: u64, body: S, len: u64) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        if start.checked_add(len).is_none_or(|e| e > OVERFLOW_BASE) {
            return Err(ServiceError::InvalidArgument(
                "chunk offset out of range".into(),
            ));
        }
        self.write(start, body, len, Some(len)).await.map(|_| ())
    }

    /// A single-shot `PUT`: the whole content, replacing anything staged before.
    pub(crate) async fn put_whole<S>(
        self: &Arc<Self>,
        body: S,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        self.reset().await?;
        let len = self.write(0, body, limit, expected).await?;
        lock(&self.state).committed = Some((Vec::new(), len));
        Ok(len)
    }

    /// Empties the upload (no request may be writing).
    async fn reset(self: &Arc<Self>) -> Result<()> {
        {
            let st = lock(&self.state);
            if st.writers > 0 {
                return Err(ServiceError::InvalidArgument(
                    "parts of this upload are still being written".into(),
                ));
            }
        }
        self.settle().await;
        let this = self.clone();
        blocking(move || {
            let mut frontier = lock(&this.frontier);
            this.file
                .set_len(0)
                .map_err(ServiceError::io("truncate", &this.path))?;
            *lock(&this.state) = State::default();
            *frontier = Frontier {
                hasher: Sha256::new(),
                upto: 0,
            };
            Ok(())
        })
        .await
    }

    /// Waits until positional writes of ended requests have landed.
    async fn settle(&self) {
        while self.in_flight.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Writes `body` at `offset` (at most `limit` bytes, exactly `expected` when given).
    async fn write<S>(
        self: &Arc<Self>,
        offset: u64,
        mut body: S,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin,
    {
        {
            let mut st = lock(&self.state);
            if st.committed.is_some() {
                return Err(ServiceError::AlreadyExists(
                    "the block list of this upload was committed; its content can no longer change"
                        .into(),
                ));
            }
            if st.extents.get(&offset).is_some_and(|e| !e.done()) {
                return Err(ServiceError::InvalidArgument(format!(
                    "bytes at offset {offset} of this upload are already being written"
                )));
            }
            let announced = expected.unwrap_or(limit);
            if st.staged.saturating_add(announced) > self.budget {
                return Err(ServiceError::TooLarge { limit: self.budget });
            }
            st.staged += announced;
            st.touch(offset);
            st.extents.insert(
                offset,
                Extent {
                    len: expected,
                    written: 0,
                },
            );
            st.writers += 1;
        }
        let mut guard = WriteGuard {
            upload: self,
            offset,
            finished: false,
        };
        let mut total = 0u64;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ServiceError::Incomplete(format!("the request body broke off: {e}"))
            })?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(ServiceError::TooLarge { limit });
            }
            batch_len += chunk.len();
            batch.push(chunk);
            if batch_len >= WRITE_BATCH {
                let at = offset + total - batch_len as u64;
                self.write_batch(offset, at, std::mem::take(&mut batch))
                    .await?;
                batch_len = 0;
            }
        }
        if batch_len > 0 {
            let at = offset + total - batch_len as u64;
            self.write_batch(offset, at, batch).await?;
        }
        if let Some(e) = expected
            && e != total
        {
            return Err(ServiceError::Incomplete(format!(
                "expected {e} bytes, received {total}"
            )));
        }
        {
            let mut st = lock(&self.state);
            if let Some(ext) = st.extents.get_mut(&offset) {
                ext.len = Some(total);
            }
        }
        guard.finished = true;
        drop(guard);
        self.kick_hasher();
        Ok(total)
    }

    async fn write_batch(self: &Arc<Self>, extent: u64, at: u64, batch: Vec<Bytes>) -> Result<()> {
        let this = self.clone();
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let written = blocking(move || {
            let result = (|| {
                let mut pos = at;
                for b in &batch {
                    this.file
                        .write_all_at(b, pos)
                        .map_err(ServiceError::io("write", &this.path))?;
                    pos += b.len() as u64;
                }
                start_writeback(&this.file, at, pos - at);
                Ok(pos - at)
            })();
            this.in_flight.fetch_sub(1, Ordering::AcqRel);
            result
        })
        .await?;
        if let Some(ext) = lock(&self.state).extents.get_mut(&extent) {
            ext.written += written;
        }
        self.kick_hasher();
        Ok(())
    }

    /// Schedules a background hashing pass unless one is pending.
    fn kick_hasher(self: &Arc<Self>) {
        if self.hashing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                // An error here (a read failing) is found again by the finalize, which reports it.
                let _ = this.hash_available(u64::MAX);
                this.hashing.store(false, Ordering::Release);
                // A writer that found the flag set relied on this pass: look once more.
                let more = {
                    let st = lock(&this.state);
                    st.hashable_end(st.claimed) > st.claimed
                };
                if !more || this.hashing.swap(true, Ordering::AcqRel) {
                    break;
                }
            }
        });
    }

    /// Hashes contiguously written bytes past the frontier, up to `stop`.
    fn hash_available(&self, stop: u64) -> Result<()> {
        let mut frontier = lock(&self.frontier);
        loop {
            let (from, to) = {
                let mut st = lock(&self.state);
                let to = st.hashable_end(frontier.upto).min(stop);
                if to <= frontier.upto {
                    return Ok(());
                }
                st.claimed = st.claimed.max(to);
                (frontier.upto, to)
            };
            hash_range(&self.file, &self.path, &mut frontier.hasher, from, to)?;
            frontier.upto = to;
        }
    }

    /// Commits an Azure block list: the blocks named, in order, are the content.
    pub(crate) async fn commit_blocks(self: &Arc<Self>, ids: Vec<String>) -> Result<()> {
        self.settle().await;
        let plan = {
            let st = lock(&self.state);
            if st.writers > 0 {
                return Err(ServiceError::InvalidArgument(
                    "blocks of this upload are still being written".into(),
                ));
            }
            if let Some((list, _)) = &st.committed {
                if list == &ids {
                    return Ok(());
                }
                return Err(ServiceError::AlreadyExists(
                    "a different block list was already committed for this upload".into(),
                ));
            }
            let mut plan = Vec::with_capacity(ids.len());
            let mut at = 0u64;
            for id in &ids {
                let &(from, len) = st.blocks.get(id).ok_or_else(|| {
                    ServiceError::InvalidArgument(format!(
                        "block list names block `{id}`, which was not uploaded"
                    ))
                })?;
                plan.push((from, at, len));
                at += len;
            }
            plan
        };
        let total = plan.last().map_or(0, |&(_, at, len)| at + len);
        let this = self.clone();
        blocking(move || this.lay_out(&plan, total)).await?;
        lock(&self.state).committed = Some((ids, total));
        Ok(())
    }

    /// Moves blocks to their place in the list (normally none moves) and cuts the file there.
    fn lay_out(&self, plan: &[(u64, u64, u64)], total: u64) -> Result<()> {
        // The hasher must not read while bytes move.
        let _frontier = lock(&self.frontier);
        let moved: Vec<_> = plan.iter().filter(|(from, to, _)| from != to).collect();
        if moved.iter().all(|(from, _, _)| *from >= total) {
            for &&(from, to, len) in &moved {
                copy_within(&self.file, &self.path, from, to, len)?;
            }
        } else {
            // The prediction put blocks where others belong: rebuild in a second file.
            let rebuilt = self.dir.join("data.rebuilt");
            let out = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&rebuilt)
                .map_err(ServiceError::io("create", &rebuilt))?;
            for &(from, to, len) in plan {
                copy_between(&self.file, &out, &self.path, from, to, len)?;
            }
            copy_between(&out, &self.file, &rebuilt, 0, 0, total)?;
            let _ = std::fs::remove_file(&rebuilt);
        }
        self.file
            .set_len(total)
            .map_err(ServiceError::io("truncate", &self.path))?;
        let mut st = lock(&self.state);
        if !moved.is_empty() {
            st.tainted = true;
        }
        st.extents.clear();
        st.extents.insert(
            0,
            Extent {
                len: Some(total),
                written: total,
            },
        );
        Ok(())
    }

    /// Checks that legacy chunks tile `0..size` exactly and makes that the content.
    pub(crate) async fn commit_chunks(self: &Arc<Self>, size: u64) -> Result<()> {
        self.settle().await;
        {
            let mut st = lock(&self.state);
            if st.writers > 0 {
                return Err(ServiceError::InvalidArgument(
                    "chunks of this upload are still being written".into(),
                ));
            }
            let mut offset = 0u64;
            for (&start, ext) in &st.extents {
                if start != offset {
                    return Err(ServiceError::Incomplete(format!(
                        "chunks do not cover the entry: bytes {offset}..{start} are {}",
                        if start > offset {
                            "missing"
                        } else {
                            "uploaded twice"
                        }
                    )));
                }
                offset += ext.written;
            }
            if offset != size {
                return Err(ServiceError::SizeMismatch {
                    reported: size,
                    stored: offset,
                });
            }
            st.committed = Some((Vec::new(), size));
        }
        Ok(())
    }

    /// Finishes the digest of the committed content (`size` bytes, which must be what was
    /// committed), checks it against `expected`, and makes the file durable.
    pub(crate) async fn seal(
        self: &Arc<Self>,
        size: u64,
        expected: Option<&Digest>,
    ) -> Result<Digest> {
        let committed = lock(&self.state).committed.as_ref().map(|c| c.1);
        let stored = committed.ok_or_else(|| {
            ServiceError::Incomplete(
                "no content was uploaded (no blob or block list was committed)".into(),
            )
        })?;
        if stored != size {
            return Err(ServiceError::SizeMismatch {
                reported: size,
                stored,
            });
        }
        let this = self.clone();
        let actual = blocking(move || {
            this.hash_available(size)?;
            let mut frontier = lock(&this.frontier);
            let tainted = lock(&this.state).tainted;
            if tainted || frontier.upto != size {
                // Bytes changed under the hasher (a retried part, a moved block): start over.
                let mut hasher = Sha256::new();
                hash_range(&this.file, &this.path, &mut hasher, 0, size)?;
                frontier.hasher = hasher;
                frontier.upto = size;
                lock(&this.state).tainted = false;
            }
            let digest = Digest::from_hasher(frontier.hasher.clone());
            this.file
                .sync_data()
                .map_err(ServiceError::io("fsync", &this.path))?;
            Ok(digest)
        })
        .await?;
        if let Some(expected) = expected
            && expected != &actual
        {
            return Err(gantry_packages::storage::StorageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            }
            .into());
        }
        Ok(actual)
    }
}

fn hash_range(file: &File, path: &Path, hasher: &mut Sha256, from: u64, to: u64) -> Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
        file.read_exact_at(&mut buf[..n], at)
            .map_err(ServiceError::io("read", path))?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

fn copy_between(src: &File, dst: &File, path: &Path, from: u64, to: u64, len: u64) -> Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = usize::try_from(len - done).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
        src.read_exact_at(&mut buf[..n], from + done)
            .map_err(ServiceError::io("read", path))?;
        dst.write_all_at(&buf[..n], to + done)
            .map_err(ServiceError::io("write", path))?;
        done += n as u64;
    }
    Ok(())
}

/// Moves `len` bytes within one file; the ranges do not overlap (`from` is past the content).
fn copy_within(file: &File, path: &Path, from: u64, to: u64, len: u64) -> Result<()> {
    copy_between(file, file, path, from, to, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = std::result::Result<Bytes, axum::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn sdk_id(prefix: &str, i: u32) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{i:0>12}"))
    }

    async fn upload() -> (tempfile::TempDir, Arc<Upload>) {
        let dir = tempfile::tempdir().unwrap();
        let up = Arc::new(Upload::create(dir.path().join("u"), 1 << 20).unwrap());
        (dir, up)
    }

    #[test]
    fn sdk_block_ids_split_into_prefix_and_index() {
        assert_eq!(sdk_block(&sdk_id("abc-", 7)), Some((b"abc-".to_vec(), 7)));
        // A uuid prefix ending in digits, as the SDK's often do.
        let uuid = "2fbe8d89-3203-4c47-a11d-1d167fda1e39";
        assert_eq!(
            sdk_block(&sdk_id(uuid, 3)),
            Some((uuid.as_bytes().to_vec(), 3))
        );
        assert_eq!(sdk_block("not base64!"), None);
        use base64::Engine as _;
        let no_digits = base64::engine::general_purpose::STANDARD.encode("block");
        assert_eq!(sdk_block(&no_digits), None);
    }

    #[tokio::test]
    async fn blocks_out_of_order_land_in_place_and_hash_like_the_whole() {
        let (_dir, up) = upload().await;
        // Block 0 first (it fixes the block size), then 2 (short, the last) before 1.
        up.put_block(&sdk_id("p", 0), body(&[b"aaaa"]), 4)
            .await
            .unwrap();
        up.put_block(&sdk_id("p", 2), body(&[b"cc"]), 2)
            .await
            .unwrap();
        up.put_block(&sdk_id("p", 1), body(&[b"bb", b"bb"]), 4)
            .await
            .unwrap();
        let ids = (0..3).map(|i| sdk_id("p", i)).collect();
        up.commit_blocks(ids).await.unwrap();
        let digest = up.seal(10, None).await.unwrap();
        assert_eq!(digest, Digest::of(b"aaaabbbbcc"));
        assert!(!lock(&up.state).tainted, "nothing moved");
        assert_eq!(std::fs::read(up.data_path()).unwrap(), b"aaaabbbbcc");
    }

    #[tokio::test]
    async fn unpredictable_and_mispredicted_layouts_are_fixed_and_rehashed() {
        // Ids the SDK would not make go to the overflow area and move at commit.
        let (_dir, up) = upload().await;
        up.put_block("eA==", body(&[b"xy"]), 2).await.unwrap();
        up.put_block("eg==", body(&[b"z"]), 1).await.unwrap();
        up.commit_blocks(vec!["eg==".into(), "eA==".into()])
            .await
            .unwrap();
        assert_eq!(up.seal(3, None).await.unwrap(), Digest::of(b"zxy"));
        assert_eq!(std::fs::read(up.data_path()).unwrap(), b"zxy");
        // SDK-shaped ids committed in another order than their indexes: rebuilt.
        let (_dir, up) = upload().await;
        up.put_block(&sdk_id("q", 0), body(&[b"00"]), 2)
            .await
            .unwrap();
        up.put_block(&sdk_id("q", 1), body(&[b"11"]), 2)
            .await
            .unwrap();
        up.commit_blocks(vec![sdk_id("q", 1), sdk_id("q", 0)])
            .await
            .unwrap();
        assert_eq!(up.seal(4, None).await.unwrap(), Digest::of(b"1100"));
        // Content can no longer change once committed.
        assert!(
            up.put_block(&sdk_id("q", 2), body(&[b"2"]), 1)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_retried_chunk_after_hashing_rehashes_and_gaps_are_refused() {
        let (_dir, up) = upload().await;
        up.put_chunk(0, body(&[b"old!"]), 4).await.unwrap();
        up.hash_available(u64::MAX).unwrap();
        up.put_chunk(0, body(&[b"new!"]), 4).await.unwrap();
        up.put_chunk(4, body(&[b"tail"]), 4).await.unwrap();
        up.commit_chunks(8).await.unwrap();
        assert_eq!(up.seal(8, None).await.unwrap(), Digest::of(b"new!tail"));

        let (_dir, up) = upload().await;
        up.put_chunk(4, body(&[b"tail"]), 4).await.unwrap();
        assert!(matches!(
            up.commit_chunks(8).await,
            Err(ServiceError::Incomplete(_))
        ));
        // A short body leaves no extent behind.
        let short = up.put_chunk(0, body(&[b"ab"]), 4).await;
        assert!(matches!(short, Err(ServiceError::Incomplete(_))));
        assert!(!lock(&up.state).extents.contains_key(&0));
    }

    #[tokio::test]
    async fn digest_mismatch_and_size_mismatch_are_refused() {
        let (_dir, up) = upload().await;
        up.put_whole(body(&[b"hello"]), 100, Some(5)).await.unwrap();
        assert!(matches!(
            up.seal(6, None).await,
            Err(ServiceError::SizeMismatch { .. })
        ));
        let wrong = Digest::of(b"other");
        assert!(up.seal(5, Some(&wrong)).await.is_err());
        assert_eq!(
            up.seal(5, Some(&Digest::of(b"hello"))).await.unwrap(),
            Digest::of(b"hello")
        );
    }
}
