//! The runner services at the daemon's address, with the real engine on the host: a step
//! uploads an artifact with the artifact protocol (curl, as `@actions/artifact` does it), the
//! API lists it and serves its zip; the run's `ACTIONS_RUNTIME_TOKEN` is masked, works while
//! the run runs and is refused once it ended; another run's artifact is not reachable through
//! a run's URLs.

use std::sync::Arc;

use gantry_daemon::EngineLauncher;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::*;

/// Uploads `report` (a made-up zip naming the run) through the services, keeps the token in
/// `token_file` for the test, and prints it (to be masked).
fn upload_workflow(token_file: &std::path::Path) -> String {
    format!(
        r#"on: release
jobs:
  build:
    runs-on: self-hosted
    steps:
      - name: upload
        run: |
          set -eu
          api="${{ACTIONS_RESULTS_URL}}twirp/github.actions.results.api.v1.ArtifactService"
          auth="Authorization: Bearer $ACTIONS_RUNTIME_TOKEN"
          ids="\"workflow_run_backend_id\":\"$GITHUB_RUN_ID\",\"workflow_job_run_backend_id\":\"$GITHUB_RUN_ID\""
          printf 'PK-zip-of-run-%s' "$GITHUB_RUN_ID" > art.zip
          url=$(curl -sSf -H "$auth" -H 'Content-Type: application/json' -d "{{$ids,\"name\":\"report\",\"version\":4}}" "$api/CreateArtifact" | jq -r .signed_upload_url)
          curl -sSf -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @art.zip "$url" > /dev/null
          size=$(stat -c %s art.zip)
          hash="sha256:$(sha256sum art.zip | cut -d' ' -f1)"
          curl -sSf -H "$auth" -H 'Content-Type: application/json' -d "{{$ids,\"name\":\"report\",\"size\":\"$size\",\"hash\":\"$hash\"}}" "$api/FinalizeArtifact" > /dev/null
          echo "uploaded $size bytes"
          printf '%s' "$ACTIONS_RUNTIME_TOKEN" > '{file}'
          echo "token=$ACTIONS_RUNTIME_TOKEN"
      - name: rest
        env:
          GH: ${{{{ github.token }}}}
        run: |
          set -eu
          printf '%s' "$GH" > '{file}.github'
          listed=$(curl -sSf -H "Authorization: token $GH" "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/artifacts" | jq -r '.artifacts[].name')
          echo "rest lists $listed"
          echo "other api: $(curl -s -o /dev/null -w '%{{http_code}}' -H "Authorization: token $GH" "$GITHUB_API_URL/user")"
"#,
        file = token_file.display()
    )
}

fn services_env() -> Env {
    let mut env = Env::new();
    let workflow = upload_workflow(&env.path("token"));
    env.repo(REPO, &[("release.yml", &workflow)]);
    env.config
        .labels
        .insert("self-hosted".to_owned(), "host".to_owned());
    env
}

