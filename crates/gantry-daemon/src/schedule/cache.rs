//! The `schedule:` crons of each workflow file, parsed once per file version. The cron loop
//! wakes every minute; it lists the workflow directory's tree entries (their blob ids) and
//! parses only a file whose blob id it has not seen, so an unchanged repository costs a tree
//! walk a minute, not a parse of every workflow.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use gantry_workflow::cron::Cron;

use crate::planner::PlanFailure;

/// One repository's parsed crons, by workflow blob id.
type ByBlob = HashMap<git2::Oid, Arc<[Cron]>>;

/// Parsed crons by the workflow file's git blob id (content-addressed: the same id is the
/// same text, so an entry never goes stale; ids no longer in a repository's tree are dropped).
#[derive(Debug, Default)]
pub(crate) struct ScheduleCache {
    by_repo: Mutex<HashMap<String, ByBlob>>,
}

impl ScheduleCache {
    /// The crons of every workflow file in `commit`'s `.github/workflows`, and how many files
    /// had to be parsed for it.
    pub(crate) fn crons(
        &self,
        repo_name: &str,
        repo: &git2::Repository,
        commit: &git2::Commit<'_>,
    ) -> Result<(Vec<Cron>, usize), PlanFailure> {
        let blobs = workflow_blobs(repo, commit)?;
        let mut by_repo = self.by_repo.lock().unwrap_or_else(PoisonError::into_inner);
        let known = by_repo.remove(repo_name).unwrap_or_default();
        let mut current = HashMap::with_capacity(blobs.len());
        let mut parsed = 0;
        for (path, id) in blobs {
            let crons = match known.get(&id).or_else(|| current.get(&id)) {
                Some(crons) => Arc::clone(crons),
                None => {
                    parsed += 1;
                    // The size comes from the object header: an oversized workflow is never
                    // loaded (it has no schedule the daemon will fire), minute after minute.
                    let (size, _) = repo.odb()?.read_header(id)?;
                    if size as u64 > gantry_files::MAX_WORKFLOW_BYTES {
                        tracing::warn!(path, size, "workflow too large to read its schedule");
                        Arc::from(Vec::new())
                    } else {
                        let blob = repo.find_blob(id)?;
                        let text = String::from_utf8_lossy(blob.content());
                        Arc::from(schedule_crons(&path, &text))
                    }
                }
            };
            current.insert(id, crons);
        }
        let all = current.values().flat_map(|c| c.iter().cloned()).collect();
        by_repo.insert(repo_name.to_owned(), current);
        Ok((all, parsed))
    }
}

/// The `.github/workflows/*.yml|yaml` blobs of `commit`, by path, without reading them.
fn workflow_blobs(
    repo: &git2::Repository,
    commit: &git2::Commit<'_>,
) -> Result<Vec<(String, git2::Oid)>, PlanFailure> {
    let tree = commit.tree()?;
    let Ok(entry) = tree.get_path(Path::new(".github/workflows")) else {
        return Ok(Vec::new());
    };
    let dir = entry.to_object(repo)?.peel_to_tree()?;
    let mut blobs: Vec<_> = dir
        .iter()
        .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
        .filter_map(|e| {
            let name = e.name().ok()?;
            let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
            yaml.then(|| (format!(".github/workflows/{name}"), e.id()))
        })
        .collect();
    blobs.sort();
    Ok(blobs)
}

/// The `schedule:` crons of one workflow file; none when it has errors or no schedule.
pub(crate) fn schedule_crons(path: &str, text: &str) -> Vec<Cron> {
    let parsed = gantry_workflow::parse_workflow(path, text);
    let Some(workflow) = parsed.value.as_ref().filter(|_| !parsed.has_errors()) else {
        return Vec::new();
    };
    let Ok(triggers) = gantry_plan::Triggers::compile(&gantry_plan::trigger_specs(workflow)) else {
        return Vec::new();
    };
    triggers
        .get("schedule")
        .map(|trigger| trigger.crons.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_15: &str = "on:\n  schedule:\n    - cron: '*/15 * * * *'\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n";
    const NIGHTLY: &str = "on:\n  schedule:\n    - cron: '0 3 * * *'\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n";

    /// Commits `files` (path → text) as the whole `.github/workflows` directory.
    fn commit(repo: &git2::Repository, files: &[(&str, &str)]) -> git2::Oid {
        let mut workflows = repo.treebuilder(None).unwrap();
        for (name, text) in files {
            let blob = repo.blob(text.as_bytes()).unwrap();
            workflows.insert(name, blob, 0o100_644).unwrap();
        }
        let workflows = workflows.write().unwrap();
        let mut github = repo.treebuilder(None).unwrap();
        github.insert("workflows", workflows, 0o040_000).unwrap();
        let github = github.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert(".github", github, 0o040_000).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let who = git2::Signature::new("t", "t@example.invalid", &git2::Time::new(0, 0)).unwrap();
        repo.commit(None, &who, &who, "w", &tree, &[]).unwrap()
    }

    fn read(cache: &ScheduleCache, repo: &git2::Repository, id: git2::Oid) -> (Vec<String>, usize) {
        let commit = repo.find_commit(id).unwrap();
        let (crons, parsed) = cache.crons("o/r", repo, &commit).unwrap();
        let mut crons: Vec<String> = crons.iter().map(|c| c.as_str().to_owned()).collect();
        crons.sort();
        (crons, parsed)
    }

    #[test]
    fn only_changed_workflow_files_are_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let cache = ScheduleCache::default();
        let first = commit(
            &repo,
            &[("a.yml", EVERY_15), ("b.yml", NIGHTLY), ("c.txt", "x")],
        );
        let both = vec!["*/15 * * * *".to_owned(), "0 3 * * *".to_owned()];
        assert_eq!(read(&cache, &repo, first), (both.clone(), 2));
        // The next minute, nothing changed: nothing is parsed.
        assert_eq!(read(&cache, &repo, first), (both, 0));
        // One file edited: only it is parsed; its old crons are gone.
        let edited = commit(
            &repo,
            &[("a.yml", "on: push\njobs: {}\n"), ("b.yml", NIGHTLY)],
        );
        assert_eq!(
            read(&cache, &repo, edited),
            (vec!["0 3 * * *".to_owned()], 1)
        );
        // A renamed file with known content needs no parse; a removed one stops firing.
        let renamed = commit(&repo, &[("nightly.yaml", NIGHTLY)]);
        assert_eq!(
            read(&cache, &repo, renamed),
            (vec!["0 3 * * *".to_owned()], 0)
        );
        let removed = commit(&repo, &[]);
        assert_eq!(read(&cache, &repo, removed), (Vec::new(), 0));
        // Its entry was dropped with it: coming back means parsing again.
        assert_eq!(read(&cache, &repo, renamed).1, 1);
    }
}
