//! A real PostgreSQL server for this test binary: one server (started on first use by
//! `scripts/pg-temp.sh` on a free loopback port, in a temp directory), one database per test.
//! The server stops and its directory goes when this process exits: the script waits on a
//! pipe from us, which the kernel closes however we end.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use gantry_daemon::{PgSettings, PgStore};

pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    /// Holds the script's stdin open; never waited for.
    _script: Mutex<Child>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start() -> PgServer {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-temp.sh");
    let port = free_port();
    // A test runner may run every test in its own process: an initialised data directory
    // kept with the build's temp files makes each server start quickly.
    let template = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pg-template");
    // fsync off: these tests check behaviour, not power-loss durability, and stay fast.
    // Every stream piped: the script outlives a test function and must not hold the test's
    // own output open.
    let mut child = Command::new(script)
        .arg("--template")
        .arg(&template)
        .arg(port.to_string())
        .args(["-c", "fsync=off", "-c", "max_connections=400"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/pg-temp.sh runs (scripts/ensure-tools.sh installs postgresql)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(bin) = line.trim().strip_prefix("ready ").map(PathBuf::from) else {
        let mut why = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut why);
        panic!("the PostgreSQL server did not start: {why}");
    };
    PgServer {
        port,
        bin,
        _script: Mutex::new(child),
    }
}

pub fn server() -> &'static PgServer {
    SERVER.get_or_init(start)
}

/// A new, empty database; returns its URL.
pub fn database() -> String {
    let server = server();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let status = Command::new(server.bin.join("createdb"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
            &name,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "createdb {name} failed");
    format!("postgres://postgres@127.0.0.1:{}/{name}", server.port)
}

/// A store on `url` for the daemon instance `instance`.
pub fn store(url: &str, instance: &str, lease: Duration) -> PgStore {
    PgStore::connect(PgSettings {
        url: url.to_owned(),
        pool_size: 4,
        lease,
        instance: instance.to_owned(),
    })
    .unwrap()
}

/// A store with one pooled connection, so every call reuses the connection the last one left.
pub fn pool_of_one(url: &str) -> PgStore {
    PgStore::connect(PgSettings {
        url: url.to_owned(),
        pool_size: 1,
        lease: Duration::from_secs(60),
        instance: "one".to_owned(),
    })
    .unwrap()
}

/// Runs SQL on `url` (psql), for checks straight in the database.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new(server().bin.join("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The PostgreSQL binaries the server runs from.
pub fn server_bin() -> PathBuf {
    server().bin.clone()
}
