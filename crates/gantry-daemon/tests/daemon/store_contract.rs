//! The `Store` contract, one suite run against both backends: each case below becomes
//! `<case>::sqlite` and `<case>::postgres` (a fresh database on the test server).

use std::time::Duration;

use gantry_daemon::store::{
    CancelState, Committed, ConcurrencySpec, DeliveryStatus, NewDelivery, NewRun, PendingCommit,
    RunFilter, RunSpec,
};
use gantry_daemon::{
    AnnotationLevel, Conclusion, PlannedJobInfo, RestartPolicy, RunEvent, RunOutcome, SqliteStore,
    Store,
};

use crate::pg;

pub fn spec(repo: &str, jobs: &[&str]) -> RunSpec {
    RunSpec {
        repo: repo.to_owned(),
        repo_url: "/srv/repo".to_owned(),
        event: "push".to_owned(),
        payload: serde_json::json!({"ref": "refs/heads/main"}),
        git_ref: "refs/heads/main".to_owned(),
        sha: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        workflow_path: ".github/workflows/ci.yml".to_owned(),
        workflow_name: "CI".to_owned(),
        workflow_source: "on: push".to_owned(),
        jobs: jobs
            .iter()
            .map(|k| PlannedJobInfo {
                key: (*k).to_owned(),
                name: (*k).to_owned(),
                needs: Vec::new(),
            })
            .collect(),
        inputs: None,
    }
}

pub fn run(repo: &str) -> NewRun {
    NewRun::new(spec(repo, &["build"]))
}

pub fn grouped(group: &str, cancel_in_progress: bool) -> NewRun {
    let mut run = run("o/r");
    run.concurrency = Some(ConcurrencySpec {
        group: group.to_owned(),
        cancel_in_progress,
    });
    run
}

pub fn delivery(id: &str) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        event: "push".to_owned(),
        repo: Some("o/r".to_owned()),
        status: DeliveryStatus::Accepted,
        reason: None,
    }
}

pub fn queue(store: &dyn Store, runs: &[NewRun]) -> Vec<i64> {
    match store.commit(None, runs).unwrap() {
        Committed::New { run_ids, .. } => run_ids,
        Committed::Duplicate => panic!("no delivery, no duplicate"),
    }
}

fn claim(store: &dyn Store) -> Option<i64> {
    store.claim_next().unwrap().map(|c| c.id)
}

fn status(store: &dyn Store, id: i64) -> (String, Option<String>) {
    let run = store.run_detail(id).unwrap().unwrap().run;
    (run.status, run.conclusion)
}

fn done(conclusion: Conclusion) -> RunOutcome {
    RunOutcome::new(conclusion)
}

fn commit_records_a_delivery_once(store: &dyn Store) {
    let first = store.commit(Some(&delivery("d1")), &[run("o/r")]).unwrap();
    let Committed::New { run_ids, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(run_ids.len(), 1);
    assert!(store.has_delivery("d1").unwrap());
    assert!(!store.has_delivery("d2").unwrap());
    let again = store.commit(Some(&delivery("d1")), &[run("o/r")]).unwrap();
    assert_eq!(again, Committed::Duplicate);
    let runs = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "queued");
    assert_eq!(runs[0].delivery_id.as_deref(), Some("d1"));
    let deliveries = store.deliveries(10).unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "accepted");
}

fn a_batch_dedupes_inside_itself(store: &dyn Store) {
    let item = |id: &str, runs: Vec<NewRun>| PendingCommit {
        delivery: Some(delivery(id)),
        runs,
    };
    let results = store
        .commit_batch(&[
            item("b1", vec![run("o/r")]),
            item("b1", vec![run("o/r")]),
            item("b2", vec![]),
        ])
        .unwrap();
    assert!(matches!(&results[0], Ok(Committed::New { run_ids, .. }) if run_ids.len() == 1));
    assert!(matches!(&results[1], Ok(Committed::Duplicate)));
    assert!(matches!(&results[2], Ok(Committed::New { run_ids, .. }) if run_ids.is_empty()));
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 1);
    assert_eq!(store.deliveries(10).unwrap().len(), 2);
}

