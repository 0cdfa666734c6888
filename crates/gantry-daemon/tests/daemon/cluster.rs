//! Two real daemon processes (the `daemon` example) on one PostgreSQL database: one
//! redelivery makes one run, a stream of runs is executed once each, a concurrency group holds
//! across both, a cancel and a live log stream reach through the other daemon, and when one
//! is killed with SIGKILL mid-run the other reaps its run and runs it again.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use gantry_daemon::{EngineLauncher, RunLauncher};

use crate::common::*;
use crate::crash::{Process, kill9, spawn};
use crate::pg;

/// How one daemon of a test is configured beyond its name and database.
struct Setup {
    capacity: usize,
    on_restart: &'static str,
    /// `[store] queue_poll_secs`.
    poll_secs: u64,
}

impl Setup {
    fn capacity(capacity: usize) -> Setup {
        Setup {
            capacity,
            on_restart: "requeue",
            poll_secs: 2,
        }
    }
}

/// A daemon's `gantry.toml`: its own data directory, the shared database.
fn config(env: &Env, db: &str, name: &str, capacity: usize) -> PathBuf {
    config_with(env, db, name, &Setup::capacity(capacity))
}

fn config_with(env: &Env, db: &str, name: &str, setup: &Setup) -> PathBuf {
    let repo = &env.config.repositories[REPO];
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = '{data}'\ncapacity = {capacity}\n\
         on_restart = \"{on_restart}\"\n\n[store]\nurl = \"{db}\"\npool_size = 4\n\
         lease_secs = 3\nqueue_poll_secs = {poll}\ninstance_id = \"{name}\"\n\n\
         [repositories.\"{REPO}\"]\nurl = '{url}'\nwebhook_secret = \"{SECRET}\"\n",
        data = env.path(&format!("data-{name}")).display(),
        capacity = setup.capacity,
        on_restart = setup.on_restart,
        poll = setup.poll_secs,
        url = repo.url,
    );
    let path = env.path(&format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// Waits (bounded) until `count` daemons' `LISTEN` connections are up, and a little longer
/// for the wake-up each one signals once it listens to have been taken.
async fn until_listening(db: &str, count: usize) {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN gantry_queue%'";
    for _ in 0..400 {
        if pg::psql(db, sql) == count.to_string() {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{count} daemons never listened: {}", pg::psql(db, sql));
}

/// Kills daemon `a` with SIGKILL, and its job's leftover processes as its restart would.
async fn kill_a(env: &Env, a: Process) {
    kill9(a);
    // A's step survives it in its own process group; what A's restart would reap, reap here.
    EngineLauncher::host_only(env.path("data-a/host"))
        .reap()
        .await;
}

/// The reasons recorded in a run's transitions.
fn reasons(run: &serde_json::Value) -> Vec<String> {
    run["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["reason"].as_str().map(str::to_owned))
        .collect()
}

fn two(env: &Env, db: &str, capacity: usize) -> ((Process, Client), (Process, Client)) {
    (
        spawn(&config(env, db, "a", capacity)),
        spawn(&config(env, db, "b", capacity)),
    )
}

#[tokio::test]
async fn one_redelivery_to_two_daemons_makes_one_run() {
    let mut env = Env::new();
    let wf = marking_workflow(&env, "release");
    env.repo(REPO, &[("mark.yml", &wf)]);
    let db = pg::database();
    let ((_a, a), (_b, b)) = two(&env, &db, 2);
    let payload = payload("release/published.payload.json");
    let mut ids = Vec::new();
    for round in 0..5 {
        let id = format!("redelivered-{round}");
        let (ra, rb) = tokio::join!(
            a.webhook("release", &id, &payload),
            b.webhook("release", &id, &payload)
        );
        let mut codes = [ra.status, rb.status];
        codes.sort_unstable();
        assert_eq!(codes, [200, 202], "{} {}", ra.body, rb.body);
        let accepted = if ra.status == 202 { &ra } else { &rb };
        ids.extend(run_ids(accepted));
    }
    let runs = a.get("/api/runs").await.body["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(runs, 5);
    // Run ids are not contiguous: the losing daemon's ids (taken before it saw the
    // conflict) stay unused.
    for id in ids {
        assert_eq!(b.wait_completed(id).await["conclusion"], "success");
    }
    assert_eq!(env.marks().len(), 5);
}

#[tokio::test]
async fn two_daemons_run_a_stream_exactly_once() {
    let mut env = Env::new();
    let wf = marking_workflow(&env, "release");
    env.repo(REPO, &[("mark.yml", &wf)]);
    let db = pg::database();
    let ((_a, a), (_b, b)) = two(&env, &db, 2);
    let payload = payload("release/published.payload.json");
    let mut ids = Vec::new();
    for n in 0..24 {
        let daemon = if n % 2 == 0 { &a } else { &b };
        let reply = daemon.webhook("release", &format!("s{n}"), &payload).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        ids.extend(run_ids(&reply));
    }
    for &id in &ids {
        assert_eq!(a.wait_completed(id).await["conclusion"], "success");
    }
    let mut marks = env.marks();
    marks.sort();
    let mut want: Vec<String> = ids.iter().map(|id| format!("run {id} published")).collect();
    want.sort();
    assert_eq!(marks, want, "every run executed once");
}

/// Marks when it starts and when it ends; waits for the gate in between.
fn bracketed_workflow(env: &Env, extra: &str) -> String {
    format!(
        "on: release\n{extra}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo \"start ${{{{ github.run_id }}}} ${{{{ github.run_attempt }}}}\" >> '{marks}'\n          echo waiting\n          while [ ! -f '{gate}' ]; do sleep 0.05; done\n          echo \"end ${{{{ github.run_id }}}} ${{{{ github.run_attempt }}}}\" >> '{marks}'\n",
        marks = env.path("marks").display(),
        gate = env.gate().display(),
    )
}

#[tokio::test]
async fn a_concurrency_group_holds_across_daemons() {
    let mut env = Env::new();
    let wf = bracketed_workflow(&env, "concurrency: deploy");
    env.repo(REPO, &[("deploy.yml", &wf)]);
    let db = pg::database();
    let ((_a, a), (_b, b)) = two(&env, &db, 2);
    let payload = payload("release/published.payload.json");
    let first = run_ids(&a.webhook("release", "g1", &payload).await)[0];
    a.wait_status(first, "running").await;
    let second = run_ids(&b.webhook("release", "g2", &payload).await)[0];
    // Both daemons have free slots and heard about the run; the group keeps it queued.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.run(second).await["status"], "queued");
    env.open_gate();
    assert_eq!(b.wait_completed(first).await["conclusion"], "success");
    assert_eq!(a.wait_completed(second).await["conclusion"], "success");
    let want = [
        format!("start {first} 1"),
        format!("end {first} 1"),
        format!("start {second} 1"),
        format!("end {second} 1"),
    ];
    assert_eq!(env.marks(), want, "one run of the group at a time");
}

#[tokio::test]
async fn logs_stream_and_cancel_through_the_other_daemon() {
    let mut env = Env::new();
    let wf = bracketed_workflow(&env, "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let db = pg::database();
    let ((_a, a), (_b, b)) = two(&env, &db, 1);
    let reply = a
        .webhook("release", "c1", &payload("release/published.payload.json"))
        .await;
    let id = run_ids(&reply)[0];
    b.wait_status(id, "running").await;
    // A's job writes the line; B streams it from the database.
    let url = b.url(&format!("/api/runs/{id}/jobs/build/logs/stream"));
    let response = b.http.get(url).send().await.unwrap();
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(chunk)) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("waiting") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    // B's run events follow the run A executes, to its end.
    let events = b
        .http
        .get(b.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    let mut events = events.bytes_stream();
    let cancel = b
        .post(&format!("/api/runs/{id}/cancel"), serde_json::json!({}))
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let mut streamed = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(chunk)) = events.next().await {
            streamed.push_str(&String::from_utf8_lossy(&chunk));
            if streamed.contains("event: end") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ended, Ok(true), "{streamed}");
    assert!(streamed.contains(r#""status":"running""#), "{streamed}");
    assert!(
        streamed.contains(r#""conclusion":"cancelled""#),
        "{streamed}"
    );
    let run = b.wait_completed(id).await;
    assert_eq!(run["conclusion"], "cancelled", "{run}");
    assert!(env.marks().iter().all(|m| !m.starts_with("end")));
}

#[tokio::test]
async fn sigkill_of_one_daemon_lets_the_other_requeue_its_run() {
    let mut env = Env::new();
    let wf = bracketed_workflow(&env, "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let db = pg::database();
    let (a_process, a) = spawn(&config(&env, &db, "a", 1));
    let reply = a
        .webhook("release", "k1", &payload("release/published.payload.json"))
        .await;
    let id = run_ids(&reply)[0];
    a.wait_status(id, "running").await;
    let (_b_process, b) = spawn(&config(&env, &db, "b", 1));
    kill_a(&env, a_process).await;
    // After A's lease (3 s) ran out, B re-queues the run and executes attempt 2.
    let mut attempt = serde_json::Value::Null;
    for _ in 0..600 {
        let run = b.run(id).await;
        if run["attempt"] == 2 && run["status"] == "running" {
            attempt = run;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(attempt["attempt"], 2, "never re-run: {}", b.run(id).await);
    env.open_gate();
    let run = b.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let transitions = reasons(&run);
    assert!(
        transitions.iter().any(|r| r.starts_with("re-queued")),
        "{transitions:?}"
    );
    assert_eq!(
        env.marks(),
        [
            format!("start {id} 1"),
            format!("start {id} 2"),
            format!("end {id} 2")
        ]
    );
}

#[tokio::test]
async fn sigkill_of_one_daemon_lets_the_other_fail_its_run() {
    let mut env = Env::new();
    let wf = bracketed_workflow(&env, "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let db = pg::database();
    let failing = Setup {
        on_restart: "fail",
        ..Setup::capacity(1)
    };
    let (a_process, a) = spawn(&config_with(&env, &db, "a", &failing));
    let id = run_ids(
        &a.webhook("release", "f1", &payload("release/published.payload.json"))
            .await,
    )[0];
    a.wait_status(id, "running").await;
    let (_b_process, b) = spawn(&config_with(&env, &db, "b", &failing));
    kill_a(&env, a_process).await;
    // After A's lease (3 s) ran out, B fails the run instead of running it again.
    let run = b.wait_completed(id).await;
    assert_eq!(run["conclusion"], "failure", "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
    assert_eq!(
        run["reason"], "the daemon stopped while this run was in progress",
        "{run}"
    );
    assert!(
        reasons(&run).iter().all(|r| !r.starts_with("re-queued")),
        "{run}"
    );
    // B is free and healthy: the next delivery runs there, and the failed run never resumes.
    env.open_gate();
    let next = run_ids(
        &b.webhook("release", "f2", &payload("release/published.payload.json"))
            .await,
    )[0];
    assert_eq!(b.wait_completed(next).await["conclusion"], "success");
    assert_eq!(
        env.marks(),
        [
            format!("start {id} 1"),
            format!("start {next} 1"),
            format!("end {next} 1")
        ]
    );
}

/// B polls the queue once an hour: only `NOTIFY gantry_queue` from A's commit can make it
/// claim the second run while A (capacity 1) executes the first.
#[tokio::test]
async fn an_idle_daemon_takes_new_work_when_notified() {
    let mut env = Env::new();
    let wf = bracketed_workflow(&env, "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let db = pg::database();
    let sleepy = Setup {
        poll_secs: 3600,
        ..Setup::capacity(1)
    };
    let (_a_process, a) = spawn(&config_with(&env, &db, "a", &sleepy));
    let (_b_process, b) = spawn(&config_with(&env, &db, "b", &sleepy));
    until_listening(&db, 2).await;
    let payload = payload("release/published.payload.json");
    let first = run_ids(&a.webhook("release", "n1", &payload).await)[0];
    a.wait_status(first, "running").await;
    let second = run_ids(&a.webhook("release", "n2", &payload).await)[0];
    a.wait_status(second, "running").await;
    let owners = pg::psql(
        &db,
        "SELECT string_agg(owner, ',' ORDER BY owner) FROM runs WHERE status = 'running'",
    );
    assert_eq!(owners, "a,b", "one run on each daemon");
    env.open_gate();
    for id in [first, second] {
        assert_eq!(b.wait_completed(id).await["conclusion"], "success");
    }
}

#[tokio::test]
async fn cancel_in_progress_stops_the_run_on_the_other_daemon() {
    let mut env = Env::new();
    let wf = bracketed_workflow(
        &env,
        "concurrency:\n  group: deploy\n  cancel-in-progress: true",
    );
    env.repo(REPO, &[("deploy.yml", &wf)]);
    let db = pg::database();
    let ((_a, a), (_b, b)) = two(&env, &db, 1);
    let payload = payload("release/published.payload.json");
    let first = run_ids(&a.webhook("release", "p1", &payload).await)[0];
    a.wait_status(first, "running").await;
    let second = run_ids(&b.webhook("release", "p2", &payload).await)[0];
    let stopped = b.wait_completed(first).await;
    assert_eq!(stopped["conclusion"], "cancelled", "{stopped}");
    b.wait_status(second, "running").await;
    env.open_gate();
    assert_eq!(a.wait_completed(second).await["conclusion"], "success");
    assert_eq!(
        env.marks(),
        [
            format!("start {first} 1"),
            format!("start {second} 1"),
            format!("end {second} 1")
        ]
    );
}
