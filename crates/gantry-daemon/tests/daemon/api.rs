//! The JSON API, live logs, cancel, re-run, dispatch, health, metrics and the page.

use serde_json::{Value, json};

use crate::common::*;

const TWO_JOBS: &str = "name: pipeline
on: [release, workflow_dispatch]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: compile
        run: echo compiling && test -f .github/workflows/p.yml
      - run: |
          echo '::warning file=src/lib.rs,line=7::looks odd'
          echo '## Report' >> \"$GITHUB_STEP_SUMMARY\"
          echo '<b>bold</b> **fine**' >> \"$GITHUB_STEP_SUMMARY\"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo testing
";

async fn started(workflows: &[(&str, &str)]) -> (Env, Server) {
    let mut env = Env::new();
    env.repo(REPO, workflows);
    let server = env.start().await;
    (env, server)
}

async fn release(client: &Client, delivery: &str) -> Vec<i64> {
    let reply = client
        .webhook(
            "release",
            delivery,
            &payload("release/published.payload.json"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    run_ids(&reply)
}

#[tokio::test]
async fn a_run_shows_its_jobs_steps_annotations_and_summary() {
    let (_env, server) = started(&[("p.yml", TWO_JOBS)]).await;
    let client = &server.client;
    let id = release(client, "r1").await[0];
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["workflow_name"], "pipeline");
    let jobs = run["jobs"].as_array().unwrap();
    let keys: Vec<&str> = jobs.iter().map(|j| j["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["build", "test"]);
    assert_eq!(jobs[1]["needs"], json!(["build"]));
    let build = &jobs[0];
    assert_eq!(build["steps"][0]["name"], "compile");
    assert_eq!(build["steps"][0]["conclusion"], "success");
    assert!(build["steps"][0]["started_at"].is_i64());
    assert!(build["steps"][0]["finished_at"].is_i64());
    assert_eq!(
        build["annotations"],
        json!([{"level": "warning", "message": "looks odd", "file": "src/lib.rs", "line": 7}])
    );
    let html = build["summary_html"].as_str().unwrap();
    assert!(html.contains("<h2>Report</h2>"), "{html}");
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt; <strong>fine</strong>"),
        "{html}"
    );
    let logs = client
        .get(&format!("/api/runs/{id}/jobs/test/logs"))
        .await
        .body;
    assert!(chunk_texts(&logs).iter().any(|t| t == "testing"), "{logs}");
}

#[tokio::test]
async fn runs_are_listed_with_filters() {
    let (_env, server) = started(&[("p.yml", TWO_JOBS)]).await;
    let client = &server.client;
    let id = release(client, "r1").await[0];
    client.wait_completed(id).await;
    let count = |path: &'static str| async move {
        client.get(path).await.body["runs"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("/api/runs").await, 1);
    assert_eq!(
        count("/api/runs?repo=Codertocat/Hello-World&status=completed&event=release").await,
        1
    );
    assert_eq!(count("/api/runs?status=queued").await, 0);
    assert_eq!(count("/api/runs?event=push").await, 0);
    assert_eq!(count("/api/runs?repo=x/y").await, 0);
    assert_eq!(count("/api/runs?before=1").await, 0);
    assert_eq!(count("/api/runs?before=2&limit=1").await, 1);
    assert_eq!(client.get("/api/runs/999").await.status, 404);
}

#[tokio::test]
async fn live_logs_follow_the_job_until_it_ends() {
    let mut env = Env::new();
    let wf = format!(
        "on: release\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo before\n          while [ ! -f '{}' ]; do sleep 0.05; done\n          echo after\n",
        env.gate().display()
    );
    env.repo(REPO, &[("g.yml", &wf)]);
    let server = env.start().await;
    let client = &server.client;
    let id = release(client, "l1").await[0];
    client.wait_status(id, "running").await;
    let mut response = client
        .http
        .get(client.url(&format!("/api/runs/{id}/jobs/build/logs/stream")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut text = String::new();
    let mut opened = false;
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if !opened && text.contains("\"before\"") {
            // The stream delivered a line while the job was still running: let it finish.
            env.open_gate();
            opened = true;
        }
        if text.contains("event: end") {
            break;
        }
    }
    assert!(opened, "{text}");
    let before = text.find("\"before\"").unwrap();
    let after = text.find("\"after\"").unwrap();
    assert!(before < after, "{text}");
    assert!(text.contains("event: log"), "{text}");
}

#[tokio::test]
async fn run_events_stream_until_the_run_completes() {
    let (_env, server) = started(&[("p.yml", TWO_JOBS)]).await;
    let client = &server.client;
    let id = release(client, "e1").await[0];
    let mut response = client
        .http
        .get(client.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("event: end") {
            break;
        }
    }
    assert!(text.contains("\"conclusion\":\"success\""), "{text}");
}

#[tokio::test]
async fn cancel_stops_a_running_run() {
    let mut env = Env::new();
    let wf = gated_workflow(&env, "release", "");
    env.repo(REPO, &[("g.yml", &wf)]);
    let server = env.start().await;
    let client = &server.client;
    let id = release(client, "c1").await[0];
    client.wait_status(id, "running").await;
    let reply = client
        .post(&format!("/api/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "cancelled");
    assert_eq!(run["reason"], "cancelled through the API");
    let again = client
        .post(&format!("/api/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        client.post("/api/runs/999/cancel", json!({})).await.status,
        404
    );
}

#[tokio::test]
async fn rerun_whole_and_failed_jobs_only() {
    let mut env = Env::new();
    let flag = env.path("flag");
    let marks = env.path("marks");
    let wf = format!(
        "on: release
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo a >> '{marks}'
  b:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo b >> '{marks}'
          test -f '{flag}'
  c:
    needs: b
    runs-on: ubuntu-latest
    steps:
      - run: echo c >> '{marks}'
",
        marks = marks.display(),
        flag = flag.display()
    );
    env.repo(REPO, &[("r.yml", &wf)]);
    let server = env.start().await;
    let client = &server.client;
    let id = release(client, "rr").await[0];
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "failure");
    let conclusions = |run: &Value| -> Vec<String> {
        run["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                format!(
                    "{}={}",
                    j["key"].as_str().unwrap(),
                    j["conclusion"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(conclusions(&run), ["a=success", "b=failure", "c=skipped"]);

    std::fs::write(&flag, "").unwrap();
    let reply = client
        .post(
            &format!("/api/runs/{id}/rerun"),
            json!({"failed_only": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let rerun = client.wait_completed(run_ids(&reply)[0]).await;
    assert_eq!(rerun["conclusion"], "success", "{rerun}");
    assert_eq!(rerun["attempt"], 2);
    assert_eq!(rerun["rerun_of"], id);
    assert_eq!(conclusions(&rerun), ["a=success", "b=success", "c=success"]);
    // Independent jobs run at once, so only the multiset of executions is fixed.
    let sorted_marks = || {
        let mut marks = env.marks();
        marks.sort();
        marks
    };
    assert_eq!(sorted_marks(), ["a", "b", "b", "c"]);

    let none_failed = client
        .post(
            &format!("/api/runs/{}/rerun", rerun["id"]),
            json!({"failed_only": true}),
        )
        .await;
    assert_eq!(none_failed.status, 409);
    let whole = client
        .post(&format!("/api/runs/{}/rerun", rerun["id"]), json!({}))
        .await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    client.wait_completed(run_ids(&whole)[0]).await;
    assert_eq!(sorted_marks(), ["a", "a", "b", "b", "b", "c", "c"]);
}

#[tokio::test]
async fn workflow_dispatch_with_inputs() {
    let mut env = Env::new();
    let wf = format!(
        "on:
  workflow_dispatch:
    inputs:
      name:
        required: true
      loud:
        type: boolean
        default: false
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo \"hello ${{{{ inputs.name }}}} ${{{{ inputs.loud }}}} ${{{{ github.ref }}}}\" >> '{}'
",
        env.path("marks").display()
    );
    env.repo(REPO, &[("d.yml", &wf), ("p.yml", TWO_JOBS)]);
    let server = env.start().await;
    let client = &server.client;
    let path = "/api/repos/Codertocat/Hello-World/dispatch";
    let reply = client
        .post(
            path,
            json!({"workflow": "d.yml", "ref": "master", "inputs": {"name": "octo"}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let ids = run_ids(&reply);
    assert_eq!(ids.len(), 1);
    let run = client.wait_completed(ids[0]).await;
    assert_eq!(run["event"], "workflow_dispatch");
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(env.marks(), ["hello octo false refs/heads/master"]);

    let missing = client
        .post(path, json!({"workflow": "d.yml", "ref": "master"}))
        .await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(
        missing.body["error"].as_str().unwrap().contains("name"),
        "{}",
        missing.body
    );
    let unknown = client
        .post(
            "/api/repos/nobody/nothing/dispatch",
            json!({"ref": "master"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn health_metrics_and_the_page() {
    let (_env, server) = started(&[("p.yml", TWO_JOBS)]).await;
    let client = &server.client;
    assert_eq!(client.get("/healthz").await.body, json!({"status": "ok"}));
    let id = release(client, "m1").await[0];
    client.wait_completed(id).await;
    let metrics = client.get("/metrics").await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("gantry_webhooks_total{status=\"202\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gantry_runs{status=\"completed\",conclusion=\"success\"} 1"),
        "{text}"
    );
    assert!(text.contains("gantry_capacity 2"), "{text}");
    let page = client.get("/").await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("new EventSource"),
        "the page follows runs live"
    );
}

#[tokio::test]
async fn secrets_are_masked_in_stored_logs() {
    let mut env = Env::new();
    let wf = "on: workflow_dispatch
jobs:
  leak:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo \"token=${{ secrets.TOKEN }}\"
          echo 'plain s3cr3t-value too'
          echo \"::error::bad s3cr3t-value\"
";
    env.repo(REPO, &[("leak.yml", wf)]);
    env.config
        .repositories
        .get_mut(REPO)
        .unwrap()
        .secrets
        .insert("TOKEN".to_owned(), "s3cr3t-value".to_owned());
    let server = env.start().await;
    let client = &server.client;
    // No ref: the repository's default branch.
    let reply = client
        .post("/api/repos/Codertocat/Hello-World/dispatch", json!({}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = run_ids(&reply)[0];
    let run = client.wait_completed(id).await;
    assert_eq!(run["git_ref"], "refs/heads/master");
    let logs = client
        .get(&format!("/api/runs/{id}/jobs/leak/logs"))
        .await
        .body;
    let text = chunk_texts(&logs);
    assert!(!logs.to_string().contains("s3cr3t-value"), "{logs}");
    for line in ["token=***", "plain *** too"] {
        assert!(text.iter().any(|t| t == line), "{line}: {logs}");
    }
    assert_eq!(run["jobs"][0]["annotations"][0]["message"], "bad ***");
}

#[tokio::test]
async fn mutations_need_the_api_token_when_one_is_set() {
    let mut env = Env::new();
    env.repo(REPO, &[("p.yml", TWO_JOBS)]);
    env.config.api_token = Some("t0ken".to_owned());
    let server = env.start().await;
    let client = &server.client;
    let path = "/api/repos/Codertocat/Hello-World/dispatch";
    let body = json!({"workflow": "p.yml", "ref": "master"});
    assert_eq!(client.post(path, body.clone()).await.status, 401);
    let wrong = client
        .http
        .post(client.url(path))
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = client
        .http
        .post(client.url(path))
        .bearer_auth("t0ken")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 201);
    // Reading needs it too (tests/daemon/auth.rs has the details).
    assert_eq!(client.get("/api/runs").await.status, 401);
}
