//! `gantry run --watch`: run, then run again whenever a file of the repository (workflows
//! included) changes. Changes are debounced (an editor's save is several events); a change
//! while a run is going cancels it first (steps stop, environments are cleaned up), then the
//! workflows are read and planned afresh. Ctrl-C stops watching.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::{RunError, run_attempt};
use crate::cli::RunArgs;
use crate::commands::Colors;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::terminal::Keyboard;

/// Quiet time after the last change before a run starts.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Directories whose changes are gantry's own or the tools' (run logs, git's objects, build
/// output): watching them would re-run forever.
const IGNORED: &[&str] = &[".gantry", ".git", "target", "node_modules"];

pub fn watch(
    args: &RunArgs,
    colors: Colors,
    keyboard: Option<&Arc<Keyboard>>,
) -> Result<Outcome, CliError> {
    let root = watch_root()?;
    let (tx, changes) = mpsc::unbounded_channel::<PathBuf>();
    let watched = root.clone();
    let mut last = fingerprint(&root);
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        let Ok(events) = result else {
            return;
        };
        let Some(event) = events.iter().find(|e| !ignored(&watched, &e.path)) else {
            return;
        };
        // inotify also reports reads (a host job copying the workspace opens every file):
        // only a change to what is on disk counts.
        let now = fingerprint(&watched);
        if now != last {
            last = now;
            let _ = tx.send(event.path.clone());
        }
    })
    .map_err(|e| RunError::Watch(e.to_string()))?;
    debouncer
        .watcher()
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| RunError::Watch(e.to_string()))?;
    let changes = Arc::new(Mutex::new(changes));
    // Waits for changes and Ctrl-C between runs, and forwards a change to the running attempt.
    let waiter = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let mut outcome;
    loop {
        let attempt = CancellationToken::new();
        let changed = Arc::new(AtomicBool::new(false));
        let forward = waiter.spawn(cancel_on_change(
            changes.clone(),
            attempt.clone(),
            changed.clone(),
        ));
        outcome = run_attempt(args, colors, &attempt, keyboard)?;
        forward.abort();
        if changed.load(Ordering::SeqCst) {
            output::note("gantry: files changed; running again\n");
            continue;
        }
        if outcome == Outcome::Cancelled {
            // Ctrl-C during the run stops watching too.
            return Ok(outcome);
        }
        output::note(&format!(
            "gantry: watching {} for changes (Ctrl-C to stop)\n",
            shown(&root)
        ));
        let next = waiter.block_on(async {
            let mut changes = changes.lock().await;
            tokio::select! {
                path = changes.recv() => path,
                // Ctrl-C, or the terminal closing: stop watching.
                _ = super::first_stop_signal() => None,
            }
        });
        match next {
            Some(_) => output::note("gantry: files changed; running again\n"),
            None => return Ok(outcome),
        }
    }
}

/// Cancels the running attempt at the first change.
async fn cancel_on_change(
    changes: Arc<Mutex<mpsc::UnboundedReceiver<PathBuf>>>,
    attempt: CancellationToken,
    changed: Arc<AtomicBool>,
) {
    let mut changes = changes.lock().await;
    if changes.recv().await.is_some() {
        changed.store(true, Ordering::SeqCst);
        output::note("\ngantry: files changed; cancelling the running attempt\n");
        attempt.cancel();
    }
}

/// The repository root, else the current directory.
fn watch_root() -> Result<PathBuf, CliError> {
    let cwd = std::env::current_dir().map_err(|source| CliError::Read {
        path: PathBuf::from("."),
        source,
    })?;
    Ok(crate::engine::repo_info(&cwd, false).map_or(cwd, |r| r.root))
}

/// Every file's path, size and modification time below `root` (ignored directories aside),
/// hashed: equal fingerprints mean nothing was written.
fn fingerprint(root: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if ignored(root, &path) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            path.hash(&mut hasher);
            meta.len().hash(&mut hasher);
            meta.modified().ok().hash(&mut hasher);
            if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    hasher.finish()
}

fn ignored(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .any(|c| IGNORED.iter().any(|i| c.as_os_str() == *i))
}

fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    match path.strip_prefix(&cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