fn a_batch_keeps_each_runs_own_state(store: &dyn Store) {
    let mut failed = NewRun::new(spec("o/r", &["a", "b"]));
    failed.failed = Some("cannot plan".to_owned());
    let grouped_batch = [
        PendingCommit {
            delivery: Some(delivery("m1")),
            runs: vec![failed, NewRun::new(spec("o/r", &["x", "y"]))],
        },
        PendingCommit {
            delivery: None,
            runs: vec![run("o/s")],
        },
    ];
    let results = store.commit_batch(&grouped_batch).unwrap();
    let Ok(Committed::New { run_ids, .. }) = &results[0] else {
        panic!("{results:?}")
    };
    let broken = store.run_detail(run_ids[0]).unwrap().unwrap();
    assert_eq!(broken.run.status, "completed");
    assert_eq!(broken.run.reason.as_deref(), Some("cannot plan"));
    assert_eq!(broken.jobs[1].conclusion.as_deref(), Some("skipped"));
    let fine = store.run_detail(run_ids[1]).unwrap().unwrap();
    assert_eq!(fine.run.status, "queued");
    assert_eq!(fine.run.delivery_id.as_deref(), Some("m1"));
    let keys: Vec<&str> = fine.jobs.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(keys, ["x", "y"]);
    assert!(matches!(&results[1], Ok(Committed::New { run_ids, .. }) if run_ids.len() == 1));
    // The failed run is not claimable; the others are, oldest first.
    assert_eq!(claim(store), Some(run_ids[1]));
}

fn claims_take_the_oldest_and_respect_groups(store: &dyn Store) {
    let first = queue(store, &[grouped("deploy", false)])[0];
    assert_eq!(claim(store), Some(first));
    let ids = queue(store, &[grouped("Deploy", false), run("o/r")]);
    // `Deploy` is `deploy`: its run waits; the ungrouped one goes ahead.
    assert_eq!(claim(store), Some(ids[1]));
    assert_eq!(claim(store), None);
    store.finish_run(first, &done(Conclusion::Success)).unwrap();
    assert_eq!(claim(store), Some(ids[0]));
    assert_eq!(
        status(store, first),
        ("completed".into(), Some("success".into()))
    );
}

fn a_newer_run_supersedes_the_pending_one(store: &dyn Store) {
    let first = queue(store, &[grouped("g", false)])[0];
    assert_eq!(claim(store), Some(first));
    let pending = queue(store, &[grouped("g", false)])[0];
    let Committed::New {
        run_ids,
        superseded,
        cancel_running,
    } = store.commit(None, &[grouped("g", true)]).unwrap()
    else {
        panic!("duplicate without a delivery")
    };
    assert_eq!(superseded, vec![pending]);
    assert_eq!(cancel_running, vec![first]);
    assert_eq!(
        status(store, pending),
        ("completed".into(), Some("cancelled".into()))
    );
    assert_eq!(status(store, run_ids[0]).0, "queued");
}

