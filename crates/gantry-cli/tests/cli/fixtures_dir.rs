//! Cases as folders under `tests/fixtures/cli/` at the repository root, so a case can be added
//! without writing Rust. Each case folder holds:
//!
//! - `args`: the arguments, one per line (`$CONFORMANCE` is replaced by the path of
//!   `shared/conformance`, for real webhook payloads and workflows);
//! - `files/`: copied into the temporary directory the command runs in (optional);
//! - `stdout`, `stderr` (optional, empty when absent) and `status` (optional, `0` when absent):
//!   the whole expected output.

use std::fs;
use std::path::{Path, PathBuf};

use crate::test::Test;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cli");
const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

#[test]
fn fixture_cases() {
    let mut cases: Vec<PathBuf> = fs::read_dir(CASES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {CASES}");
    for case in &cases {
        eprintln!("case {}", case.display());
        run_case(case);
    }
}

fn run_case(case: &Path) {
    let read = |name: &str| fs::read_to_string(case.join(name)).unwrap_or_default();
    let args: Vec<String> = read("args")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.replace("$CONFORMANCE", CONFORMANCE))
        .collect();
    let mut test = Test::new().args(args);
    for (relative, contents) in files(&case.join("files")) {
        test = test.file_verbatim(&relative, &contents);
    }
    let status = read("status").trim().parse().unwrap_or(0);
    test.stdout_verbatim(&read("stdout"))
        .stderr_verbatim(&read("stderr"))
        .status(status)
        .run();
}

/// Every file under `dir`, as (path relative to `dir`, contents).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = fs::read_dir(&next) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.push((relative, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found
}
