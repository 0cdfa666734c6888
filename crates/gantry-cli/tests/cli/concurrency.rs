//! Job-level `concurrency:` in `gantry run`, as GitHub documents it for jobs: in a group one job
//! runs and one waits; a newer waiting job replaces (cancels) the waiting one; with
//! `cancel-in-progress: true` it cancels the running one. Jobs write timestamps from their
//! steps; the tests compare the order of those, never durations.

use crate::run_docker::{docker_ready, leftovers};
use crate::test::Test;

/// `[job]   start <ns>` / `end <ns>` lines of a job, as (start, end).
fn span(stdout: &str, job: &str) -> (u128, u128) {
    let stamp = |what: &str| -> u128 {
        let prefix = format!("[{job}]   {what} ");
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{what}` of {job} in\n{stdout}"));
        line.trim().parse().unwrap()
    };
    (stamp("start"), stamp("end"))
}

const STEP: &str = "echo \"start $(date +%s%N)\"; sleep 2; echo \"end $(date +%s%N)\"";

fn job(id: &str, concurrency: &str) -> String {
    format!(
        "
          {id}:
            runs-on: ubuntu-latest
            concurrency: {concurrency}
            steps:
              - run: '{STEP}'"
    )
}

fn workflow(jobs: &[String]) -> String {
    format!("\non: push\njobs:{}\n", jobs.concat())
}

#[test]
fn two_container_jobs_of_one_group_never_overlap() {
    docker_ready();
    let source = workflow(&[job("a", "deploy"), job("b", "Deploy")]);
    let out = Test::new()
        .file(".github/workflows/c.yml", &source)
        .args(["run", "-P", "ubuntu-latest=gantry/runner:bookworm"])
        .output();
    let (a, b) = (span(&out.stdout, "a"), span(&out.stdout, "b"));
    assert!(
        a.1 < b.0 || b.1 < a.0,
        "a {a:?} and b {b:?} overlap\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("[b]   Waiting for the concurrency group 'Deploy' (another job holds it)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Run succeeded"), "{}", out.stdout);
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn a_newer_waiting_job_replaces_the_waiting_one() {
    let source = workflow(&[job("a", "deploy"), job("b", "deploy"), job("c", "deploy")]);
    let out = Test::new()
        .file(".github/workflows/c.yml", &source)
        .args(["run", "-P", "ubuntu-latest=host"])
        .status(130)
        .output();
    let (a, c) = (span(&out.stdout, "a"), span(&out.stdout, "c"));
    assert!(
        a.1 < c.0,
        "c {c:?} started before a {a:?} ended\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("[b]   start"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "[b] error: Canceling since a higher priority waiting request for 'deploy' exists"
        ),
        "{}",
        out.stdout
    );
    for (job, result) in [("a", "success"), ("b", "cancelled"), ("c", "success")] {
        let row = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(job) && l.contains(result));
        assert!(row.is_some(), "{job} is not {result}\n{}", out.stdout);
    }
}

#[test]
fn cancel_in_progress_cancels_the_running_job() {
    let long = "
          a:
            runs-on: ubuntu-latest
            concurrency: {group: deploy, cancel-in-progress: true}
            steps:
              - run: 'echo \"start $(date +%s%N)\"; sleep 30; echo \"end $(date +%s%N)\"'"
        .to_owned();
    let source = workflow(&[long, job("b", "{group: deploy, cancel-in-progress: true}")]);
    let out = Test::new()
        .file(".github/workflows/c.yml", &source)
        .args(["run", "-P", "ubuntu-latest=host"])
        .status(130)
        .output();
    // a never got to its end: b cancelled it, then ran alone.
    assert!(!out.stdout.contains("[a]   end"), "{}", out.stdout);
    span(&out.stdout, "b");
    for (job, result) in [("a", "cancelled"), ("b", "success")] {
        let row = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(job) && l.contains(result));
        assert!(row.is_some(), "{job} is not {result}\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains(
            "[a] error: Canceling since a newer job in the concurrency group 'deploy' started"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn groups_from_the_matrix_are_separate_groups() {
    let source = "
        on: push
        jobs:
          m:
            runs-on: ubuntu-latest
            strategy: {matrix: {n: [1, 2]}}
            concurrency: {group: 'm-${{ matrix.n }}', cancel-in-progress: true}
            steps:
              - run: echo row ${{ matrix.n }}
    ";
    let out = Test::new()
        .file(".github/workflows/c.yml", source)
        .args(["run", "-P", "ubuntu-latest=host"])
        .output();
    assert!(!out.stdout.contains("Waiting for"), "{}", out.stdout);
    assert!(out.stdout.contains("Run succeeded"), "{}", out.stdout);
}
