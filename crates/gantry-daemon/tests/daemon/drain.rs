//! SIGTERM-style drain through the shutdown handle.

use std::time::Duration;

use crate::common::*;

async fn gated_env() -> (Env, Server) {
    let mut env = Env::new();
    let wf = gated_workflow(&env, "release", "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let server = env.start().await;
    (env, server)
}

#[tokio::test]
async fn draining_refuses_new_work_and_lets_running_jobs_finish() {
    let (env, mut server) = gated_env().await;
    let client = server.client.clone();
    let payload = payload("release/published.payload.json");
    let reply = client.webhook("release", "before", &payload).await;
    let id = run_ids(&reply)[0];
    client.wait_status(id, "running").await;

    let handle = server.handle.take().unwrap();
    let drain = tokio::spawn(handle.shutdown_within(Duration::from_secs(600)));
    for _ in 0..1200 {
        if client.get("/healthz").await.status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(client.get("/healthz").await.status, 503);
    let refused = client.webhook("release", "during", &payload).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    let cancel = client
        .post(&format!("/api/runs/{id}/cancel"), serde_json::json!({}))
        .await;
    assert_eq!(cancel.status, 503);

    env.open_gate();
    let report = drain.await.unwrap();
    assert!(report.drained, "{report:?}");
    assert!(report.cancelled.is_empty());

    // The run finished successfully and the refused delivery was not recorded.
    let store = gantry_daemon::SqliteStore::open(&env.config.data_dir).unwrap();
    let detail = gantry_daemon::Store::run_detail(&store, id)
        .unwrap()
        .unwrap();
    assert_eq!(detail.run.conclusion.as_deref(), Some("success"));
    assert!(!gantry_daemon::Store::has_delivery(&store, "during").unwrap());
}

#[tokio::test]
async fn jobs_still_running_after_the_drain_timeout_are_cancelled() {
    let (env, mut server) = gated_env().await;
    let client = server.client.clone();
    let reply = client
        .webhook(
            "release",
            "slow",
            &payload("release/published.payload.json"),
        )
        .await;
    let id = run_ids(&reply)[0];
    client.wait_status(id, "running").await;
    let handle = server.handle.take().unwrap();
    let report = handle.shutdown_within(Duration::from_millis(100)).await;
    assert!(!report.drained);
    assert_eq!(report.cancelled, [id]);
    let store = gantry_daemon::SqliteStore::open(&env.config.data_dir).unwrap();
    let detail = gantry_daemon::Store::run_detail(&store, id)
        .unwrap()
        .unwrap();
    assert_eq!(detail.run.conclusion.as_deref(), Some("cancelled"));
    assert!(detail.run.reason.unwrap().contains("shutting down"));
    assert_eq!(detail.jobs[0].conclusion.as_deref(), Some("cancelled"));
    assert_eq!(
        detail.jobs[0].steps[0].conclusion.as_deref(),
        Some("cancelled")
    );
}
