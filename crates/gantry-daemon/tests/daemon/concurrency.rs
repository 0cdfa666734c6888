//! `concurrency:` groups with GitHub's semantics.

use crate::common::*;

const GROUP_REPO: &str = "gantry/concurrency";

async fn env_with(extra: &str) -> (Env, Server) {
    let mut env = Env::new();
    env.config.capacity = 3;
    let wf = gated_workflow(&env, "release", extra);
    env.repo(GROUP_REPO, &[("gated.yml", &wf)]);
    let server = env.start().await;
    (env, server)
}

async fn deliver(client: &Client, delivery: &str) -> i64 {
    let payload = for_repo(payload("release/published.payload.json"), GROUP_REPO);
    let reply = client.webhook("release", delivery, &payload).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let ids = run_ids(&reply);
    assert_eq!(ids.len(), 1);
    ids[0]
}

#[tokio::test]
async fn one_running_one_pending_and_a_newer_pending_run_replaces_the_older() {
    let (env, mut server) = env_with("concurrency:\n  group: rel-${{ github.ref }}").await;
    let client = server.client.clone();
    let first = deliver(&client, "c1").await;
    client.wait_status(first, "running").await;
    let second = deliver(&client, "c2").await;
    let pending = client.run(second).await;
    assert_eq!(pending["status"], "queued", "{pending}");
    assert_eq!(pending["concurrency_group"], "rel-refs/tags/0.0.1");
    let third = deliver(&client, "c3").await;
    let replaced = client.run(second).await;
    assert_eq!(replaced["status"], "completed");
    assert_eq!(replaced["conclusion"], "cancelled");
    assert!(
        replaced["reason"].as_str().unwrap().contains("newer"),
        "{replaced}"
    );
    assert_eq!(client.run(third).await["status"], "queued");
    assert_eq!(client.run(first).await["status"], "running");

    env.open_gate();
    assert_eq!(client.wait_completed(first).await["conclusion"], "success");
    assert_eq!(client.wait_completed(third).await["conclusion"], "success");
    server.stop().await;
    let mut marks = env.marks();
    marks.sort();
    assert_eq!(marks, [format!("run {first}"), format!("run {third}")]);
}

#[tokio::test]
async fn cancel_in_progress_cancels_the_running_run() {
    let extra = "concurrency:\n  group: deploy\n  cancel-in-progress: true";
    let (env, mut server) = env_with(extra).await;
    let client = server.client.clone();
    let first = deliver(&client, "p1").await;
    client.wait_status(first, "running").await;
    let second = deliver(&client, "p2").await;
    let cancelled = client.wait_completed(first).await;
    assert_eq!(cancelled["conclusion"], "cancelled", "{cancelled}");
    client.wait_status(second, "running").await;
    env.open_gate();
    assert_eq!(client.wait_completed(second).await["conclusion"], "success");
    server.stop().await;
}

#[tokio::test]
async fn different_groups_do_not_wait_for_each_other() {
    let (env, mut server) =
        env_with("concurrency:\n  group: g-${{ github.event.release.tag_name }}").await;
    let client = server.client.clone();
    let first = deliver(&client, "g1").await;
    let mut other = for_repo(payload("release/published.payload.json"), GROUP_REPO);
    other["release"]["tag_name"] = "0.0.2".into();
    other["release"]["target_commitish"] = "master".into();
    let reply = client.webhook("release", "g2", &other).await;
    let second = run_ids(&reply)[0];
    client.wait_status(first, "running").await;
    client.wait_status(second, "running").await;
    env.open_gate();
    client.wait_completed(first).await;
    client.wait_completed(second).await;
    server.stop().await;
}

#[tokio::test]
async fn group_names_compare_case_insensitively() {
    let extra =
        "concurrency:\n  group: ${{ github.event.release.name }}\n  cancel-in-progress: true";
    let (env, mut server) = env_with(extra).await;
    let client = server.client.clone();
    let mut payload = for_repo(payload("release/published.payload.json"), GROUP_REPO);
    payload["release"]["name"] = "Prod".into();
    let first = run_ids(&client.webhook("release", "n1", &payload).await)[0];
    client.wait_status(first, "running").await;
    payload["release"]["name"] = "prod".into();
    let second = run_ids(&client.webhook("release", "n2", &payload).await)[0];
    let cancelled = client.wait_completed(first).await;
    assert_eq!(cancelled["conclusion"], "cancelled", "{cancelled}");
    env.open_gate();
    assert_eq!(client.wait_completed(second).await["conclusion"], "success");
    server.stop().await;
}