async fn list_call(client: &Client, token: &str, run: i64) -> (u16, Value) {
    let response = client
        .http
        .post(client.url("/twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts"))
        .bearer_auth(token)
        .json(&json!({
            "workflow_run_backend_id": run.to_string(),
            "workflow_job_run_backend_id": run.to_string(),
        }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runs_artifact_is_listed_and_served_and_its_token_dies_with_the_run() {
    let env = services_env();
    let launcher = EngineLauncher::host_only(env.path("host"));
    let mut server = env.start_with(Arc::new(launcher)).await;
    let client = server.client.clone();

    let first = release(&client, "services-1").await;
    let run = client.wait_completed(first).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let log = log_text(&client, first, "build").await;
    let bytes = format!("PK-zip-of-run-{first}").into_bytes();
    assert!(
        log.contains(&format!("uploaded {} bytes", bytes.len())),
        "{log}"
    );
    let token = std::fs::read_to_string(env.path("token")).unwrap();
    assert!(token.starts_with("eyJ"), "{token}");
    // Masked in the logs and everything the API says about the run.
    assert!(log.contains("token=***"), "{log}");
    let served = format!(
        "{log}\n{}",
        client.get(&format!("/api/runs/{first}")).await.body
    );
    assert!(!served.contains(&token), "{served}");

    let listed = client.get(&format!("/api/runs/{first}/artifacts")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["total_count"], 1, "{}", listed.body);
    let artifact = &listed.body["artifacts"][0];
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(artifact["name"], "report");
    assert_eq!(artifact["size_in_bytes"], bytes.len());
    assert_eq!(artifact["digest"], digest.as_str());
    assert!(
        artifact["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let zip_url = artifact["archive_download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = client.http.get(client.url(&zip_url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"report.zip\""
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The run is over: its token is refused, with the reason.
    let (status, body) = list_call(&client, &token, first).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthenticated");
    assert!(
        body["msg"].as_str().unwrap().contains("its run has ended"),
        "{body}"
    );

    // The REST API (`GITHUB_API_URL`) took the run's GITHUB_TOKEN while it ran, and serves
    // nothing else; after the run neither that nor the runtime token passes, in Octokit's
    // `token` form either.
    assert!(log.contains("rest lists report"), "{log}");
    assert!(log.contains("other api: 404"), "{log}");
    let github_token = std::fs::read_to_string(env.path("token.github")).unwrap();
    assert!(!github_token.is_empty());
    for auth in [
        format!("token {token}"),
        format!("Bearer {token}"),
        format!("token {github_token}"),
    ] {
        let response = client
            .http
            .get(client.url(&format!(
                "/_api/repos/{REPO}/actions/runs/{first}/artifacts"
            )))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }

    // A second run has its own artifact; the first run's id is not reachable through it.
    let second = release(&client, "services-2").await;
    let run = client.wait_completed(second).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let other = client.get(&format!("/api/runs/{second}/artifacts")).await;
    assert_eq!(other.body["total_count"], 1, "{}", other.body);
    assert_ne!(other.body["artifacts"][0]["id"], artifact["id"]);
    let crossed = client
        .get(&format!(
            "/api/runs/{second}/artifacts/{}/zip",
            artifact["id"]
        ))
        .await;
    assert_eq!(crossed.status, 404, "{}", crossed.body);
    assert!(
        crossed.body["error"]
            .as_str()
            .unwrap()
            .contains("has no artifact")
    );
    let unknown = client.get("/api/runs/999999/artifacts").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_services_runs_get_no_token_and_the_api_says_why() {
    let mut env = services_env();
    env.config.services.enabled = false;
    let launcher = EngineLauncher::host_only(env.path("host"));
    let mut server = env.start_with(Arc::new(launcher)).await;
    let client = server.client.clone();
    let id = release(&client, "no-services").await;
    let run = client.wait_completed(id).await;
    // `set -u` stops the step at the missing ACTIONS_RESULTS_URL.
    assert_eq!(run["conclusion"], "failure", "{run}");
    let listed = client.get(&format!("/api/runs/{id}/artifacts")).await;
    assert_eq!(listed.status, 404, "{}", listed.body);
    assert!(
        listed.body["error"]
            .as_str()
            .unwrap()
            .contains("enabled = false"),
        "{}",
        listed.body
    );
    server.stop().await;
}

/// The run page in Chromium lists the run's artifact with its size and a link that downloads
/// the zip.
#[tokio::test(flavor = "multi_thread")]
async fn the_run_page_lists_artifacts_with_their_download_links() {
    use crate::browser::{Browser, artifacts, chromium};
    let binary = chromium();
    let env = services_env();
    let launcher = EngineLauncher::host_only(env.path("host"));
    let mut server = env.start_with(Arc::new(launcher)).await;
    let client = server.client.clone();
    let id = release(&client, "services-page").await;
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");

    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::launch(&binary, profile.path()).await;
    let mut page = browser.page().await;
    let url = client.url(&format!("/#run={id}"));
    page.call("Page.navigate", json!({ "url": url })).await;
    let listed = page.wait_for_text("#artifacts", "report").await;
    page.screenshot(&artifacts().join("daemon-run-artifacts.png"))
        .await;
    assert!(listed, "the page never listed the artifact");
    let bytes = format!("PK-zip-of-run-{id}").into_bytes();
    let text = page.text_of("#artifacts").await;
    assert!(text.contains(&format!("{} B", bytes.len())), "{text}");
    let href = page
        .call(
            "Runtime.evaluate",
            json!({ "expression": "document.querySelector('#artifacts a').href" }),
        )
        .await["result"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = reqwest::get(&href).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice(), "{href}");
    server.stop().await;
}
