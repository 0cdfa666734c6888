//! `POST /webhook` over real HTTP with the conformance payloads.

use serde_json::{Value, json};

use crate::common::*;

async fn release_env() -> (Env, Server) {
    let mut env = Env::new();
    let all = marking_workflow(&env, "release");
    let published = marking_workflow(&env, "\n  release:\n    types: [published]");
    env.repo(REPO, &[("all.yml", &all), ("published.yml", &published)]);
    let server = env.start().await;
    (env, server)
}

async fn run_count(client: &Client) -> usize {
    client.get("/api/runs?limit=1000").await.body["runs"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn every_release_action_queues_the_workflows_that_listen_to_it() {
    let (_env, server) = release_env().await;
    let client = &server.client;
    let cases = payloads("release");
    assert!(
        cases.len() >= 6,
        "expected the release payloads, found {}",
        cases.len()
    );
    for (i, (name, payload)) in cases.iter().enumerate() {
        let action = payload["action"].as_str().unwrap();
        let reply = client
            .webhook("release", &format!("rel-{i}"), payload)
            .await;
        assert_eq!(reply.status, 202, "{name}: {}", reply.body);
        assert_eq!(reply.body["status"], "accepted", "{name}");
        let mut workflows: Vec<String> = Vec::new();
        for id in run_ids(&reply) {
            let run = client.wait_completed(id).await;
            assert_eq!(run["conclusion"], "success", "{name}: {run}");
            assert_eq!(run["git_ref"], "refs/tags/0.0.1");
            assert_eq!(run["event"], "release");
            workflows.push(run["workflow_path"].as_str().unwrap().to_owned());
        }
        let mut want = vec![".github/workflows/all.yml".to_owned()];
        if action == "published" {
            want.push(".github/workflows/published.yml".to_owned());
        } else {
            let skipped = reply.body["skipped"].to_string();
            assert!(
                skipped.contains(&format!("activity type '{action}'")),
                "{name}: {skipped}"
            );
        }
        assert_eq!(workflows, want, "{name}");
    }
}

#[tokio::test]
async fn draft_releases_do_not_trigger_created_edited_deleted() {
    let (_env, server) = release_env().await;
    let mut payload = payload("release/created.payload.json");
    payload["release"]["draft"] = json!(true);
    let reply = server.client.webhook("release", "draft-1", &payload).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(run_ids(&reply), Vec::<i64>::new());
    assert!(
        reply.body["skipped"].to_string().contains("draft"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn ping_is_answered_200_and_recorded() {
    let (_env, server) = release_env().await;
    for (i, (name, payload)) in payloads("ping").iter().enumerate() {
        let reply = server
            .client
            .webhook("ping", &format!("ping-{i}"), payload)
            .await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        assert_eq!(reply.body["status"], "ping", "{name}");
    }
    assert_eq!(run_count(&server.client).await, 0);
    let deliveries = server.client.get("/api/deliveries").await.body;
    assert_eq!(
        deliveries["deliveries"].as_array().unwrap().len(),
        payloads("ping").len()
    );
}

#[tokio::test]
async fn a_redelivery_answers_200_and_starts_nothing() {
    let (env, server) = release_env().await;
    let payload = payload("release/published.payload.json");
    let first = server.client.webhook("release", "same-id", &payload).await;
    assert_eq!(first.status, 202);
    let ids = run_ids(&first);
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let run = server.client.wait_completed(*id).await;
        assert_eq!(run["conclusion"], "success", "{run}");
    }
    let again = server.client.webhook("release", "same-id", &payload).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(run_ids(&again), Vec::<i64>::new());
    assert_eq!(run_count(&server.client).await, 2);
    assert_eq!(env.marks().len(), 2, "{:?}", env.marks());
}

#[tokio::test]
async fn concurrent_deliveries_and_redeliveries_are_each_recorded_once() {
    // Sent all at once, so the group committer writes several in one transaction, copies of
    // one id included: exactly one copy of each id is accepted, with its two runs.
    let (_env, server) = release_env().await;
    let payload = payload("release/published.payload.json");
    let client = &server.client;
    let sends = (0..24).map(|i| {
        let id = format!("burst-{}", i % 8);
        let payload = &payload;
        async move { client.webhook("release", &id, payload).await }
    });
    let replies = futures::future::join_all(sends).await;
    let mut accepted = std::collections::BTreeMap::new();
    for reply in &replies {
        assert!(reply.status == 202 || reply.status == 200, "{}", reply.body);
        if reply.body["status"] == "accepted" {
            let id = reply.body["delivery"].as_str().unwrap().to_owned();
            *accepted.entry(id).or_insert(0) += 1;
            assert_eq!(run_ids(reply).len(), 2, "{}", reply.body);
        } else {
            assert_eq!(reply.body["status"], "duplicate", "{}", reply.body);
        }
    }
    let want: std::collections::BTreeMap<String, i32> =
        (0..8).map(|i| (format!("burst-{i}"), 1)).collect();
    assert_eq!(accepted, want);
    assert_eq!(run_count(client).await, 16);
}

#[tokio::test]
async fn missing_and_bad_signatures_are_401_and_record_nothing() {
    let (_env, server) = release_env().await;
    let body = serde_json::to_vec(&payload("release/published.payload.json")).unwrap();
    let client = &server.client;
    let cases: [(&str, Option<&str>); 2] = [("missing", None), ("bad", Some("wrong-secret"))];
    for (what, secret) in cases {
        let reply = client
            .webhook_raw("release", what, body.clone(), "application/json", secret)
            .await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    }
    let malformed = client
        .http
        .post(client.url("/webhook"))
        .header("X-GitHub-Event", "release")
        .header("X-GitHub-Delivery", "malformed-sig")
        .header("X-Hub-Signature-256", "sha1=0123")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 401);
    assert_eq!(run_count(client).await, 0);
    assert_eq!(
        client.get("/api/deliveries").await.body["deliveries"],
        json!([])
    );
}

#[tokio::test]
async fn malformed_json_is_400_and_records_nothing() {
    let (_env, server) = release_env().await;
    let client = &server.client;
    let cases: [(&str, &[u8], &str); 4] = [
        ("truncated", b"{\"action\": ", "application/json"),
        ("not an object", b"[1, 2]", "application/json"),
        (
            "form without payload",
            b"other=1",
            "application/x-www-form-urlencoded",
        ),
        (
            "form with bad json",
            b"payload=%7Bnope",
            "application/x-www-form-urlencoded",
        ),
    ];
    for (what, body, content_type) in cases {
        let reply = client
            .webhook_raw("release", what, body.to_vec(), content_type, Some(SECRET))
            .await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    }
    assert_eq!(run_count(client).await, 0);
    assert_eq!(
        client.get("/api/deliveries").await.body["deliveries"],
        json!([])
    );
}

#[tokio::test]
async fn form_encoded_payloads_are_accepted() {
    let (_env, server) = release_env().await;
    let json = serde_json::to_string(&payload("release/published.payload.json")).unwrap();
    let body = serde_urlencoded::to_string([("payload", json)]).unwrap();
    let reply = server
        .client
        .webhook_raw(
            "release",
            "form-1",
            body.into_bytes(),
            "application/x-www-form-urlencoded",
            Some(SECRET),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(run_ids(&reply).len(), 2);
}

#[tokio::test]
async fn bodies_over_25_mb_are_413() {
    let (_env, server) = release_env().await;
    let mut body = b"{\"pad\": \"".to_vec();
    body.resize(25 * 1024 * 1024 + 10, b'a');
    body.extend_from_slice(b"\"}");
    let reply = server
        .client
        .webhook_raw("release", "big", body, "application/json", Some(SECRET))
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(run_count(&server.client).await, 0);
}

#[tokio::test]
async fn unknown_repositories_and_events_are_recorded_and_answered_202() {
    let (_env, server) = release_env().await;
    let client = &server.client;
    let other = for_repo(payload("release/published.payload.json"), "someone/else");
    let reply = client.webhook("release", "unknown-repo", &other).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["status"], "ignored");
    assert!(
        reply.body["reason"]
            .as_str()
            .unwrap()
            .contains("not configured")
    );
    let reply = client
        .webhook(
            "security_advisory",
            "unknown-event",
            &payload("release/published.payload.json"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(
        reply.body["reason"]
            .as_str()
            .unwrap()
            .contains("does not trigger")
    );
    assert_eq!(run_count(client).await, 0);
    let deliveries = client.get("/api/deliveries").await.body;
    let statuses: Vec<&Value> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["status"])
        .collect();
    assert_eq!(statuses, [&json!("ignored"), &json!("ignored")]);
}

#[tokio::test]
async fn a_signature_made_with_another_repositorys_secret_is_401() {
    let mut env = Env::new();
    let wf = marking_workflow(&env, "release");
    env.repo(REPO, &[("all.yml", &wf)]);
    env.repo("other/repo", &[("all.yml", &wf)]);
    env.config
        .repositories
        .get_mut("other/repo")
        .unwrap()
        .webhook_secret = Some("other-secret".to_owned());
    let server = env.start().await;
    let body = serde_json::to_vec(&payload("release/published.payload.json")).unwrap();
    let reply = server
        .client
        .webhook_raw(
            "release",
            "cross",
            body,
            "application/json",
            Some("other-secret"),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
}

#[tokio::test]
async fn push_path_filters_see_the_pushed_diff() {
    let mut env = Env::new();
    let docs = marking_workflow(&env, "\n  push:\n    paths: ['docs/**']");
    let src = marking_workflow(
        &env,
        "\n  push:\n    branches: [master]\n    paths: ['src/**']",
    );
    env.repo(REPO, &[("docs.yml", &docs), ("src.yml", &src)]);
    let dir = std::path::PathBuf::from(&env.config.repositories[REPO].url);
    let before = head_sha(&dir);
    let after = commit_files(&dir, &[("src/lib.rs", "fn main() {}")]);
    let server = env.start().await;
    let push = json!({
        "ref": "refs/heads/master",
        "before": before,
        "after": after,
        "repository": {"full_name": REPO, "default_branch": "master"},
    });
    let reply = server.client.webhook("push", "push-1", &push).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let ids = run_ids(&reply);
    assert_eq!(ids.len(), 1, "{}", reply.body);
    let run = server.client.wait_completed(ids[0]).await;
    assert_eq!(run["workflow_path"], ".github/workflows/src.yml");
    assert_eq!(run["sha"], after.as_str());
    let skipped = reply.body["skipped"].to_string();
    assert!(skipped.contains("no changed file matches"), "{skipped}");

    let deleted = json!({"ref": "refs/heads/gone", "deleted": true, "after": "0".repeat(40),
        "repository": {"full_name": REPO}});
    let reply = server.client.webhook("push", "push-2", &deleted).await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.body["status"], "ignored");
    assert!(
        reply.body["reason"].as_str().unwrap().contains("deleted"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn an_unreachable_repository_is_503_and_not_recorded_so_redelivery_works() {
    let mut env = Env::new();
    let wf = marking_workflow(&env, "release");
    env.repo(REPO, &[("all.yml", &wf)]);
    let real = env.config.repositories[REPO].url.clone();
    env.config.repositories.get_mut(REPO).unwrap().url = env.path("missing").display().to_string();
    let mut server = env.start().await;
    let payload = payload("release/published.payload.json");
    let reply = server.client.webhook("release", "flaky", &payload).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(
        server.client.get("/api/deliveries").await.body["deliveries"],
        json!([])
    );
    server.stop().await;

    // Once the repository is reachable, GitHub's redelivery of the same id runs.
    env.config.repositories.get_mut(REPO).unwrap().url = real;
    let server = env.start().await;
    let reply = server.client.webhook("release", "flaky", &payload).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(run_ids(&reply).len(), 1);
}

#[tokio::test]
async fn insecure_mode_accepts_unsigned_deliveries_but_still_rejects_bad_signatures() {
    let mut env = Env::new();
    let wf = marking_workflow(&env, "release");
    env.repo(REPO, &[("all.yml", &wf)]);
    env.config.insecure = true;
    env.config
        .repositories
        .get_mut(REPO)
        .unwrap()
        .webhook_secret = None;
    let server = env.start().await;
    let body = serde_json::to_vec(&payload("release/published.payload.json")).unwrap();
    let unsigned = server
        .client
        .webhook_raw("release", "u1", body.clone(), "application/json", None)
        .await;
    assert_eq!(unsigned.status, 202, "{}", unsigned.body);
    assert_eq!(run_ids(&unsigned).len(), 1);
    let forged = server
        .client
        .webhook_raw("release", "u2", body, "application/json", Some("guess"))
        .await;
    assert_eq!(forged.status, 401);
}
