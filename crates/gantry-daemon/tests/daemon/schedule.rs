//! `schedule:` triggers: a due minute queues one run per workflow, once.

use crate::common::*;

/// 2026-11-23, a Monday, 03:00 UTC.
const MONDAY_3AM: i64 = 1_795_402_800;

const NIGHTLY: &str = "name: nightly
on:
  schedule:
    - cron: '0 3 * * 1'
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo \"scheduled ${{ github.event_name }} ${{ github.event.schedule }} ${{ github.ref }}\"
";

#[tokio::test]
async fn a_due_schedule_queues_one_run_on_the_default_branch() {
    let mut env = Env::new();
    env.repo(
        REPO,
        &[
            ("nightly.yml", NIGHTLY),
            (
                "push.yml",
                "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n",
            ),
        ],
    );
    let server = env.start().await;
    let client = &server.client;
    server.handle().fire_schedules(MONDAY_3AM).await;
    // The same minute again (a restart within the minute): nothing new.
    server.handle().fire_schedules(MONDAY_3AM + 59).await;
    // A minute the cron does not name.
    server.handle().fire_schedules(MONDAY_3AM + 60).await;
    let runs = client.get("/api/runs").await.body;
    let runs = runs["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let id = runs[0]["id"].as_i64().unwrap();
    let run = client.wait_completed(id).await;
    assert_eq!(run["event"], "schedule", "{run}");
    assert_eq!(run["conclusion"], "success", "{run}");
    let logs = client
        .get(&format!("/api/runs/{id}/jobs/build/logs"))
        .await
        .body;
    assert!(
        chunk_texts(&logs)
            .iter()
            .any(|t| t == "scheduled schedule 0 3 * * 1 refs/heads/master"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_repository_without_schedules_fires_nothing() {
    let mut env = Env::new();
    env.repo(
        REPO,
        &[(
            "push.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n",
        )],
    );
    let server = env.start().await;
    server.handle().fire_schedules(MONDAY_3AM).await;
    let runs = server.client.get("/api/runs").await.body;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0, "{runs}");
}
