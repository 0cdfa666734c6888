//! A real PostgreSQL server for the metadata-on-PostgreSQL runs of the suite: one server per
//! test process, started on first use by `scripts/pg-temp.sh` on a free loopback port in a
//! temp directory, one database per registry. The script stops the server and removes its
//! directory when its stdin (a pipe from this process) closes, however the process ends.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

struct PgServer {
    port: u16,
    bin: PathBuf,
    /// Holds the script's stdin open; never waited for.
    _script: Mutex<Child>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn start() -> PgServer {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    // Each test may run in its own process: a kept, initialised data directory makes every
    // server start a copy instead of an initdb.
    let template = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pg-template");
    let mut child = Command::new(root.join("scripts/pg-temp.sh"))
        .arg("--template")
        .arg(&template)
        .arg(port.to_string())
        .args(["-c", "fsync=off"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/pg-temp.sh runs (scripts/ensure-tools.sh installs postgresql)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("pg-temp.sh answers");
    let Some(bin) = line.trim().strip_prefix("ready ").map(PathBuf::from) else {
        let mut why = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut why));
        panic!("the PostgreSQL server did not start: {why}");
    };
    PgServer {
        port,
        bin,
        _script: Mutex::new(child),
    }
}

/// A new, empty database on the test process's server; returns its URL.
pub fn database() -> String {
    let server = SERVER.get_or_init(start);
    let name = format!(
        "pkg{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let port = server.port.to_string();
    let status = Command::new(server.bin.join("createdb"))
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", &name])
        .status()
        .expect("createdb runs");
    assert!(status.success(), "createdb {name} failed");
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}
