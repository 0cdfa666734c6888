//! Starting a registry and talking to it.

use gantry_packages::{Config, MetadataBackend, Scope, ServeHandle, serve};
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

pub const ALL: &[Scope] = &[
    Scope::ReadPackages,
    Scope::WritePackages,
    Scope::DeletePackages,
];

/// A running registry with an administrator token (all scopes, any owner).
pub struct Server {
    pub handle: ServeHandle,
    pub dir: TempDir,
    pub admin: String,
}

/// Where a test's registry keeps its metadata: each contract test runs once on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    Sqlite,
    Postgres,
}

impl Meta {
    /// A registry configuration with data in `dir` and metadata on this backend (a new
    /// database for PostgreSQL).
    pub fn config(self, dir: impl Into<PathBuf>) -> Config {
        let mut config = Config::new(dir);
        if self == Meta::Postgres {
            config.metadata = MetadataBackend::Postgres {
                url: crate::pg::database(),
                pool_size: 4,
            };
        }
        config
    }
}

/// Generates `name::sqlite` and `name::postgres` tests from `async fn name(meta: Meta)`.
/// `multi_thread:` first runs them on the multi-threaded runtime (tests that drive a CLI).
macro_rules! on_both {
    (multi_thread: $($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(crate::common::Meta::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                super::$name(crate::common::Meta::Postgres).await
            }
        })*
    };
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::common::Meta::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(crate::common::Meta::Postgres).await
            }
        })*
    };
}
pub(crate) use on_both;

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Server {
        Server::start_with_on(Meta::Sqlite, adjust).await
    }

    pub async fn start_on(meta: Meta) -> Server {
        Server::start_with_on(meta, |_| {}).await
    }

    pub async fn start_with_on(meta: Meta, adjust: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = meta.config(dir.path().join("data"));
        adjust(&mut config);
        let handle = serve("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
        let admin = handle
            .registry()
            .create_token("octo", None, ALL, None)
            .await
            .unwrap();
        Server { handle, dir, admin }
    }

    pub fn host(&self) -> String {
        self.handle.addr().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.addr())
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Every blob file on disk and every file left in the uploads directory.
    pub fn stored_files(&self) -> (Vec<String>, Vec<String>) {
        (
            list_files(&self.data().join("blobs")),
            list_files(&self.data().join("uploads")),
        )
    }
}

pub fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(list_files(&path));
        } else {
            out.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    gantry_packages::Digest::of(data).to_string()
}

/// Runs a command to completion; panics with its output when it cannot start.
pub async fn run(cmd: &mut tokio::process::Command) -> Output {
    cmd.output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails loudly when a client the tests need is not installed.
pub fn require_tool(tool: &str, install: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is required for these tests: {install}");
}

/// The JSON error code of an OCI error answer.
pub async fn oci_code(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (
        status,
        body["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