fn progress_is_recorded_and_read_back(store: &dyn Store) {
    let id = queue(store, &[run("o/r")])[0];
    let claimed = store.claim_next().unwrap().unwrap();
    assert_eq!((claimed.id, claimed.attempt), (id, 1));
    assert_eq!(claimed.jobs.len(), 1);
    let job = || "build".to_owned();
    let log = |text: &str| RunEvent::Log {
        job: job(),
        step: Some(1),
        text: text.to_owned(),
    };
    store
        .apply(
            id,
            &[
                RunEvent::JobStarted {
                    job: job(),
                    name: "Build".to_owned(),
                },
                RunEvent::StepStarted {
                    job: job(),
                    number: 1,
                    name: "make".to_owned(),
                },
                log("one"),
                log("two"),
                log("three"),
                RunEvent::StepFinished {
                    job: job(),
                    number: 1,
                    conclusion: Conclusion::Success,
                },
                RunEvent::Annotation {
                    job: job(),
                    level: AnnotationLevel::Warning,
                    message: "careful".to_owned(),
                    file: Some("a.rs".to_owned()),
                    line: Some(3),
                },
                RunEvent::Summary {
                    job: job(),
                    markdown: "# done".to_owned(),
                },
                RunEvent::JobFinished {
                    job: job(),
                    conclusion: Conclusion::Success,
                },
            ],
        )
        .unwrap();
    let logs = store.logs(id, "build", 0, 100).unwrap();
    let texts: Vec<&str> = logs.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let rest = store.logs(id, "build", logs[1].id, 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].text, "three");
    store.finish_run(id, &done(Conclusion::Success)).unwrap();
    let detail = store.run_detail(id).unwrap().unwrap();
    let job = &detail.jobs[0];
    assert_eq!(
        (job.name.as_str(), job.status.as_str()),
        ("Build", "completed")
    );
    assert_eq!(job.steps[0].conclusion.as_deref(), Some("success"));
    assert_eq!(job.annotations[0].line, Some(3));
    assert_eq!(job.summary.as_deref(), Some("# done"));
    let states: Vec<&str> = detail.transitions.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(
        states,
        ["queued", "running", "running", "completed", "completed"]
    );
    assert_eq!(
        store.run_spec(id).unwrap().unwrap(),
        spec("o/r", &["build"])
    );
}

fn finishing_closes_what_is_still_open(store: &dyn Store) {
    let id = queue(store, &[NewRun::new(spec("o/r", &["a", "b"]))])[0];
    store.claim_next().unwrap().unwrap();
    store
        .apply(
            id,
            &[
                RunEvent::JobStarted {
                    job: "a".to_owned(),
                    name: "a".to_owned(),
                },
                RunEvent::StepStarted {
                    job: "a".to_owned(),
                    number: 1,
                    name: "s".to_owned(),
                },
            ],
        )
        .unwrap();
    let outcome = RunOutcome::with_reason(Conclusion::Failure, "engine error".to_owned());
    store.finish_run(id, &outcome).unwrap();
    let detail = store.run_detail(id).unwrap().unwrap();
    assert_eq!(detail.run.reason.as_deref(), Some("engine error"));
    assert_eq!(detail.jobs[0].conclusion.as_deref(), Some("failure"));
    assert_eq!(
        detail.jobs[0].steps[0].conclusion.as_deref(),
        Some("failure")
    );
    assert_eq!(detail.jobs[1].conclusion.as_deref(), Some("skipped"));
}

fn a_matrix_replaces_its_job_row(store: &dyn Store) {
    let id = queue(store, &[run("o/r")])[0];
    store.claim_next().unwrap().unwrap();
    let legs = vec![
        ("build-1".to_owned(), "build (1)".to_owned()),
        ("build-2".to_owned(), "build (2)".to_owned()),
    ];
    store
        .apply(
            id,
            &[RunEvent::MatrixExpanded {
                job: "build".to_owned(),
                legs,
            }],
        )
        .unwrap();
    let detail = store.run_detail(id).unwrap().unwrap();
    let keys: Vec<&str> = detail.jobs.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(keys, ["build-1", "build-2"]);
}

fn cancel_depends_on_the_state(store: &dyn Store) {
    let ids = queue(store, &[run("o/r"), run("o/r")]);
    assert_eq!(
        store.request_cancel(999_999, "x").unwrap(),
        CancelState::NotFound
    );
    assert_eq!(claim(store), Some(ids[0]));
    assert_eq!(
        store.request_cancel(ids[1], "stop").unwrap(),
        CancelState::Dequeued
    );
    assert_eq!(
        status(store, ids[1]),
        ("completed".into(), Some("cancelled".into()))
    );
    assert_eq!(
        store.request_cancel(ids[0], "stop").unwrap(),
        CancelState::Running
    );
    store
        .finish_run(ids[0], &done(Conclusion::Cancelled))
        .unwrap();
    assert_eq!(
        store.request_cancel(ids[0], "stop").unwrap(),
        CancelState::AlreadyFinished
    );
}

