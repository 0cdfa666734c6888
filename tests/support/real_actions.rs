//! The real actions the runner-services tests of several crates use (included with
//! `#[path]`): the published ones in `../shared/actions`, the sources-only ones built by
//! `scripts/built-action.sh` (once per commit, cached), and the workflows in
//! `tests/fixtures/services/` that run them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (crates sit two levels below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/actions/actions/<name>` (`cache@v4`, ...).
pub fn shared_action(name: &str) -> PathBuf {
    repo_root().join("../shared/actions/actions").join(name)
}

/// `action.yml` and the built `dist/` of a sources-only action (`upload-artifact@v4`,
/// `download-artifact@v4`).
pub fn built_action(name: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/built-action.sh"))
        .arg(name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/built-action.sh {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The real actions the service workflows use, as action-store names and directories.
pub fn stored_actions() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("actions/cache@v4", shared_action("cache@v4")),
        (
            "actions/github-script@v7",
            shared_action("github-script@v7"),
        ),
        (
            "actions/upload-artifact@v4",
            built_action("upload-artifact@v4"),
        ),
        (
            "actions/download-artifact@v4",
            built_action("download-artifact@v4"),
        ),
    ]
}

/// `tests/fixtures/services/<name>`.
pub fn services_workflow(name: &str) -> String {
    let path = repo_root().join("tests/fixtures/services").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
