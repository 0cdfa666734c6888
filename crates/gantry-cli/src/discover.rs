//! Finding and reading the files a command works on.

use std::path::{Path, PathBuf};

use crate::error::CliError;

/// How a file is read: `action.yml`/`action.yaml` are actions, everything else a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Workflow,
    Action,
}

impl FileKind {
    pub fn of(path: &Path) -> FileKind {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("action.yml" | "action.yaml") => FileKind::Action,
            _ => FileKind::Workflow,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Workflow => "workflow",
            FileKind::Action => "action",
        }
    }
}

/// A file's contents and the path it is shown under (as the user wrote it, or joined to it).
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub text: String,
}

impl SourceFile {
    /// The path as shown in reports, with `/` separators on every platform and without a
    /// leading `./` (so SARIF URIs are plain relative paths).
    pub fn display_path(&self) -> String {
        let path = self.path.to_string_lossy().replace('\\', "/");
        let mut rest = path.as_str();
        while let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        }
        rest.to_owned()
    }
}

pub const DEFAULT_WORKFLOWS: &str = ".github/workflows";

/// Directories never worth walking: version control and dependency trees.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules"];

/// The files `gantry validate` reads without arguments: the top level of `.github/workflows`
/// (GitHub ignores subdirectories there) and every action file at the top of `root` or under
/// `.github/` (where local actions live).
pub fn default_targets(root: &Path) -> Result<Vec<PathBuf>, CliError> {
    let workflows = root.join(DEFAULT_WORKFLOWS);
    let mut found = Vec::new();
    if workflows.is_dir() {
        found.extend(yaml_files_in(&workflows)?);
    }
    found.extend(
        ["action.yml", "action.yaml"]
            .iter()
            .map(|name| root.join(name))
            .filter(|p| p.is_file()),
    );
    let github = root.join(".github");
    if github.is_dir() {
        let mut actions = Vec::new();
        walk(&github, &mut actions)?;
        actions.retain(|p| FileKind::of(p) == FileKind::Action);
        found.extend(actions);
    }
    if found.is_empty() && !workflows.is_dir() {
        return Err(CliError::NoWorkflows { path: workflows });
    }
    Ok(found)
}

/// Expands the paths given on the command line: files as they are, directories walked. A file
/// named twice (`validate a.yml .`) is read once, where it first appears.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found)?;
        } else if path.exists() {
            found.push(path.clone());
        } else {
            return Err(CliError::Missing { path: path.clone() });
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    Ok(found)
}

/// The workflows `list` and `graph` read: a file, or the top level of a directory.
pub fn workflow_files(path: &Path) -> Result<Vec<PathBuf>, CliError> {
    if path.is_dir() {
        yaml_files_in(path)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else if path == Path::new(DEFAULT_WORKFLOWS) {
        Err(CliError::NoWorkflows {
            path: path.to_path_buf(),
        })
    } else {
        Err(CliError::Missing {
            path: path.to_path_buf(),
        })
    }
}

/// Reads a workflow or action file, refusing one over 1 MiB before reading it.
pub fn read(path: &Path) -> Result<SourceFile, CliError> {
    let text = gantry_files::read_workflow(path)?;
    Ok(SourceFile {
        path: path.to_path_buf(),
        kind: FileKind::of(path),
        text,
    })
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

/// The `*.yml`/`*.yaml` files directly in `dir`, sorted.
fn yaml_files_in(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut files: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_yaml(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Every `*.yml`/`*.yaml` file under `dir`, sorted, depth first.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let mut entries = read_dir(dir)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            let skipped = entry
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| SKIPPED_DIRS.contains(&n));
            if !skipped {
                walk(&entry, found)?;
            }
        } else if is_yaml(&entry) {
            found.push(entry);
        }
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let io_err = |source| CliError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        paths.push(entry.map_err(io_err)?.path());
    }
    Ok(paths)
}
