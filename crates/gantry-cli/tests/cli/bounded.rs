//! A sparse 1 GiB workflow file (or local action.yml) costs nothing on disk; every command
//! that reads repository files must refuse it by its size, without reading it. Peak memory of
//! the children is measured with `getrusage(RUSAGE_CHILDREN)` (this test process starts no
//! other children).

use std::path::Path;
use std::process::Command;

const GIB: u64 = 1 << 30;
/// Far above what gantry needs for a small workflow, far below the file's size.
const MAX_RSS_BYTES: i64 = 100 * 1024 * 1024;

fn sparse(path: &Path, size: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    file.set_len(size).unwrap();
}

/// The largest resident set of any child this process has waited for, in bytes.
fn children_peak_rss() -> i64 {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0);
    // Linux reports kilobytes.
    usage.ru_maxrss * 1024
}

fn gantry(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never"])
        .args(args)
        .current_dir(dir)
        .env_remove("GANTRY_WORKFLOWS")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_sparse_gigabyte_workflow_is_refused_by_its_size_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join(".github/workflows/huge.yml");
    sparse(&huge, GIB);
    let want =
        format!("huge.yml is {GIB} bytes, more than the 1048576-byte limit for workflow files");
    for args in [
        &["validate"][..],
        &["validate", ".github/workflows/huge.yml"],
        &["run", "--dry-run"],
        &["graph", ".github/workflows/huge.yml"],
        &["list"],
    ] {
        let (status, text) = gantry(dir.path(), args);
        assert_ne!(status, 0, "gantry {args:?} accepted it: {text}");
        assert!(text.contains(&want), "gantry {args:?}: {text}");
    }
    let peak = children_peak_rss();
    eprintln!("peak resident set of the children: {peak} bytes");
    assert!(
        peak < MAX_RSS_BYTES,
        "a child reached {peak} bytes resident"
    );
}

#[test]
fn a_sparse_gigabyte_local_action_is_not_read_by_the_linter() {
    let dir = tempfile::tempdir().unwrap();
    let workflow =
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./act\n";
    let path = dir.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, workflow).unwrap();
    sparse(&dir.path().join("act/action.yml"), GIB);
    let (status, text) = gantry(dir.path(), &["validate"]);
    assert_eq!(status, 0, "{text}");
    let huge_action = dir.path().join("act/action.yml");
    let (status, text) = gantry(dir.path(), &["validate", huge_action.to_str().unwrap()]);
    assert_ne!(status, 0, "{text}");
    assert!(text.contains("more than the 1048576-byte limit"), "{text}");
    let peak = children_peak_rss();
    eprintln!("peak resident set of the children: {peak} bytes");
    assert!(
        peak < MAX_RSS_BYTES,
        "a child reached {peak} bytes resident"
    );
}

/// A step makes `act/action.yml` a sparse gigabyte, the next runs `./act`: the runner refuses
/// the file by its size (`Executor::read_file_within`), it never reads it.
fn run_a_gigabyte_local_action(platform: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let workflow = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      \
        - run: mkdir -p act && truncate -s 1G act/action.yml\n      \
        - uses: ./act\n";
    let path = dir.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, workflow).unwrap();
    let (status, text) = gantry(dir.path(), &["run", "-P", platform]);
    assert_ne!(status, 0, "{text}");
    assert!(
        text.contains("act/action.yml is larger than the 1048576-byte limit (1073741824 bytes)"),
        "{text}"
    );
    let peak = children_peak_rss();
    eprintln!("peak resident set of the children: {peak} bytes");
    assert!(
        peak < MAX_RSS_BYTES,
        "a child reached {peak} bytes resident"
    );
    (dir, text)
}

#[test]
fn a_gigabyte_local_action_is_refused_by_size_by_the_host_runner() {
    run_a_gigabyte_local_action("ubuntu-latest=host");
}

#[test]
fn a_gigabyte_local_action_is_refused_by_size_by_the_docker_runner() {
    crate::run_docker::docker_ready();
    let (dir, _) = run_a_gigabyte_local_action("ubuntu-latest=gantry/busybox:latest");
    assert_eq!(
        crate::run_docker::leftovers(dir.path()),
        Vec::<String>::new()
    );
}
