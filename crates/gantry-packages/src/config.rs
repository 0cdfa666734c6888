//! Registry configuration.

use std::path::PathBuf;
use std::time::Duration;

/// Who may read a package without a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Readable anonymously.
    Public,
    /// Readable only with a `read:packages` token for the owner.
    Private,
}

impl Visibility {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    pub(crate) fn parse(s: &str) -> Visibility {
        // Anything unexpected in the database errs on the private side.
        if s == "public" {
            Visibility::Public
        } else {
            Visibility::Private
        }
    }
}

/// Settings for one registry instance. Construct with [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Blobs live under `data_dir/blobs`, upload temp files under `data_dir/uploads`, metadata
    /// in `data_dir/registry.db` (unless `metadata` names PostgreSQL).
    pub data_dir: PathBuf,
    /// Where packages, versions, tags, tokens and upload sessions are recorded.
    pub metadata: crate::metadata::MetadataBackend,
    /// Largest single OCI blob accepted (413 beyond).
    pub max_blob_size: u64,
    /// Largest manifest accepted (413 beyond). The distribution registry uses 4 MiB.
    pub max_manifest_size: usize,
    /// Largest npm publish document (JSON with base64 tarballs) accepted (413 beyond).
    pub max_npm_publish_size: usize,
    /// Visibility of a package when its first version is pushed. GitHub makes new packages
    /// private unless they inherit a public repository's visibility.
    pub default_visibility: Visibility,
    /// Realm named in `WWW-Authenticate` challenges.
    pub realm: String,
    /// Upload sessions untouched for longer are removed at startup and by `gc`.
    pub stale_upload_age: Duration,
    /// Blobs younger than this are never collected: a push in flight has stored its layers but
    /// not yet the manifest that references them.
    pub gc_grace: Duration,
    /// Base URL written into npm tarball links; by default taken from each request's `Host`.
    pub public_url: Option<String>,
    /// Timeouts and the connection cap when serving standalone ([`crate::serve`]); embedded,
    /// the host's listener applies its own.
    pub http: gantry_http::Limits,
}

impl Config {
    /// Defaults sized for a team registry: 10 GiB blobs, 4 MiB manifests, 256 MiB npm publishes.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            metadata: crate::metadata::MetadataBackend::Sqlite,
            max_blob_size: 10 * 1024 * 1024 * 1024,
            max_manifest_size: 4 * 1024 * 1024,
            max_npm_publish_size: 256 * 1024 * 1024,
            default_visibility: Visibility::Private,
            realm: "gantry".to_owned(),
            stale_upload_age: Duration::from_secs(24 * 3600),
            gc_grace: Duration::from_secs(3600),
            public_url: None,
            http: gantry_http::Limits::default(),
        }
    }
}
