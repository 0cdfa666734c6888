//! `gantry packages ...`: serving the registry, tokens, and listing/showing/deleting what the
//! real npm CLI published to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::test::Test;

/// `gantry packages serve` in the background on a free loopback port.
pub struct Served {
    child: Child,
    pub addr: String,
    /// The administrator token it printed.
    pub token: String,
}

impl Served {
    pub fn start(data_dir: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["packages", "serve", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut field = |name: &str| {
            let line = lines.next().unwrap().unwrap();
            line.strip_prefix(&format!("{name}: "))
                .unwrap_or_else(|| panic!("expected `{name}: ...`, got {line:?}"))
                .to_owned()
        };
        let addr = field("address");
        assert_eq!(field("npm"), format!("http://{addr}/"));
        assert_eq!(field("containers"), addr);
        let token = field("token");
        Served { child, addr, token }
    }

    /// Ctrl-C, as a user stops it.
    pub fn stop(self) -> ExitStatus {
        self.signal(libc::SIGINT)
    }

    /// `signal` to our own child (never a process group), then its exit status.
    pub fn signal(mut self, signal: libc::c_int) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        assert!(pid > 1);
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed test must not leave the server running (no-op once stopped).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gantry packages ARGS` on `data_dir`.
fn packages(data_dir: &Path, args: &[&str]) -> Test {
    Test::new()
        .args(["packages"])
        .args(args.iter().copied())
        .env("GANTRY_DATA_DIR", data_dir.to_str().unwrap())
}

/// Runs npm in `dir` with its cache and user config kept inside `dir`.
pub fn npm(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .env("npm_config_cache", dir.join(".npm-cache"))
        .env("npm_config_userconfig", dir.join(".npmrc"))
        .env("npm_config_update_notifier", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "npm {args:?} failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An `.npmrc` sending `@scope` to the registry at `addr` with `token`.
pub fn npmrc(scope: &str, addr: &str, token: &str) -> String {
    format!("@{scope}:registry=http://{addr}/\n//{addr}/:_authToken={token}\n")
}

fn publish(dir: &Path, served: &Served, token: &str, version: &str) {
    let pkg = dir.join(format!("pkg-{version}"));
    std::fs::create_dir_all(&pkg).unwrap();
    let manifest = format!(r#"{{"name": "@octo/demo", "version": "{version}"}}"#);
    std::fs::write(pkg.join("package.json"), manifest).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 42;\n").unwrap();
    std::fs::write(pkg.join(".npmrc"), npmrc("octo", &served.addr, token)).unwrap();
    npm(&pkg, &["publish"]);
}

#[test]
fn serve_token_list_show_and_delete() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    packages(&data, &["list"]).stderr("no packages\n").run();
    let served = Served::start(&data);
    assert!(served.token.starts_with("gtk_"), "{}", served.token);
    let created = packages(
        &data,
        &["token", "create", "--owner", "octo", "--scopes", "write"],
    )
    .output();
    let writer = created.stdout.trim().to_owned();
    assert!(writer.starts_with("gtk_"), "{writer}");

    publish(work.path(), &served, &writer, "1.0.0");
    publish(work.path(), &served, &writer, "1.1.0");
    packages(&data, &["list"])
        .stdout("npm        @octo/demo  private  2 versions\n")
        .run();
    packages(&data, &["show", "@octo/demo"])
        .stdout(
            "
            @octo/demo (npm, owner octo, private)
              1.0.0
              1.1.0  [latest]
            ",
        )
        .run();
    packages(&data, &["delete", "@octo/demo@1.1.0"])
        .stdout("deleted @octo/demo@1.1.0\n")
        .run();
    packages(&data, &["show", "@octo/demo"])
        .stdout(
            "
            @octo/demo (npm, owner octo, private)
              1.0.0  [latest]
            ",
        )
        .run();
    packages(&data, &["delete", "@octo/demo@9.9.9"])
        .stderr(
            "error: `@octo/demo` has no version `9.9.9` (see `gantry packages show @octo/demo`)\n",
        )
        .status(2)
        .run();
    packages(&data, &["delete", "@octo/demo"])
        .stdout("deleted @octo/demo\n")
        .run();
    // Both tarballs are younger than gc's grace period, so they stay.
    packages(&data, &["gc"])
        .stdout("removed 0 blobs (0 bytes), 0 stale uploads\n")
        .run();
    packages(&data, &["show", "@octo/demo"])
        .stderr("error: no package named `@octo/demo` (see `gantry packages list`)\n")
        .status(2)
        .run();
    assert!(served.stop().success());
}

/// SIGTERM stops the server cleanly too, and its administrator token dies with it.
#[test]
fn serve_stops_on_sigterm_and_revokes_its_token() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let served = Served::start(&data);
    let (addr, token) = (served.addr.clone(), served.token.clone());
    assert!(served.signal(libc::SIGTERM).success());
    // The token no longer works on the next server of the same data.
    let again = Served::start(&data);
    let whoami = |token: &str| {
        let dir = work.path().join("probe");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".npmrc"), npmrc("octo", &again.addr, token)).unwrap();
        Command::new("npm")
            .args(["whoami", "--registry", &format!("http://{}/", again.addr)])
            .current_dir(&dir)
            .env("npm_config_userconfig", dir.join(".npmrc"))
            .env("npm_config_cache", dir.join(".npm-cache"))
            .output()
            .unwrap()
    };
    let current = whoami(&again.token);
    assert_eq!(
        String::from_utf8_lossy(&current.stdout),
        "gantry-admin\n",
        "{current:?}"
    );
    let revoked = whoami(&token);
    assert!(
        !revoked.status.success(),
        "{revoked:?} (first server was {addr})"
    );
    assert!(again.stop().success());
}

#[test]
fn bad_scopes_are_named() {
    let work = tempfile::tempdir().unwrap();
    packages(work.path(), &["token", "create", "--scopes", "read,admin"])
        .stderr("error: unknown scope `admin` (expected read, write or delete)\n")
        .status(2)
        .run();
}

const SHOW_REGISTRY: &str = r#"
    on: push
    jobs:
      show:
        runs-on: ubuntu-latest
        steps:
          - run: echo "env=$GANTRY_REGISTRY $GANTRY_NPM_REGISTRY vars=${{ vars.GANTRY_REGISTRY }}"
    "#;

/// Jobs see the registry as env vars and `vars`; `--registry` names another one (nothing is
/// started, so this runs on the host executor without Docker).
#[test]
fn jobs_get_the_registry_as_env_and_vars() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", SHOW_REGISTRY)
        .args([
            "run",
            "-P",
            "ubuntu-latest=host",
            "--registry",
            "http://registry.example:4873",
        ])
        .output();
    assert!(
        out.stdout.contains(
            "[show]   env=registry.example:4873 http://registry.example:4873/ vars=registry.example:4873\n"
        ),
        "{}",
        out.stdout
    );
    Test::new()
        .args(["run", "-P", "ubuntu-latest=host"])
        .args(["--registry", "registry.example:4873"])
        .file(".github/workflows/ci.yml", SHOW_REGISTRY)
        .stderr("error: --registry `registry.example:4873`: expected an http:// or https:// URL with a host\n")
        .status(2)
        .run();
}

/// The files in the registry's `uploads/` directory under `data_dir`.
fn upload_files(data_dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.parent().is_some_and(|p| p.ends_with("uploads")) {
                out.push((path.clone(), entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    let mut out = Vec::new();
    walk(data_dir, &mut out);
    out
}

fn gc(data_dir: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["packages", "--data-dir"])
        .arg(data_dir)
        .arg("gc")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A blob upload in flight when the server is killed leaves its partial file; `packages gc`
/// and the next start remove it, while an upload a live server is writing survives a gc.
#[test]
fn partial_uploads_left_by_kill_9_are_removed_by_gc_and_at_start() {
    use std::io::Write;
    for cleanup in ["gc", "restart"] {
        let data = tempfile::tempdir().unwrap();
        let served = Served::start(data.path());
        let mut stream = std::net::TcpStream::connect(&served.addr).unwrap();
        let digest = format!("sha256:{}", "0".repeat(64));
        let head = format!(
            "POST /v2/octo/partial/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: 1000000\r\n\r\n",
            served.addr, served.token
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![7u8; 65536]).unwrap();
        let mut partial = Vec::new();
        for _ in 0..400 {
            partial = upload_files(data.path());
            if partial.iter().any(|(_, len)| *len >= 65536) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(
            partial.iter().any(|(_, len)| *len >= 65536),
            "no partial upload on disk: {partial:?}"
        );
        gc(data.path());
        assert_eq!(
            upload_files(data.path()).len(),
            partial.len(),
            "gc removed a live upload"
        );
        assert!(!served.signal(libc::SIGKILL).success());
        drop(stream);
        assert!(
            !upload_files(data.path()).is_empty(),
            "{cleanup}: nothing was left to clean"
        );
        match cleanup {
            "gc" => gc(data.path()),
            _ => {
                let again = Served::start(data.path());
                assert!(again.stop().success());
            }
        }
        assert_eq!(
            upload_files(data.path()),
            Vec::new(),
            "{cleanup} kept a partial upload"
        );
    }
}