fn recovery_fails_or_requeues(store: &dyn Store) {
    let ids = queue(store, &[run("o/r"), run("o/r")]);
    assert_eq!(claim(store), Some(ids[0]));
    assert_eq!(store.recover(RestartPolicy::Fail).unwrap(), vec![ids[0]]);
    let failed = store.run_detail(ids[0]).unwrap().unwrap().run;
    assert_eq!(failed.conclusion.as_deref(), Some("failure"));
    assert!(failed.reason.unwrap().contains("daemon stopped"));
    assert_eq!(claim(store), Some(ids[1]));
    assert_eq!(store.recover(RestartPolicy::Requeue).unwrap(), vec![ids[1]]);
    let again = store.claim_next().unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (ids[1], 2));
}

fn a_rerun_skips_carried_jobs(store: &dyn Store) {
    let mut rerun = NewRun::new(spec("o/r", &["a", "b"]));
    rerun.rerun_of = Some(1);
    rerun.attempt = 2;
    rerun.carried = vec![("a".to_owned(), Conclusion::Success)];
    let id = queue(store, &[rerun])[0];
    let claimed = store.claim_next().unwrap().unwrap();
    assert_eq!(claimed.id, id);
    let keys: Vec<&str> = claimed.jobs.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(keys, ["b"]);
    let detail = store.run_detail(id).unwrap().unwrap();
    assert_eq!(detail.run.rerun_of, Some(1));
    assert_eq!(detail.jobs[0].conclusion.as_deref(), Some("success"));
}

fn filters_counts_and_prune(store: &dyn Store) {
    let ids = queue(store, &[run("o/a"), run("o/b"), run("o/b")]);
    let only_b = RunFilter {
        repo: Some("o/b".to_owned()),
        ..RunFilter::default()
    };
    let b: Vec<i64> = store
        .list_runs(&only_b)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(b, vec![ids[2], ids[1]]);
    let page = RunFilter {
        before: Some(ids[2]),
        limit: Some(1),
        ..RunFilter::default()
    };
    assert_eq!(store.list_runs(&page).unwrap()[0].id, ids[1]);
    assert_eq!(claim(store), Some(ids[0]));
    store
        .finish_run(ids[0], &done(Conclusion::Success))
        .unwrap();
    let counts = store.counts().unwrap();
    assert!(
        counts
            .runs
            .contains(&("queued".to_owned(), String::new(), 2))
    );
    assert!(
        counts
            .runs
            .contains(&("completed".to_owned(), "success".to_owned(), 1))
    );
    let later = gantry_daemon::store::now_ms() + 60_000;
    assert_eq!(store.prune(later).unwrap(), 1);
    assert!(store.run_detail(ids[0]).unwrap().is_none());
    assert!(store.run_detail(ids[1]).unwrap().is_some());
}

fn with_sqlite(case: fn(&dyn Store)) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    case(&store);
}

fn with_postgres(case: fn(&dyn Store)) {
    let store = pg::store(&pg::database(), "contract", Duration::from_secs(60));
    case(&store);
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn sqlite() {
                super::with_sqlite(super::$case);
            }
            #[test]
            fn postgres() {
                super::with_postgres(super::$case);
            }
        }
    )*};
}

contract!(
    commit_records_a_delivery_once,
    a_batch_dedupes_inside_itself,
    a_batch_keeps_each_runs_own_state,
    claims_take_the_oldest_and_respect_groups,
    a_newer_run_supersedes_the_pending_one,
    progress_is_recorded_and_read_back,
    finishing_closes_what_is_still_open,
    a_matrix_replaces_its_job_row,
    cancel_depends_on_the_state,
    recovery_fails_or_requeues,
    a_rerun_skips_carried_jobs,
    filters_counts_and_prune,
);
