//! What an operator can tune: where the services keep their data and how much they accept.

use std::path::PathBuf;

/// Settings of one services instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// The services' directory (`<data dir>/services`): metadata database, blobs, staging.
    pub root: PathBuf,
    /// The longest retention an artifact may ask for (GitHub's maximum is 90 days); shorter
    /// requests are kept, longer ones are capped, none gets this.
    pub max_retention_days: u32,
    /// Total size of one repository's caches before the least recently used are evicted
    /// (GitHub's default is 10 GB).
    pub cache_limit_bytes: u64,
    /// The largest artifact or cache entry accepted.
    pub max_entry_bytes: u64,
    /// The largest body of one blob request (a block, a chunk or a single-shot upload). The
    /// clients send 8 MiB (artifacts), 32 MiB (legacy cache) and 64 MiB blocks or up to
    /// 128 MiB single shots (cache v2).
    pub max_request_bytes: u64,
    /// The largest JSON (Twirp, REST) or XML (block list) body.
    pub max_json_bytes: usize,
    /// This instance's name when several share `root` (daemons on one PostgreSQL database
    /// and one shared directory): its uploads are staged in `staging/<hash of the name>`, so
    /// that one instance's startup cleanup never removes another's uploads in progress.
    pub instance: Option<String>,
}

impl Config {
    /// GitHub's limits, rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            max_retention_days: 90,
            cache_limit_bytes: 10 * 1024 * 1024 * 1024,
            max_entry_bytes: 10 * 1024 * 1024 * 1024,
            max_request_bytes: 256 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
            instance: None,
        }
    }
}
