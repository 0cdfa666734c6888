//! What a push cannot make the daemon do: run another commit than the pushed one, or load a
//! huge workflow file.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_push_of_a_commit_the_mirror_lacks_is_refused_and_never_runs_the_branch_head() {
    let mut env = Env::new();
    let workflow = marking_workflow(&env, "push");
    env.repo(REPO, &[("m.yml", &workflow)]);
    let server = env.start().await;
    let missing = "1234567890abcdef1234567890abcdef12345678";
    let push = json!({
        "ref": "refs/heads/master",
        "after": missing,
        "repository": {"full_name": REPO, "default_branch": "master"},
    });
    let reply = server.client.webhook("push", "push-missing", &push).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    let error = reply.body["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains(missing) && error.contains("not in the mirror after a fetch"),
        "{error}"
    );
    let runs = server.client.get("/api/runs").await.body;
    assert_eq!(runs["runs"], json!([]), "a run was queued");
    assert!(env.marks().is_empty());
    // Once the commit is there, the redelivery runs exactly it.
    let dir = std::path::PathBuf::from(&env.config.repositories[REPO].url);
    let sha = commit_files(&dir, &[("a.txt", "a")]);
    commit_files(&dir, &[("b.txt", "b")]);
    let push = json!({
        "ref": "refs/heads/master",
        "after": sha,
        "repository": {"full_name": REPO, "default_branch": "master"},
    });
    let reply = server.client.webhook("push", "push-missing", &push).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let run = server.client.wait_completed(run_ids(&reply)[0]).await;
    assert_eq!(run["sha"], sha.as_str(), "not the pushed commit");
}

#[tokio::test]
async fn an_oversized_workflow_in_the_repository_is_skipped_unread() {
    let mut env = Env::new();
    let workflow = marking_workflow(&env, "push");
    // 2 MiB of YAML comments: over the limit, cheap to commit.
    let huge = format!("on: push\n{}", "# padding padding padding\n".repeat(80_000));
    env.repo(REPO, &[("ok.yml", &workflow), ("huge.yml", &huge)]);
    let server = env.start().await;
    let dir = std::path::PathBuf::from(&env.config.repositories[REPO].url);
    let push = json!({
        "ref": "refs/heads/master",
        "after": head_sha(&dir),
        "repository": {"full_name": REPO, "default_branch": "master"},
    });
    let reply = server.client.webhook("push", "push-huge", &push).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let skipped = reply.body["skipped"].to_string();
    let want = format!(
        "the workflow file is {} bytes, more than the 1048576-byte limit",
        huge.len()
    );
    assert!(
        skipped.contains(".github/workflows/huge.yml") && skipped.contains(&want),
        "{skipped}"
    );
    let ids = run_ids(&reply);
    assert_eq!(ids.len(), 1, "{}", reply.body);
    server.client.wait_completed(ids[0]).await;
}
