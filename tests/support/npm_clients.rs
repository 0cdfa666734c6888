//! Real npm packages for tests that drive them with node (the runner services' clients, the
//! tool-cache probe), installed from the npm registry once per machine into the user's cache
//! directory, beside the files that drive them. Included with `#[path]` by several crates'
//! tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `<cache>/gantry-tests/<name>-<hash>` holding `node_modules` with `packages` (npm specs,
/// `@actions/cache@4.1.0`) and `files` (name, text) beside it. Keyed by the packages and the
/// files' text too, so an edited driver is installed afresh; built in a temp directory and
/// renamed into place, so a concurrent test process sees either nothing or all of it.
pub fn npm_installed(name: &str, packages: &[&str], files: &[(&str, &str)]) -> PathBuf {
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (packages, files).hash(&mut h);
        h.finish()
    };
    let dir = cache_dir().join(format!("gantry-tests/{name}-{key:016x}"));
    if is_complete(&dir, packages, files) {
        return dir;
    }
    let parent = dir.parent().unwrap();
    std::fs::create_dir_all(parent).unwrap();
    let tmp = tempfile::tempdir_in(parent).unwrap();
    std::fs::write(
        tmp.path().join("package.json"),
        format!(r#"{{"name":"{name}","private":true}}"#),
    )
    .unwrap();
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
        .args(packages)
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .status()
        .expect("npm must be installed (scripts/ensure-tools.sh)");
    assert!(status.success(), "npm install {packages:?} failed");
    for (file, text) in files {
        std::fs::write(tmp.path().join(file), text).unwrap();
    }
    let tmp = tmp.keep();
    // Another test process may have won the race; either copy is complete.
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

fn is_complete(dir: &Path, packages: &[&str], files: &[(&str, &str)]) -> bool {
    packages
        .iter()
        .all(|spec| dir.join("node_modules").join(package_name(spec)).is_dir())
        && files.iter().all(|(file, _)| dir.join(file).is_file())
}

/// `@actions/cache` of `@actions/cache@4.1.0`, `semver` of `semver@7`.
fn package_name(spec: &str) -> &str {
    match spec.rfind('@') {
        Some(at) if at > 0 => &spec[..at],
        _ => spec,
    }
}
