//! `schedule:` triggers. A loop wakes at every minute boundary, reads each repository's
//! workflows at the head of its default branch (as GitHub does), and queues a run for every
//! cron due that minute.
//!
//! Each firing is recorded as a delivery with the id `schedule:<repo>:<cron>:<unix minute>`,
//! so the delivery table's uniqueness makes a firing happen at most once even when the daemon
//! restarts within the minute. Minutes the daemon was down for are not back-filled (GitHub
//! skips them too when its scheduler is delayed).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

mod cache;

pub(crate) use cache::ScheduleCache;

use crate::daemon::Shared;
use crate::planner::{PlanFailure, fetch};
use crate::store::{Committed, DeliveryStatus, NewDelivery};

/// Planning a scheduled event is not on a webhook's clock; it may wait for the plan lock.
const PLAN_TIMEOUT: Duration = Duration::from_secs(60);

fn now_secs() -> i64 {
    crate::store::now_ms() / 1000
}

/// Runs until the daemon stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut minute = now_secs() / 60 * 60;
    loop {
        minute += 60;
        let wait = u64::try_from(minute - now_secs()).unwrap_or(0);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(wait)) => {}
            () = shared.stopping.cancelled() => return,
        }
        fire_minute(&shared, minute).await;
        // A long pause (suspended machine) skips the missed minutes.
        minute = minute.max(now_secs() / 60 * 60);
    }
}

/// Queues the runs of every schedule due at `minute` (unix seconds, a multiple of 60).
pub(crate) async fn fire_minute(shared: &Arc<Shared>, minute: i64) {
    let repos: Vec<String> = shared.config.repositories.keys().cloned().collect();
    for repo in repos {
        match due_crons(shared, &repo, minute).await {
            Ok(crons) => {
                for cron in crons {
                    fire(shared, &repo, &cron, minute).await;
                }
            }
            Err(e) => tracing::warn!(repo, error = %e, "cannot read schedules"),
        }
    }
}

/// The distinct cron strings of `repo`'s workflows that fire at `minute`.
async fn due_crons(
    shared: &Arc<Shared>,
    repo: &str,
    minute: i64,
) -> Result<BTreeSet<String>, PlanFailure> {
    let shared = shared.clone();
    let repo = repo.to_owned();
    let task = tokio::task::spawn_blocking(move || {
        let _guard = shared
            .plan_lock
            .lock()
            .map_err(|e| PlanFailure::Task(e.to_string()))?;
        let Some(config) = shared.config.repositories.get(&repo) else {
            return Ok(BTreeSet::new());
        };
        let mirror = fetch(&shared.config.data_dir, &repo, &config.url)?;
        let branch = format!("refs/heads/{}", config.default_branch);
        let commit = mirror.revparse_single(&branch)?.peel_to_commit()?;
        // Only workflow files whose blob changed since the last minute are parsed again.
        let (crons, parsed) = shared.schedules.crons(&repo, &mirror, &commit)?;
        tracing::debug!(repo, parsed, "schedules read");
        Ok(due_at(&crons, minute).collect())
    });
    task.await.map_err(|e| PlanFailure::Task(e.to_string()))?
}

/// The cron strings of one workflow file that fire exactly at `minute`.
#[cfg(test)]
fn crons_due(path: &str, text: &str, minute: i64) -> Vec<String> {
    due_at(&cache::schedule_crons(path, text), minute).collect()
}

/// The cron strings among `crons` that fire exactly at `minute`.
fn due_at(crons: &[gantry_workflow::cron::Cron], minute: i64) -> impl Iterator<Item = String> + '_ {
    crons
        .iter()
        .filter(move |c| c.next_after_unix(minute - 1) == Some(minute))
        .map(|c| c.as_str().to_owned())
}

/// Plans and records one firing (a no-op when it was already recorded).
async fn fire(shared: &Arc<Shared>, repo: &str, cron: &str, minute: i64) {
    let id = format!("schedule:{repo}:{cron}:{minute}");
    let lookup = id.clone();
    if let Ok(true) = shared.db(move |s| s.has_delivery(&lookup)).await {
        return;
    }
    let default_branch = shared
        .config
        .repositories
        .get(repo)
        .map(|r| r.default_branch.clone())
        .unwrap_or_default();
    let payload = json!({
        "schedule": cron,
        "repository": { "full_name": repo, "default_branch": default_branch },
    });
    let planned = match shared
        .plan(repo.to_owned(), "schedule".into(), payload, PLAN_TIMEOUT)
        .await
    {
        Ok(planned) => planned,
        Err(e) => {
            tracing::warn!(repo, cron, error = %e, "a schedule could not be planned");
            return;
        }
    };
    let delivery = NewDelivery {
        id: id.clone(),
        event: "schedule".to_owned(),
        repo: Some(repo.to_owned()),
        status: DeliveryStatus::Accepted,
        reason: None,
    };
    let runs = planned.runs;
    match shared.db(move |s| s.commit(Some(&delivery), &runs)).await {
        Ok(Committed::New {
            run_ids,
            cancel_running,
            ..
        }) => {
            tracing::info!(repo, cron, runs = ?run_ids, "schedule fired");
            crate::http::webhook::after_commit(shared, &run_ids, &cancel_running);
        }
        Ok(Committed::Duplicate) => {}
        Err(e) => tracing::error!(repo, cron, error = %e, "cannot record a schedule"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "on:\n  schedule:\n    - cron: '*/15 * * * *'\n    - cron: '0 3 * * 1'\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n";

    #[test]
    fn only_the_crons_due_that_minute_fire() {
        // 2026-11-23 (a Monday) 03:00 UTC.
        let monday_3am = 1_795_402_800;
        assert_eq!(
            crons_due("w.yml", WORKFLOW, monday_3am),
            ["*/15 * * * *", "0 3 * * 1"]
        );
        assert_eq!(
            crons_due("w.yml", WORKFLOW, monday_3am + 15 * 60),
            ["*/15 * * * *"]
        );
        assert!(crons_due("w.yml", WORKFLOW, monday_3am + 60).is_empty());
    }

    #[test]
    fn workflows_without_schedules_or_with_errors_fire_nothing() {
        assert!(crons_due("w.yml", "on: push\njobs: {}\n", 0).is_empty());
        assert!(crons_due("w.yml", "on: [\n", 0).is_empty());
    }
}
