//! Restart durability through the store: what was committed runs exactly once after a
//! restart; what was running is failed (or re-queued) and reaped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gantry_daemon::store::{
    CommitResult, Committed, DeliveryStatus, NewDelivery, NewRun, PendingCommit, RunFilter,
    RunSpec, SqliteStore, Store,
};
use gantry_daemon::{
    EngineLauncher, PlannedJobInfo, QueuedRun, RestartPolicy, RunEvent, RunLauncher, RunOutcome,
};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::common::*;

/// The engine on the host, counting launches and reaps.
struct Counting {
    inner: EngineLauncher,
    launches: AtomicUsize,
    reaps: AtomicUsize,
}

impl Counting {
    fn new(env: &Env) -> Counting {
        Counting {
            inner: env.launcher(),
            launches: AtomicUsize::new(0),
            reaps: AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl RunLauncher for Counting {
    async fn run(
        &self,
        run: QueuedRun,
        events: mpsc::Sender<RunEvent>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        self.launches.fetch_add(1, Ordering::SeqCst);
        self.inner.run(run, events, cancel).await
    }

    async fn reap(&self) {
        self.reaps.fetch_add(1, Ordering::SeqCst);
    }
}

fn spec(env: &Env, workflow: &str) -> RunSpec {
    RunSpec {
        repo: REPO.to_owned(),
        repo_url: env.config.repositories[REPO].url.clone(),
        event: "release".to_owned(),
        payload: json!({"action": "published"}),
        git_ref: "refs/tags/0.0.1".to_owned(),
        sha: head_sha(std::path::Path::new(&env.config.repositories[REPO].url)),
        workflow_path: ".github/workflows/m.yml".to_owned(),
        workflow_name: "m".to_owned(),
        workflow_source: workflow.to_owned(),
        jobs: vec![PlannedJobInfo {
            key: "build".to_owned(),
            name: "build".to_owned(),
            needs: vec![],
        }],
        inputs: None,
    }
}

fn delivery(id: &str) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        event: "release".to_owned(),
        repo: Some(REPO.to_owned()),
        status: DeliveryStatus::Accepted,
        reason: None,
    }
}

/// A repository whose mirror exists, as after a delivery was planned.
fn env_with_repo() -> Env {
    let mut env = Env::new();
    env.repo(REPO, &[("README.md", "hello")]);
    let url = &env.config.repositories[REPO].url;
    gantry_daemon::planner::fetch(&env.config.data_dir, REPO, url).unwrap();
    env
}

#[tokio::test]
async fn committed_runs_execute_exactly_once_across_restarts() {
    let env = env_with_repo();
    let workflow = marking_workflow(&env, "release");
    {
        // Acknowledged deliveries, as the webhook commits them, then the process "dies".
        let store = SqliteStore::open(&env.config.data_dir).unwrap();
        for i in 0..3 {
            let runs = [
                NewRun::new(spec(&env, &workflow)),
                NewRun::new(spec(&env, &workflow)),
            ];
            store
                .commit(Some(&delivery(&format!("d{i}"))), &runs)
                .unwrap();
        }
    }
    let launcher = Arc::new(Counting::new(&env));
    let mut server = env.start_with(launcher.clone()).await;
    for id in 1..=6 {
        let run = server.client.wait_completed(id).await;
        assert_eq!(run["conclusion"], "success", "{run}");
    }
    server.stop().await;
    assert_eq!(launcher.launches.load(Ordering::SeqCst), 6);
    // A second restart finds nothing to do.
    let launcher2 = Arc::new(Counting::new(&env));
    let mut server = env.start_with(launcher2.clone()).await;
    assert!(server.handle().recovered().is_empty());
    server.stop().await;
    assert_eq!(launcher2.launches.load(Ordering::SeqCst), 0);
    let mut marks = env.marks();
    marks.sort();
    assert_eq!(
        marks,
        (1..=6)
            .map(|i| format!("run {i} published"))
            .collect::<Vec<_>>()
    );
}

/// Commits one run and claims it, as a daemon that died mid-run leaves it.
fn crashed_mid_run(env: &Env, workflow: &str) {
    let store = SqliteStore::open(&env.config.data_dir).unwrap();
    store
        .commit(Some(&delivery("d1")), &[NewRun::new(spec(env, workflow))])
        .unwrap();
    let claimed = store.claim_next().unwrap().unwrap();
    store
        .apply(
            claimed.id,
            &[RunEvent::JobStarted {
                job: "build".into(),
                name: "build".into(),
            }],
        )
        .unwrap();
}

#[tokio::test]
async fn runs_in_flight_at_a_crash_fail_with_the_reason_and_are_reaped() {
    let env = env_with_repo();
    crashed_mid_run(&env, &marking_workflow(&env, "release"));
    let launcher = Arc::new(Counting::new(&env));
    let mut server = env.start_with(launcher.clone()).await;
    assert_eq!(server.handle().recovered(), [1]);
    let run = server.client.run(1).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "failure");
    assert!(
        run["reason"].as_str().unwrap().contains("daemon stopped"),
        "{run}"
    );
    assert_eq!(run["jobs"][0]["conclusion"], "failure");
    server.stop().await;
    assert_eq!(launcher.reaps.load(Ordering::SeqCst), 1);
    assert_eq!(launcher.launches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn runs_in_flight_at_a_crash_can_be_requeued_by_config() {
    let mut env = env_with_repo();
    env.config.on_restart = RestartPolicy::Requeue;
    crashed_mid_run(&env, &marking_workflow(&env, "release"));
    let launcher = Arc::new(Counting::new(&env));
    let mut server = env.start_with(launcher.clone()).await;
    let run = server.client.wait_completed(1).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["attempt"], 2);
    server.stop().await;
    assert_eq!(launcher.launches.load(Ordering::SeqCst), 1);
    assert_eq!(launcher.reaps.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_delivery_and_its_runs_commit_together_or_not_at_all() {
    let env = env_with_repo();
    let store = SqliteStore::open(&env.config.data_dir).unwrap();
    let workflow = marking_workflow(&env, "release");
    let first = store
        .commit(Some(&delivery("x")), &[NewRun::new(spec(&env, &workflow))])
        .unwrap();
    assert!(matches!(first, gantry_daemon::store::Committed::New { .. }));
    let again = store
        .commit(Some(&delivery("x")), &[NewRun::new(spec(&env, &workflow))])
        .unwrap();
    assert_eq!(again, gantry_daemon::store::Committed::Duplicate);
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 1);
}

#[tokio::test]
async fn a_group_commit_records_each_delivery_once_in_order() {
    let env = env_with_repo();
    let store = SqliteStore::open(&env.config.data_dir).unwrap();
    let workflow = marking_workflow(&env, "release");
    let item = |id: &str| PendingCommit {
        delivery: Some(delivery(id)),
        runs: vec![NewRun::new(spec(&env, &workflow))],
    };
    store.commit(Some(&delivery("old")), &[]).unwrap();
    // A new delivery, another, a copy of the first in the same batch, an already stored one.
    let batch = [item("a"), item("b"), item("a"), item("old")];
    let results = store.commit_batch(&batch).unwrap();
    let new =
        |r: &CommitResult| matches!(r, Ok(Committed::New { run_ids, .. }) if run_ids.len() == 1);
    let duplicate = |r: &CommitResult| matches!(r, Ok(Committed::Duplicate));
    assert_eq!(results.len(), 4);
    assert!(new(&results[0]) && new(&results[1]), "{results:?}");
    assert!(
        duplicate(&results[2]) && duplicate(&results[3]),
        "{results:?}"
    );
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 2);
    assert!(store.has_delivery("b").unwrap());
}

#[tokio::test]
async fn retention_prunes_finished_runs_their_logs_and_old_deliveries() {
    let env = env_with_repo();
    let store = SqliteStore::open(&env.config.data_dir).unwrap();
    let workflow = marking_workflow(&env, "release");
    let runs = [
        NewRun::new(spec(&env, &workflow)),
        NewRun::new(spec(&env, &workflow)),
    ];
    store.commit(Some(&delivery("old")), &runs).unwrap();
    store.commit(Some(&delivery("empty")), &[]).unwrap();
    let claimed = store.claim_next().unwrap().unwrap();
    let log = RunEvent::Log {
        job: "build".into(),
        step: Some(1),
        text: "hello".into(),
    };
    store.apply(claimed.id, &[log]).unwrap();
    store
        .finish_run(
            claimed.id,
            &RunOutcome::new(gantry_daemon::Conclusion::Success),
        )
        .unwrap();
    let later = gantry_daemon::store::now_ms() + 1000;
    assert_eq!(store.prune(later).unwrap(), 1);
    assert!(store.run_detail(claimed.id).unwrap().is_none());
    assert!(store.logs(claimed.id, "build", 0, 10).unwrap().is_empty());
    let left = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, "queued");
    // The queued run still refers to "old"; "empty" started nothing and is gone.
    assert!(store.has_delivery("old").unwrap());
    assert!(!store.has_delivery("empty").unwrap());
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let env = env_with_repo();
    let mut first = env.start().await;
    let second = gantry_daemon::Daemon::start(env.config.clone(), Arc::new(env.launcher())).await;
    assert!(
        matches!(second, Err(gantry_daemon::DaemonError::Locked(_))),
        "{:?}",
        second.err()
    );
    first.stop().await;
    let mut again = env.start().await;
    again.stop().await;
}
