//! What only a shared store does: two `PgStore`s (two daemons) on one database, leases, the
//! reaper, notifications, and schema migrations.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gantry_daemon::store::{Committed, StoreSignal, postgres::schema};
use gantry_daemon::{Conclusion, PgStore, RestartPolicy, RunEvent, RunOutcome, Store, StoreError};

use crate::pg;
use crate::store_contract::{delivery, grouped, queue, run};

const LONG: Duration = Duration::from_secs(60);

/// Waits until the store's LISTEN connection is up (it connects in the background): a
/// notification sent by hand arrives.
fn until_listening(url: &str, signals: &mut tokio::sync::broadcast::Receiver<StoreSignal>) {
    for _ in 0..200 {
        pg::psql(url, "NOTIFY gantry_queue");
        std::thread::sleep(Duration::from_millis(50));
        if std::iter::from_fn(|| signals.try_recv().ok()).any(|s| s == StoreSignal::Queue) {
            return;
        }
    }
    panic!("the store never listened");
}

/// Waits (bounded) for a signal matching `want`.
fn wait_signal(
    signals: &mut tokio::sync::broadcast::Receiver<StoreSignal>,
    want: impl Fn(&StoreSignal) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match signals.try_recv() {
            Ok(signal) if want(&signal) => return,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("the signal never came");
}

#[test]
fn two_stores_claim_a_stream_without_double_claims() {
    let url = pg::database();
    let (a, b) = (pg::store(&url, "a", LONG), pg::store(&url, "b", LONG));
    let ids: HashSet<i64> = queue(&a, &vec![run("o/r"); 60]).into_iter().collect();
    fn take(store: &PgStore) -> Vec<i64> {
        let mut mine = Vec::new();
        while let Some(run) = store.claim_next().unwrap() {
            mine.push(run.id);
        }
        mine
    }
    let claimed = std::thread::scope(|scope| {
        let (ta, tb) = (scope.spawn(|| take(&a)), scope.spawn(|| take(&b)));
        let mut all = ta.join().unwrap();
        all.extend(tb.join().unwrap());
        all
    });
    assert_eq!(claimed.len(), 60, "every run claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
}

#[test]
fn the_same_delivery_from_two_daemons_makes_one_run() {
    let url = pg::database();
    let (a, b) = (pg::store(&url, "a", LONG), pg::store(&url, "b", LONG));
    for round in 0..20 {
        let id = format!("same-{round}");
        let (ra, rb) = std::thread::scope(|scope| {
            let ta = scope.spawn(|| a.commit(Some(&delivery(&id)), &[run("o/r")]).unwrap());
            let tb = scope.spawn(|| b.commit(Some(&delivery(&id)), &[run("o/r")]).unwrap());
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let duplicates = [&ra, &rb]
            .iter()
            .filter(|c| ***c == Committed::Duplicate)
            .count();
        assert_eq!(duplicates, 1, "{ra:?} {rb:?}");
    }
    assert_eq!(pg::psql(&url, "SELECT count(*) FROM runs"), "20");
}

#[test]
fn a_group_runs_once_across_daemons() {
    let url = pg::database();
    let (a, b) = (pg::store(&url, "a", LONG), pg::store(&url, "b", LONG));
    let first = queue(&a, &[grouped("g", false)])[0];
    assert_eq!(a.claim_next().unwrap().map(|r| r.id), Some(first));
    let second = queue(&b, &[grouped("g", false)])[0];
    assert!(b.claim_next().unwrap().is_none());
    // The partial unique index holds even for a claim that skipped the group check.
    let forced = pg::psql(
        &url,
        &format!(
            "UPDATE runs SET status = 'running' WHERE id = {second} AND NOT EXISTS
             (SELECT 1 FROM pg_indexes WHERE indexname = 'one_running_per_group') RETURNING id"
        ),
    );
    assert_eq!(forced, "", "the index exists");
    let out = std::process::Command::new(pg::server_bin().join("psql"))
        .args(["-X", "-q", &url, "-c"])
        .arg(format!(
            "UPDATE runs SET status = 'running' WHERE id = {second}"
        ))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("one_running_per_group"));
    a.finish_run(first, &RunOutcome::new(Conclusion::Success))
        .unwrap();
    assert_eq!(b.claim_next().unwrap().map(|r| r.id), Some(second));
}

#[test]
fn an_expired_lease_is_reaped_and_its_old_owner_locked_out() {
    let url = pg::database();
    let a = pg::store(&url, "a", Duration::from_secs(1));
    let b = pg::store(&url, "b", LONG);
    let id = queue(&a, &[run("o/r")])[0];
    assert_eq!(a.claim_next().unwrap().map(|r| r.id), Some(id));
    assert_eq!(b.reap(RestartPolicy::Requeue).unwrap(), Vec::<i64>::new());
    assert!(a.renew_leases(&[id]).unwrap().lost.is_empty());
    // No renewal for longer than the lease: daemon `a` is as good as dead.
    let mut reaped = Vec::new();
    for _ in 0..100 {
        reaped = b.reap(RestartPolicy::Requeue).unwrap();
        if !reaped.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(reaped, vec![id]);
    let log = RunEvent::Log {
        job: "build".to_owned(),
        step: None,
        text: "late".to_owned(),
    };
    assert!(matches!(a.apply(id, &[log]), Err(StoreError::LeaseLost(i)) if i == id));
    assert_eq!(a.renew_leases(&[id]).unwrap().lost, vec![id]);
    let again = b.claim_next().unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (id, 2));
    let finished = a.finish_run(id, &RunOutcome::new(Conclusion::Success));
    assert!(matches!(finished, Err(StoreError::LeaseLost(_))));
    b.finish_run(id, &RunOutcome::new(Conclusion::Success))
        .unwrap();
    assert!(a.logs(id, "build", 0, 10).unwrap().is_empty());
}

#[test]
fn the_fail_policy_fails_a_dead_daemons_run() {
    let url = pg::database();
    let a = pg::store(&url, "a", Duration::from_secs(1));
    let b = pg::store(&url, "b", LONG);
    let id = queue(&a, &[run("o/r")])[0];
    a.claim_next().unwrap().unwrap();
    let mut reaped = Vec::new();
    for _ in 0..100 {
        reaped = b.reap(RestartPolicy::Fail).unwrap();
        if !reaped.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(reaped, vec![id]);
    let detail = b.run_detail(id).unwrap().unwrap();
    assert_eq!(detail.run.conclusion.as_deref(), Some("failure"));
}

#[test]
fn cancels_and_new_work_reach_the_other_daemon() {
    let url = pg::database();
    let (a, b) = (pg::store(&url, "a", LONG), pg::store(&url, "b", LONG));
    let mut heard = a.signals().unwrap();
    until_listening(&url, &mut heard);
    let id = queue(&b, &[run("o/r")])[0];
    wait_signal(&mut heard, |s| *s == StoreSignal::Queue);
    assert_eq!(a.claim_next().unwrap().map(|r| r.id), Some(id));
    let log = RunEvent::Log {
        job: "build".to_owned(),
        step: None,
        text: "hello".to_owned(),
    };
    a.apply(id, &[log]).unwrap();
    let mut b_heard = b.signals().unwrap();
    until_listening(&url, &mut b_heard);
    a.apply(id, &[]).unwrap();
    wait_signal(&mut b_heard, |s| *s == StoreSignal::Run(id));
    assert_eq!(b.logs(id, "build", 0, 10).unwrap()[0].text, "hello");
    b.request_cancel(id, "stop it").unwrap();
    wait_signal(&mut heard, |s| {
        *s == StoreSignal::Cancel {
            run: id,
            reason: "stop it".to_owned(),
        }
    });
    // The renewal carries it too, for a daemon that missed the notification.
    let report = a.renew_leases(&[id]).unwrap();
    assert_eq!(report.cancel, vec![(id, "stop it".to_owned())]);
}

#[test]
fn an_empty_database_migrates_to_the_latest_version() {
    let url = pg::database();
    drop(pg::store(&url, "a", LONG));
    let version = pg::psql(&url, "SELECT version FROM gantry_schema");
    assert_eq!(version, schema::LATEST.to_string());
    // A second start finds nothing to do.
    assert_eq!(
        PgStore::migrate_to(&url, schema::LATEST).unwrap(),
        schema::LATEST
    );
}

#[test]
fn the_previous_schema_migrates_with_its_data() {
    let url = pg::database();
    assert_eq!(PgStore::migrate_to(&url, schema::LATEST - 1).unwrap(), 0);
    // What a version-1 daemon left: a queued run and one it was executing when it stopped.
    for status in ["queued", "running"] {
        pg::psql(
            &url,
            &format!(
                "INSERT INTO runs (repo, event, workflow_path, workflow_name, git_ref, sha,
                 status, attempt, spec, run_jobs, created_at) VALUES ('o/r', 'push', 'w.yml',
                 'w', 'refs/heads/main', 'abc', '{status}', 1, '{}', '[\"build\"]', 0)",
                serde_json::to_string(&crate::store_contract::spec("o/r", &["build"])).unwrap()
            ),
        );
    }
    let store = pg::store(&url, "a", LONG);
    assert_eq!(
        pg::psql(&url, "SELECT version FROM gantry_schema"),
        schema::LATEST.to_string()
    );
    // The old daemon's running run has no owner: it is recovered like after a restart.
    assert_eq!(store.recover(RestartPolicy::Fail).unwrap(), vec![2]);
    let claimed = store.claim_next().unwrap().unwrap();
    assert_eq!((claimed.id, claimed.jobs.len()), (1, 1));
}

#[test]
fn a_newer_schema_is_refused() {
    let url = pg::database();
    drop(pg::store(&url, "a", LONG));
    pg::psql(&url, "UPDATE gantry_schema SET version = 99");
    let refused = PgStore::migrate_to(&url, schema::LATEST);
    assert!(
        matches!(refused, Err(StoreError::NewerSchema(99))),
        "{refused:?}"
    );
}

/// The group commit is pipelined outside a `Transaction` object: a failing batch must be rolled
/// back on its connection (PostgreSQL refuses NUL in text), its good items committed one by
/// one, and every pooled connection left usable.
#[test]
fn a_bad_item_in_a_group_commit_fails_alone() {
    use gantry_daemon::store::PendingCommit;
    let url = pg::database();
    let store = pg::pool_of_one(&url);
    let item = |id: &str| PendingCommit {
        delivery: Some(delivery(id)),
        runs: vec![run("o/r")],
    };
    for round in 0..3 {
        let results = store
            .commit_batch(&[
                item(&format!("good-{round}")),
                item(&format!("bad\0{round}")),
                item(&format!("fine-{round}")),
            ])
            .unwrap();
        assert!(
            matches!(&results[0], Ok(Committed::New { .. })),
            "{results:?}"
        );
        assert!(results[1].is_err(), "{results:?}");
        assert!(
            matches!(&results[2], Ok(Committed::New { .. })),
            "{results:?}"
        );
    }
    assert_eq!(pg::psql(&url, "SELECT count(*) FROM deliveries"), "6");
    assert_eq!(pg::psql(&url, "SELECT count(*) FROM runs"), "6");
    // Nothing is left idle in a transaction.
    let open = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND datname = current_database()";
    assert_eq!(pg::psql(&url, open), "0");
    assert!(store.claim_next().unwrap().is_some());
}
